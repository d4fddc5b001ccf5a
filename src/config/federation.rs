//! The `[federation]` section: how relais reaches its peers and judges their signatures.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::Reader;

pub(super) const KEYS: &[&str] = &[
    "federation.group_name",
    "federation.network_name",
    "federation.network_summary",
    "federation.retry_minutes",
    "federation.give_up_hours",
    "federation.delivery_concurrency",
    "federation.max_inbox_kb",
    "federation.inbox_per_minute",
    "federation.allow_private_addresses",
    "federation.resolve",
    "federation.connect_timeout_seconds",
    "federation.timeout_seconds",
    "federation.max_response_kb",
    "federation.max_redirects",
    "federation.signature_max_age_minutes",
    "federation.signature_max_future_minutes",
];

/// The `[federation]` section.
#[derive(Debug, Clone)]
pub struct FederationSettings {
    /// The network's `Group` actor's name: `acct:club@host`.
    pub group_name: String,
    /// The network's public name and summary, shown to partners.
    pub network_name: String,
    pub network_summary: String,
    /// Minutes before each new try of a failed delivery; the last repeats.
    pub retry_minutes: Vec<i64>,
    /// After this long, a delivery not made is marked failed.
    pub give_up_hours: i64,
    /// Deliveries made at the same time.
    pub delivery_concurrency: usize,
    /// Largest activity the inbox reads, in bytes.
    pub max_inbox_bytes: usize,
    /// Activities one partner host may post a minute.
    pub inbox_per_minute: u32,
    /// Whether fetches and deliveries may reach loopback, private and reserved addresses (tests only).
    pub allow_private_addresses: bool,
    /// Host names answered by a fixed address instead of the DNS (port 0: the URL's or the scheme's).
    pub resolve: BTreeMap<String, SocketAddr>,
    /// How long connecting to a peer may take.
    pub connect_timeout_seconds: u64,
    /// How long a whole exchange with a peer may take, answer included.
    pub timeout_seconds: u64,
    /// Largest answer read from a peer, in bytes; a longer one is cut and refused.
    pub max_response_bytes: usize,
    /// Redirects followed when fetching (each target checked again); deliveries follow none.
    pub max_redirects: usize,
    /// How old a received signature may be.
    pub signature_max_age_minutes: i64,
    /// How far ahead of relais' clock a received signature may be dated.
    pub signature_max_future_minutes: i64,
}

