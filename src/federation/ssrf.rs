//! The guard against server-side request forgery: a peer names URLs (its actor, its inbox, an object's id)
//! that relais then fetches or posts to, so a hostile or mistaken peer could point relais at the machine
//! itself, the organisation's network or a cloud metadata address. Every address relais connects to for
//! federation passes here: host names through [`GuardedResolver`], which reqwest uses instead of the system
//! resolver, and IP-literal hosts through [`is_public`] before the request is made.
//!
//! `federation.allow_private_addresses = true` lifts the guard (tests on loopback only). The per-host
//! overrides of `federation.resolve` are the administrator's own mapping, like `/etc/hosts`, and are not
//! second-guessed: they let two test instances on 127.0.0.1 answer to different names.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock};

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The ranges that are not the public Internet: unspecified, loopback, private, shared (CGNAT), link-local,
/// unique-local, multicast, broadcast and reserved, documentation and benchmarking. IPv6's `::/96` holds the
/// unspecified and loopback addresses and the deprecated IPv4-compatible ones; the IPv4-mapped and NAT64
/// forms are judged on the IPv4 address they carry.
static REFUSED: LazyLock<Vec<IpNet>> = LazyLock::new(|| {
    [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",
        "100::/64",
        "2001:db8::/32",
        "3fff::/20",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    ]
    .iter()
    .map(|net| net.parse().expect("a valid CIDR block"))
    .collect()
});

/// Whether `ip` is on the public Internet (not in a refused range).
pub fn is_public(ip: IpAddr) -> bool {
    let ip = match ip {
        // ::ffff:a.b.c.d and the NAT64 prefix 64:ff9b::/96 reach an IPv4 address: judge that one.
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None if v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => {
                let [.., a, b, c, d] = v6.octets();
                IpAddr::V4([a, b, c, d].into())
            }
            None => ip,
        },
        v4 => v4,
    };
    !REFUSED.iter().any(|net| net.contains(&ip))
}

/// The error a refused address produces, found again in reqwest's error chain by the client.
#[derive(Debug, thiserror::Error)]
#[error("{host} : adresse {address} refusée (réseau privé, local ou réservé)")]
pub struct RefusedAddress {
    pub host: String,
    pub address: String,
}

/// The resolver reqwest uses for federation: configured overrides first, else the system's resolver with
/// the refused ranges filtered out (an error when nothing is left).
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    allow_private: bool,
    overrides: Arc<BTreeMap<String, SocketAddr>>,
}

impl GuardedResolver {
    /// `overrides` maps lower-case host names to an address; a port other than 0 is used when the URL
    /// names none (reqwest's rule), so `http://cglu.test/inbox` can reach 127.0.0.1:8701.
    pub fn new(allow_private: bool, overrides: BTreeMap<String, SocketAddr>) -> GuardedResolver {
        GuardedResolver {
            allow_private,
            overrides: Arc::new(overrides),
        }
    }

    /// Whether `host` has an override.
    pub fn overrides(&self, host: &str) -> bool {
        self.overrides.contains_key(&host.to_ascii_lowercase())
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        if let Some(address) = self.overrides.get(&host) {
            let addrs: Addrs = Box::new(std::iter::once(*address));
            return Box::pin(std::future::ready(Ok(addrs)));
        }
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|address| allow_private || is_public(address.ip()))
                .collect();
            if allowed.is_empty() {
                let address = found
                    .first()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_else(|| "(aucune)".to_string());
                let refused: BoxError = Box::new(RefusedAddress { host, address });
                return Err(refused);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok::<Addrs, BoxError>(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_reserved_addresses_are_refused_and_public_ones_pass() {
        for refused in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.99",
            "::",
            "::1",
            "::127.0.0.1",
            "fe80::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!is_public(refused.parse().unwrap()), "{refused} passed");
        }
        for public in [
            "1.1.1.1",
            "93.184.216.34",
            "172.32.0.1",
            "2a01:4f8::1",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public} refused");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_localhost_unless_allowed() {
        let name: Name = "localhost".parse().unwrap();
        let refused = GuardedResolver::new(false, BTreeMap::new())
            .resolve(name)
            .await
            .err()
            .expect("localhost is refused");
        let refused = refused.downcast_ref::<RefusedAddress>().expect("our error");
        assert_eq!(refused.host, "localhost");

        let name: Name = "localhost".parse().unwrap();
        let allowed: Vec<SocketAddr> = GuardedResolver::new(true, BTreeMap::new())
            .resolve(name)
            .await
            .unwrap()
            .collect();
        assert!(allowed.iter().all(|a| a.ip().is_loopback()), "{allowed:?}");
    }

    #[tokio::test]
    async fn overrides_answer_without_asking_the_system() {
        let overrides =
            BTreeMap::from([("cglu.test".to_string(), "127.0.0.1:8701".parse().unwrap())]);
        let resolver = GuardedResolver::new(false, overrides);
        assert!(resolver.overrides("CGLU.test"));
        let name: Name = "cglu.test".parse().unwrap();
        let found: Vec<SocketAddr> = resolver.resolve(name).await.unwrap().collect();
        assert_eq!(found, ["127.0.0.1:8701".parse().unwrap()]);
    }
}
