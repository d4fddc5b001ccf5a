//! Publishing what staff marked public. [`Federation::sync_published`] compares what is public now (planned
//! public meetings, sent public newsletter issues, public sheets) with what was sent, and queues for the
//! Group's followers a `Create` for what is new, an `Update` for what changed (a hash of the JSON tells),
//! and a `Delete` for what was cancelled or unpublished, whose URL answers 410 Gone from then on. The
//! federation job runs it at every wake-up, so no page of the staff app has to remember to.

use serde_json::Value;

use super::activities;
use super::objects::{
    self, ArticleSource, DocumentSource, EventSource, content_hash, escape, member_item,
};
use super::service::Federation;
use crate::store::federation_objects::PublishedObject;

/// The three kinds of published objects.
pub const KINDS: [&str; 3] = ["event", "article", "document"];

/// What one pass queued.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PublishReport {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
}

impl Federation {
    /// Sends what changed among public objects since the last pass.
    pub async fn sync_published(&self) -> anyhow::Result<PublishReport> {
        let mut report = PublishReport::default();
        let now = self.clock().now_millis();
        for kind in KINDS {
            let public = self.store().public_sources(kind).await?;
            for source_id in &public {
                let known = self.store().published_object(kind, *source_id).await?;
                let uuid = known
                    .as_ref()
                    .map(|k| k.uuid.clone())
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                let out = known.as_ref().filter(|k| k.withdrawn_at.is_none());
                let published_at = out.map(|k| k.published_at).unwrap_or(now);
                let Some(object) = self
                    .local_object(kind, *source_id, &uuid, published_at, now)
                    .await?
                else {
                    continue;
                };
                let hash = content_hash(&object);
                let (verb, previous) = match out {
                    None => ("Create", None),
                    Some(k) if k.sent_hash != hash => ("Update", Some(k.sent_hash.as_str())),
                    Some(_) => continue,
                };
                if !self
                    .store()
                    .claim_publication(kind, *source_id, &uuid, previous, &hash, now)
                    .await?
                {
                    // Another instance sent it meanwhile.
                    continue;
                }
                // The moment makes the id new when an object comes back as it was (published, withdrawn,
                // published again): partners would take the same id for a replay.
                let version = format!("{}-{now}", &hash[..8]);
                let activity = activities::about_object(self.urls(), verb, &object, &version);
                self.send_to_followers(&activity, &label(verb, kind, &object))
                    .await?;
                if verb == "Create" {
                    report.created += 1;
                } else {
                    report.updated += 1;
                }
            }
            for gone in self.store().published_objects(kind).await? {
                if public.contains(&gone.source_id) {
                    continue;
                }
                if !self
                    .store()
                    .claim_withdrawal(kind, gone.source_id, now)
                    .await?
                {
                    continue;
                }
                let id = self.urls().object(kind, &gone.uuid);
                let object = serde_json::json!({"id": id, "type": type_of(kind)});
                let version = format!("retrait-{now}");
                let activity = activities::about_object(self.urls(), "Delete", &object, &version);
                self.send_to_followers(&activity, &format!("Retrait : {}", type_label(kind)))
                    .await?;
                report.deleted += 1;
            }
        }
        Ok(report)
    }

    /// The JSON partners see of a published object, `None` when its source is gone.
    pub async fn published_document(
        &self,
        object: &PublishedObject,
    ) -> anyhow::Result<Option<Value>> {
        self.local_object(
            &object.kind,
            object.source_id,
            &object.uuid,
            object.published_at,
            object.updated_at,
        )
        .await
    }

