//! The page of one discussion list, `/listes/{key}`, for its staff: its settings (each change in the audit
//! log), its subscribers with their state, delivery mode and bounce score (remove one, re-enable one
//! bounces disabled), the bulk subscription's report line by line (someone who left is never added back,
//! but can be re-subscribed at their request with that consent recorded), its held posts and its archive.
//! The routes are in [`super::lists::router`]; staff and admins read and write, viewers only read.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::domain::{EmailAddress, ListKind};
use crate::store::bounce_score::THRESHOLD;
use crate::store::discussion::{DiscussionList, Post};
use crate::store::list_admin::{ListSubscriber, Resubscribed, Standing};
use crate::store::subscriptions::{ContactSelection, MailingList};
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::view::{Chrome, french_datetime};

use super::lists::{ListForm, require_reader};

/// The most subscribers a list's page shows at once; a search narrows them.
const SHOWN_SUBSCRIBERS: usize = 500;

/// A line of the bulk form that added no one, and why.
struct RefusedLine {
    line: usize,
    reason: String,
    /// Someone who left the list: staff may re-subscribe them at their request (address, name).
    left: Option<(String, String)>,
}

/// What a bulk subscription did, line by line.
pub(super) struct BulkReport {
    added: u64,
    /// Already subscribed: "address (state)".
    already: Vec<String>,
    /// Added meanwhile by someone else.
    raced: u64,
    refused: Vec<RefusedLine>,
}

impl BulkReport {
    fn summary(&self, list: &str) -> String {
        use crate::french::count;
        format!(
            "{} {}, {}, {}.",
            count(
                self.added as usize,
                "abonnement ajouté",
                "abonnements ajoutés"
            ),
            crate::french::to_list(list),
            count(
                self.already.len() + self.raced as usize,
                "adresse déjà abonnée",
                "adresses déjà abonnées"
            ),
            count(self.refused.len(), "ligne refusée", "lignes refusées")
        )
    }
}

#[derive(Template)]
#[template(path = "list.html", config = "src/web/askama.toml")]
struct ListPage {
    chrome: Chrome,
    list: DiscussionList,
    address: String,
    form: ListForm,
    errors: Vec<String>,
    notice: String,
    report: Option<BulkReport>,
    q: String,
    subscribers: Vec<ListSubscriber>,
    /// Subscriptions matching the search (all may not be shown).
    matching: usize,
    active: usize,
    held: Vec<Post>,
}

impl ListPage {
    fn state_label(&self, row: &ListSubscriber) -> &'static str {
        match row.state.as_str() {
            "pending" => "en attente de confirmation",
            "active" => "abonné·e",
            "bouncing" => "adresse en échec",
            "disabled" => "suspendu·e (retours en erreur)",
            "unsubscribed" => "désabonné·e",
            _ => "inconnu",
        }
    }

    fn mode_label(&self, row: &ListSubscriber) -> &'static str {
        if row.mode == "digest" {
            "récapitulatif quotidien"
        } else {
            "chaque message"
        }
    }

    fn score(&self, row: &ListSubscriber) -> String {
        let mut text = format!("{} / {THRESHOLD}", row.bounce_score);
        if row.bounce_warnings > 0 {
            text.push_str(&format!(", {} avertissement(s)", row.bounce_warnings));
        }
        text
    }

    fn consent(&self, row: &ListSubscriber) -> String {
        let source = match row.consent_source.as_str() {
            "public_form" => "formulaire public",
            "staff" => "ajout par l'équipe",
            "import" => "import",
            "onboarding" => "adhésion",
            other => other,
        };
        let basis = match row.legal_basis.as_str() {
            "consent" => "consentement",
            "legitimate_interest" => "intérêt légitime",
            other => other,
        };
        let mut details = vec![
            row.consent_at
                .map_or("pas encore confirmé".to_string(), french_datetime),
        ];
        if !row.wording_version.is_empty() {
            details.push(row.wording_version.clone());
        }
        if !row.consent_by.is_empty() {
            details.push(format!("par {}", row.consent_by));
        }
        format!("{source}, {basis} ({})", details.join(", "))
    }
}

