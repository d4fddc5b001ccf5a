//! The daily follow-up digest: each active staff member or admin who owns targets whose next action is due
//! today or overdue receives one mail listing them, with links. A digest goes out at most once per person and
//! day, whichever instance runs it first; when is the scheduler's (`crate::scheduler::follow_up_digest`, at
//! the hour of `mail.digest_schedule`).

use super::body::{MailBody, mail_body};

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::EmailAddress;
use crate::domain::mail_kind::MailKind;
use crate::store::Store;
use crate::store::follow_up_digest::claim_digest_day;
use crate::store::outbox::{NewMessage, NewRecipient, enqueue};
use crate::store::target_list::{TargetFilter, TargetSort};

/// Most follow-ups listed in one digest (the dashboard has the rest).
const MAX_ITEMS: i64 = 100;

pub struct DigestItem {
    pub collectivity: String,
    pub departement: String,
    pub action: String,
    pub date: String,
    pub overdue: bool,
    pub url: String,
}

mail_body! {
    /// The fields of a staff member's daily follow-up digest (`digest.txt`, `digest.html`).
    struct DigestBody<'a> ("digest.txt", "digest.html") {
        organisation: &'a str,
        name: &'a str,
        today: &'a str,
        items: &'a [DigestItem],
        board_url: &'a str,
    }
}

/// Enqueues today's digests that have not gone out yet; returns how many.
pub async fn enqueue_digests(
    store: &Store,
    settings: &Settings,
    clock: &Clock,
) -> anyhow::Result<usize> {
    let today = clock.today();
    let now = clock.now_millis();
    let public_url = &settings.server.public_url;
    let organisation = &settings.mail.from_name;
    let mut sent = 0;
    for user in store.staff_with_due_follow_ups(today).await? {
        let filter = TargetFilter {
            owner: Some(user.id),
            due_by: Some(today),
            ..Default::default()
        };
        let (targets, _) = store
            .list_targets(
                crate::store::Scope::All,
                &filter,
                TargetSort::NextActionDate,
                MAX_ITEMS,
                0,
            )
            .await?;
        if targets.is_empty() {
            continue;
        }
        let items: Vec<DigestItem> = targets
            .iter()
            .map(|t| {
                let date = t.next_action_date.unwrap_or(today);
                DigestItem {
                    collectivity: t.name.clone(),
                    departement: t.departement_code.clone().unwrap_or_default(),
                    action: if t.next_action.is_empty() {
                        "prochaine action à préciser".into()
                    } else {
                        t.next_action.clone()
                    },
                    date: crate::french::french_date(Some(date)),
                    overdue: date < today,
                    url: format!("{public_url}/targets/{}", t.id),
                }
            })
            .collect();
        let today_text = crate::french::french_date(Some(today));
        let board_url = format!("{public_url}/");
        let bodies = DigestBody {
            organisation,
            name: &user.name,
            today: &today_text,
            items: &items,
            board_url: &board_url,
        }
        .render_bodies()?;
        let message = NewMessage {
            kind: MailKind::Digest,
            cause_kind: "digest".into(),
            cause_id: Some(user.id),
            subject: format!("Vos relances du {today_text} ({})", items.len()),
            body_text: bodies.text,
            body_html: bodies.html,
            template_data: serde_json::json!({ "user": user.id, "day": today.to_string(), "targets": items.len() }),
            auto_submitted: true,
            ..Default::default()
        };
        let recipient = NewRecipient {
            address: EmailAddress::stored(user.email.clone()),
            name: user.name.clone(),
            person_id: None,
        };
        // The claim and the mail in one transaction: one digest per person and day, even when two
        // instances run the schedule at once.
        let mut tx = store.begin().await?;
        if claim_digest_day(&mut tx, user.id, &today.to_string()).await? {
            enqueue(&mut tx, &message, &[recipient], now).await?;
            tx.commit().await?;
            sent += 1;
        }
    }
    Ok(sent)
}
