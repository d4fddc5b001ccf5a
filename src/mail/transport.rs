//! The ways a copy leaves relais: written as an `.eml` file into a folder (the default, which sends nothing
//! to the world), or handed to an SMTP relay through lettre's pooled transport, paced when a rate is set.
//! Each attempt ends as [`Attempt`]: delivered with the server's reply, or a temporary or permanent failure.

use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::time::Instant;

use super::compose::Copy;
use super::settings::{MailSettings, SmtpSecurity, TransportKind};

/// What one attempt to hand over a copy gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// Accepted; the server's reply (or where the file was written).
    Delivered(String),
    /// Worth trying again later: 4xx replies, 552 (mailbox full, as Mailman treats it), connection, TLS and
    /// timeout errors.
    Temporary(String),
    /// Refused for good: other 5xx replies, or a copy that cannot be sent at all.
    Permanent(String),
}

pub enum Transport {
    Folder {
        dir: PathBuf,
    },
    Smtp {
        mailer: AsyncSmtpTransport<Tokio1Executor>,
        /// The earliest moment of the next send when a rate is set.
        pace: Option<(tokio::sync::Mutex<Instant>, Duration)>,
    },
}

impl Transport {
    /// The transport the settings name; `data_dir` holds the folder transport's `outbox/`.
    pub fn from_settings(
        settings: &MailSettings,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Transport> {
        Ok(match settings.transport {
            TransportKind::Folder => Transport::Folder {
                dir: data_dir.join("outbox"),
            },
            TransportKind::Smtp => {
                let smtp = &settings.smtp;
                let builder = match smtp.security {
                    SmtpSecurity::StartTls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?
                    }
                    SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
                    SmtpSecurity::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                    }
                };
                let mut builder = builder
                    .port(smtp.port)
                    .timeout(Some(Duration::from_secs(smtp.timeout_seconds)))
                    .pool_config(PoolConfig::new().max_size(smtp.pool_size));
                if !smtp.username.is_empty() {
                    builder = builder.credentials(Credentials::new(
                        smtp.username.clone(),
                        smtp.password.clone(),
                    ));
                }
                let mailer: AsyncSmtpTransport<Tokio1Executor> = builder.build();
                let pace = (smtp.per_second > 0).then(|| {
                    (
                        tokio::sync::Mutex::new(Instant::now()),
                        Duration::from_secs_f64(1.0 / smtp.per_second as f64),
                    )
                });
                Transport::Smtp { mailer, pace }
            }
        })
    }

    /// Hands over one copy. `file_name` names it in the folder transport.
    pub async fn send(&self, copy: &Copy, file_name: &str) -> Attempt {
        match self {
            Transport::Folder { dir } => write_to_folder(dir, copy, file_name).await,
            Transport::Smtp { mailer, pace } => {
                if let Some((next, interval)) = pace {
                    let mut next = next.lock().await;
                    let now = Instant::now();
                    if *next > now {
                        tokio::time::sleep_until(*next).await;
                    }
                    *next = (*next).max(now) + *interval;
                }
                match mailer.send_raw(&copy.envelope, &copy.raw).await {
                    Ok(response) => Attempt::Delivered(format!(
                        "{} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    )),
                    Err(error) => classify(&error),
                }
            }
        }
    }
}

/// Sorts an SMTP error into temporary and permanent, as the retry schedule needs.
fn classify(error: &lettre::transport::smtp::Error) -> Attempt {
    // Staff read the server's words: "550 5.1.1 <…>: User unknown" rather than lettre's wording around them.
    let text = match error.status() {
        Some(code) => {
            let text = error.to_string();
            let detail = text.split_once("): ").map_or(text.as_str(), |(_, d)| d);
            format!("{code} {detail}")
        }
        None => error.to_string(),
    };
    if error.is_permanent() {
        // 552: "mailbox full" in practice; Mailman retries it, so does relais.
        if error.status().is_some_and(|code| code.to_string() == "552") {
            Attempt::Temporary(text)
        } else {
            Attempt::Permanent(text)
        }
    } else if error.is_client() {
        Attempt::Permanent(text)
    } else {
        Attempt::Temporary(text)
    }
}

/// Writes the copy as `<dir>/<file_name>.eml`, through a temporary name so a reader never sees half a file.
async fn write_to_folder(dir: &std::path::Path, copy: &Copy, file_name: &str) -> Attempt {
    let path = dir.join(format!("{file_name}.eml"));
    let partial = dir.join(format!(".{file_name}.eml.part"));
    let written = async {
        tokio::fs::create_dir_all(dir).await?;
        tokio::fs::write(&partial, &copy.raw).await?;
        tokio::fs::rename(&partial, &path).await
    }
    .await;
    match written {
        Ok(()) => Attempt::Delivered(format!("écrit dans {}", path.display())),
        Err(error) => Attempt::Temporary(format!("écriture de {} : {error}", path.display())),
    }
}
