//! The housekeeping job: refreshes the database statistics and removes expired sessions, old login
//! failures and import uploads never confirmed, at start and then every hour. It needs no claim: running it
//! twice removes nothing more.

use chrono::{DateTime, Duration, Utc};

use super::Context;

/// An uploaded spreadsheet not confirmed within this time is deleted.
const UPLOAD_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// An hour after `now`.
pub fn next_due(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::hours(1)
}

/// What one pass removed.
#[derive(Debug, Default, PartialEq)]
pub struct Removed {
    pub sessions: u64,
    pub failures: u64,
    pub uploads: u64,
}

/// Removes what has expired at `now`.
pub async fn try_housekeeping(ctx: &Context, now: DateTime<Utc>) -> anyhow::Result<Removed> {
    let now = now.timestamp_millis();
    ctx.store.analyze().await?;
    let sessions = ctx.store.delete_expired_sessions(now).await?;
    let window = ctx.settings.security.login_window_minutes * 60_000;
    let failures = ctx.store.delete_old_login_failures(now - window).await?;
    let mut uploads = 0;
    if let Ok(entries) = std::fs::read_dir(ctx.settings.data_dir.join("imports")) {
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| at.elapsed().is_ok_and(|age| age > UPLOAD_MAX_AGE));
            if old && std::fs::remove_file(entry.path()).is_ok() {
                uploads += 1;
            }
        }
    }
    tracing::debug!(sessions, failures, uploads, "housekeeping done");
    Ok(Removed {
        sessions,
        failures,
        uploads,
    })
}
