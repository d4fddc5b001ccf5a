//! "Listes": the discussion lists (created here: address, name, subject prefix, reply-to, who may post,
//! archive, size), and the moderation queue of every list: each held post with every reason it was held for,
//! to approve, approve and trust its sender, reject with a message to the sender, or discard.
//!
//! Each discussion list has its page, `/listes/{key}` ([`super::list_page`]); the routes of both are here.
//!
//! Staff and admins read and write; viewers read and never write.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::{Html, Response};
use axum::routing::{get, post};

use crate::domain::EmailAddress;
use crate::domain::mail_kind::MailKind;
use crate::domain::{ListKind, PostPolicy, ReplyTo, Role};
use crate::store::discussion::{DiscussionList, NewPost, Post};
use crate::store::list_admin::ListSettings;
use crate::store::outbox::NewRecipient;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::view::Chrome;

use super::list_page::{
    Shown, list_page, reenable, remove, resubscribe, save_settings, show, subscribe,
};

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
pub(super) fn require_reader(session: &Session) -> WebResult<()> {
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
pub(super) struct ListForm {
    /// Only when creating: the address cannot change.
    #[serde(default)]
    pub(super) key: String,
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) subject_prefix: String,
    #[serde(default)]
    pub(super) reply_to: String,
    #[serde(default)]
    pub(super) post_policy: String,
    #[serde(default)]
    pub(super) archive: String,
    #[serde(default)]
    pub(super) max_kb: String,
    /// `personal` (the default) or `shared`.
    #[serde(default)]
    pub(super) copies: String,
    /// `oui` (the default) or `non`.
    #[serde(default)]
    pub(super) strip_executables: String,
}

impl ListForm {
    pub(super) fn of(list: &DiscussionList) -> ListForm {
        ListForm {
            key: list.list_key.clone(),
            name: list.name.clone(),
            description: list.description.clone(),
            subject_prefix: list.subject_prefix.clone(),
            reply_to: list.reply_to.as_str().into(),
            post_policy: list.post_policy.as_str().into(),
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
    pub(super) fn settings(&self) -> Result<ListSettings, Vec<String>> {
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
        // The form sends the stored codes themselves: a label is not accepted here.
        let reply_to = ReplyTo::from_code(&self.reply_to).ok();
        if reply_to.is_none() {
            errors.push("Choisissez où vont les réponses : à la liste ou à l'auteur.".into());
        }
        let post_policy = PostPolicy::from_code(&self.post_policy).ok();
        if post_policy.is_none() {
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
        let (Some(reply_to), Some(post_policy), true) = (reply_to, post_policy, errors.is_empty())
        else {
            return Err(errors);
        };
        Ok(ListSettings {
            name: name.to_string(),
            description: description.to_string(),
            subject_prefix: prefix.to_string(),
            reply_to,
            post_policy,
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
        kind: ListKind::Discussion,
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
        .create_discussion_list_as(&list, &session.actor(), state.clock.now_millis())
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => {
                WebError::BadRequest(format!("L'adresse « {key} » est déjà prise."))
            }
            other => other.into(),
        })?;
    Ok(crate::web::flash::redirect_with_notice(
        "/listes",
        &format!("Liste « {} » créée.", list.name),
    ))
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
                        kind: MailKind::ListRejected,
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
                        address: EmailAddress::stored(post.from_address.clone()),
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
    if !form.back.is_empty() && form.back == list.list_key && list.kind == ListKind::Discussion {
        let shown = Shown {
            notice: done,
            ..Shown::default()
        };
        return list_page(&session, &state, list, shown).await;
    }
    page(&session, &state, done).await
}
