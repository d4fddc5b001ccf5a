//! The `[mail]`, `[smtp]` and `[dkim]` sections: how relais sends mail.

use super::Reader;
use crate::domain::EmailAddress;

pub(super) const KEYS: &[&str] = &[
    "mail.from_address",
    "mail.from_name",
    "mail.transport",
    "mail.workers",
    "mail.batch",
    "mail.lease_seconds",
    "mail.retry_minutes",
    "mail.give_up_hours",
    "mail.digest_schedule",
    "smtp.host",
    "smtp.port",
    "smtp.security",
    "smtp.username",
    "smtp.password",
    "smtp.pool_size",
    "smtp.helo_name",
    "smtp.per_second",
    "smtp.timeout_seconds",
    "dkim.rsa_selector",
    "dkim.ed25519_selector",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    Folder,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    StartTls,
    Tls,
    None,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: String,
    pub password: String,
    pub pool_size: u32,
    pub per_second: u32,
    pub timeout_seconds: u64,
    /// The name relais gives in `EHLO` (empty: the machine's host name).
    pub helo_name: String,
}

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub from_address: String,
    pub from_name: String,
    pub transport: TransportKind,
    pub workers: usize,
    pub batch: i64,
    pub lease_seconds: i64,
    pub retry_minutes: Vec<i64>,
    pub give_up_hours: i64,
    /// When the daily follow-up digest goes out: a 6-field cron expression in Paris time (empty: never).
    pub digest_schedule: String,
    pub smtp: SmtpSettings,
    /// Selectors of the DKIM keys (empty: that signature is not made).
    pub dkim_rsa_selector: String,
    pub dkim_ed25519_selector: String,
}

impl MailSettings {
    /// The domain of the sender address: Message-IDs and bounce addresses use it.
    pub fn domain(&self) -> &str {
        self.from_address
            .rsplit_once('@')
            .map_or("localhost", |(_, d)| d)
    }

    pub(crate) fn read(r: &mut Reader) -> MailSettings {
        let from_address: String = r.get("mail.from_address");
        r.check(
            "mail.from_address",
            EmailAddress::parse(&from_address).is_ok(),
            "expected an email address",
        );
        let transport_text: String = r.get("mail.transport");
        let transport = match transport_text.as_str() {
            "folder" => TransportKind::Folder,
            "smtp" => TransportKind::Smtp,
            _ => {
                r.check("mail.transport", false, "expected \"folder\" or \"smtp\"");
                TransportKind::Folder
            }
        };
        let workers: usize = r.get("mail.workers");
        r.check(
            "mail.workers",
            (1..=64).contains(&workers),
            "must be between 1 and 64",
        );
        let batch: i64 = r.get("mail.batch");
        r.check(
            "mail.batch",
            (1..=1000).contains(&batch),
            "must be between 1 and 1000",
        );
        let lease_seconds: i64 = r.get("mail.lease_seconds");
        r.check(
            "mail.lease_seconds",
            lease_seconds >= 10,
            "must be at least 10",
        );
        let retry_minutes: Vec<i64> = r.get("mail.retry_minutes");
        r.check(
            "mail.retry_minutes",
            !retry_minutes.is_empty() && retry_minutes.iter().all(|m| *m > 0),
            "expected a list of delays in minutes, each at least 1",
        );
        let digest_schedule: String = r.get("mail.digest_schedule");
        r.check(
            "mail.digest_schedule",
            digest_schedule.is_empty()
                || <cron::Schedule as std::str::FromStr>::from_str(&digest_schedule).is_ok(),
            "expected a cron expression with seconds first, such as \"0 0 7 * * Mon-Fri\"",
        );
        let give_up_hours: i64 = r.get("mail.give_up_hours");
        r.check(
            "mail.give_up_hours",
            give_up_hours > 0,
            "must be at least 1",
        );
        let security_text: String = r.get("smtp.security");
        let security = match security_text.as_str() {
            "starttls" => SmtpSecurity::StartTls,
            "tls" => SmtpSecurity::Tls,
            "none" => SmtpSecurity::None,
            _ => {
                r.check(
                    "smtp.security",
                    false,
                    "expected \"starttls\", \"tls\" or \"none\"",
                );
                SmtpSecurity::StartTls
            }
        };
        let smtp = SmtpSettings {
            host: r.get("smtp.host"),
            port: r.get("smtp.port"),
            security,
            username: r.get("smtp.username"),
            password: r.get("smtp.password"),
            pool_size: r.get("smtp.pool_size"),
            per_second: r.get("smtp.per_second"),
            timeout_seconds: r.get("smtp.timeout_seconds"),
            helo_name: r.get("smtp.helo_name"),
        };
        r.check("smtp.host", !smtp.host.is_empty(), "must name the relay");
        r.check("smtp.pool_size", smtp.pool_size > 0, "must be at least 1");
        r.check(
            "smtp.timeout_seconds",
            smtp.timeout_seconds > 0,
            "must be at least 1",
        );
        let dkim_rsa_selector: String = r.get("dkim.rsa_selector");
        let dkim_ed25519_selector: String = r.get("dkim.ed25519_selector");
        for (key, selector) in [
            ("dkim.rsa_selector", &dkim_rsa_selector),
            ("dkim.ed25519_selector", &dkim_ed25519_selector),
        ] {
            r.check(
                key,
                selector
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "letters, digits and dashes only",
            );
        }
        MailSettings {
            dkim_rsa_selector,
            dkim_ed25519_selector,
            from_address,
            from_name: r.get("mail.from_name"),
            transport,
            workers,
            batch,
            lease_seconds,
            retry_minutes,
            give_up_hours,
            digest_schedule,
            smtp,
        }
    }

    /// When to try again after the `attempts`-th attempt failed for a while, or `None` when the schedule
    /// gives up (the delivery was queued at `queued_at`; times in epoch milliseconds).
    pub fn retry_at(&self, attempts: i64, queued_at: i64, now: i64) -> Option<i64> {
        let index = (attempts.max(1) - 1) as usize;
        let minutes = self.retry_minutes[index.min(self.retry_minutes.len() - 1)];
        let at = now + minutes * 60_000;
        (at <= queued_at + self.give_up_hours * 3_600_000).then_some(at)
    }
}
