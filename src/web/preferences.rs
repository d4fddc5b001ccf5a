//! The preferences page of a person, without an account: every list or newsletter mail carries a personal
//! link, `/preferences/{token}`, whose signed token names the delivery and so the address it went to
//! ([`crate::mail::unsubscribe::Purpose::Preferences`]). There the person sees their subscriptions and why
//! they exist, chooses each issue or a monthly summary, leaves one list or all, downloads what relais holds
//! about them (JSON) and asks to be forgotten (staff confirm, from the "Abonnés" page).
//!
//! `/preferences` alone asks for an address and sends the link there, for people who no longer have a mail
//! at hand; it answers the same whether the address is known or not, so it tells nobody who is subscribed.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::AppState;
use super::error::{WebError, WebResult};
use super::subscribe::{form_is_genuine, form_proof};
use crate::domain::{EmailAddress, ListKind};
use crate::mail::unsubscribe::Purpose;
use crate::store::outbox::NewRecipient;
use crate::store::preferences::OwnSubscription;

/// The mails whose link opens a person's data (export, erasure): sent at the address's own request.
const FRESH_LINK_KINDS: &[&str] = &["preferences_link", "list_leave_confirm"];

/// How long such a link opens the data.
const FRESH_LINK_MS: i64 = 24 * 3_600_000;

/// At most one link mail per address in this time, whatever the form receives.
const LINK_MAIL_EVERY_MS: i64 = 10 * 60_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/preferences", get(ask_link).post(send_link))
        .route("/preferences/{token}", get(show))
        .route("/preferences/{token}/listes/{list_id}", post(change))
        .route("/preferences/{token}/tout", post(leave_all))
        .route("/preferences/{token}/donnees.json", get(export))
        .route("/preferences/{token}/effacement", post(ask_erasure))
        .route("/preferences/{token}/archives/{key}", get(open_archive))
}

/// The cookie that opens the archives of a subscriber's lists: the preferences token of one of their mails.
pub const READER_COOKIE: &str = "relais_lecteur";

/// The address whose preferences token the request's reader cookie holds, if genuine and not erased.
pub async fn reader(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> WebResult<Option<String>> {
    let jar = axum_extra::extract::CookieJar::from_headers(headers);
    match jar.get(READER_COOKIE) {
        Some(cookie) => owner(state, cookie.value()).await,
        None => Ok(None),
    }
}

/// From the preferences page to a list's archive: leaves the reader cookie (30 days, for `/listes` only)
/// when the link's address subscribes to that list and its archive is for members.
async fn open_archive(
    State(state): State<AppState>,
    jar: axum_extra::extract::CookieJar,
    Path((token, key)): Path<(String, String)>,
) -> WebResult<Response> {
    let address = match owner_or_invalid(&state, &token).await? {
        Ok(address) => address,
        Err(response) => return Ok(response),
    };
    let list = state
        .store
        .discussion_list(&key)
        .await?
        .filter(|l| l.kind == ListKind::Discussion && l.archive != "staff")
        .ok_or(WebError::NotFound)?;
    if !state.store.is_subscriber(list.id, &address).await? {
        return Err(WebError::SubscribersOnly);
    }
    let cookie = axum_extra::extract::cookie::Cookie::build((READER_COOKIE, token))
        .http_only(true)
        .same_site(axum_extra::extract::cookie::SameSite::Lax)
        .secure(state.settings.server.secure_cookies())
        .path("/listes")
        .max_age(time::Duration::days(30))
        .build();
    Ok((
        jar.add(cookie),
        axum::response::Redirect::to(&format!("/listes/{}/archives", list.list_key)),
    )
        .into_response())
}

/// A subscription as the page lists it.
pub struct ShownSubscription {
    pub list_id: i64,
    pub list: String,
    pub active: bool,
    pub state: &'static str,
    pub digest: bool,
    /// What the digest mode means for this kind of list.
    pub digest_label: &'static str,
    pub why: String,
    /// The key of a discussion list whose archive its subscribers read.
    pub archive_key: Option<String>,
}

enum PreferencesState {
    AskLink {
        errors: Vec<String>,
        email: String,
        issued: i64,
        proof: String,
    },
    LinkSent {
        address: String,
    },
    Own {
        token: String,
        address: String,
        subscriptions: Vec<ShownSubscription>,
        done: String,
        erasure_pending: bool,
        /// The link was mailed at the person's request less than a day ago: it opens their data.
        fresh: bool,
    },
    /// A link from an ordinary mail (which may have been forwarded or quoted) asked for personal data.
    NeedsFreshLink,
    ErasureAsked {
        address: String,
    },
    Invalid,
}

#[derive(Template)]
#[template(path = "preferences.html", config = "src/web/askama.toml")]
struct PreferencesPage {
    state: PreferencesState,
}

fn page(status: StatusCode, state: PreferencesState) -> WebResult<Response> {
    Ok((status, Html(PreferencesPage { state }.render()?)).into_response())
}

fn state_label(state: &str) -> &'static str {
    match state {
        "active" => "abonné",
        "pending" => "en attente de confirmation",
        "unsubscribed" => "désabonné",
        "bouncing" => "suspendu : les courriers reviennent en erreur",
        _ => "désactivé",
    }
}