/// What a list's page shows besides the list itself.
#[derive(Default)]
pub(super) struct Shown {
    pub(super) notice: String,
    pub(super) errors: Vec<String>,
    /// The settings form as typed, when it had mistakes.
    pub(super) form: Option<ListForm>,
    pub(super) report: Option<BulkReport>,
    pub(super) q: String,
}

pub(super) async fn list_page(
    session: &Session,
    state: &AppState,
    list: DiscussionList,
    shown: Shown,
) -> WebResult<Html<String>> {
    let all = state.store.list_subscribers(list.id).await?;
    let active = all.iter().filter(|s| s.state == "active").count();
    let query = crate::domain::search_query(&shown.q);
    let mut subscribers: Vec<ListSubscriber> = all
        .into_iter()
        .filter(|s| {
            query.is_empty() || crate::domain::search_text(&[&s.address, &s.name]).contains(&query)
        })
        .collect();
    let matching = subscribers.len();
    subscribers.truncate(SHOWN_SUBSCRIBERS);
    let page = ListPage {
        chrome: Chrome::new(session, "lists", list.name.clone()),
        address: state.inbound.list_address(&list),
        form: shown.form.unwrap_or_else(|| ListForm::of(&list)),
        held: state.store.held_posts_of(list.id).await?,
        errors: shown.errors,
        notice: shown.notice,
        report: shown.report,
        q: shown.q,
        subscribers,
        matching,
        active,
        list,
    };
    Ok(Html(page.render()?))
}

/// The discussion list at `key` (the newsletter has its own pages).
async fn discussion(state: &AppState, key: &str) -> WebResult<DiscussionList> {
    state
        .store
        .discussion_list(key)
        .await?
        .filter(|l| l.kind == ListKind::Discussion)
        .ok_or(WebError::NotFound)
}

#[derive(serde::Deserialize)]
pub(super) struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub(super) async fn show(
    session: Session,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(search): Query<SearchQuery>,
) -> WebResult<Html<String>> {
    require_reader(&session)?;
    let list = discussion(&state, &key).await?;
    let shown = Shown {
        q: search.q.trim().to_string(),
        ..Shown::default()
    };
    list_page(&session, &state, list, shown).await
}