    /// The JSON of a meeting, an issue or a sheet under `uuid`, or `None` when it does not exist.
    pub async fn local_object(
        &self,
        kind: &str,
        source_id: i64,
        uuid: &str,
        published_at: i64,
        updated_at: i64,
    ) -> anyhow::Result<Option<Value>> {
        let store = self.store();
        let urls = self.urls();
        Ok(match kind {
            "event" => {
                let Some(meeting) = store.meeting(source_id).await? else {
                    return Ok(None);
                };
                let Some(series) = store.series(meeting.series_id).await? else {
                    return Ok(None);
                };
                let agenda = store
                    .agenda(source_id)
                    .await?
                    .into_iter()
                    .map(|item| (item.title, item.presenter, item.description))
                    .collect();
                let mut sheets = Vec::new();
                for (_, resource) in store.agenda_resources(source_id).await? {
                    if store.is_public("document", resource.id).await? == Some(true) {
                        sheets.push((resource.title.clone(), self.sheet_url(&resource)));
                    }
                }
                let local = store
                    .attendees(source_id)
                    .await?
                    .iter()
                    .filter(|a| a.response == "accepted")
                    .count() as i64;
                let remote = store
                    .remote_participants(source_id)
                    .await?
                    .iter()
                    .filter(|p| p.state == "accepted")
                    .count() as i64;
                let title = if meeting.theme.is_empty() {
                    series.title.clone()
                } else {
                    format!("{} : {}", series.title, meeting.theme)
                };
                Some(objects::event(
                    urls,
                    &EventSource {
                        uuid: uuid.to_string(),
                        title,
                        starts_at: meeting.starts_at,
                        ends_at: meeting.ends_at,
                        video_url: series.video_url.clone(),
                        agenda,
                        sheets,
                        participant_count: local + remote,
                        published_at,
                        updated_at,
                    },
                ))
            }
            "article" => {
                let Some((issue, items)) = store.issue(source_id).await? else {
                    return Ok(None);
                };
                let mut content = String::new();
                for item in &items {
                    content.push_str(&format!(
                        "<h2>{}</h2>{}",
                        escape(&item.title),
                        crate::mail::newsletter::markdown_html(&item.body)
                    ));
                }
                let summary = items
                    .iter()
                    .map(|item| item.title.as_str())
                    .collect::<Vec<_>>()
                    .join(" · ");
                Some(objects::article(
                    urls,
                    &ArticleSource {
                        uuid: uuid.to_string(),
                        title: issue.title.clone(),
                        content_html: content,
                        summary,
                        archive_url: urls.page(&format!("/lettre/archives/{}", issue.id)),
                        published_at: issue.sent_at.unwrap_or(published_at),
                        updated_at,
                    },
                ))
            }
            "document" => {
                let Some(resource) = store.resource(source_id).await? else {
                    return Ok(None);
                };
                Some(objects::document(
                    urls,
                    &DocumentSource {
                        uuid: uuid.to_string(),
                        title: resource.title.clone(),
                        description: resource.description.clone(),
                        url: self.sheet_url(&resource),
                        published_at,
                        updated_at,
                    },
                ))
            }
            _ => None,
        })
    }

    /// Where a sheet is read: its address, or relais' download of the uploaded file.
    fn sheet_url(&self, resource: &crate::store::resources::Resource) -> String {
        if resource.url.is_empty() {
            self.urls()
                .page(&format!("/ressources/{}/fichier", resource.id))
        } else {
            resource.url.clone()
        }
    }

    /// The membership facts: the member collectivities that agreed to be named.
    pub async fn membership_items(&self) -> anyhow::Result<Vec<Value>> {
        Ok(self
            .store()
            .consenting_members()
            .await?
            .iter()
            .map(|member| member_item(self.urls(), member))
            .collect())
    }

    /// Tells followers that a member collectivity agreed to be named (`Add`) or withdrew (`Remove`).
    pub async fn membership_changed(
        &self,
        organisation_id: i64,
        consent: bool,
    ) -> anyhow::Result<()> {
        let members = self.store().consenting_members().await?;
        let item = match members
            .iter()
            .find(|m| m.organisation_id == organisation_id)
        {
            Some(member) => member_item(self.urls(), member),
            None => {
                let Some(organisation) = self.store().organisation_basics(organisation_id).await?
                else {
                    return Ok(());
                };
                member_item(self.urls(), &organisation)
            }
        };
        let (kind, label) = if consent {
            ("Add", "Membre nommé")
        } else {
            ("Remove", "Membre retiré")
        };
        let version = self.clock().now_millis().to_string();
        let activity = activities::membership(self.urls(), kind, &item, &version);
        let name = item["name"].as_str().unwrap_or_default();
        self.send_to_followers(&activity, &format!("{label} : {name}"))
            .await?;
        Ok(())
    }
}

fn type_of(kind: &str) -> &'static str {
    match kind {
        "event" => "Event",
        "article" => "Article",
        _ => "Document",
    }
}

fn type_label(kind: &str) -> &'static str {
    match kind {
        "event" => "réunion",
        "article" => "lettre",
        _ => "fiche",
    }
}

/// What a delivery carries, in French, for the Réseaux page.
fn label(verb: &str, kind: &str, object: &Value) -> String {
    let action = match verb {
        "Create" => "Publication",
        _ => "Mise à jour",
    };
    let name = object["name"].as_str().unwrap_or_default();
    format!("{action} ({}) : {name}", type_label(kind))
}