fn why(subscription: &OwnSubscription) -> String {
    let date = subscription
        .consent_at
        .map(|at| format!(" le {}", super::view::french_datetime(at)))
        .unwrap_or_default();
    match subscription.consent_source.as_str() {
        "public_form" => format!("vous vous êtes abonné·e par le formulaire public{date}"),
        "mail" => format!("vous vous êtes abonné·e en écrivant à l'adresse de la liste{date}"),
        "staff" => format!(
            "l'équipe du club vous a inscrit·e{date}, au titre de l'intérêt légitime (vous êtes en \
             contact avec le club)"
        ),
        "import" => format!("votre adresse a été importée d'une liste du club{date}"),
        _ => format!("votre collectivité a rejoint le club{date}"),
    }
}

/// The address a preferences token names, if it is genuine and the address was not erased.
async fn owner(state: &AppState, token: &str) -> WebResult<Option<String>> {
    match state.unsubscribe.verify_for(Purpose::Preferences, token) {
        Some(delivery_id) => Ok(state.store.delivery_recipient(delivery_id).await?),
        None => Ok(None),
    }
}

/// Whether `token` comes from a link mailed at the person's own request less than a day ago.
async fn fresh(state: &AppState, token: &str) -> WebResult<bool> {
    match state.unsubscribe.verify_for(Purpose::Preferences, token) {
        Some(delivery_id) => Ok(state
            .store
            .delivery_is_fresh_link(
                delivery_id,
                FRESH_LINK_KINDS,
                state.clock.now_millis() - FRESH_LINK_MS,
            )
            .await?),
        None => Ok(false),
    }
}

/// The owner of a fresh link (personal data), or the page that explains how to get one.
async fn fresh_owner_or_refusal(
    state: &AppState,
    token: &str,
) -> WebResult<Result<String, Response>> {
    let address = match owner_or_invalid(state, token).await? {
        Ok(address) => address,
        Err(response) => return Ok(Err(response)),
    };
    if !fresh(state, token).await? {
        return Ok(Err(page(
            StatusCode::FORBIDDEN,
            PreferencesState::NeedsFreshLink,
        )?));
    }
    Ok(Ok(address))
}

async fn owner_or_invalid(state: &AppState, token: &str) -> WebResult<Result<String, Response>> {
    match owner(state, token).await? {
        Some(address) => Ok(Ok(address)),
        None => Ok(Err(page(StatusCode::NOT_FOUND, PreferencesState::Invalid)?)),
    }
}

#[derive(Deserialize)]
struct Done {
    #[serde(default)]
    fait: String,
}

async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(done): Query<Done>,
) -> WebResult<Response> {
    let address = match owner_or_invalid(&state, &token).await? {
        Ok(address) => address,
        Err(response) => return Ok(response),
    };
    let readable: std::collections::HashSet<i64> = state
        .store
        .all_lists()
        .await?
        .into_iter()
        .filter(|l| l.kind == ListKind::Discussion && l.archive != "staff")
        .map(|l| l.id)
        .collect();
    let subscriptions = state
        .store
        .subscriptions_of_address(&address)
        .await?
        .iter()
        .map(|s| ShownSubscription {
            archive_key: (readable.contains(&s.list_id)
                && (s.state == "active" || s.state == "bouncing"))
                .then(|| s.list_key.clone()),
            list_id: s.list_id,
            list: s.list_name.clone(),
            active: s.state == "active" || s.state == "bouncing",
            state: state_label(&s.state),
            digest: s.mode == "digest",
            digest_label: if s.list_kind == ListKind::Announce {
                "un récapitulatif par mois"
            } else {
                "un résumé par jour"
            },
            why: why(s),
        })
        .collect();
    let erasure_pending = state
        .store
        .pending_erasures()
        .await?
        .iter()
        .any(|r| r.address == address);
    let done = match done.fait.as_str() {
        "mode" => "Votre choix est enregistré.",
        "depart" => "C'est fait : vous ne recevrez plus cette liste.",
        "retour" => "C'est noté : vous recevez de nouveau cette liste.",
        "tout" => "C'est fait : vous ne recevrez plus aucune liste ni lettre du club.",
        _ => "",
    };
    let fresh = fresh(&state, &token).await?;
    page(
        StatusCode::OK,
        PreferencesState::Own {
            token,
            address,
            subscriptions,
            done: done.to_string(),
            erasure_pending,
            fresh,
        },
    )
}

#[derive(Deserialize)]
struct ChangeForm {
    #[serde(default)]
    action: String,
}

