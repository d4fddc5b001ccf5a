//! Everything relais holds about an address, as the person may download it from their preferences page
//! ([`Store::personal_data`]): contact records, interactions that name them, subscriptions and consents,
//! survey answers, meeting answers and the mails sent to them, with codes turned into French words.

use chrono::{DateTime, SecondsFormat};

use super::{Store, StoreResult, with_db};
use crate::domain::mail_kind::{delivery_state_label, mail_kind_label, public_reply};

/// One section of a person's data export: a list of records.
type Values = Vec<serde_json::Value>;

fn rfc3339(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn rfc3339_opt(millis: Option<i64>) -> Option<String> {
    millis.map(rfc3339)
}

#[derive(sqlx::FromRow)]
struct ContactRow {
    id: i64,
    full_name: String,
    function: String,
    notes: String,
    organisation: Option<String>,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct InteractionRow {
    occurred_on: chrono::NaiveDate,
    kind: String,
    summary: String,
    outcome: String,
    organisation: String,
}

#[derive(sqlx::FromRow)]
struct SurveyRecord {
    sent_at: i64,
    answered_at: Option<i64>,
    draft: String,
    problems: Option<String>,
    other_themes: Option<String>,
    involvement: Option<String>,
    slots: Option<String>,
    comments: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DeliveryRecord {
    subject: String,
    kind: String,
    recipient_name: String,
    state: String,
    attempts: i64,
    last_reply: String,
    sent_at: Option<i64>,
    created_at: i64,
}

impl Store {
    /// Everything relais holds about `address`, as one JSON document: subscriptions with their consent,
    /// contact records with the interactions they took part in, every mail sent to the address, departures,
    /// bounces, meetings they were invited to, their survey invitations and answers, and erasure requests.
    pub async fn personal_data(&self, address: &str, now: i64) -> StoreResult<serde_json::Value> {
        let address = address.to_lowercase();
        let subscriptions = self.export_subscriptions(&address).await?;
        let contacts = self.export_contacts(&address).await?;
        let (mails, unsubscribes, bounces, received) = self.export_mail(&address).await?;
        let (meetings, surveys, erasures) = self.export_meetings_surveys_erasures(&address).await?;
        Ok(serde_json::json!({
            "adresse": address,
            "exporte_le": rfc3339(now),
            "abonnements": subscriptions,
            "fiches_contact": contacts,
            "courriers": mails,
            "desabonnements": unsubscribes,
            "retours_en_erreur": bounces,
            "reunions": meetings,
            "recensement": surveys,
            "courriers_recus": received,
            "demandes_d_effacement": erasures,
        }))
    }

    /// The export's subscriptions, with their consent.
    async fn export_subscriptions(&self, address: &str) -> StoreResult<Vec<serde_json::Value>> {
        Ok(self
            .subscriptions_of_address(address)
            .await?
            .into_iter()
            .map(|s| {
                serde_json::json!({
                    "liste": s.list_name,
                    "nom": s.name,
                    "etat": export_words::subscription_state(&s.state),
                    "mode": export_words::mode(&s.mode),
                    "consentement": {
                        "date": rfc3339_opt(s.consent_at),
                        "source": export_words::consent_source(&s.consent_source),
                        "enregistre_par": s.consent_by,
                        "base_legale": export_words::legal_basis(&s.legal_basis),
                        "version_du_texte": s.wording_version,
                    },
                    "cree_le": rfc3339(s.created_at),
                    "modifie_le": rfc3339(s.updated_at),
                })
            })
            .collect())
    }

    /// The export's contact records holding `address`, each with its emails, phones, memberships and
    /// exchanges.
    async fn export_contacts(&self, address: &str) -> StoreResult<Vec<serde_json::Value>> {
        let contacts: Vec<ContactRow> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT p.id, p.full_name, p.function, p.notes, o.name AS organisation, p.created_at, p.updated_at
             FROM people p LEFT JOIN organisations o ON o.id = p.organisation_id
             WHERE p.id IN (SELECT person_id FROM person_emails WHERE LOWER(email) = $1) ORDER BY p.id"
        )
        .bind(address)
        .fetch_all(p)
        .await
        })?;
        let mut records = Vec::new();
        for contact in contacts {
            records.push(self.export_contact(contact).await?);
        }
        Ok(records)
    }

    async fn export_contact(&self, contact: ContactRow) -> StoreResult<serde_json::Value> {
        let emails: Vec<String> = with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT email FROM person_emails WHERE person_id = $1 ORDER BY email"
        )
        .bind(contact.id)
        .fetch_all(p)
        .await)?;
        let phones: Vec<String> = with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT phone FROM person_phones WHERE person_id = $1 ORDER BY phone"
        )
        .bind(contact.id)
        .fetch_all(p)
        .await)?;
        let interactions: Vec<InteractionRow> = with_db!(&self.db, |p| {
            sqlx::query_as(
                "SELECT i.occurred_on, i.kind, i.summary, i.outcome, o.name AS organisation
             FROM interaction_people ip JOIN interactions i ON i.id = ip.interaction_id
             JOIN targets t ON t.id = i.target_id JOIN organisations o ON o.id = t.organisation_id
             WHERE ip.person_id = $1 ORDER BY i.occurred_on, i.id",
            )
            .bind(contact.id)
            .fetch_all(p)
            .await
        })?;
        let represents: Vec<String> = with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "SELECT o.name FROM membership_representatives r
             JOIN memberships m ON m.id = r.membership_id JOIN organisations o ON o.id = m.organisation_id
             WHERE r.person_id = $1 ORDER BY o.name"
        )
        .bind(contact.id)
        .fetch_all(p)
        .await
        })?;
        Ok(serde_json::json!({
            "nom": contact.full_name,
            "fonction": contact.function,
            "notes": contact.notes,
            "organisation": contact.organisation,
            "adresses": emails,
            "telephones": phones,
            "represente": represents,
            "echanges": interactions.into_iter().map(|i| serde_json::json!({
                "date": i.occurred_on.to_string(),
                "type": crate::domain::InteractionKind::parse(&i.kind)
                    .map_or("échange", crate::domain::InteractionKind::label),
                "organisation": i.organisation,
                "resume": i.summary,
                "suite": i.outcome,
            })).collect::<Vec<_>>(),
            "cree_le": rfc3339(contact.created_at),
            "modifie_le": rfc3339(contact.updated_at),
        }))
    }

    /// The export's mails: those sent to `address`, its unsubscribes, its bounces, and what it sent relais.
    async fn export_mail(&self, address: &str) -> StoreResult<(Values, Values, Values, Values)> {
        let deliveries: Vec<DeliveryRecord> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT m.subject, m.kind, d.recipient_name, d.state, d.attempts, d.last_reply, d.sent_at,
                d.created_at
             FROM mail_deliveries d JOIN mail_messages m ON m.id = d.message_id
             WHERE LOWER(d.recipient) = $1 ORDER BY d.id"
        )
        .bind(address)
        .fetch_all(p)
        .await
        })?;
        let unsubscribes: Vec<(String, String, i64)> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT list_key, source, created_at FROM unsubscribes WHERE address = $1 ORDER BY id"
        )
        .bind(address)
        .fetch_all(p)
        .await
        })?;
        let bounces: Vec<(String, String, String, i64)> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT source, status, reply, created_at FROM bounces WHERE LOWER(address) = $1 ORDER BY id"
        )
        .bind(address)
        .fetch_all(p)
        .await
        })?;
        let received: Vec<(i64, String, String)> = with_db!(&self.db, |p| sqlx::query_as(
            "SELECT received_at, subject, channel FROM inbound_messages
             WHERE from_address = $1 OR LOWER(envelope_from) = $1 ORDER BY id"
        )
        .bind(address)
        .fetch_all(p)
        .await)?;
        Ok((
            deliveries.into_iter().map(|d| serde_json::json!({
                "objet": d.subject,
                "type": mail_kind_label(&d.kind),
                "nom_du_destinataire": d.recipient_name,
                "etat": delivery_state_label(&d.state),
                "tentatives": d.attempts,
                "derniere_reponse": public_reply(&d.last_reply),
                "envoye_le": rfc3339_opt(d.sent_at),
                "cree_le": rfc3339(d.created_at),
            })).collect::<Vec<_>>(),
            unsubscribes.into_iter().map(|(list, source, at)| serde_json::json!({
                "liste": list, "source": export_words::unsubscribe_source(&source), "date": rfc3339(at),
            })).collect::<Vec<_>>(),
            bounces.into_iter().map(|(source, status, reply, at)| serde_json::json!({
                "source": export_words::bounce_source(&source), "statut": status, "reponse": reply,
                "date": rfc3339(at),
            })).collect::<Vec<_>>(),
            received.into_iter().map(|(at, subject, channel)| serde_json::json!({
                "date": rfc3339(at), "objet": subject, "canal": export_words::channel(&channel),
            })).collect::<Vec<_>>(),
        ))
    }

    /// The export's meetings, survey invitations and answers, and erasure requests.
    async fn export_meetings_surveys_erasures(
        &self,
        address: &str,
    ) -> StoreResult<(Values, Values, Values)> {
        let meetings: Vec<(i64, String, String, Option<bool>)> =
            with_db!(&self.db, |p| sqlx::query_as(
                "SELECT m.starts_at, a.role, a.response, a.attended FROM meeting_attendees a
             JOIN meetings m ON m.id = a.meeting_id WHERE a.address = $1 ORDER BY m.starts_at"
            )
            .bind(address)
            .fetch_all(p)
            .await)?;
        let surveys: Vec<SurveyRecord> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT i.sent_at, i.answered_at, i.draft, a.problems, a.other_themes, a.involvement, a.slots,
                a.comments
             FROM survey_invitations i LEFT JOIN survey_answers a ON a.invitation_id = i.id
             WHERE LOWER(i.address) = $1 ORDER BY i.id"
        )
        .bind(address)
        .fetch_all(p)
        .await
        })?;
        let erasures: Vec<(String, i64)> = with_db!(&self.db, |p| sqlx::query_as(
            "SELECT state, requested_at FROM erasure_requests WHERE address = $1 ORDER BY id"
        )
        .bind(address)
        .fetch_all(p)
        .await)?;
        Ok((
            meetings
                .into_iter()
                .map(|(at, role, response, attended)| {
                    serde_json::json!({
                        "date": rfc3339(at), "role": export_words::meeting_role(&role),
                        "reponse": export_words::meeting_response(&response), "present": attended,
                    })
                })
                .collect::<Vec<_>>(),
            surveys
                .into_iter()
                .map(|s| {
                    serde_json::json!({
                        "invite_le": rfc3339(s.sent_at),
                        "repondu_le": rfc3339_opt(s.answered_at),
                        "brouillon": s.draft,
                        "problemes": s.problems,
                        "autres_themes": s.other_themes,
                        "implication": s.involvement,
                        "creneaux": s.slots,
                        "commentaires": s.comments,
                    })
                })
                .collect::<Vec<_>>(),
            erasures
                .into_iter()
                .map(|(state, at)| {
                    serde_json::json!({
                        "etat": export_words::erasure_state(&state), "date": rfc3339(at),
                    })
                })
                .collect::<Vec<_>>(),
        ))
    }
}

