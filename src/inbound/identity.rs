//! Who really sent a post, checked by relais itself with `mail-auth`: the DKIM signatures of the message and
//! SPF for the client that handed it over (the peer of the SMTP listener, or the client Postfix names with
//! `XFORWARD` over LMTP), each counting only when aligned with the From domain, as DMARC wants; and the From
//! domain's DMARC policy, which decides whether copies must carry the list's own From. DNS goes through
//! `inbound.dns_servers` (the system's resolver when empty), so a test or an air-gapped site names its own.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, SpfOutput, SpfResult};

use crate::config::{DmarcRewrite, InboundSettings};

/// The client that handed a message to the mail chain, as stored with the message.
pub use crate::store::inbound::InboundClient as Client;

/// What the From domain's DMARC record asks of receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcPolicy {
    /// No record, or `p=none`: copies may keep the author's From.
    Relaxed,
    /// `p=quarantine` or `p=reject`: copies must carry the list's From.
    Strict,
    /// The lookup failed: treated as strict (MAIL.md: "Treat a DNS failure as rewrite").
    Unknown,
}

/// The outcome of the checks for one post.
#[derive(Debug, Clone)]
pub struct SenderCheck {
    /// How the identity was established (`DKIM lyon.example`), when it was.
    pub verified_by: Option<String>,
    /// What was tried and failed, in French, for the moderation reason.
    pub failures: Vec<String>,
    pub policy: DmarcPolicy,
}

/// The DNS resolver and the settings of the checks, built once per process.
pub struct SenderVerifier {
    authenticator: Option<MessageAuthenticator>,
    /// A bound on the whole check, whatever the resolver does.
    budget: Duration,
    verify: bool,
    rewrite: DmarcRewrite,
    rewrite_domains: Vec<String>,
}

/// Whether `domain` is `from_domain` or a parent or child of it (DMARC's relaxed alignment, without the
/// public suffix list: `lyon.example` and `mairie.lyon.example` align, `example` alone never counts).
pub fn aligned(from_domain: &str, domain: &str) -> bool {
    let a = from_domain.trim_end_matches('.').to_lowercase();
    let b = domain.trim_end_matches('.').to_lowercase();
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    short.contains('.') && (long == short || long.ends_with(&format!(".{short}")))
}

impl SenderVerifier {
    /// The resolver of `settings` (no I/O happens here: the first lookup opens the sockets).
    pub fn new(settings: &InboundSettings) -> SenderVerifier {
        let mut options = ResolverOpts::default();
        options.timeout = Duration::from_millis(settings.dns_timeout_ms);
        options.attempts = 2;
        let authenticator = if settings.dns_servers.is_empty() {
            MessageAuthenticator::new_system_conf()
        } else {
            let servers = settings.dns_servers.iter().map(name_server).collect();
            MessageAuthenticator::new(ResolverConfig::from_name_servers(servers), options)
        };
        let authenticator = match authenticator {
            Ok(authenticator) => Some(authenticator),
            Err(error) => {
                tracing::warn!(%error, "no DNS resolver: senders are checked by trusted servers only");
                None
            }
        };
        SenderVerifier {
            authenticator,
            budget: Duration::from_millis(settings.dns_timeout_ms * 4),
            verify: settings.verify_senders,
            rewrite: settings.dmarc_rewrite,
            rewrite_domains: settings
                .rewrite_domains
                .iter()
                .map(|d| d.to_lowercase())
                .collect(),
        }
    }

    /// Checks the sender of `raw` whose From is `from`: its identity unless `vouched` (a trusted server
    /// already said so), and its domain's DMARC policy unless the settings decide the rewrite alone.
    pub async fn check(
        &self,
        raw: &[u8],
        from: &str,
        client: &Client,
        vouched: bool,
    ) -> SenderCheck {
        let from_domain = from.rsplit_once('@').map_or("", |(_, d)| d).to_lowercase();
        let forced = self.rewrite == DmarcRewrite::Always
            || self
                .rewrite_domains
                .iter()
                .any(|d| from_domain == *d || from_domain.ends_with(&format!(".{d}")));
        let mut check = SenderCheck {
            verified_by: None,
            failures: Vec::new(),
            policy: if forced {
                DmarcPolicy::Strict
            } else {
                DmarcPolicy::Unknown
            },
        };
        let verify_identity = !vouched && self.verify;
        let Some(authenticator) = self.authenticator.as_ref() else {
            if verify_identity {
                check
                    .failures
                    .push("aucun résolveur DNS pour vérifier DKIM et SPF".into());
            }
            return check;
        };
        if from_domain.is_empty() || (!verify_identity && forced) {
            return check;
        }
        let checked = tokio::time::timeout(
            self.budget,
            self.lookups(
                authenticator,
                raw,
                &from_domain,
                client,
                verify_identity,
                !forced,
            ),
        )
        .await;
        match checked {
            Ok(found) => {
                check.verified_by = found.verified_by;
                check.failures = found.failures;
                if !forced {
                    check.policy = found.policy;
                }
            }
            Err(_) => check
                .failures
                .push("le DNS n'a pas répondu à temps pour vérifier DKIM et SPF".into()),
        }
        check
    }

