//! "Listes": the discussion lists (created here: address, name, subject prefix, reply-to, who may post,
//! archive, size), and the moderation queue of every list: each held post with every reason it was held for,
//! to approve, approve and trust its sender, reject with a message to the sender, or discard.
//!
//! Each discussion list has its page, `/listes/{key}`: its settings (each change in the audit log), its
//! subscribers with their state, delivery mode and bounce score (remove one, re-enable one bounces
//! disabled), the bulk subscription's report line by line (someone who left is never added back, but can
//! be re-subscribed at their request with that consent recorded), its held posts and its archive.
//!
//! Staff and admins read and write; viewers read and never write.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::domain::{EmailAddress, Role};
use crate::store::bounce_score::THRESHOLD;
use crate::store::discussion::{DiscussionList, NewPost, Post};
use crate::store::list_admin::{ListSettings, ListSubscriber, Resubscribed, Standing};
use crate::store::outbox::NewRecipient;
use crate::store::subscriptions::{ContactSelection, MailingList};
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::view::{Chrome, french_datetime};

/// The most subscribers a list's page shows at once; a search narrows them.
const SHOWN_SUBSCRIBERS: usize = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/listes", get(overview).post(create))
        .route("/listes/{key}", get(show).post(save_settings))
        .route("/listes/{key}/abonnes", post(subscribe))
        .route("/listes/{key}/abonnes/{id}/retirer", post(remove))
        .route("/listes/{key}/abonnes/{id}/reactiver", post(reenable))
        .route("/listes/{key}/reabonner", post(resubscribe))
        .route("/listes/messages/{id}", post(decide))
}

/// Staff, admins and viewers read the lists' pages; only the first two write ([`Session::require_staff`]).
fn require_reader(session: &Session) -> WebResult<()> {
    if session.role().is_staff() || session.role() == Role::Viewer {
        Ok(())
    } else {
        Err(WebError::Forbidden)
    }
}

/// A list as the overview shows it.
pub struct ListLine {
    pub list: DiscussionList,
    pub address: String,
    pub subscribers: usize,
}

#[derive(Template)]
#[template(path = "lists.html", config = "src/web/askama.toml")]
struct ListsPage {
    chrome: Chrome,
    lists: Vec<ListLine>,
    held: Vec<(Post, String)>,
    notice: String,
}

async fn page(session: &Session, state: &AppState, notice: String) -> WebResult<Html<String>> {
    let receiving = &state.inbound;
    let mut lists = Vec::new();
    for list in state.store.all_lists().await? {
        let subscribers = state
            .store
            .subscribers(list.id)
            .await?
            .iter()
            .filter(|s| s.state == "active")
            .count();
        lists.push(ListLine {
            address: receiving.list_address(&list),
            subscribers,
            list,
        });
    }
    let names: HashMap<i64, String> = lists
        .iter()
        .map(|l| (l.list.id, l.list.name.clone()))
        .collect();
    let held = state
        .store
        .held_posts()
        .await?
        .into_iter()
        .map(|p| {
            let name = names.get(&p.list_id).cloned().unwrap_or_default();
            (p, name)
        })
        .collect();
    let page = ListsPage {
        chrome: Chrome::new(session, "lists", "Listes"),
        lists,
        held,
        notice,
    };
    Ok(Html(page.render()?))
}

async fn overview(session: Session, State(state): State<AppState>) -> WebResult<Html<String>> {
    require_reader(&session)?;
    page(&session, &state, String::new()).await
}

/// The settings form, as typed (kept to show it again with its mistakes).
#[derive(Debug, Clone, Default, serde::Deserialize)]
struct ListForm {
    /// Only when creating: the address cannot change.
    #[serde(default)]
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    subject_prefix: String,
    #[serde(default)]
    reply_to: String,
    #[serde(default)]
    post_policy: String,
    #[serde(default)]
    archive: String,
    #[serde(default)]
    max_kb: String,
    /// `personal` (the default) or `shared`.
    #[serde(default)]
    copies: String,
    /// `oui` (the default) or `non`.
    #[serde(default)]
    strip_executables: String,
}

impl ListForm {
    fn of(list: &DiscussionList) -> ListForm {
        ListForm {
            key: list.list_key.clone(),
            name: list.name.clone(),
            description: list.description.clone(),
            subject_prefix: list.subject_prefix.clone(),
            reply_to: list.reply_to.clone(),
            post_policy: list.post_policy.clone(),
            archive: list.archive.clone(),
            max_kb: (list.max_bytes / 1024).to_string(),
            copies: if list.personalized {
                "personal"
            } else {
                "shared"
            }
            .into(),
            strip_executables: if list.strip_executables { "oui" } else { "non" }.into(),
        }
    }

