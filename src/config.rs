//! Settings: the documented defaults of `config/relais.toml` (built into the binary), then an optional file,
//! then `RELAIS_<SECTION>__<KEY>` environment variables. Every invalid or unknown key is reported at once,
//! each with its name, so a bad configuration is fixed in one go.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::de::DeserializeOwned;

const DEFAULTS: &str = include_str!("../config/relais.toml");

#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub data_dir: PathBuf,
    pub log: LogSettings,
    pub security: SecuritySettings,
    pub pipeline: PipelineSettings,
    pub mail: crate::mail::settings::MailSettings,
    pub newsletter: NewsletterSettings,
    pub meetings: MeetingSettings,
    pub inbound: InboundSettings,
}

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

/// The `[meetings]` section.
#[derive(Debug, Clone)]
pub struct MeetingSettings {
    /// Days before a meeting its ready agenda goes out; staff are reminded a day earlier if it is not ready.
    pub agenda_days_before: i64,
    /// How far ahead the occurrences of a series exist (months).
    pub horizon_months: i64,
}

/// The `[newsletter]` section: when issues go out and when staff are reminded.
#[derive(Debug, Clone)]
pub struct NewsletterSettings {
    /// The dates issues go out at: a cron expression with seconds first, in Paris time.
    pub schedule: String,
    /// Days before each date when staff are reminded to prepare the issue.
    pub reminder_days: i64,
    /// When the monthly summary goes to those who chose it (cron, Paris time); empty: never.
    pub digest_schedule: String,
    /// When discussion lists send their digest of the day's posts to those who chose it (cron, Paris
    /// time); empty: never.
    pub list_digest_schedule: String,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub public_url: String,
    pub max_upload_mb: u64,
    /// Peers whose `X-Forwarded-For` names the client (reverse proxies); empty: the peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl ServerSettings {
    /// Cookies carry `Secure` when relais is reached over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

/// The `[security]` section. Login throttling counts failures of one account from one client address (a
/// pair), of one account from everywhere, and of one address on every account, over one window.
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    /// Failures of a pair that cost nothing; each later attempt of the pair waits 2, 4, 8 … seconds.
    pub login_free_failures: i64,
    /// The longest such wait.
    pub login_max_delay_minutes: i64,
    /// Failures of one account, from all addresses, that refuse it to addresses it never logged in from.
    pub login_account_max_failures: i64,
    /// Failures from one address, on all accounts, that refuse it for accounts never logged into from it.
    pub login_address_max_failures: i64,
    /// How long a failure counts.
    pub login_window_minutes: i64,
    pub session_hours: i64,
}

#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub target_objective: i64,
    pub member_objective_min: i64,
    pub member_objective_max: i64,
}

/// All the problems found in a configuration, one line each.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError(pub Vec<String>);

/// Reads keys one by one so every error is collected instead of stopping at the first.
pub(crate) struct Reader {
    figment: Figment,
    errors: Vec<String>,
}

impl Reader {
    pub(crate) fn get<T: DeserializeOwned + Default>(&mut self, key: &str) -> T {
        match self.figment.extract_inner::<T>(key) {
            Ok(value) => value,
            Err(error) => {
                let error = error.to_string();
                self.errors.push(format!("{key}: {error}"));
                T::default()
            }
        }
    }

    pub(crate) fn check(&mut self, key: &str, ok: bool, message: &str) {
        if !ok {
            self.errors.push(format!("{key}: {message}"));
        }
    }
}

const KNOWN_KEYS: &[&str] = &[
    "server.listen",
    "server.public_url",
    "server.max_upload_mb",
    "server.trusted_proxies",
    "database.url",
    "database.max_connections",
    "data.dir",
    "log.format",
    "log.level",
    "security.login_free_failures",
    "security.login_max_delay_minutes",
    "security.login_account_max_failures",
    "security.login_address_max_failures",
    "security.login_window_minutes",
    "security.session_hours",
    "pipeline.target_objective",
    "pipeline.member_objective_min",
    "pipeline.member_objective_max",
    "newsletter.schedule",
    "newsletter.reminder_days",
    "newsletter.digest_schedule",
    "newsletter.list_digest_schedule",
    "meetings.agenda_days_before",
    "meetings.horizon_months",
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

/// Why a key that relais once read is refused now, so an old configuration is fixed, not just trimmed.
fn replaced_key(key: &str) -> Option<&'static str> {
    match key {
        "security.login_max_failures" => Some(
            "replaced by security.login_free_failures (per account and address), \
             security.login_account_max_failures and security.login_address_max_failures (see \
             config/relais.toml)",
        ),
        _ => None,
    }
}

