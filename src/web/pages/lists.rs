//! "Listes": the discussion lists (created here: address, name, subject prefix, reply-to, who may post,
//! archive, size), their subscribers (the members' representatives in one step, or addresses typed in), and
//! the moderation queue: each held post with every reason it was held for, to approve, approve and trust
//! its sender, reject with a message to the sender, or discard. Staff and admins only.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::post;

use crate::store::discussion::{DiscussionList, NewPost, Post};
use crate::store::outbox::{NewMessage, NewRecipient};
use crate::store::subscriptions::ContactSelection;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::view::Chrome;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/listes", axum::routing::get(overview).post(create))
        .route("/listes/{key}/abonnes", post(subscribe))
        .route("/listes/messages/{id}", post(decide))
}

/// A list as the page shows it.
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

impl ListsPage {
    fn reasons<'a>(&self, post: &'a Post) -> Vec<&'a str> {
        post.reasons.lines().collect()
    }

    fn when(&self, millis: &i64) -> String {
        crate::web::view::french_datetime(*millis)
    }
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
    let names: std::collections::HashMap<i64, String> = lists
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
    session.require_staff()?;
    page(&session, &state, String::new()).await
}

#[derive(serde::Deserialize)]
struct ListForm {
    key: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    subject_prefix: String,
    reply_to: String,
    post_policy: String,
    archive: String,
    max_kb: String,
    /// `personal` (the default) or `shared`.
    #[serde(default)]
    copies: String,
}

async fn create(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<ListForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let key = form.key.trim().to_lowercase();
    let mut errors = Vec::new();
    let reserved = ["bounces", "desabonnement"];
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
            "L'adresse de la liste s'écrit en minuscules, chiffres et tirets (40 au plus), sans finir par -join, -leave ou -request.",
        );
    }
    if form.name.trim().is_empty() {
        errors.push("Donnez un nom à la liste.");
    }
    let choice = |value: &str, allowed: &[&str]| allowed.contains(&value);
    if !choice(&form.reply_to, &["list", "sender"])
        || !choice(&form.post_policy, &["members", "moderated"])
        || !choice(&form.archive, &["public", "members", "staff"])
        || !choice(&form.copies, &["", "personal", "shared"])
    {
        errors.push("Choisissez les réglages parmi ceux proposés.");
    }
    let max_kb: i64 = form.max_kb.trim().parse().unwrap_or(0);
    if !(10..=25_600).contains(&max_kb) {
        errors.push("La taille maximale va de 10 Ko à 25 Mo (25 600 Ko).");
    }
    if !errors.is_empty() {
        return Err(WebError::BadRequest(errors.join(" ")));
    }
    let list = DiscussionList {
        id: 0,
        list_key: key.clone(),
        name: form.name.trim().to_string(),
        description: form.description.trim().to_string(),
        kind: "discussion".into(),
        subject_prefix: form.subject_prefix.trim().to_string(),
        reply_to: form.reply_to,
        post_policy: form.post_policy,
        archive: form.archive,
        max_bytes: max_kb * 1024,
        personalized: form.copies != "shared",
        strip_executables: true,
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

#[derive(serde::Deserialize)]
struct SubscribeForm {
    #[serde(default)]
    members: String,
    #[serde(default)]
    addresses: String,
}

/// Subscribes the members' representatives, and/or addresses typed one per line (`adresse` or
/// `adresse, nom`), under legitimate interest; whoever left the list is not added again.
async fn subscribe(
    session: Session,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Form(form): Form<SubscribeForm>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let list = state
        .store
        .mailing_list(&key)
        .await?
        .ok_or(WebError::NotFound)?;
    let now = state.clock.now_millis();
    let mut added = 0;
    if form.members == "oui" {
        added += state
            .store
            .subscribe_contacts(&list, ContactSelection::Members, now)
            .await?;
    }
    let mut entries = Vec::new();
    for line in form
        .addresses
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let (address, name) = line.split_once(',').unwrap_or((line, ""));
        let address = crate::domain::EmailAddress::parse(address.trim())
            .map_err(|e| WebError::BadRequest(format!("« {line} » : {e}")))?;
        entries.push((address.as_str().to_lowercase(), name.trim().to_string()));
    }
    if !entries.is_empty() {
        added += state
            .store
            .add_subscriptions(&list, &entries, "staff", "legitimate_interest", now)
            .await?;
    }
    page(
        &session,
        &state,
        format!("{added} abonnement(s) ajouté(s) à {}.", list.name),
    )
    .await
}

#[derive(serde::Deserialize)]
struct Decision {
    decision: String,
    #[serde(default)]
    message: String,
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
            let notice = (!post.from_address.is_empty()).then(|| {
                let text = if form.message.trim().is_empty() {
                    "L'équipe du club n'a pas diffusé votre message sur la liste.".to_string()
                } else {
                    form.message.trim().to_string()
                };
                (
                    NewMessage {
                        kind: "list_rejected".into(),
                        cause_kind: "list_post".into(),
                        cause_id: Some(id),
                        subject: format!("Message non diffusé : {}", post.subject),
                        body_html: format!(
                            "<p>{}</p>",
                            askama::filters::escape(&text, askama::filters::Html)
                                .map(|t| t.to_string())
                                .unwrap_or_default()
                        ),
                        body_text: text,
                        auto_submitted: true,
                        ..Default::default()
                    },
                    NewRecipient {
                        address: post.from_address.clone(),
                        name: post.from_name.clone(),
                        person_id: None,
                    },
                )
            });
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
    page(&session, &state, done).await
}