/// The words of a person's data export: every stored code as the French a person reads (the export is
/// theirs, not a developer's), each unknown code as a neutral word rather than the code itself.
mod export_words {
    pub fn subscription_state(code: &str) -> &'static str {
        match code {
            "active" => "abonné",
            "pending" => "en attente de confirmation",
            "unsubscribed" => "désabonné",
            "bouncing" => "suspendu : les courriers reviennent en erreur",
            _ => "désactivé",
        }
    }

    pub fn mode(code: &str) -> &'static str {
        match code {
            "digest" => "un résumé par jour",
            _ => "chaque message",
        }
    }

    pub fn consent_source(code: &str) -> &'static str {
        match code {
            "public_form" => "formulaire d'inscription en ligne",
            "staff" => "ajouté par l'équipe",
            "import" => "import d'un fichier de l'équipe",
            "mail" => "demande par courrier",
            "preferences" => "page de préférences",
            _ => "autre",
        }
    }

    pub fn legal_basis(code: &str) -> &'static str {
        match code {
            "consent" => "consentement",
            "legitimate_interest" => "intérêt légitime",
            _ => "autre",
        }
    }

    pub fn unsubscribe_source(code: &str) -> &'static str {
        match code {
            "preferences" => "page de préférences",
            "staff" => "par l'équipe",
            "page" => "lien de désabonnement",
            "one-click" => "désabonnement en un clic depuis la messagerie",
            "mailto" => "demande par courrier",
            "abuse" => "signalement comme indésirable",
            _ => "autre",
        }
    }

    pub fn bounce_source(code: &str) -> &'static str {
        match code {
            "smtp" => "refus du serveur destinataire",
            _ => "avis de non-remise",
        }
    }

    pub fn meeting_role(code: &str) -> &'static str {
        match code {
            "speaker" => "personne qui intervient",
            "staff" => "membre de l'équipe",
            _ => "personne invitée",
        }
    }

    pub fn meeting_response(code: &str) -> &'static str {
        match code {
            "accepted" => "oui",
            "declined" => "non",
            "tentative" => "peut-être",
            _ => "sans réponse",
        }
    }

    pub fn channel(code: &str) -> &'static str {
        match code {
            "inject" => "déposé sur le serveur par l'administrateur",
            _ => "transmis par le serveur de courrier",
        }
    }

    pub fn erasure_state(code: &str) -> &'static str {
        match code {
            "done" => "effectuée",
            "refused" => "refusée",
            _ => "en attente",
        }
    }
}
