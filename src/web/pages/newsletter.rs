//! "Lettre": staff collect items (category, title, Markdown with links) at any time, gather some into an
//! issue, look at it as subscribers will (HTML and text side by side), mark it ready and send it; each
//! issue is sent once (`Store::send_issue`). Staff and admins only.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::domain::EmailAddress;
use crate::domain::mail_kind::{DeliveryState, MailKind};
use crate::french::french_moment;
use crate::mail::newsletter::for_the_web;
use crate::scheduler::newsletter::NewsletterSchedule;
use crate::store::newsletter::{CATEGORIES, Issue, IssueSending, Item, category_label};
use crate::store::outbox::{DeliveryRow, NewRecipient};
use crate::store::subscriptions::MailingList;
use crate::web::AppState;
use crate::web::archive::{newsletter_list, rendered_issue};
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::flash;
use crate::web::view::{Chrome, french_datetime};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/lettre", get(overview))
        .route("/lettre/elements", post(add_item))
        .route("/lettre/elements/{id}", post(edit_item))
        .route("/lettre/elements/{id}/supprimer", post(delete_item))
        .route("/lettre/numeros", post(create_issue))
        .route("/lettre/numeros/{id}", get(show_issue))
        .route("/lettre/numeros/{id}/pret", post(set_ready))
        .route("/lettre/numeros/{id}/date", post(set_date))
        .route("/lettre/numeros/{id}/envoi", post(send))
        .route("/lettre/numeros/{id}/essai", post(test_send))
}

/// A schedule date as pages show it.
pub fn moment_label(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(french_moment)
        .unwrap_or_default()
}

pub fn issue_state_label(issue: &Issue) -> String {
    match (issue.state.as_str(), issue.scheduled_at) {
        ("draft", Some(at)) => format!(
            "brouillon, prévu pour le {} (ne partira que s'il est marqué prêt)",
            moment_label(at)
        ),
        ("draft", None) => "brouillon, sans date".into(),
        ("ready", Some(at)) => format!("prêt, partira le {}", moment_label(at)),
        ("ready", None) => "prêt, sans date : choisissez une date ou envoyez-le".into(),
        _ => format!(
            "envoyé le {} à {}",
            issue.sent_at.map(french_datetime).unwrap_or_default(),
            crate::french::count(issue.recipients as usize, "abonné·e", "abonné·es")
        ),
    }
}

#[derive(Template)]
#[template(path = "newsletter.html", config = "src/web/askama.toml")]
struct OverviewPage {
    chrome: Chrome,
    list: MailingList,
    items: Vec<Item>,
    issues: Vec<Issue>,
    categories: &'static [(&'static str, &'static str)],
    /// The schedule's next dates, as read.
    next_dates: Vec<String>,
}

/// The schedule's next `count` dates: (epoch milliseconds, as read).
fn next_dates(state: &AppState, count: usize) -> WebResult<Vec<(i64, String)>> {
    let schedule = NewsletterSchedule::from_settings(&state.settings)
        .map_err(|e| WebError::Internal(format!("newsletter schedule: {e}")))?;
    Ok(schedule
        .upcoming(state.clock.now(), count)
        .into_iter()
        .map(|at| (at.timestamp_millis(), french_moment(at)))
        .collect())
}

async fn overview(session: Session, State(state): State<AppState>) -> WebResult<Html<String>> {
    session.require_staff()?;
    let list = newsletter_list(&state).await?;
    let page = OverviewPage {
        chrome: Chrome::new(&session, "newsletter", "Lettre"),
        items: state.store.unassigned_items().await?,
        issues: state.store.issues(list.id).await?,
        list,
        categories: &CATEGORIES,
        next_dates: next_dates(&state, 3)?
            .into_iter()
            .map(|(_, label)| label)
            .collect(),
    };
    Ok(Html(page.render()?))
}

#[derive(serde::Deserialize)]
struct ItemForm {
    category: String,
    title: String,
    #[serde(default)]
    body: String,
}

