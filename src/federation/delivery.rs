//! Emptying the federation outbox: claim the due deliveries under a lease, post each, signed, to its inbox
//! (`federation.delivery_concurrency` at a time), and record what the partner answered: 2xx delivered, a
//! 4xx other than 408 and 429 refused (kept with the partner's reason), anything else tried again after
//! `federation.retry_minutes` until `federation.give_up_hours` have passed.

use futures::StreamExt;
use url::Url;

use super::service::{Federation, Signer};
use crate::store::federation_deliveries::{ActivityOutcome, ClaimedActivity};

/// How long a claimed delivery is this instance's: past it, another may take it.
const LEASE_MS: i64 = 120_000;
/// Deliveries claimed at once.
const BATCH: i64 = 256;

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: u64,
    pub refused: u64,
    pub to_retry: u64,
    pub failed: u64,
}

impl Federation {
    /// Delivers everything due now, batch after batch.
    pub async fn deliver_due(&self) -> anyhow::Result<DeliveryReport> {
        let mut report = DeliveryReport::default();
        loop {
            let now = self.clock().now_millis();
            let claimed = self
                .store()
                .claim_activity_deliveries(now, now + LEASE_MS, BATCH)
                .await?;
            if claimed.is_empty() {
                return Ok(report);
            }
            let concurrency = self.settings().federation.delivery_concurrency;
            let outcomes: Vec<(i64, ActivityOutcome)> = futures::stream::iter(claimed)
                .map(|delivery| async move {
                    let outcome = self.try_delivery(&delivery).await;
                    (delivery.id, outcome)
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            let now = self.clock().now_millis();
            for (id, outcome) in outcomes {
                match &outcome {
                    ActivityOutcome::Delivered(_) => report.delivered += 1,
                    ActivityOutcome::Refused(..) => report.refused += 1,
                    ActivityOutcome::Retry {
                        retry_at: Some(_), ..
                    } => report.to_retry += 1,
                    ActivityOutcome::Retry { retry_at: None, .. } => report.failed += 1,
                }
                self.store()
                    .record_activity_delivery(id, &outcome, now)
                    .await?;
            }
        }
    }

    /// One try of one delivery.
    async fn try_delivery(&self, delivery: &ClaimedActivity) -> ActivityOutcome {
        let signer = if delivery.signer == "application" {
            Signer::Application
        } else {
            Signer::Group
        };
        let (key, key_id) = match self.signer(signer).await {
            Ok(signer) => signer,
            Err(error) => return self.retry(delivery, None, error.to_string()),
        };
        let result = match Url::parse(&delivery.inbox_url) {
            Ok(inbox) => self
                .client()
                .post_signed(&inbox, delivery.body.as_bytes(), key, &key_id)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(format!("adresse de boîte invalide : {e}")),
        };
        match result {
            Ok(answer) if answer.accepted() => ActivityOutcome::Delivered(answer.status),
            Ok(answer) if answer.refused() => {
                ActivityOutcome::Refused(answer.status, answer.excerpt.chars().take(300).collect())
            }
            Ok(answer) => self.retry(
                delivery,
                Some(answer.status),
                format!("le partenaire a répondu {}", answer.status),
            ),
            Err(error) => self.retry(delivery, None, error),
        }
    }

    /// When to try again, or `None` past the give-up time.
    fn retry(
        &self,
        delivery: &ClaimedActivity,
        status: Option<u16>,
        error: String,
    ) -> ActivityOutcome {
        let settings = &self.settings().federation;
        let now = self.clock().now_millis();
        let index = (delivery.attempts.max(1) as usize - 1).min(settings.retry_minutes.len() - 1);
        let at = now + settings.retry_minutes[index] * 60_000;
        let give_up = delivery.created_at + settings.give_up_hours * 3_600_000;
        ActivityOutcome::Retry {
            status,
            error: error.chars().take(300).collect(),
            retry_at: (at <= give_up).then_some(at),
        }
    }

    /// When the next delivery falls due, if one waits.
    pub async fn next_delivery_due(&self) -> anyhow::Result<Option<i64>> {
        Ok(self.store().next_activity_delivery_due().await?)
    }
}