    async fn lookups(
        &self,
        authenticator: &MessageAuthenticator,
        raw: &[u8],
        from_domain: &str,
        client: &Client,
        verify_identity: bool,
        want_policy: bool,
    ) -> SenderCheck {
        let mut check = SenderCheck {
            verified_by: None,
            failures: Vec::new(),
            policy: DmarcPolicy::Unknown,
        };
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            check.failures.push("en-têtes illisibles pour DKIM".into());
            return check;
        };
        let dkim = if verify_identity {
            authenticator.verify_dkim(&message).await
        } else {
            Vec::new()
        };
        let mail_from_domain = client
            .mail_from
            .rsplit_once('@')
            .map_or("", |(_, d)| d)
            .to_lowercase();
        let helo = if client.helo.is_empty() {
            "unknown"
        } else {
            client.helo.as_str()
        };
        let spf = match (verify_identity, client.ip) {
            (true, Some(ip)) if !mail_from_domain.is_empty() => {
                authenticator
                    .verify_spf(SpfParameters::verify_mail_from(
                        ip,
                        helo,
                        "relais",
                        &client.mail_from,
                    ))
                    .await
            }
            _ => SpfOutput::new(mail_from_domain.clone()),
        };
        if verify_identity {
            for output in &dkim {
                let domain = output.signature().map(|s| s.d.as_str()).unwrap_or_default();
                match output.result() {
                    DkimResult::Pass if aligned(from_domain, domain) => {
                        check.verified_by = Some(format!("DKIM {domain}"));
                    }
                    DkimResult::Pass => check.failures.push(format!(
                        "signature DKIM valide mais de {domain}, pas de {from_domain}"
                    )),
                    DkimResult::None => {}
                    other => check
                        .failures
                        .push(format!("signature DKIM de {domain} refusée ({other})")),
                }
            }
            if dkim.is_empty() {
                check.failures.push("aucune signature DKIM".into());
            }
            if check.verified_by.is_none() {
                match (client.ip, spf.result()) {
                    (Some(_), SpfResult::Pass) if aligned(from_domain, &mail_from_domain) => {
                        check.verified_by = Some(format!("SPF {mail_from_domain}"));
                    }
                    (Some(ip), SpfResult::Pass) => check.failures.push(format!(
                        "SPF valide pour {ip} mais l'expéditeur d'enveloppe ({mail_from_domain}) n'est pas {from_domain}"
                    )),
                    (Some(ip), result) => check
                        .failures
                        .push(format!("SPF de {mail_from_domain} pour {ip} : {result}")),
                    (None, _) => check
                        .failures
                        .push("SPF non vérifiable : adresse du client inconnue".into()),
                }
            }
            if check.verified_by.is_some() {
                check.failures.clear();
            }
        }
        if want_policy {
            let dmarc = authenticator
                .verify_dmarc(DmarcParameters::new(
                    &message,
                    &dkim,
                    &mail_from_domain,
                    &spf,
                ))
                .await;
            check.policy = if dmarc_lookup_failed(&dmarc) {
                DmarcPolicy::Unknown
            } else {
                match dmarc.policy() {
                    Policy::Quarantine | Policy::Reject => DmarcPolicy::Strict,
                    Policy::None | Policy::Unspecified => DmarcPolicy::Relaxed,
                }
            };
        }
        check
    }
}

/// Whether the DMARC record could not be read (a DNS error, not an absent record).
fn dmarc_lookup_failed(dmarc: &mail_auth::DmarcOutput) -> bool {
    matches!(dmarc.dkim_result(), mail_auth::DmarcResult::TempError(_))
        && matches!(dmarc.spf_result(), mail_auth::DmarcResult::TempError(_))
}

/// A resolver entry for `address` (UDP, and TCP for long answers).
fn name_server(address: &SocketAddr) -> NameServerConfig {
    let mut server = NameServerConfig::udp_and_tcp(address.ip());
    for connection in &mut server.connections {
        connection.port = address.port();
    }
    server
}

#[cfg(test)]
mod tests {
    use super::aligned;

    #[test]
    fn alignment_is_relaxed_but_never_on_a_bare_suffix() {
        assert!(aligned("lyon.example", "lyon.example"));
        assert!(aligned("mairie.lyon.example", "lyon.example"));
        assert!(aligned("lyon.example", "mairie.lyon.example"));
        assert!(!aligned("lyon.example", "ailleurs.example"));
        assert!(!aligned("lyon.example", "example"));
        assert!(!aligned("lyon.example", "nlyon.example"));
        assert!(!aligned("", "lyon.example"));
    }
}
