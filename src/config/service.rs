//! The sections of the service itself: `[server]`, `[database]`, `[log]`, `[security]` and `[pipeline]`.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use super::Reader;

pub(super) const KEYS: &[&str] = &[
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
];

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub public_url: String,
    pub max_upload_mb: u64,
    /// Peers whose `X-Forwarded-For` names the client (reverse proxies); empty: the peer is the client.
    pub trusted_proxies: Vec<IpNet>,
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

impl ServerSettings {
    pub(super) fn read(r: &mut Reader) -> ServerSettings {
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
            match parse_trusted_proxy(text) {
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
        ServerSettings {
            listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            public_url: public_url.trim_end_matches('/').to_string(),
            max_upload_mb,
            trusted_proxies,
        }
    }
}

/// Reads one `server.trusted_proxies` entry: an address (`10.0.0.1`, `::1`) or a CIDR block (`10.0.0.0/8`).
pub fn parse_trusted_proxy(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .map(|net| net.trunc())
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

impl DatabaseSettings {
    pub(super) fn read(r: &mut Reader) -> DatabaseSettings {
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
        DatabaseSettings {
            url,
            max_connections,
        }
    }
}

impl LogSettings {
    pub(super) fn read(r: &mut Reader) -> LogSettings {
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
        LogSettings { format, level }
    }
}

impl SecuritySettings {
    pub(super) fn read(r: &mut Reader) -> SecuritySettings {
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
        security
    }
}

impl PipelineSettings {
    pub(super) fn read(r: &mut Reader) -> PipelineSettings {
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
        pipeline
    }
}
