//! The ways a copy leaves relais: written as an `.eml` file into a folder (the default, which sends nothing
//! to the world), or handed to an SMTP relay over connections relais keeps open (at most `smtp.pool_size`),
//! paced when a rate is set. Each attempt ends as [`Attempt`]: delivered with the server's reply, or a
//! temporary or permanent failure.
//!
//! The SMTP connections are lettre's, opened on sockets with `TCP_NODELAY`: lettre writes a message's end
//! separately from its body, and with Nagle's algorithm that small write waited for the server's delayed
//! acknowledgement, about 40 ms per copy (measured: 90 copies/s through lettre's own pool). Each copy's
//! dialogue is pipelined when the server allows it ([`super::smtp`]).

use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::time::Instant;

use super::compose::Copy;
use super::smtp::Connection;
use crate::config::{MailSettings, SmtpSecurity, SmtpSettings, TransportKind};

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
    /// No connection to the relay could be opened (refused, timed out, no greeting, TLS or login failed):
    /// nothing was said about this copy, and the next copies would fare the same.
    Unreachable(String),
}

pub enum Transport {
    Folder { dir: PathBuf },
    Smtp(Box<SmtpPool>),
}

/// Open connections to the relay, at most `pool_size` in use at once.
pub struct SmtpPool {
    settings: SmtpSettings,
    hello: ClientId,
    idle: std::sync::Mutex<Vec<Connection>>,
    permits: tokio::sync::Semaphore,
    /// The earliest moment of the next send when a rate is set.
    pace: Option<(tokio::sync::Mutex<Instant>, Duration)>,
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
                let pace = (smtp.per_second > 0).then(|| {
                    (
                        tokio::sync::Mutex::new(Instant::now()),
                        Duration::from_secs_f64(1.0 / smtp.per_second as f64),
                    )
                });
                Transport::Smtp(Box::new(SmtpPool {
                    settings: smtp.clone(),
                    hello: if smtp.helo_name.trim().is_empty() {
                        ClientId::default()
                    } else {
                        ClientId::Domain(smtp.helo_name.trim().to_string())
                    },
                    idle: std::sync::Mutex::new(Vec::new()),
                    permits: tokio::sync::Semaphore::new(smtp.pool_size as usize),
                    pace,
                }))
            }
        })
    }

    /// Hands over one copy. `file_name` names it in the folder transport.
    pub async fn send(&self, copy: &Copy, file_name: &str) -> Attempt {
        match self {
            Transport::Folder { dir } => write_to_folder(dir, copy, file_name).await,
            Transport::Smtp(pool) => pool.send(copy).await,
        }
    }
}

impl SmtpPool {
    async fn send(&self, copy: &Copy) -> Attempt {
        let Ok(_permit) = self.permits.acquire().await else {
            return Attempt::Temporary("transport arrêté".into());
        };
        if let Some((next, interval)) = &self.pace {
            let mut next = next.lock().await;
            let now = Instant::now();
            if *next > now {
                tokio::time::sleep_until(*next).await;
            }
            *next = (*next).max(now) + *interval;
        }
        let idle = self.idle.lock().expect("smtp pool lock").pop();
        let reused = idle.as_ref().is_some_and(|c| !c.has_broken());
        let connection = match idle {
            Some(connection) if reused => connection,
            _ => match self.connect().await {
                Ok(connection) => connection,
                Err(attempt) => return unreachable(attempt),
            },
        };
        match self.send_on(connection, copy).await {
            // A kept connection the server has closed meanwhile fails before any reply: once more, fresh.
            Err(error) if reused && error.status().is_none() => match self.connect().await {
                Ok(connection) => self
                    .send_on(connection, copy)
                    .await
                    .unwrap_or_else(|e| classify(&e)),
                Err(attempt) => unreachable(attempt),
            },
            Err(error) => classify(&error),
            Ok(attempt) => attempt,
        }
    }