pub(super) async fn save_settings(
    session: Session,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Form(form): Form<ListForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let list = discussion(&state, &key).await?;
    let settings = match form.settings() {
        Ok(settings) => settings,
        Err(errors) => {
            let shown = Shown {
                errors,
                form: Some(form),
                ..Shown::default()
            };
            let page = list_page(&session, &state, list, shown).await?;
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let changed = state
        .store
        .update_list_settings(&list, &settings, &session.actor(), state.clock.now_millis())
        .await?;
    let notice = if changed {
        "Réglages enregistrés."
    } else {
        "Rien à enregistrer : les réglages n'ont pas changé."
    };
    let list = discussion(&state, &key).await?;
    let shown = Shown {
        notice: notice.into(),
        ..Shown::default()
    };
    Ok(list_page(&session, &state, list, shown)
        .await?
        .into_response())
}

/// One line of the bulk form: `adresse`, `adresse, nom` (or `;`, a tab), or `Nom <adresse>`; the address
/// lowercased, or why the line is wrong.
fn parse_line(line: &str) -> Result<(String, String), String> {
    let (address, name) = match line.rfind('<') {
        Some(open) if line.ends_with('>') => (
            &line[open + 1..line.len() - 1],
            line[..open].trim().trim_matches('"'),
        ),
        _ => line.split_once([',', ';', '\t']).unwrap_or((line, "")),
    };
    let address = EmailAddress::parse(address)?;
    Ok((address.as_str().to_string(), name.trim().to_string()))
}

/// How someone left, in words.
fn departure_label(source: &str) -> &str {
    match source {
        "one-click" => "désabonnement en un clic depuis sa messagerie",
        "page" => "page de désabonnement",
        "mailto" => "courriel de désabonnement",
        "preferences" => "page de préférences ou courriel à la liste",
        "abuse" => "signalement comme indésirable",
        "staff" => "retrait par l'équipe",
        "bounces" => "retrait après des retours en erreur",
        other => other,
    }
}

#[derive(serde::Deserialize)]
pub(super) struct SubscribeForm {
    #[serde(default)]
    members: String,
    #[serde(default)]
    addresses: String,
}

/// Subscribes the members' representatives, and/or addresses typed one per line, under legitimate
/// interest. Every good line is added; each bad one is reported with its number and why; whoever left the
/// list is not added again (staff may re-subscribe them at their request).
pub(super) async fn subscribe(
    session: Session,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Form(form): Form<SubscribeForm>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let list = discussion(&state, &key).await?;
    let mailing = MailingList {
        id: list.id,
        list_key: list.list_key.clone(),
        name: list.name.clone(),
        description: list.description.clone(),
        kind: list.kind,
    };
    let now = state.clock.now_millis();
    let mut report = BulkReport {
        added: 0,
        already: Vec::new(),
        raced: 0,
        refused: Vec::new(),
    };
    if form.members == "oui" {
        report.added += state
            .store
            .subscribe_contacts_as(&mailing, ContactSelection::Members, &session.actor(), now)
            .await?;
    }
    let mut first_line: HashMap<String, usize> = HashMap::new();
    let mut candidates = Vec::new();
    for (index, line) in form.addresses.lines().enumerate() {
        let (line, number) = (line.trim(), index + 1);
        if line.is_empty() {
            continue;
        }
        match parse_line(line) {
            Err(reason) => report.refused.push(RefusedLine {
                line: number,
                reason,
                left: None,
            }),
            Ok((address, _)) if first_line.contains_key(&address) => {
                report.refused.push(RefusedLine {
                    line: number,
                    reason: format!("{address} figure déjà ligne {}", first_line[&address]),
                    left: None,
                })
            }
            Ok((address, name)) => {
                first_line.insert(address.clone(), number);
                candidates.push((number, address, name));
            }
        }
    }
    let addresses: Vec<String> = candidates.iter().map(|(_, a, _)| a.clone()).collect();
    let standings = state.store.standings(&list, &addresses).await?;
    let mut new = Vec::new();
    for (number, address, name) in candidates {
        match standings.get(&address).unwrap_or(&Standing::New) {
            Standing::New => new.push((address, name)),
            Standing::Subscribed(subscription) => report.already.push(format!(
                "{address} ({})",
                match subscription.as_str() {
                    "pending" => "en attente de confirmation",
                    "disabled" | "bouncing" => "suspendu·e après des retours en erreur",
                    _ => "abonné·e",
                }
            )),
            Standing::Left { at, source } => report.refused.push(RefusedLine {
                line: number,
                reason: format!(
                    "{address} a quitté la liste le {} (source : {}) : rien n'a été fait",
                    french_datetime(*at),
                    departure_label(source)
                ),
                left: Some((address, name)),
            }),
        }
    }
    if !new.is_empty() {
        let added = state
            .store
            .add_subscriptions_as(&mailing, &new, &session.actor(), now)
            .await?;
        report.added += added;
        report.raced = (new.len() as u64).saturating_sub(added);
    }
    report.refused.sort_by_key(|r| r.line);
    let shown = Shown {
        notice: report.summary(&list.name),
        report: Some(report),
        ..Shown::default()
    };
    list_page(&session, &state, list, shown).await
}

pub(super) async fn remove(
    session: Session,
    State(state): State<AppState>,
    Path((key, id)): Path<(String, i64)>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let list = discussion(&state, &key).await?;
    let removed = state
        .store
        .remove_subscriber(&list, id, &session.actor(), state.clock.now_millis())
        .await?;
    let notice = match removed {
        Some(address) => format!(
            "{address} ne reçoit plus {} : son départ est enregistré (retrait par l'équipe).",
            list.name
        ),
        None => "Rien à faire : cet abonnement était déjà terminé.".to_string(),
    };
    let shown = Shown {
        notice,
        ..Shown::default()
    };
    list_page(&session, &state, list, shown).await
}

pub(super) async fn reenable(
    session: Session,
    State(state): State<AppState>,
    Path((key, id)): Path<(String, i64)>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let list = discussion(&state, &key).await?;
    let enabled = state
        .store
        .reenable_subscriber(&list, id, &session.actor(), state.clock.now_millis())
        .await?;
    let notice = match enabled {
        Some(address) => format!(
            "{address} reçoit de nouveau {} ; son score de retours en erreur repart de zéro.",
            list.name
        ),
        None => "Rien à faire : cet abonnement n'était pas suspendu.".to_string(),
    };
    let shown = Shown {
        notice,
        ..Shown::default()
    };
    list_page(&session, &state, list, shown).await
}

#[derive(serde::Deserialize)]
pub(super) struct ResubscribeForm {
    #[serde(default)]
    address: String,
    #[serde(default)]
    name: String,
    /// `oui`: the person asked to come back.
    #[serde(default)]
    demande: String,
}

/// Re-subscribes someone who left, because they asked: the consent is recorded (now, by this staff
/// member, on that ground).
pub(super) async fn resubscribe(
    session: Session,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Form(form): Form<ResubscribeForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let list = discussion(&state, &key).await?;
    let address = EmailAddress::parse(&form.address).map_err(WebError::BadRequest)?;
    if form.demande != "oui" {
        let shown = Shown {
            errors: vec![format!(
                "{address} n'est pas réabonné·e : cochez « La personne a demandé à revenir ». \
                 Sans sa demande, une personne qui a quitté la liste n'y est pas réabonnée."
            )],
            ..Shown::default()
        };
        let page = list_page(&session, &state, list, shown).await?;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let actor = session.actor();
    let now = state.clock.now_millis();
    let done = state
        .store
        .resubscribe_on_request(&list, address.as_str(), form.name.trim(), &actor, now)
        .await?;
    let notice = match done {
        Resubscribed::Done => format!(
            "{address} est de nouveau abonné·e à {}, à sa demande : consentement enregistré le {} par {}.",
            list.name,
            french_datetime(now),
            actor.label
        ),
        Resubscribed::AlreadySubscribed => format!("{address} est déjà abonné·e à {}.", list.name),
        Resubscribed::NeverLeft => format!(
            "{address} n'a jamais quitté {} : ajoutez l'adresse avec le formulaire d'abonnement.",
            list.name
        ),
    };
    let shown = Shown {
        notice,
        ..Shown::default()
    };
    Ok(list_page(&session, &state, list, shown)
        .await?
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_line;

    #[test]
    fn a_line_gives_an_address_and_maybe_a_name() {
        let ok = |line: &str| parse_line(line).unwrap();
        assert_eq!(
            ok("Maire@Lyon.example"),
            ("maire@lyon.example".into(), String::new())
        );
        assert_eq!(
            ok("maire@lyon.example, Maire de Lyon"),
            ("maire@lyon.example".into(), "Maire de Lyon".into())
        );
        assert_eq!(
            ok("maire@lyon.example;Maire"),
            ("maire@lyon.example".into(), "Maire".into())
        );
        assert_eq!(
            ok("\"Élu de Nantes\" <elu@nantes.example>"),
            ("elu@nantes.example".into(), "Élu de Nantes".into())
        );
        let error = parse_line("maire@lyon, Maire").unwrap_err();
        assert!(error.contains("« maire@lyon »"), "{error}");
    }
}
