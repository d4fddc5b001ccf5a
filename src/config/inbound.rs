//! The `[inbound]` section: where and how relais receives mail.

use std::net::SocketAddr;

use super::Reader;

pub(super) const KEYS: &[&str] = &[
    "inbound.lmtp_listen",
    "inbound.smtp_listen",
    "inbound.max_message_mb",
    "inbound.max_recipients",
    "inbound.timeout_seconds",
    "inbound.trusted_authserv_ids",
    "inbound.verify_senders",
    "inbound.dns_servers",
    "inbound.dns_timeout_ms",
    "inbound.dmarc_rewrite",
    "inbound.rewrite_domains",
];

/// The `[inbound]` section: where relais receives mail.
#[derive(Debug, Clone)]
pub struct InboundSettings {
    /// LMTP listener (`None`: off).
    pub lmtp_listen: Option<SocketAddr>,
    /// SMTP listener (`None`: off).
    pub smtp_listen: Option<SocketAddr>,
    /// Largest message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Most recipients accepted in one transaction.
    pub max_recipients: usize,
    /// How long a client may stay silent before the session is closed.
    pub timeout_seconds: u64,
    /// The authserv-id of mail servers whose `Authentication-Results` relais trusts (the organisation's
    /// own, which checked DKIM, SPF and DMARC before handing the message over).
    pub trusted_authserv_ids: Vec<String>,
    /// Whether relais checks DKIM and SPF itself when no trusted server vouched for a post's sender.
    pub verify_senders: bool,
    /// DNS servers for those checks and DMARC policies (empty: the system's resolver).
    pub dns_servers: Vec<SocketAddr>,
    /// How long one DNS query may take, in milliseconds.
    pub dns_timeout_ms: u64,
    /// When copies of a post carry the list's From instead of the author's.
    pub dmarc_rewrite: DmarcRewrite,
    /// Domains whose authors are always rewritten (providers that refuse failing mail despite `p=none`).
    pub rewrite_domains: Vec<String>,
}

/// `inbound.dmarc_rewrite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcRewrite {
    /// When the author's domain publishes `p=quarantine` or `p=reject`, or its policy cannot be read.
    Policy,
    /// For every post.
    Always,
}

impl InboundSettings {
    pub(super) fn read(r: &mut Reader) -> InboundSettings {
        let mut listener = |key: &str| -> Option<SocketAddr> {
            let text: String = r.get(key);
            let address = text.parse::<SocketAddr>().ok();
            r.check(
                key,
                text.is_empty() || address.is_some(),
                "expected an address such as 127.0.0.1:8024, or nothing",
            );
            address
        };
        let lmtp_listen = listener("inbound.lmtp_listen");
        let smtp_listen = listener("inbound.smtp_listen");
        let max_message_mb: u64 = r.get("inbound.max_message_mb");
        r.check(
            "inbound.max_message_mb",
            (1..=100).contains(&max_message_mb),
            "must be between 1 and 100",
        );
        let max_recipients: u64 = r.get("inbound.max_recipients");
        r.check(
            "inbound.max_recipients",
            (1..=1000).contains(&max_recipients),
            "must be between 1 and 1000",
        );
        let servers: Vec<String> = r.get("inbound.dns_servers");
        let dns_servers: Vec<SocketAddr> = servers
            .iter()
            .filter_map(|s| s.parse::<SocketAddr>().ok())
            .collect();
        r.check(
            "inbound.dns_servers",
            dns_servers.len() == servers.len(),
            "expected addresses such as 127.0.0.1:53",
        );
        let rewrite: String = r.get("inbound.dmarc_rewrite");
        let dmarc_rewrite = match rewrite.as_str() {
            "always" => DmarcRewrite::Always,
            _ => DmarcRewrite::Policy,
        };
        r.check(
            "inbound.dmarc_rewrite",
            ["policy", "always"].contains(&rewrite.as_str()),
            "expected policy or always",
        );
        let inbound = InboundSettings {
            lmtp_listen,
            smtp_listen,
            max_message_bytes: (max_message_mb * 1024 * 1024) as usize,
            max_recipients: max_recipients as usize,
            timeout_seconds: r.get("inbound.timeout_seconds"),
            trusted_authserv_ids: r.get("inbound.trusted_authserv_ids"),
            verify_senders: r.get("inbound.verify_senders"),
            dns_servers,
            dns_timeout_ms: r.get("inbound.dns_timeout_ms"),
            dmarc_rewrite,
            rewrite_domains: r.get("inbound.rewrite_domains"),
        };
        r.check(
            "inbound.dns_timeout_ms",
            (100..=30_000).contains(&inbound.dns_timeout_ms),
            "must be between 100 and 30000",
        );
        r.check(
            "inbound.timeout_seconds",
            inbound.timeout_seconds >= 5,
            "must be at least 5",
        );
        inbound
    }
}