    /// The settings asked for, or every mistake, in French.
    fn settings(&self) -> Result<ListSettings, Vec<String>> {
        let mut errors: Vec<String> = Vec::new();
        let name = self.name.trim();
        let description = self.description.trim();
        let prefix = self.subject_prefix.trim();
        if name.is_empty() {
            errors.push("Donnez un nom à la liste.".into());
        } else if name.chars().count() > 100 {
            errors.push("Le nom de la liste tient en 100 caractères au plus.".into());
        }
        if description.chars().count() > 500 {
            errors.push("La description tient en 500 caractères au plus.".into());
        }
        if prefix.chars().count() > 40 {
            errors.push(
                "Le préfixe des objets tient en 40 caractères au plus (par exemple « [Club] »)."
                    .into(),
            );
        }
        // They go into mail headers: one line each.
        if [name, description, prefix]
            .iter()
            .any(|t| t.chars().any(char::is_control))
        {
            errors.push(
                "Le nom, la description et le préfixe s'écrivent sur une seule ligne.".into(),
            );
        }
        let choice = |value: &str, allowed: &[&str]| allowed.contains(&value);
        if !choice(&self.reply_to, &["list", "sender"]) {
            errors.push("Choisissez où vont les réponses : à la liste ou à l'auteur.".into());
        }
        if !choice(&self.post_policy, &["members", "moderated"]) {
            errors.push(
                "Choisissez qui écrit : les abonné·es, ou tout message relu par l'équipe.".into(),
            );
        }
        if !choice(&self.archive, &["public", "members", "staff"]) {
            errors.push(
                "Choisissez qui lit les archives : tout le monde, les abonné·es ou l'équipe."
                    .into(),
            );
        }
        if !choice(&self.copies, &["", "personal", "shared"]) {
            errors.push("Choisissez des copies personnelles ou identiques pour tous.".into());
        }
        if !choice(&self.strip_executables, &["", "oui", "non"]) {
            errors.push(
                "Dites si les programmes joints sont retirés des messages (oui ou non).".into(),
            );
        }
        let max_kb = match self
            .max_kb
            .trim()
            .replace([' ', '\u{a0}'], "")
            .parse::<i64>()
        {
            Ok(kb) if (10..=25_600).contains(&kb) => kb,
            Ok(_) => {
                errors.push("La taille maximale va de 10 Ko à 25 Mo (25 600 Ko).".into());
                0
            }
            Err(_) => {
                errors.push(
                    "La taille maximale s'écrit en Ko, en chiffres (par exemple 5120 pour 5 Mo)."
                        .into(),
                );
                0
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ListSettings {
            name: name.to_string(),
            description: description.to_string(),
            subject_prefix: prefix.to_string(),
            reply_to: self.reply_to.clone(),
            post_policy: self.post_policy.clone(),
            archive: self.archive.clone(),
            max_bytes: max_kb * 1024,
            personalized: self.copies != "shared",
            strip_executables: self.strip_executables != "non",
        })
    }
}

async fn create(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<ListForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let key = form.key.trim().to_lowercase();
    let mut errors = Vec::new();
    let reserved = ["bounces", "desabonnement", "messages"];
    if key.is_empty()
        || key.len() > 40
        || !key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || ["-join", "-leave", "-request"]
            .iter()
            .any(|s| key.ends_with(s))
        || reserved.contains(&key.as_str())
    {
        errors.push(
            "L'adresse de la liste s'écrit en minuscules, chiffres et tirets (40 au plus), sans finir par -join, -leave ou -request.".to_string(),
        );
    }
    let settings = match form.settings() {
        Ok(settings) if errors.is_empty() => settings,
        Ok(_) => return Err(WebError::BadRequest(errors.join(" "))),
        Err(more) => {
            errors.extend(more);
            return Err(WebError::BadRequest(errors.join(" ")));
        }
    };
    let list = DiscussionList {
        id: 0,
        list_key: key.clone(),
        name: settings.name,
        description: settings.description,
        kind: "discussion".into(),
        subject_prefix: settings.subject_prefix,
        reply_to: settings.reply_to,
        post_policy: settings.post_policy,
        archive: settings.archive,
        max_bytes: settings.max_bytes,
        personalized: settings.personalized,
        strip_executables: settings.strip_executables,
    };
    state
        .store
        .create_discussion_list(&list, state.clock.now_millis())
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => {
                WebError::BadRequest(format!("L'adresse « {key} » est déjà prise."))
            }
            other => other.into(),
        })?;
    Ok(Redirect::to("/listes").into_response())
}

/// A line of the bulk form that added no one, and why.
struct RefusedLine {
    line: usize,
    reason: String,
    /// Someone who left the list: staff may re-subscribe them at their request (address, name).
    left: Option<(String, String)>,
}

/// What a bulk subscription did, line by line.
struct BulkReport {
    added: u64,
    /// Already subscribed: "address (state)".
    already: Vec<String>,
    /// Added meanwhile by someone else.
    raced: u64,
    refused: Vec<RefusedLine>,
}