async fn add_item(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<ItemForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    if !CATEGORIES.iter().any(|(code, _)| *code == form.category) {
        return Err(WebError::BadRequest(format!(
            "« {} » n'est pas une catégorie.",
            form.category
        )));
    }
    let title = form.title.trim();
    if title.is_empty() || title.chars().count() > 300 {
        return Err(WebError::BadRequest(
            "Le titre est obligatoire (300 caractères au plus).".into(),
        ));
    }
    state
        .store
        .add_item(
            &form.category,
            title,
            &form.body,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    Ok(flash::redirect_with_notice(
        "/lettre",
        &format!("Élément « {title} » ajouté."),
    ))
}

async fn create_issue(
    session: Session,
    State(state): State<AppState>,
    body: String,
) -> WebResult<Response> {
    session.require_staff()?;
    // Several `item` fields: serde_urlencoded's pairs keep them all.
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(&body)
        .map_err(|e| WebError::BadRequest(format!("formulaire illisible : {e}")))?;
    let title = fields
        .iter()
        .find(|(k, _)| k == "title")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    if title.is_empty() {
        return Err(WebError::BadRequest("Donnez un titre au numéro.".into()));
    }
    let items: Vec<i64> = fields
        .iter()
        .filter(|(k, _)| k == "item")
        .map(|(_, v)| {
            v.parse()
                .map_err(|_| WebError::BadRequest(format!("élément « {v} » inconnu")))
        })
        .collect::<Result<_, _>>()?;
    let list = newsletter_list(&state).await?;
    let id = state
        .store
        .create_issue(
            list.id,
            &title,
            &items,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    Ok(flash::redirect_with_notice(
        &format!("/lettre/numeros/{id}"),
        &format!("Numéro « {title} » créé."),
    ))
}

#[derive(Template)]
#[template(path = "newsletter_issue.html", config = "src/web/askama.toml")]
struct IssuePage {
    chrome: Chrome,
    issue: Issue,
    items: Vec<Item>,
    html: String,
    text: String,
    /// Staff who can receive a test copy: (id, name).
    staff: Vec<(i64, String)>,
    report: Option<Report>,
    /// Dates the issue can be given: (epoch milliseconds, as read).
    dates: Vec<(i64, String)>,
    /// Subscribers an issue sent now reaches.
    audience: i64,
    /// Marked public: partner networks receive it once sent.
    public: bool,
    categories: &'static [(&'static str, &'static str)],
}

impl IssuePage {
    /// The question asked before sending, with the issue's title and the number of subscribers.
    fn send_question(&self) -> String {
        let whom = match self.audience {
            0 => "personne (la liste est vide)".to_string(),
            n => crate::french::count(n as usize, "abonné·e", "abonné·es"),
        };
        format!(
            "Envoyer « {} » à {whom} ? Cela ne peut pas être annulé.",
            self.issue.title
        )
    }

    fn scheduled_for(&self, at: &i64) -> bool {
        self.issue.scheduled_at == Some(*at)
    }
}

/// What became of a sent issue's copies.
struct Report {
    recipients: usize,
    delivered: usize,
    /// Still queued after at least one temporary failure.
    deferred: usize,
    /// Not tried yet.
    waiting: usize,
    failed: usize,
    unsubscribed_since: i64,
    failures: Vec<DeliveryRow>,
}

impl Report {
    fn of(deliveries: Vec<DeliveryRow>, unsubscribed_since: i64) -> Report {
        let count = |f: &dyn Fn(&DeliveryRow) -> bool| deliveries.iter().filter(|d| f(d)).count();
        Report {
            recipients: deliveries.len(),
            delivered: count(&|d| d.state == DeliveryState::Sent),
            deferred: count(&|d| d.state == DeliveryState::Queued && d.attempts > 0),
            waiting: count(&|d| d.state == DeliveryState::Queued && d.attempts == 0),
            failed: count(&|d| {
                d.state == DeliveryState::Bounced || d.state == DeliveryState::Failed
            }),
            unsubscribed_since,
            failures: deliveries
                .into_iter()
                .filter(|d| d.state == DeliveryState::Bounced || d.state == DeliveryState::Failed)
                .collect(),
        }
    }
}

async fn show_issue(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let list = newsletter_list(&state).await?;
    let (issue, items, message) = rendered_issue(&state, &list, id).await?;
    let report = match issue.message_id {
        Some(message_id) => Some(Report::of(
            state.store.deliveries_of(message_id).await?,
            state.store.unsubscribes_from_message(message_id).await?,
        )),
        None => None,
    };
    let page = IssuePage {
        chrome: Chrome::new(&session, "newsletter", &issue.title),
        issue,
        items,
        html: for_the_web(&message.body_html, &state.settings.server.public_url),
        text: for_the_web(&message.body_text, &state.settings.server.public_url),
        staff: state.store.list_owners().await?,
        report,
        dates: next_dates(&state, 8)?,
        audience: state.store.issue_audience(list.id).await?,
        categories: &CATEGORIES,
        public: state.store.is_public("article", id).await?.unwrap_or(false),
    };
    Ok(Html(page.render()?))
}

#[derive(serde::Deserialize)]
struct ReadyForm {
    ready: String,
}

async fn set_ready(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ReadyForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let now = state.clock.now_millis();
    let ready = form.ready == "oui";
    let (issue, _) = state.store.issue(id).await?.ok_or(WebError::NotFound)?;
    // A ready issue whose date has passed goes out at once: the schedule takes it for one missed while
    // relais was stopped. Marking ready after the date must be a choice, not a surprise.
    if ready && issue.scheduled_at.is_some_and(|at| at <= now) {
        return Err(WebError::BadRequest(
            "La date prévue pour ce numéro est passée : choisissez une nouvelle date avant de le \
             marquer prêt, ou envoyez-le maintenant."
                .into(),
        ));
    }
    state
        .store
        .set_issue_ready_as(id, ready, &session.actor(), now)
        .await?;
    let notice = if ready {
        format!("« {} » est prêt.", issue.title)
    } else {
        format!("« {} » est repassé en brouillon.", issue.title)
    };
    Ok(flash::redirect_with_notice(
        &format!("/lettre/numeros/{id}"),
        &notice,
    ))
}

#[derive(serde::Deserialize)]
struct DateForm {
    #[serde(default)]
    at: String,
}

/// Gives an issue one of the schedule's next dates, or none (`at` empty).
async fn set_date(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<DateForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let at = if form.at.is_empty() {
        None
    } else {
        let offered = next_dates(&state, 24)?;
        let chosen = form
            .at
            .parse::<i64>()
            .ok()
            .filter(|at| offered.iter().any(|(date, _)| date == at));
        Some(chosen.ok_or_else(|| {
            WebError::BadRequest(format!(
                "« {} » n'est pas une des prochaines dates d'envoi de la lettre.",
                form.at
            ))
        })?)
    };
    if !state
        .store
        .schedule_issue_as(id, at, &session.actor(), state.clock.now_millis())
        .await?
    {
        return Err(WebError::BadRequest(
            "Ce numéro est déjà envoyé : sa date ne change plus.".into(),
        ));
    }
    let notice = match at {
        Some(at) => format!("Date d'envoi enregistrée : {}.", moment_label(at)),
        None => "Le numéro n'a plus de date d'envoi : il partira à la main.".to_string(),
    };
    Ok(flash::redirect_with_notice(
        &format!("/lettre/numeros/{id}"),
        &notice,
    ))
}

async fn send(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    let list = newsletter_list(&state).await?;
    let (_, _, message) = rendered_issue(&state, &list, id).await?;
    match state
        .store
        .send_issue(id, &message, &session.actor(), state.clock.now_millis())
        .await?
    {
        IssueSending::Sent { recipients } => Ok(flash::redirect_with_notice(
            &format!("/lettre/numeros/{id}"),
            &format!(
                "Numéro envoyé à {}.",
                crate::french::count(recipients, "abonné·e", "abonné·es")
            ),
        )),
        IssueSending::AlreadySent => {
            Ok(Redirect::to(&format!("/lettre/numeros/{id}")).into_response())
        }
        IssueSending::NotReady => Err(WebError::BadRequest(
            "Ce numéro n'est pas marqué prêt : relisez-le et marquez-le prêt avant de l'envoyer."
                .into(),
        )),
    }
}

/// A test copy of the issue to the chosen staff members, marked as such and without list headers, so it
/// can be checked in a real mailbox before the issue goes out. Any number of times, in any state.
async fn test_send(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> WebResult<Response> {
    session.require_staff()?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(&body)
        .map_err(|e| WebError::BadRequest(format!("formulaire illisible : {e}")))?;
    let mut recipients = Vec::new();
    for (_, value) in fields.iter().filter(|(k, _)| k == "user") {
        let user_id: i64 = value
            .parse()
            .map_err(|_| WebError::BadRequest(format!("destinataire « {value} » inconnu")))?;
        let user =
            state.store.user_by_id(user_id).await?.ok_or_else(|| {
                WebError::BadRequest(format!("destinataire n° {user_id} inconnu"))
            })?;
        recipients.push(NewRecipient {
            address: EmailAddress::stored(user.email),
            name: user.name,
            person_id: None,
        });
    }
    if recipients.is_empty() {
        return Err(WebError::BadRequest(
            "Cochez au moins une personne qui recevra l'essai.".into(),
        ));
    }
    let list = newsletter_list(&state).await?;
    let (_, _, mut message) = rendered_issue(&state, &list, id).await?;
    message.kind = MailKind::NewsletterTest;
    message.subject = format!("[Essai] {}", message.subject);
    // A test copy is nobody's subscription: no one-click unsubscribe from it.
    message.list = None;
    state
        .store
        .enqueue_mail(&message, &recipients, state.clock.now_millis())
        .await?;
    let names: Vec<&str> = recipients.iter().map(|r| r.name.as_str()).collect();
    Ok(flash::redirect_with_notice(
        &format!("/lettre/numeros/{id}"),
        &format!("Essai envoyé à {}.", names.join(", ")),
    ))
}

/// An item's category, title and text, checked.
fn parse_item(form: &ItemForm) -> WebResult<(String, String)> {
    if !CATEGORIES.iter().any(|(code, _)| *code == form.category) {
        return Err(WebError::BadRequest(format!(
            "« {} » n'est pas une catégorie.",
            form.category
        )));
    }
    let title = form.title.trim();
    if title.is_empty() || title.chars().count() > 300 {
        return Err(WebError::BadRequest(
            "Le titre est obligatoire (300 caractères au plus).".into(),
        ));
    }
    Ok((form.category.clone(), title.to_string()))
}

/// Where an item's page is: its issue's page, or the overview while it waits for one.
fn item_home(issue_id: Option<i64>) -> String {
    issue_id.map_or_else(
        || "/lettre".to_string(),
        |id| format!("/lettre/numeros/{id}"),
    )
}

/// Corrects an item; refused once its issue is sent.
async fn edit_item(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ItemForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let (category, title) = parse_item(&form)?;
    let before = state
        .store
        .update_item(
            id,
            &category,
            &title,
            &form.body,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    Ok(flash::redirect_with_notice(
        &item_home(before.issue_id),
        &format!("Élément « {title} » enregistré."),
    ))
}

/// Deletes an item; refused once its issue is sent.
async fn delete_item(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    let before = state
        .store
        .delete_item(id, &session.actor(), state.clock.now_millis())
        .await?;
    Ok(flash::redirect_with_notice(
        &item_home(before.issue_id),
        &format!("Élément « {} » supprimé.", before.title),
    ))
}

/// For the templates.
pub fn label(code: &str) -> &'static str {
    category_label(code)
}
