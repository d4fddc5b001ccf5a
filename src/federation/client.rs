//! The one HTTP client federation uses to fetch actors and objects and to post activities to inboxes. A peer
//! chooses the URLs relais visits, so the client is built to be pointed anywhere safely:
//!
//! - every address passes the SSRF guard (`ssrf.rs`): IP-literal hosts here, host names in the resolver,
//!   and again at each redirect, which relais follows itself (at most `federation.max_redirects`);
//! - plain `http://` only in test setups (private addresses allowed, or a host with a configured address);
//! - connect and total timeouts, and answers read in chunks and cut past `federation.max_response_kb`;
//! - no proxy from the environment, which would resolve names past the guard.
//!
//! A delivery ([`FederationClient::post_signed`]) reports the peer's status and the start of its answer
//! instead of an error for a 4xx, so the outbox can record a refusal as a refusal, not as delivered.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use http::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use url::{Host, Url};

use super::keys::ActorKey;
use super::signature::{ACTIVITY_JSON, sign_request};
use super::ssrf::{GuardedResolver, RefusedAddress, is_public};
use crate::clock::Clock;
use crate::config::FederationSettings;

/// What relais asks peers for: ActivityStreams JSON, in either of its media types.
pub const ACCEPT_ACTIVITY: &str = "application/activity+json, application/ld+json";

/// Bytes of a delivery's answer kept for the outbox's record.
pub const EXCERPT_BYTES: usize = 512;

/// Why an exchange with a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("adresse de pair invalide : {0}")]
    BadUrl(String),
    #[error("{0}")]
    Refused(String),
    #[error("le pair n'a pas répondu à temps : {0}")]
    Timeout(String),
    #[error("plus de {0} redirections")]
    TooManyRedirects(usize),
    #[error("réponse de {url} coupée : plus de {limit} octets")]
    TooLarge { url: String, limit: usize },
    #[error("{url} a répondu {status}")]
    Status { url: String, status: u16 },
    #[error("réponse de {url} illisible : {reason}")]
    BadBody { url: String, reason: String },
    #[error("échec de l'échange avec {url} : {reason}")]
    Transport { url: String, reason: String },
}

/// A fetched document.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Where it was found, after redirects.
    pub url: Url,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Fetched {
    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| ClientError::BadBody {
            url: self.url.to_string(),
            reason: e.to_string(),
        })
    }
}

/// What an inbox answered to a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub status: u16,
    /// The first [`EXCERPT_BYTES`] bytes of the answer (lossy UTF-8): a refusal's reason, usually.
    pub excerpt: String,
}

impl Delivery {
    /// 2xx: the peer took the activity.
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A redirect (deliveries follow none), or 4xx but 408 and 429: the peer refused it, and sending it
    /// again would not change that. Anything else (5xx, 408, 429) is worth another try later.
    pub fn refused(&self) -> bool {
        (300..500).contains(&self.status) && ![408, 429].contains(&self.status)
    }
}

/// The federation HTTP client (cheap to clone: the connection pool is shared).
#[derive(Debug, Clone)]
pub struct FederationClient {
    http: reqwest::Client,
    resolver: GuardedResolver,
    clock: Clock,
    allow_private: bool,
    max_response_bytes: usize,
    max_redirects: usize,
}

