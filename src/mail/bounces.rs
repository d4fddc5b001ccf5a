//! The warnings of Mailman's bounce scoring: a subscription whose delivery bounces disabled gets up to three
//! warnings a week apart (staff are told at the first), then is removed. See [`crate::store::bounce_score`];
//! when is the scheduler's (`crate::scheduler::bounce_warnings`).

use crate::config::Settings;
use crate::domain::EmailAddress;
use crate::domain::mail_kind::MailKind;
use crate::store::Store;
use crate::store::bounce_score::WARNINGS;
use crate::store::outbox::NewRecipient;

/// Sends the warnings due at `now` and removes the subscriptions warned enough; returns how many changed.
pub async fn send_warnings(store: &Store, settings: &Settings, now: i64) -> anyhow::Result<usize> {
    let mut changed = 0;
    for (id, address, list, warnings) in store.bounce_warnings_due(now).await? {
        let warning = super::answer::Answer {
            kind: MailKind::BounceWarning,
            cause_kind: "subscription",
            cause_id: Some(id),
            subject: format!("Vos courriers de « {list} » nous reviennent"),
            title: format!("Vos courriers de « {list} » nous reviennent"),
            paragraphs: vec![
                format!(
                    "Les courriers de la liste « {list} » n'arrivent plus à l'adresse {address} : ils nous \
                     reviennent en erreur. Leur envoi est suspendu."
                ),
                format!(
                    "Si cette adresse fonctionne de nouveau, gérez vos abonnements (un lien personnel vous \
                     est envoyé) ; sans nouvelle de votre part, l'abonnement prendra fin après {WARNINGS} \
                     avertissements."
                ),
            ],
            link: format!("{}/preferences", settings.server.public_url),
            link_label: "Gérer mes abonnements".into(),
            ..Default::default()
        }
        .message(&settings.mail.from_name)?;
        let recipient = NewRecipient {
            address: EmailAddress::stored(address.clone()),
            name: String::new(),
            person_id: None,
        };
        if store
            .warn_or_remove(id, warnings, &warning, &recipient, now)
            .await?
        {
            changed += 1;
            if warnings == 0 {
                let notice = super::notice::deliveries_suspended(settings, &list, &address)?;
                let staff = store.staff_recipients().await?;
                if !staff.is_empty() {
                    store.enqueue_mail(&notice, &staff, now).await?;
                }
            }
        }
    }
    Ok(changed)
}