    /// Sends on `connection`, keeping it for the next copy when it worked.
    async fn send_on(
        &self,
        mut connection: Connection,
        copy: &Copy,
    ) -> Result<Attempt, lettre::transport::smtp::Error> {
        let timeout = Duration::from_secs(self.settings.timeout_seconds);
        match tokio::time::timeout(timeout, connection.send(&copy.envelope, &copy.raw)).await {
            Ok(Ok(response)) => {
                self.idle.lock().expect("smtp pool lock").push(connection);
                Ok(Attempt::Delivered(format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                )))
            }
            // A connection that saw an error is dropped; the next copy opens a new one.
            Ok(Err(error)) => Err(error),
            Err(_) => Ok(Attempt::Temporary(format!(
                "pas de réponse du serveur en {} s",
                self.settings.timeout_seconds
            ))),
        }
    }

    /// A new connection, given up after `smtp.timeout_seconds` in all (a server that accepts and never
    /// greets must not hold a worker).
    async fn connect(&self) -> Result<Connection, Attempt> {
        let timeout = Duration::from_secs(self.settings.timeout_seconds);
        match tokio::time::timeout(timeout, self.open()).await {
            Ok(result) => result,
            Err(_) => Err(Attempt::Temporary(format!(
                "pas de réponse de {}:{} en {} s",
                self.settings.host, self.settings.port, self.settings.timeout_seconds
            ))),
        }
    }

    /// A new connection: TCP with `TCP_NODELAY`, EHLO, STARTTLS or implicit TLS as configured, then AUTH.
    async fn open(&self) -> Result<Connection, Attempt> {
        let smtp = &self.settings;
        let timeout = Duration::from_secs(smtp.timeout_seconds);
        let temporary = |what: &str, error: &dyn std::fmt::Display| {
            Attempt::Temporary(format!("{what} {}:{} : {error}", smtp.host, smtp.port))
        };
        let connection = match smtp.security {
            SmtpSecurity::Tls => {
                let tls =
                    TlsParameters::new(smtp.host.clone()).map_err(|e| temporary("TLS vers", &e))?;
                AsyncSmtpConnection::connect_tokio1(
                    (smtp.host.as_str(), smtp.port),
                    Some(timeout),
                    &self.hello,
                    Some(tls),
                    None,
                )
                .await
                .map_err(|e| temporary("connexion à", &e))?
            }
            SmtpSecurity::StartTls | SmtpSecurity::None => {
                let stream = tokio::time::timeout(
                    timeout,
                    tokio::net::TcpStream::connect((smtp.host.as_str(), smtp.port)),
                )
                .await
                .map_err(|_| temporary("délai dépassé pour", &"connexion"))?
                .map_err(|e| temporary("connexion à", &e))?;
                stream
                    .set_nodelay(true)
                    .map_err(|e| temporary("connexion à", &e))?;
                let mut connection =
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                        .await
                        .map_err(|e| classify(&e))?;
                if smtp.security == SmtpSecurity::StartTls {
                    let tls = TlsParameters::new(smtp.host.clone())
                        .map_err(|e| temporary("TLS vers", &e))?;
                    connection
                        .starttls(tls, &self.hello)
                        .await
                        .map_err(|e| temporary("STARTTLS avec", &e))?;
                }
                connection
            }
        };
        let mut connection = Connection::new(connection, &self.hello)
            .await
            .map_err(|e| classify(&e))?;
        if !smtp.username.is_empty() {
            let credentials = Credentials::new(smtp.username.clone(), smtp.password.clone());
            connection
                .inner
                .auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
                .await
                .map_err(|e| temporary("authentification auprès de", &e))?;
        }
        Ok(connection)
    }
}

/// A failure to open a connection, whatever the relay answered: it is about the relay, not the copy.
fn unreachable(attempt: Attempt) -> Attempt {
    match attempt {
        Attempt::Temporary(reply) | Attempt::Permanent(reply) | Attempt::Unreachable(reply) => {
            Attempt::Unreachable(reply)
        }
        delivered @ Attempt::Delivered(_) => delivered,
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