impl FederationClient {
    pub fn new(settings: &FederationSettings, clock: Clock) -> anyhow::Result<FederationClient> {
        let resolver =
            GuardedResolver::new(settings.allow_private_addresses, settings.resolve.clone());
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(resolver.clone()))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(settings.connect_timeout_seconds))
            .timeout(Duration::from_secs(settings.timeout_seconds))
            .user_agent(concat!("relais/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(FederationClient {
            http,
            resolver,
            clock,
            allow_private: settings.allow_private_addresses,
            max_response_bytes: settings.max_response_bytes,
            max_redirects: settings.max_redirects,
        })
    }

    /// Refuses a URL relais must not visit (the resolver checks host names when connecting).
    pub fn check_url(&self, url: &Url) -> Result<(), ClientError> {
        let bad = |why: &str| Err(ClientError::BadUrl(format!("{url} : {why}")));
        if !url.username().is_empty() || url.password().is_some() {
            return bad("identifiants dans l'adresse");
        }
        let ip: Option<IpAddr> = match url.host() {
            None => return bad("pas d'hôte"),
            Some(Host::Domain(_)) => None,
            Some(Host::Ipv4(ip)) => Some(ip.into()),
            Some(Host::Ipv6(ip)) => Some(ip.into()),
        };
        if let Some(ip) = ip
            && !self.allow_private
            && !is_public(ip)
        {
            let refused = RefusedAddress {
                host: url.host_str().unwrap_or_default().to_string(),
                address: ip.to_string(),
            };
            return Err(ClientError::Refused(refused.to_string()));
        }
        let overridden = url
            .host_str()
            .is_some_and(|host| self.resolver.overrides(host));
        match url.scheme() {
            "https" => Ok(()),
            "http" if self.allow_private || overridden => Ok(()),
            "http" => bad("http:// refusé, https:// attendu"),
            _ => bad("ni http ni https"),
        }
    }

    /// GETs an actor or an object as ActivityStreams JSON, signed by `signer` (key, key id) when given (for
    /// peers that demand signed fetches), following redirects that pass the guard. A non-2xx answer is an error.
    pub async fn fetch(
        &self,
        url: &Url,
        signer: Option<(&ActorKey, &str)>,
    ) -> Result<Fetched, ClientError> {
        let mut url = url.clone();
        let mut redirects = 0;
        loop {
            self.check_url(&url)?;
            let mut request = self.http.get(url.clone()).header(ACCEPT, ACCEPT_ACTIVITY);
            if let Some((key, key_id)) = signer {
                let headers = sign_request(&Method::GET, &url, None, key, key_id, self.clock.now())
                    .map_err(|e| transport(&url, e.to_string()))?;
                request = request.headers(headers);
            }
            let response = request.send().await.map_err(|e| failure(&url, e))?;
            let status = response.status();
            if status.is_redirection() {
                if redirects == self.max_redirects {
                    return Err(ClientError::TooManyRedirects(self.max_redirects));
                }
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .ok_or_else(|| ClientError::Status {
                        url: url.to_string(),
                        status: status.as_u16(),
                    })?;
                url = url
                    .join(location)
                    .map_err(|e| ClientError::BadUrl(format!("{location} : {e}")))?;
                redirects += 1;
                continue;
            }
            if !status.is_success() {
                return Err(ClientError::Status {
                    url: url.to_string(),
                    status: status.as_u16(),
                });
            }
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string);
            let body = read_capped(response, self.max_response_bytes, &url).await?;
            return Ok(Fetched {
                url,
                content_type,
                body,
            });
        }
    }

    /// POSTs an activity to an inbox, signed with `key` under `key_id` (draft-cavage, with `Digest`).
    /// Whatever the peer answers is returned, refusals included; only a failed exchange is an error.
    pub async fn post_signed(
        &self,
        inbox: &Url,
        body: &[u8],
        key: &ActorKey,
        key_id: &str,
    ) -> Result<Delivery, ClientError> {
        self.check_url(inbox)?;
        let headers = sign_request(
            &Method::POST,
            inbox,
            Some((ACTIVITY_JSON, body)),
            key,
            key_id,
            self.clock.now(),
        )
        .map_err(|e| transport(inbox, e.to_string()))?;
        let mut response = self
            .http
            .post(inbox.clone())
            .headers(headers)
            .header(ACCEPT, ACCEPT_ACTIVITY)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| failure(inbox, e))?;
        let status = response.status().as_u16();
        // Only the start of the answer is kept; a peer that stops sending does not hold the delivery.
        let mut start = Vec::new();
        while start.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => start.extend_from_slice(&chunk),
                _ => break,
            }
        }
        start.truncate(EXCERPT_BYTES);
        Ok(Delivery {
            status,
            excerpt: String::from_utf8_lossy(&start).into_owned(),
        })
    }
}

/// Reads an answer, refusing it as soon as it passes `limit` bytes (announced or received).
async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
    url: &Url,
) -> Result<Vec<u8>, ClientError> {
    let too_large = || ClientError::TooLarge {
        url: url.to_string(),
        limit,
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| failure(url, e))? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport(url: &Url, reason: String) -> ClientError {
    ClientError::Transport {
        url: url.to_string(),
        reason,
    }
}

/// Sorts a reqwest error: the guard's refusal (found in the error's causes), a timeout, or another failure.
fn failure(url: &Url, error: reqwest::Error) -> ClientError {
    let mut causes = Vec::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(current) = cause {
        if let Some(refused) = current.downcast_ref::<RefusedAddress>() {
            return ClientError::Refused(refused.to_string());
        }
        causes.push(current.to_string());
        cause = current.source();
    }
    if error.is_timeout() {
        return ClientError::Timeout(url.to_string());
    }
    transport(url, causes.join(" : "))
}
