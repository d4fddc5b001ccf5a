//! Who is on the other end of a request: the client address that login throttling and the public forms'
//! budget count under.
//!
//! Without configuration this is the TCP peer. Behind a reverse proxy every peer is the proxy, so relais reads
//! `X-Forwarded-For` instead, but only when the peer is one of `server.trusted_proxies`: anybody else could
//! write that header to pass for someone else. The header is read from the right, where each trusted proxy
//! appended the address that connected to it; the first address that is not itself a trusted proxy is the
//! client. Whatever lies further left was written by the client and is ignored.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use ipnet::{IpNet, Ipv6Net};

use super::AppState;

/// The client of a request, as [`client_address`] reads it; an extractor for handlers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    pub fn ip(self) -> IpAddr {
        self.0
    }

    /// The text that limits count under: the address for IPv4, its /64 for IPv6 (see [`block_of`]).
    pub fn throttle_key(self) -> String {
        match block_of(self.0) {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("{v6}/64"),
        }
    }
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(ClientAddress(client_address(
            peer.ip(),
            &parts.headers,
            &state.settings.server.trusted_proxies,
        )))
    }
}

/// The client's address: the TCP `peer`, or, when the peer is a trusted proxy, the right-most address of
/// `X-Forwarded-For` that is not a trusted proxy too. An entry that is not an address stops the walk at the
/// last trusted hop, so a proxy that forwards garbage counts as the client rather than letting it choose.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer.to_canonical();
    if !is_trusted(&client) {
        return client;
    }
    // Several X-Forwarded-For lines form one list, in order (RFC 9110 §5.3).
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.into_iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The block a client is counted under: an IPv4 address alone, an IPv6 address with its whole /64, since one
/// machine or household usually gets a /64 and can use any address in it.
pub fn block_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(
            Ipv6Net::new(v6, 64)
                .expect("64 is a valid prefix length")
                .network(),
        ),
        v4 => v4,
    }
}

/// Reads one `server.trusted_proxies` entry (defined with the setting).
pub use crate::config::parse_trusted_proxy;

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|text| parse_trusted_proxy(text).expect("valid proxy"))
            .collect()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_address(ip("198.51.100.7"), &headers, &[]),
            ip("198.51.100.7")
        );
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("198.51.100.7"), &headers, &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_trusted_peer_is_read_through() {
        let trusted = nets(&["127.0.0.1"]);
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers, &trusted),
            ip("203.0.113.9")
        );
        // Without the header the proxy itself is all that is known.
        assert_eq!(
            client_address(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_spoofed_chain_gives_the_address_the_proxy_saw() {
        // The client wrote "192.0.2.1, 10.0.0.5"; the proxy appended the address it saw.
        let trusted = nets(&["127.0.0.1", "10.0.0.0/8"]);
        let headers = forwarded(&["192.0.2.1, 10.0.0.5, 198.51.100.7"]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers, &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn trusted_hops_are_skipped_across_header_lines() {
        // Client → CDN edge 10.1.2.3 → nginx 127.0.0.1; two X-Forwarded-For lines.
        let trusted = nets(&["127.0.0.0/8", "10.0.0.0/8"]);
        let headers = forwarded(&["192.0.2.1, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers, &trusted),
            ip("198.51.100.7")
        );
        // Every hop trusted: the left-most one is the best guess.
        let headers = forwarded(&["10.9.9.9, 10.1.2.3"]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers, &trusted),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn garbage_stops_at_the_last_trusted_hop() {
        let trusted = nets(&["127.0.0.1", "10.0.0.0/8"]);
        let headers = forwarded(&["198.51.100.7, unknown, 10.1.2.3"]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers, &trusted),
            ip("10.1.2.3")
        );
        let headers = forwarded(&["not an address"]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers, &trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn ipv6_peers_and_hops_with_ports() {
        let trusted = nets(&["::1", "2001:db8:ffff::/48"]);
        let headers = forwarded(&["[2001:db8:1:2::7]:51000, 2001:db8:ffff::3"]);
        assert_eq!(
            client_address(ip("::1"), &headers, &trusted),
            ip("2001:db8:1:2::7")
        );
        let headers = forwarded(&["192.0.2.1:4711"]);
        assert_eq!(
            client_address(ip("::1"), &headers, &trusted),
            ip("192.0.2.1")
        );
        // An IPv4 peer seen through a dual-stack socket is the IPv4 address.
        let trusted = nets(&["127.0.0.1"]);
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_address(ip("::ffff:127.0.0.1"), &headers, &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn cidr_blocks_and_addresses_are_read() {
        assert_eq!(
            parse_trusted_proxy("10.0.0.7/8"),
            Some(ip_net("10.0.0.0/8"))
        );
        assert_eq!(
            parse_trusted_proxy(" 192.0.2.1 "),
            Some(ip_net("192.0.2.1/32"))
        );
        assert_eq!(parse_trusted_proxy("fd00::/8"), Some(ip_net("fd00::/8")));
        assert_eq!(parse_trusted_proxy("::1"), Some(ip_net("::1/128")));
        for bad in ["", "localhost", "10.0.0.0/33", "10.0.0"] {
            assert_eq!(parse_trusted_proxy(bad), None, "{bad}");
        }
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let one = ClientAddress(ip("2001:db8:1:2:aaaa::1"));
        let other = ClientAddress(ip("2001:db8:1:2:bbbb::9"));
        assert_eq!(one.throttle_key(), "2001:db8:1:2::/64");
        assert_eq!(one.throttle_key(), other.throttle_key());
        assert_eq!(ClientAddress(ip("192.0.2.1")).throttle_key(), "192.0.2.1");
        assert_eq!(block_of(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    fn ip_net(text: &str) -> IpNet {
        text.parse().unwrap()
    }
}