impl BulkReport {
    fn summary(&self, list: &str) -> String {
        format!(
            "{} abonnement(s) ajouté(s) à {list}, {} déjà abonné·e(s), {} ligne(s) refusée(s).",
            self.added,
            self.already.len() as u64 + self.raced,
            self.refused.len()
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
struct Shown {
    notice: String,
    errors: Vec<String>,
    /// The settings form as typed, when it had mistakes.
    form: Option<ListForm>,
    report: Option<BulkReport>,
    q: String,
}

async fn list_page(
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
        .filter(|l| l.kind == "discussion")
        .ok_or(WebError::NotFound)
}

#[derive(serde::Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn show(
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

async fn save_settings(
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
struct SubscribeForm {
    #[serde(default)]
    members: String,
    #[serde(default)]
    addresses: String,
}

/// Subscribes the members' representatives, and/or addresses typed one per line, under legitimate
/// interest. Every good line is added; each bad one is reported with its number and why; whoever left the
/// list is not added again (staff may re-subscribe them at their request).
async fn subscribe(
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
        kind: list.kind.clone(),
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
            .subscribe_contacts(&mailing, ContactSelection::Members, now)
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
            .add_subscriptions(&mailing, &new, "staff", "legitimate_interest", now)
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

async fn remove(
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

async fn reenable(
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
struct ResubscribeForm {
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
async fn resubscribe(
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

#[derive(serde::Deserialize)]
struct Decision {
    decision: String,
    #[serde(default)]
    message: String,
    /// The list whose page the form was on (empty: the overview).
    #[serde(default)]
    back: String,
}

async fn decide(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<Decision>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let post = state.store.post(id).await?.ok_or(WebError::NotFound)?;
    let list = state
        .store
        .all_lists()
        .await?
        .into_iter()
        .find(|l| l.id == post.list_id)
        .ok_or(WebError::NotFound)?;
    let now = state.clock.now_millis();
    let actor = session.actor();
    let receiving = &state.inbound;
    let done = match form.decision.as_str() {
        "approve" | "trust" => {
            let raw = match post.inbound_message_id {
                Some(message) => state.store.inbound_raw(message).await?,
                None => None,
            }
            .ok_or(WebError::NotFound)?;
            let parsed = mail_parser::MessageParser::default()
                .parse(&raw)
                .ok_or_else(|| WebError::BadRequest("Message illisible : écartez-le.".into()))?;
            let header = |name: &str| {
                parsed
                    .header_raw(name)
                    .map(|v| v.trim().to_string())
                    .unwrap_or_default()
            };
            let new = NewPost {
                list_id: post.list_id,
                inbound_message_id: post.inbound_message_id,
                from_address: post.from_address.clone(),
                from_name: post.from_name.clone(),
                subject: post.subject.clone(),
                message_id: post.message_id.clone(),
                in_reply_to: header("In-Reply-To"),
                references: header("References"),
                removed: Vec::new(),
            };
            let rewrite = receiving.rewrite_from(&raw, &post.from_address).await;
            let message = receiving
                .post_message(&list, &parsed, &new, rewrite)
                .map_err(|e| WebError::Internal(e.to_string()))?;
            let trust = form.decision == "trust";
            state
                .store
                .approve_post(
                    id,
                    &message,
                    &receiving.archive_base(&list),
                    trust,
                    &actor,
                    now,
                )
                .await?;
            if trust {
                format!(
                    "Message diffusé ; {} peut désormais écrire à la liste.",
                    post.from_address
                )
            } else {
                "Message diffusé.".to_string()
            }
        }
        "reject" => {
            let notice = if post.from_address.is_empty() {
                None
            } else {
                let text = if form.message.trim().is_empty() {
                    "L'équipe du club n'a pas diffusé votre message sur la liste.".to_string()
                } else {
                    form.message.trim().to_string()
                };
                Some((
                    crate::mail::answer::Answer {
                        kind: "list_rejected",
                        cause_kind: "list_post",
                        cause_id: Some(id),
                        subject: format!("Message non diffusé : {}", post.subject),
                        title: "Votre message n'a pas été diffusé".into(),
                        paragraphs: vec![
                            format!(
                                "Votre message « {} » à la liste « {} » n'a pas été diffusé.",
                                post.subject, list.name
                            ),
                            text,
                        ],
                        ..Default::default()
                    }
                    .message(&state.settings.mail.from_name)?,
                    NewRecipient {
                        address: post.from_address.clone(),
                        name: post.from_name.clone(),
                        person_id: None,
                    },
                ))
            };
            let notice = notice.as_ref().map(|(m, r)| (m, r.clone()));
            state
                .store
                .close_post(id, "rejected", notice, &actor, now)
                .await?;
            "Message refusé ; l'expéditeur en est informé.".to_string()
        }
        "discard" => {
            state
                .store
                .close_post(id, "discarded", None, &actor, now)
                .await?;
            "Message écarté sans réponse.".to_string()
        }
        other => {
            return Err(WebError::BadRequest(format!(
                "décision « {other} » inconnue"
            )));
        }
    };
    if !form.back.is_empty() && form.back == list.list_key && list.kind == "discussion" {
        let shown = Shown {
            notice: done,
            ..Shown::default()
        };
        return list_page(&session, &state, list, shown).await;
    }
    page(&session, &state, done).await
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