impl Settings {
    /// Loads the defaults, then `file` when given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError(vec![format!(
                    "{}: file not found",
                    file.display()
                )]));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        // Only RELAIS_<SECTION>__<KEY> variables are settings; RELAIS_PASSWORD and the like are not.
        figment = figment.merge(
            Env::prefixed("RELAIS_")
                .filter(|key| key.as_str().contains("__"))
                .split("__"),
        );
        Self::from_figment(figment)
    }

    fn from_figment(figment: Figment) -> Result<Settings, ConfigError> {
        let mut errors = Vec::new();
        match figment.extract::<std::collections::BTreeMap<String, figment::value::Value>>() {
            Ok(sections) => {
                for (section, value) in &sections {
                    match value.as_dict() {
                        Some(keys) => {
                            for key in keys.keys() {
                                let full = format!("{section}.{key}");
                                if let Some(message) = replaced_key(&full) {
                                    errors.push(format!("{full}: {message}"));
                                } else if !KNOWN_KEYS.contains(&full.as_str())
                                    && !crate::mail::settings::KEYS.contains(&full.as_str())
                                {
                                    errors.push(format!("{full}: unknown key"));
                                }
                            }
                        }
                        None => {
                            errors.push(format!("{section}: expected a section, found a value"))
                        }
                    }
                }
            }
            Err(error) => return Err(ConfigError(vec![error.to_string()])),
        }
        let mut r = Reader { figment, errors };
        let listen_text: String = r.get("server.listen");
        let listen = listen_text.parse::<SocketAddr>().ok();
        r.check(
            "server.listen",
            listen.is_some() || listen_text.is_empty(),
            "expected an address such as 127.0.0.1:8080",
        );
        let public_url: String = r.get("server.public_url");
        r.check(
            "server.public_url",
            public_url.starts_with("http://") || public_url.starts_with("https://"),
            "expected a URL starting with http:// or https://",
        );
        let max_upload_mb: u64 = r.get("server.max_upload_mb");
        r.check(
            "server.max_upload_mb",
            max_upload_mb > 0,
            "must be at least 1",
        );
        let proxies: Vec<String> = r.get("server.trusted_proxies");
        let mut trusted_proxies = Vec::new();
        for text in &proxies {
            match crate::web::client::parse_trusted_proxy(text) {
                Some(net) => trusted_proxies.push(net),
                None => r.check(
                    "server.trusted_proxies",
                    false,
                    &format!(
                        "{text:?} is not an IP address or CIDR block (expected such as \"127.0.0.1\", \"::1\" or \"10.0.0.0/8\")"
                    ),
                ),
            }
        }
        let url: String = r.get("database.url");
        r.check(
            "database.url",
            url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"),
            "expected sqlite://PATH or postgres://USER@HOST/DATABASE",
        );
        let max_connections: u32 = r.get("database.max_connections");
        r.check(
            "database.max_connections",
            max_connections > 0,
            "must be at least 1",
        );
        let data_dir: String = r.get("data.dir");
        r.check("data.dir", !data_dir.is_empty(), "must name a folder");
        let format_text: String = r.get("log.format");
        let format = match format_text.as_str() {
            "json" => LogFormat::Json,
            "human" => LogFormat::Human,
            _ => {
                r.check("log.format", false, "expected \"human\" or \"json\"");
                LogFormat::Human
            }
        };
        let level: String = r.get("log.level");
        r.check(
            "log.level",
            tracing_subscriber::EnvFilter::try_new(&level).is_ok(),
            "expected a tracing filter such as \"info\"",
        );
        let security = SecuritySettings {
            login_free_failures: r.get("security.login_free_failures"),
            login_max_delay_minutes: r.get("security.login_max_delay_minutes"),
            login_account_max_failures: r.get("security.login_account_max_failures"),
            login_address_max_failures: r.get("security.login_address_max_failures"),
            login_window_minutes: r.get("security.login_window_minutes"),
            session_hours: r.get("security.session_hours"),
        };
        r.check(
            "security.login_free_failures",
            (1..=100).contains(&security.login_free_failures),
            "must be between 1 and 100",
        );
        r.check(
            "security.login_max_delay_minutes",
            (1..=1440).contains(&security.login_max_delay_minutes),
            "must be between 1 and 1440",
        );
        r.check(
            "security.login_account_max_failures",
            security.login_account_max_failures > security.login_free_failures,
            "must be above security.login_free_failures",
        );
        r.check(
            "security.login_address_max_failures",
            security.login_address_max_failures > security.login_free_failures,
            "must be above security.login_free_failures",
        );
        r.check(
            "security.login_window_minutes",
            security.login_window_minutes >= security.login_max_delay_minutes,
            "must be at least security.login_max_delay_minutes",
        );
        r.check(
            "security.session_hours",
            security.session_hours > 0,
            "must be at least 1",
        );
        let pipeline = PipelineSettings {
            target_objective: r.get("pipeline.target_objective"),
            member_objective_min: r.get("pipeline.member_objective_min"),
            member_objective_max: r.get("pipeline.member_objective_max"),
        };
        r.check(
            "pipeline.member_objective_max",
            pipeline.member_objective_min <= pipeline.member_objective_max,
            "must not be below pipeline.member_objective_min",
        );
        let mail = crate::mail::settings::MailSettings::read(&mut r);
        let newsletter = NewsletterSettings {
            schedule: r.get("newsletter.schedule"),
            reminder_days: r.get("newsletter.reminder_days"),
            digest_schedule: r.get("newsletter.digest_schedule"),
            list_digest_schedule: r.get("newsletter.list_digest_schedule"),
        };
        let is_cron = |text: &str| <cron::Schedule as std::str::FromStr>::from_str(text).is_ok();
        r.check(
            "newsletter.schedule",
            is_cron(&newsletter.schedule),
            "expected a cron expression with seconds first, such as \"0 0 9 1,15 * *\"",
        );
        r.check(
            "newsletter.reminder_days",
            (0..=30).contains(&newsletter.reminder_days),
            "must be between 0 and 30",
        );
        r.check(
            "newsletter.list_digest_schedule",
            newsletter.list_digest_schedule.is_empty() || is_cron(&newsletter.list_digest_schedule),
            "expected a cron expression with seconds first, such as \"0 0 18 * * *\", or nothing",
        );
        r.check(
            "newsletter.digest_schedule",
            newsletter.digest_schedule.is_empty() || is_cron(&newsletter.digest_schedule),
            "expected a cron expression with seconds first, such as \"0 0 8 1 * *\", or nothing",
        );
        let meetings = MeetingSettings {
            agenda_days_before: r.get("meetings.agenda_days_before"),
            horizon_months: r.get("meetings.horizon_months"),
        };
        r.check(
            "meetings.agenda_days_before",
            (1..=30).contains(&meetings.agenda_days_before),
            "must be between 1 and 30",
        );
        r.check(
            "meetings.horizon_months",
            (1..=36).contains(&meetings.horizon_months),
            "must be between 1 and 36",
        );
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
        if !r.errors.is_empty() {
            return Err(ConfigError(r.errors));
        }
        Ok(Settings {
            server: ServerSettings {
                listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
                public_url: public_url.trim_end_matches('/').to_string(),
                max_upload_mb,
                trusted_proxies,
            },
            database: DatabaseSettings {
                url,
                max_connections,
            },
            data_dir: PathBuf::from(data_dir),
            log: LogSettings { format, level },
            security,
            pipeline,
            mail,
            newsletter,
            meetings,
            inbound,
        })
    }

    /// Settings for tests and benchmarks: the defaults with a database URL and a data folder.
    pub fn for_tests(database_url: &str, data_dir: &Path) -> Settings {
        let mut settings = Self::from_figment(Figment::from(Toml::string(DEFAULTS)))
            .expect("built-in defaults are valid");
        settings.database.url = database_url.to_string();
        settings.data_dir = data_dir.to_path_buf();
        settings.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        settings.inbound.lmtp_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        // No DNS in tests unless a test starts its own server: trusted servers vouch, copies are rewritten.
        settings.inbound.verify_senders = false;
        settings.inbound.dmarc_rewrite = DmarcRewrite::Always;
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_defaults_are_valid() {
        let settings = Settings::from_figment(Figment::from(Toml::string(DEFAULTS))).unwrap();
        assert_eq!(settings.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.database.url, "sqlite://data/relais.db");
        assert!(!settings.server.secure_cookies());
    }

    #[test]
    fn every_bad_key_is_reported_at_once() {
        let figment = Figment::from(Toml::string(DEFAULTS)).merge(Toml::string(
            "[server]\nlisten = \"nowhere\"\n[database]\nurl = \"mysql://x\"\nmax_connections = \"many\"\n[log]\nformat = \"xml\"\n[colour]\nsky = 1\n",
        ));
        let errors = Settings::from_figment(figment).unwrap_err().0;
        let joined = errors.join("\n");
        for key in [
            "server.listen",
            "database.url",
            "database.max_connections",
            "log.format",
            "colour.sky",
        ] {
            assert!(joined.contains(key), "{key} missing from:\n{joined}");
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_or_cidr_blocks() {
        let figment = Figment::from(Toml::string(DEFAULTS)).merge(Toml::string(
            "[server]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"fd00::/8\", \"::1\"]\n",
        ));
        let settings = Settings::from_figment(figment).unwrap();
        let listed: Vec<String> = settings
            .server
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            listed,
            ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8", "::1/128"]
        );
        assert!(
            Settings::from_figment(Figment::from(Toml::string(DEFAULTS)))
                .unwrap()
                .server
                .trusted_proxies
                .is_empty(),
            "no proxy is trusted by default"
        );

        let figment = Figment::from(Toml::string(DEFAULTS)).merge(Toml::string(
            "[server]\ntrusted_proxies = [\"10.0.0.0/33\", \"proxy.example\"]\n",
        ));
        let joined = Settings::from_figment(figment).unwrap_err().0.join("\n");
        for text in ["\"10.0.0.0/33\" is not", "\"proxy.example\" is not"] {
            assert!(joined.contains(text), "{text} missing from:\n{joined}");
        }
        assert!(joined.contains("server.trusted_proxies"), "{joined}");
    }

    #[test]
    fn the_old_login_setting_says_what_replaced_it() {
        let figment = Figment::from(Toml::string(DEFAULTS))
            .merge(Toml::string("[security]\nlogin_max_failures = 5\n"));
        let joined = Settings::from_figment(figment).unwrap_err().0.join("\n");
        assert!(
            joined
                .contains("security.login_max_failures: replaced by security.login_free_failures"),
            "{joined}"
        );
    }
}
