//! Subscribing to the newsletter without an account, with double opt-in: `GET /abonnement` shows the form
//! (name, address, the consent wording), `POST` records a pending subscription and sends a confirmation mail
//! whose link (`/abonnement/confirmer/{token}`) expires after
//! [`crate::mail::subscription::CONFIRM_HOURS`]. Following the link shows a
//! button (mail scanners open links; only a person presses it) and the `POST` makes the subscription active.
//!
//! Bots are kept out without a third-party service: a field people do not see must stay empty, and the form
//! carries the moment it was shown, signed, so a post sooner than [`FASTEST_HUMAN_MS`] after it, later than
//! a day, or with a forged moment is refused.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::AppState;
use super::error::WebResult;
use crate::domain::EmailAddress;
use crate::store::subscriptions::{Confirmation, SubscriptionRequested};

use crate::mail::subscription::{WORDING_VERSION, confirmation_request};
/// No person fills the form faster.
pub const FASTEST_HUMAN_MS: i64 = 2_000;
const FORM_VALID_MS: i64 = 24 * 3_600_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/abonnement", get(form).post(subscribe))
        .route("/abonnement/confirmer/{token}", get(ask).post(confirm))
}

enum SubscribeState {
    Form {
        errors: Vec<String>,
        name: String,
        email: String,
        issued: i64,
        proof: String,
    },
    CheckMailbox {
        address: String,
    },
    Ask,
    Confirmed {
        list: String,
        address: String,
    },
    AlreadyActive {
        list: String,
        address: String,
    },
    Expired {
        list: String,
    },
    Invalid,
}

#[derive(Template)]
#[template(path = "subscribe.html", config = "src/web/askama.toml")]
struct SubscribePage {
    list: String,
    description: String,
    wording_version: &'static str,
    state: SubscribeState,
}

#[derive(Deserialize)]
struct SubscribeForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    consent: String,
    /// The field people do not see.
    #[serde(default)]
    site: String,
    #[serde(default)]
    issued: String,
    #[serde(default)]
    proof: String,
}

async fn render(state: &AppState, status: StatusCode, page: SubscribeState) -> WebResult<Response> {
    let list = super::archive::newsletter_list(state).await?;
    render_for(status, page, (list.name, list.description))
}

