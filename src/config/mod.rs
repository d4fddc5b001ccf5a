//! Settings: the documented defaults of `config/relais.toml` (built into the binary), then an optional file,
//! then `RELAIS_<SECTION>__<KEY>` environment variables. Every invalid or unknown key is reported at once,
//! each with its name, so a bad configuration is fixed in one go.
//!
//! One file per group of sections, each with its keys and the checks of their values: `service.rs`
//! (server, database, log, security, pipeline), `mail.rs` (mail, smtp, dkim), `inbound.rs`, `schedule.rs`
//! (newsletter, meetings), `federation.rs`. This module reads them in order and refuses unknown or replaced
//! keys.

pub mod federation;
pub mod inbound;
pub mod mail;
pub mod schedule;
pub mod service;

pub use federation::FederationSettings;
pub use inbound::{DmarcRewrite, InboundSettings};
pub use mail::{MailSettings, SmtpSecurity, SmtpSettings, TransportKind};
pub use schedule::{MeetingSettings, NewsletterSettings};
pub use service::{
    DatabaseSettings, LogFormat, LogSettings, PipelineSettings, SecuritySettings, ServerSettings,
    parse_trusted_proxy,
};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::de::DeserializeOwned;

const DEFAULTS: &str = include_str!("../../config/relais.toml");

#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub data_dir: PathBuf,
    pub log: LogSettings,
    pub security: SecuritySettings,
    pub pipeline: PipelineSettings,
    pub mail: MailSettings,
    pub newsletter: NewsletterSettings,
    pub meetings: MeetingSettings,
    pub inbound: InboundSettings,
    pub federation: FederationSettings,
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

/// Every key relais reads, section by section.
fn is_known_key(key: &str) -> bool {
    [
        service::KEYS,
        mail::KEYS,
        inbound::KEYS,
        schedule::KEYS,
        federation::KEYS,
    ]
    .iter()
    .any(|keys| keys.contains(&key))
}

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

/// The keys no section reads (each an error line), or the error that kept the configuration from being read.
fn unknown_keys(figment: &Figment) -> Result<Vec<String>, ConfigError> {
    let sections = figment
        .extract::<std::collections::BTreeMap<String, figment::value::Value>>()
        .map_err(|error| ConfigError(vec![error.to_string()]))?;
    let mut errors = Vec::new();
    for (section, value) in &sections {
        let Some(keys) = value.as_dict() else {
            errors.push(format!("{section}: expected a section, found a value"));
            continue;
        };
        for key in keys.keys() {
            let full = format!("{section}.{key}");
            if let Some(message) = replaced_key(&full) {
                errors.push(format!("{full}: {message}"));
            } else if !is_known_key(&full) {
                errors.push(format!("{full}: unknown key"));
            }
        }
    }
    Ok(errors)
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
        let errors = unknown_keys(&figment)?;
        let mut r = Reader { figment, errors };
        let server = ServerSettings::read(&mut r);
        let database = DatabaseSettings::read(&mut r);
        let data_dir: String = r.get("data.dir");
        r.check("data.dir", !data_dir.is_empty(), "must name a folder");
        let log = LogSettings::read(&mut r);
        let security = SecuritySettings::read(&mut r);
        let pipeline = PipelineSettings::read(&mut r);
        let mail = MailSettings::read(&mut r);
        let newsletter = NewsletterSettings::read(&mut r);
        let meetings = MeetingSettings::read(&mut r);
        let inbound = InboundSettings::read(&mut r);
        let federation = FederationSettings::read(&mut r);
        if !r.errors.is_empty() {
            return Err(ConfigError(r.errors));
        }
        Ok(Settings {
            server,
            database,
            data_dir: PathBuf::from(data_dir),
            log,
            security,
            pipeline,
            mail,
            newsletter,
            meetings,
            inbound,
            federation,
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
