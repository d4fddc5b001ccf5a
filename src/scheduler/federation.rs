//! The federation job: at every wake-up (staff changed something, a partner answered, a retry fell due),
//! sends what changed among public objects (`federation/publish.rs`), then delivers every activity due
//! (`federation/delivery.rs`). Its claims are the outbox's leases and the published objects' hashes, so
//! two instances never deliver one activity twice at once.

use chrono::{DateTime, TimeZone, Utc};

use super::Context;
use crate::federation::delivery::DeliveryReport;
use crate::federation::publish::PublishReport;

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FederationPass {
    pub published: PublishReport,
    pub delivered: DeliveryReport,
}

pub async fn try_federation(ctx: &Context) -> anyhow::Result<FederationPass> {
    let published = ctx.federation.sync_published().await?;
    let delivered = ctx.federation.deliver_due().await?;
    Ok(FederationPass {
        published,
        delivered,
    })
}

/// When the next delivery (or its retry) falls due.
pub async fn next_due(ctx: &Context) -> anyhow::Result<Option<DateTime<Utc>>> {
    Ok(ctx
        .federation
        .next_delivery_due()
        .await?
        .and_then(|at| Utc.timestamp_millis_opt(at).single()))
}