/// The page under the heading of `list` (its name and description): a confirmation link names the list
/// it was sent for (a discussion list joined by mail, not only the newsletter).
fn render_for(
    status: StatusCode,
    page: SubscribeState,
    list: (String, String),
) -> WebResult<Response> {
    let page = SubscribePage {
        list: list.0,
        description: list.1,
        wording_version: WORDING_VERSION,
        state: page,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// The signature of the moment a form was shown.
pub(crate) async fn form_proof(state: &AppState, issued: i64) -> WebResult<String> {
    let key = state
        .subscribe_form_key
        .get_or_try_init(|| state.store.secret("subscribe_form"))
        .await?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(issued.to_string().as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// Whether a public form was filled by a person: shown by relais (the signed moment), neither too fast
/// nor too late, and with the hidden field left empty.
pub(crate) async fn form_is_genuine(
    state: &AppState,
    issued: &str,
    proof: &str,
    hidden_field: &str,
) -> WebResult<bool> {
    let Ok(issued) = issued.parse::<i64>() else {
        return Ok(false);
    };
    let expected = form_proof(state, issued).await?;
    let elapsed = state.clock.now_millis() - issued;
    Ok(expected == proof
        && hidden_field.is_empty()
        && (FASTEST_HUMAN_MS..FORM_VALID_MS).contains(&elapsed))
}

async fn fresh_form(
    state: &AppState,
    errors: Vec<String>,
    name: String,
    email: String,
) -> WebResult<SubscribeState> {
    let issued = state.clock.now_millis();
    Ok(SubscribeState::Form {
        errors,
        name,
        email,
        issued,
        proof: form_proof(state, issued).await?,
    })
}

/// At most one confirmation mail per address in this time, whatever the form receives.
const CONFIRMATION_EVERY_MS: i64 = 10 * 60_000;

/// What a client that spent its hour's budget of mails reads.
pub(crate) const TOO_MANY: &str = "Trop de demandes sont parties de votre connexion dans l'heure : \
     réessayez un peu plus tard.";

async fn form(State(state): State<AppState>) -> WebResult<Response> {
    let page = fresh_form(&state, Vec::new(), String::new(), String::new()).await?;
    render(&state, StatusCode::OK, page).await
}

async fn subscribe(
    State(state): State<AppState>,
    client: super::client::ClientAddress,
    Form(input): Form<SubscribeForm>,
) -> WebResult<Response> {
    let now = state.clock.now_millis();
    let mut errors = Vec::new();
    if !form_is_genuine(&state, &input.issued, &input.proof, &input.site).await? {
        errors.push(
            "Le formulaire n'a pas pu être vérifié (envoyé trop vite, trop tard, ou rempli \
             automatiquement). Vérifiez vos informations et envoyez-le de nouveau."
                .to_string(),
        );
    }
    let name = input.name.trim().to_string();
    if name.chars().count() > 200 {
        errors.push("Le nom est trop long (200 caractères au plus).".to_string());
    }
    if name.chars().any(char::is_control) {
        errors.push(
            "Le nom ne peut pas contenir de retour à la ligne ni de tabulation : écrivez-le sur une ligne."
                .to_string(),
        );
    }
    let address = match EmailAddress::parse(&input.email) {
        Ok(address) => Some(address.as_str().to_lowercase()),
        Err(message) => {
            errors.push(message);
            None
        }
    };
    if input.consent != "oui" {
        errors.push("Cochez la case pour accepter de recevoir la lettre.".to_string());
    }
    let (Some(address), true) = (address, errors.is_empty()) else {
        let page = fresh_form(&state, errors, name, input.email).await?;
        return render(&state, StatusCode::UNPROCESSABLE_ENTITY, page).await;
    };
    // One confirmation pending per address at a time: the link already sent is still good. The page is
    // the same either way, so the form tells nobody what was asked before.
    let recent = state
        .store
        .answers_sent_since(
            &address,
            &[crate::domain::mail_kind::MailKind::SubscriptionConfirmation],
            now - CONFIRMATION_EVERY_MS,
        )
        .await?;
    if recent > 0 {
        tracing::info!("subscription asked again within minutes; the link sent stands");
    } else {
        if !state.form_budget.spend(client.ip(), now) {
            let page = fresh_form(&state, vec![TOO_MANY.to_string()], name, input.email).await?;
            return render(&state, StatusCode::TOO_MANY_REQUESTS, page).await;
        }
        let list = super::archive::newsletter_list(&state).await?;
        let (request, confirmation) =
            confirmation_request(&state.settings, &list, &address, &name, "public_form", now)?;
        let outcome = state
            .store
            .request_subscription(&request, &confirmation, now)
            .await?;
        if outcome == SubscriptionRequested::AlreadyActive {
            tracing::info!("subscription asked again for an active address; nothing sent");
        }
    }
    render(
        &state,
        StatusCode::OK,
        SubscribeState::CheckMailbox { address },
    )
    .await
}

async fn ask(State(state): State<AppState>, Path(token): Path<String>) -> WebResult<Response> {
    match state
        .store
        .confirmation_list(&crate::security::sha256_hex(&token))
        .await?
    {
        Some(list) => render_for(StatusCode::OK, SubscribeState::Ask, list),
        None => render(&state, StatusCode::NOT_FOUND, SubscribeState::Invalid).await,
    }
}

async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> WebResult<Response> {
    let list = state
        .store
        .confirmation_list(&crate::security::sha256_hex(&token))
        .await?;
    let confirmation = state
        .store
        .confirm_subscription(
            &crate::security::sha256_hex(&token),
            state.clock.now_millis(),
        )
        .await?;
    let (status, page) = match confirmation {
        Confirmation::Confirmed { list, address } => {
            (StatusCode::OK, SubscribeState::Confirmed { list, address })
        }
        Confirmation::AlreadyActive { list, address } => (
            StatusCode::OK,
            SubscribeState::AlreadyActive { list, address },
        ),
        Confirmation::Expired { list } => (StatusCode::GONE, SubscribeState::Expired { list }),
        Confirmation::Used | Confirmation::Unknown => {
            (StatusCode::NOT_FOUND, SubscribeState::Invalid)
        }
    };
    match list {
        Some(list) => render_for(status, page, list),
        None => render(&state, status, page).await,
    }
}