impl FederationSettings {
    pub(super) fn read(r: &mut Reader) -> FederationSettings {
        let table: BTreeMap<String, String> = r.get("federation.resolve");
        let mut resolve = BTreeMap::new();
        for (host, address) in table {
            let parsed = address
                .parse::<SocketAddr>()
                .ok()
                .or_else(|| address.parse::<IpAddr>().ok().map(|ip| (ip, 0).into()));
            r.check(
                "federation.resolve",
                parsed.is_some(),
                &format!(
                    "{host} = \"{address}\" is not an address such as 127.0.0.1:8701 or 127.0.0.1"
                ),
            );
            if let Some(parsed) = parsed {
                resolve.insert(host.to_ascii_lowercase(), parsed);
            }
        }
        let max_response_kb: u64 = r.get("federation.max_response_kb");
        r.check(
            "federation.max_response_kb",
            (16..=65_536).contains(&max_response_kb),
            "must be between 16 and 65536",
        );
        let group_name: String = r.get("federation.group_name");
        r.check(
            "federation.group_name",
            !group_name.is_empty()
                && group_name.len() <= 64
                && group_name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'),
            "must be 1 to 64 lower-case letters, digits, - or _",
        );
        let retry_minutes: Vec<i64> = r.get("federation.retry_minutes");
        r.check(
            "federation.retry_minutes",
            !retry_minutes.is_empty() && retry_minutes.iter().all(|m| (1..=24 * 60).contains(m)),
            "must list at least one interval, each between 1 and 1440 minutes",
        );
        let max_inbox_kb: u64 = r.get("federation.max_inbox_kb");
        r.check(
            "federation.max_inbox_kb",
            (16..=4096).contains(&max_inbox_kb),
            "must be between 16 and 4096",
        );
        let federation = FederationSettings {
            group_name,
            network_name: r.get("federation.network_name"),
            network_summary: r.get("federation.network_summary"),
            retry_minutes,
            give_up_hours: r.get("federation.give_up_hours"),
            delivery_concurrency: r.get("federation.delivery_concurrency"),
            max_inbox_bytes: (max_inbox_kb * 1024) as usize,
            inbox_per_minute: r.get("federation.inbox_per_minute"),
            allow_private_addresses: r.get("federation.allow_private_addresses"),
            resolve,
            connect_timeout_seconds: r.get("federation.connect_timeout_seconds"),
            timeout_seconds: r.get("federation.timeout_seconds"),
            max_response_bytes: (max_response_kb * 1024) as usize,
            max_redirects: r.get("federation.max_redirects"),
            signature_max_age_minutes: r.get("federation.signature_max_age_minutes"),
            signature_max_future_minutes: r.get("federation.signature_max_future_minutes"),
        };
        r.check(
            "federation.connect_timeout_seconds",
            (1..=60).contains(&federation.connect_timeout_seconds),
            "must be between 1 and 60",
        );
        r.check(
            "federation.timeout_seconds",
            (1..=300).contains(&federation.timeout_seconds)
                && federation.timeout_seconds >= federation.connect_timeout_seconds,
            "must be between 1 and 300, and at least connect_timeout_seconds",
        );
        r.check(
            "federation.give_up_hours",
            (1..=24 * 30).contains(&federation.give_up_hours),
            "must be between 1 and 720",
        );
        r.check(
            "federation.delivery_concurrency",
            (1..=256).contains(&federation.delivery_concurrency),
            "must be between 1 and 256",
        );
        r.check(
            "federation.inbox_per_minute",
            federation.inbox_per_minute >= 1,
            "must be at least 1",
        );
        r.check(
            "federation.max_redirects",
            federation.max_redirects <= 3,
            "must be between 0 and 3",
        );
        r.check(
            "federation.signature_max_age_minutes",
            (1..=24 * 60).contains(&federation.signature_max_age_minutes),
            "must be between 1 and 1440",
        );
        r.check(
            "federation.signature_max_future_minutes",
            (0..=24 * 60).contains(&federation.signature_max_future_minutes),
            "must be between 0 and 1440",
        );
        federation
    }
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::{Format, Toml};

    use super::super::{DEFAULTS, Settings};

    #[test]
    fn the_defaults_guard_and_mastodons_window_applies() {
        let settings = Settings::from_figment(Figment::from(Toml::string(DEFAULTS))).unwrap();
        let federation = settings.federation;
        assert!(!federation.allow_private_addresses);
        assert!(federation.resolve.is_empty());
        assert_eq!(federation.max_response_bytes, 1024 * 1024);
        assert_eq!(federation.max_redirects, 3);
        assert_eq!(federation.signature_max_age_minutes, 12 * 60);
        assert_eq!(federation.signature_max_future_minutes, 60);
    }

    #[test]
    fn overrides_take_an_address_with_or_without_port_and_bad_values_are_named() {
        let figment = Figment::from(Toml::string(DEFAULTS)).merge(Toml::string(
            "[federation]\nallow_private_addresses = true\nresolve = { \"CGLU.test\" = \"127.0.0.1:8701\", \"club.test\" = \"::1\" }\n",
        ));
        let federation = Settings::from_figment(figment).unwrap().federation;
        assert!(federation.allow_private_addresses);
        assert_eq!(
            federation.resolve["cglu.test"].to_string(),
            "127.0.0.1:8701"
        );
        assert_eq!(federation.resolve["club.test"].to_string(), "[::1]:0");

        let figment = Figment::from(Toml::string(DEFAULTS)).merge(Toml::string(
            "[federation]\nresolve = { \"cglu.test\" = \"somewhere\" }\nmax_redirects = 9\nmax_response_kb = 1\n",
        ));
        let joined = Settings::from_figment(figment).unwrap_err().0.join("\n");
        for text in [
            "federation.resolve: cglu.test = \"somewhere\"",
            "federation.max_redirects",
            "federation.max_response_kb",
        ] {
            assert!(joined.contains(text), "{text} missing from:\n{joined}");
        }
    }
}