async fn change(
    State(state): State<AppState>,
    Path((token, list_id)): Path<(String, i64)>,
    Form(form): Form<ChangeForm>,
) -> WebResult<Response> {
    let address = match owner_or_invalid(&state, &token).await? {
        Ok(address) => address,
        Err(response) => return Ok(response),
    };
    let now = state.clock.now_millis();
    let done = match form.action.as_str() {
        "each" | "digest" => {
            if !state
                .store
                .set_subscription_mode(&address, list_id, &form.action, now)
                .await?
            {
                return Err(WebError::NotFound);
            }
            "mode"
        }
        "leave" => {
            state
                .store
                .leave_lists(&address, Some(list_id), now)
                .await?;
            "depart"
        }
        "rejoin" => {
            if !state.store.rejoin_list(&address, list_id, now).await? {
                return Err(WebError::Conflict(
                    "Ce désabonnement ne peut plus être annulé d'ici : abonnez-vous de nouveau avec le \
                     formulaire d'abonnement."
                        .into(),
                ));
            }
            "retour"
        }
        other => {
            return Err(WebError::BadRequest(format!(
                "action « {other} » inconnue : choisissez « chaque numéro », « récapitulatif » ou « se désabonner »"
            )));
        }
    };
    Ok(Redirect::to(&format!("/preferences/{token}?fait={done}")).into_response())
}

async fn leave_all(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> WebResult<Response> {
    let address = match owner_or_invalid(&state, &token).await? {
        Ok(address) => address,
        Err(response) => return Ok(response),
    };
    state
        .store
        .leave_lists(&address, None, state.clock.now_millis())
        .await?;
    Ok(Redirect::to(&format!("/preferences/{token}?fait=tout")).into_response())
}

async fn export(State(state): State<AppState>, Path(token): Path<String>) -> WebResult<Response> {
    let address = match fresh_owner_or_refusal(&state, &token).await? {
        Ok(address) => address,
        Err(response) => return Ok(response),
    };
    let data = state
        .store
        .personal_data(&address, state.clock.now_millis())
        .await?;
    let body = serde_json::to_string_pretty(&data)
        .map_err(|e| WebError::Internal(format!("export: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"mes-donnees-relais.json\"",
            ),
        ],
        body,
    )
        .into_response())
}

async fn ask_erasure(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> WebResult<Response> {
    let address = match fresh_owner_or_refusal(&state, &token).await? {
        Ok(address) => address,
        Err(response) => return Ok(response),
    };
    let id = state
        .store
        .request_erasure(&address, state.clock.now_millis())
        .await?;
    tracing::info!(request = id, "erasure requested from a preferences page");
    page(StatusCode::OK, PreferencesState::ErasureAsked { address })
}

async fn link_form(
    state: &AppState,
    status: StatusCode,
    errors: Vec<String>,
    email: String,
) -> WebResult<Response> {
    let issued = state.clock.now_millis();
    page(
        status,
        PreferencesState::AskLink {
            errors,
            email,
            issued,
            proof: form_proof(state, issued).await?,
        },
    )
}

async fn ask_link(State(state): State<AppState>) -> WebResult<Response> {
    link_form(&state, StatusCode::OK, Vec::new(), String::new()).await
}

#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    issued: String,
    #[serde(default)]
    proof: String,
}

async fn send_link(
    State(state): State<AppState>,
    client: super::client::ClientAddress,
    Form(form): Form<LinkForm>,
) -> WebResult<Response> {
    let mut errors = Vec::new();
    if !form_is_genuine(&state, &form.issued, &form.proof, &form.site).await? {
        errors.push(
            "Le formulaire n'a pas pu être vérifié (envoyé trop vite, trop tard, ou rempli \
             automatiquement). Envoyez-le de nouveau."
                .to_string(),
        );
    }
    let address = match EmailAddress::parse(&form.email) {
        Ok(address) => Some(address),
        Err(message) => {
            errors.push(message);
            None
        }
    };
    let (Some(address), true) = (address, errors.is_empty()) else {
        return link_form(&state, StatusCode::UNPROCESSABLE_ENTITY, errors, form.email).await;
    };
    let now = state.clock.now_millis();
    // Every request spends the client's budget, known address or not, so a refusal tells nothing.
    if !state.form_budget.spend(client.ip(), now) {
        return link_form(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            vec![super::subscribe::TOO_MANY.to_string()],
            form.email,
        )
        .await;
    }
    if state
        .store
        .may_send_preferences_link(address.as_str(), now - LINK_MAIL_EVERY_MS)
        .await?
    {
        let message = crate::mail::short_messages::preferences_link_message(&state.settings)?;

        let recipient = NewRecipient {
            address: address.clone(),
            name: String::new(),
            person_id: None,
        };
        state
            .store
            .enqueue_mail(&message, &[recipient], now)
            .await?;
    }
    page(
        StatusCode::OK,
        PreferencesState::LinkSent {
            address: address.as_str().to_string(),
        },
    )
}
