//! HTTP Signatures on federation requests: relais signs what it sends the way Mastodon and Mobilizon expect
//! (draft-cavage-http-signatures-12, RSA-SHA256, with `Digest`), and checks what it receives in either that
//! form or RFC 9421's (`Signature-Input` + `Signature`), so peers that sign the new way first (Fedify's
//! "double-knocking") are understood instead of being sent back to the old way.
//!
//! Checking a request is two steps. [`prepare`] reads the signature and enforces what relais demands before
//! any key is fetched: the request line, host and date are covered, the date is within the window, a body
//! is covered by a digest that matches it. It returns the key id to look up; the caller fetches that actor's
//! key (and checks that the key's owner is the activity's actor), then [`PendingSignature::check`] does the
//! cryptography. [`verify_request`] chains both with a [`KeyLookup`].
//!
//! Errors are [`SignatureError`], whose French `Display` the inbox returns with its 401, and whose
//! [`SignatureError::code`] is stable for logs and tests.

use std::collections::HashMap;
use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use sha2::{Digest as _, Sha256, Sha512};
use url::Url;

use super::keys::{ActorKey, Algorithm, PublicKey};
use super::{cavage, rfc9421};
use crate::config::FederationSettings;

/// The media type of ActivityPub bodies.
pub const ACTIVITY_JSON: &str = "application/activity+json";

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("requête non signée : ni en-tête Signature ni Signature-Input")]
    Unsigned,
    #[error("signature d'un type non pris en charge : {0}")]
    UnknownScheme(String),
    #[error("en-tête de signature illisible : {0}")]
    BadSyntax(String),
    #[error("date de signature hors de la fenêtre acceptée : {0}")]
    StaleDate(String),
    #[error("l'empreinte du corps ne correspond pas au corps reçu : {0}")]
    DigestMismatch(String),
    #[error("la signature doit couvrir « {0} », présent dans la requête")]
    MissingCoveredHeader(String),
    #[error("signature invalide pour la clé {0}")]
    BadSignature(String),
    #[error("clé {key_id} indisponible : {reason}")]
    KeyUnavailable { key_id: String, reason: String },
}

impl SignatureError {
    /// A stable code for the JSON answer and the logs.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Unsigned => "unsigned",
            SignatureError::UnknownScheme(_) => "unknown_scheme",
            SignatureError::BadSyntax(_) => "bad_syntax",
            SignatureError::StaleDate(_) => "stale_date",
            SignatureError::DigestMismatch(_) => "digest_mismatch",
            SignatureError::MissingCoveredHeader(_) => "missing_covered_header",
            SignatureError::BadSignature(_) => "bad_signature",
            SignatureError::KeyUnavailable { .. } => "key_unavailable",
        }
    }
}

/// Which specification a request was signed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// draft-cavage-http-signatures-12 (`Signature: keyId=…,headers=…,signature=…`).
    Cavage,
    /// RFC 9421 HTTP Message Signatures (`Signature-Input` + `Signature`).
    Rfc9421,
}

/// How far a signature's date may stray from the receiver's clock.
///
/// The defaults are Mastodon's (`EXPIRATION_WINDOW_LIMIT` 12 h behind, `CLOCK_SKEW_MARGIN` 1 h ahead): a peer
/// whose requests Mastodon accepts is not refused here for its clock or its queue's delay. The replay a wide
/// window allows is the inbox's to stop: it records activity ids and ignores one seen before (issue 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// The oldest signature accepted.
    pub max_age: TimeDelta,
    /// How far in the future a signature may be dated (the peer's clock running ahead).
    pub max_future: TimeDelta,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        VerifyPolicy {
            max_age: TimeDelta::hours(12),
            max_future: TimeDelta::hours(1),
        }
    }
}

impl From<&FederationSettings> for VerifyPolicy {
    fn from(settings: &FederationSettings) -> Self {
        VerifyPolicy {
            max_age: TimeDelta::minutes(settings.signature_max_age_minutes),
            max_future: TimeDelta::minutes(settings.signature_max_future_minutes),
        }
    }
}

/// A received request, as the verifier needs it.
#[derive(Debug, Clone, Copy)]
pub struct IncomingRequest<'a> {
    pub method: &'a Method,
    /// The scheme of the instance's public URL (`https` behind a proxy), for RFC 9421's `@target-uri`.
    pub scheme: &'a str,
    /// The path and query as received (`/inbox`, `/actor?page=2`).
    pub path_and_query: &'a str,
    /// The headers, `Host` included (an HTTP/2 caller copies the URI's authority there).
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl IncomingRequest<'_> {
    /// A header's field lines, each trimmed, joined by ", " (what both specifications sign); `None` when absent.
    pub(super) fn header(&self, name: &str) -> Result<Option<String>, SignatureError> {
        let mut lines = Vec::new();
        for value in self.headers.get_all(name) {
            let text = value
                .to_str()
                .map_err(|_| SignatureError::BadSyntax(format!("en-tête {name} non ASCII")))?;
            lines.push(text.trim());
        }
        Ok((!lines.is_empty()).then(|| lines.join(", ")))
    }

    /// The path, without the query.
    pub(super) fn path(&self) -> &str {
        self.path_and_query.split('?').next().unwrap_or_default()
    }

    /// The query, without its `?` (`None` when the target has none).
    pub(super) fn query(&self) -> Option<&str> {
        self.path_and_query.split_once('?').map(|(_, query)| query)
    }
}

/// A signature that passed every check but the cryptographic one: the caller looks its key up.
#[derive(Debug, Clone)]
pub struct PendingSignature {
    pub(super) key_id: String,
    pub(super) scheme: Scheme,
    /// `None` when the signature names no algorithm and the key's type decides.
    pub(super) algorithm: Option<Algorithm>,
    /// The signing string (draft-cavage) or signature base (RFC 9421).
    pub(super) base: Vec<u8>,
    pub(super) signature: Vec<u8>,
}

/// A request whose signature holds: `key_id` signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub key_id: String,
    pub scheme: Scheme,
}

impl PendingSignature {
    /// The key to look up (an actor's `publicKey.id`, e.g. `https://host/g/club#main-key`).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Checks the signature with the key found for [`key_id`](Self::key_id).
    pub fn check(self, key: &PublicKey) -> Result<Verified, SignatureError> {
        let algorithms = match self.algorithm {
            Some(algorithm) => vec![algorithm],
            None => key.algorithms().to_vec(),
        };
        if algorithms
            .iter()
            .any(|algorithm| key.verify(*algorithm, &self.base, &self.signature))
        {
            Ok(Verified {
                key_id: self.key_id,
                scheme: self.scheme,
            })
        } else {
            Err(SignatureError::BadSignature(self.key_id))
        }
    }
}

/// Finds the public key a signature names. The inbox's lookup fetches the actor (through the guarded
/// client) and refuses a key whose owner is not the activity's actor.
pub trait KeyLookup {
    /// The key with this id, or why there is none (in French).
    fn public_key(&self, key_id: &str) -> impl Future<Output = Result<PublicKey, String>> + Send;
}

/// Known keys by id: tests, and callers that already hold the keys they trust.
impl KeyLookup for HashMap<String, PublicKey> {
    fn public_key(&self, key_id: &str) -> impl Future<Output = Result<PublicKey, String>> + Send {
        let found = self
            .get(key_id)
            .cloned()
            .ok_or_else(|| "clé inconnue".to_string());
        std::future::ready(found)
    }
}

/// Reads a request's signature and checks everything but the cryptography (see the module doc).
pub fn prepare(
    request: &IncomingRequest<'_>,
    policy: &VerifyPolicy,
    now: DateTime<Utc>,
) -> Result<PendingSignature, SignatureError> {
    if request.headers.contains_key("signature-input") {
        return rfc9421::prepare(request, policy, now);
    }
    if let Some(value) = request.header("signature")? {
        return cavage::prepare(request, &value, policy, now);
    }
    match request.header("authorization")? {
        Some(value) if value.starts_with("Signature ") => {
            cavage::prepare(request, &value["Signature ".len()..], policy, now)
        }
        _ => Err(SignatureError::Unsigned),
    }
}

/// Checks a request's signature completely: [`prepare`], the key lookup, then [`PendingSignature::check`].
pub async fn verify_request<L: KeyLookup>(
    request: &IncomingRequest<'_>,
    policy: &VerifyPolicy,
    now: DateTime<Utc>,
    keys: &L,
) -> Result<Verified, SignatureError> {
    let pending = prepare(request, policy, now)?;
    let key = keys.public_key(pending.key_id()).await.map_err(|reason| {
        SignatureError::KeyUnavailable {
            key_id: pending.key_id().to_string(),
            reason,
        }
    })?;
    pending.check(&key)
}

/// The headers both signing forms send before their signature: `Host`, `Date`, and for a body its digest
/// (in the header `digest_name`, valued by `digest`) and its `Content-Type`.
pub(super) fn unsigned_headers(
    url: &Url,
    now: DateTime<Utc>,
    body: Option<(&str, &[u8])>,
    digest_name: &'static str,
    digest: fn(&[u8]) -> String,
) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::HOST, HeaderValue::from_str(&host_of(url)?)?);
    headers.insert(http::header::DATE, HeaderValue::from_str(&http_date(now))?);
    if let Some((content_type, bytes)) = body {
        headers.insert(
            HeaderName::from_static(digest_name),
            HeaderValue::from_str(&digest(bytes))?,
        );
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_str(content_type)?,
        );
    }
    Ok(headers)
}

/// Signs an outgoing request the draft-cavage way Mastodon and Mobilizon check: returns the headers to send
/// (`Host`, `Date`, for a body `Digest` and `Content-Type`, and `Signature`). A body is signed over
/// `(request-target) host date digest content-type`, a GET over `(request-target) host date`.
pub fn sign_request(
    method: &Method,
    url: &Url,
    body: Option<(&str, &[u8])>,
    key: &ActorKey,
    key_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<HeaderMap> {
    let mut headers = unsigned_headers(url, now, body, "digest", digest_header)?;
    let mut covered = vec!["(request-target)", "host", "date"];
    if body.is_some() {
        covered.extend(["digest", "content-type"]);
    }
    let covered: Vec<String> = covered.into_iter().map(String::from).collect();
    let target = target_of(url);
    let request = IncomingRequest {
        method,
        scheme: url.scheme(),
        path_and_query: &target,
        headers: &headers,
        body: body.map(|(_, bytes)| bytes).unwrap_or_default(),
    };
    let signing_string = cavage::signing_string(&request, &covered, None, None)?;
    let signature = STANDARD.encode(key.sign_rsa_sha256(signing_string.as_bytes())?);
    let value = format!(
        "keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"{}\",signature=\"{signature}\"",
        covered.join(" ")
    );
    headers.insert(
        HeaderName::from_static("signature"),
        HeaderValue::from_str(&value)?,
    );
    Ok(headers)
}

/// `Host` for a URL: the host, with the port only when it is not the scheme's own.
pub(super) fn host_of(url: &Url) -> anyhow::Result<String> {
    let host = url
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("{url} n'a pas d'hôte"))?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// The path and query of a URL, as the request line carries them.
pub(super) fn target_of(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }
}

/// `Digest: SHA-256=<base64>` (RFC 3230), which draft-cavage signers cover.
pub fn digest_header(body: &[u8]) -> String {
    format!("SHA-256={}", STANDARD.encode(Sha256::digest(body)))
}

/// `Content-Digest: sha-256=:<base64>:` (RFC 9530), which RFC 9421 signers cover.
pub fn content_digest_header(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

/// The body's hash under a digest algorithm name (either spelling), if relais knows the algorithm.
pub(super) fn hash_body(algorithm: &str, body: &[u8]) -> Option<Vec<u8>> {
    match algorithm.to_ascii_lowercase().as_str() {
        "sha-256" => Some(Sha256::digest(body).to_vec()),
        "sha-512" => Some(Sha512::digest(body).to_vec()),
        _ => None,
    }
}

/// Checks a `Digest` header (`SHA-256=…`, possibly several comma-separated) against the body: every
/// algorithm relais knows must match, and at least one must be there.
pub(super) fn check_digest(value: &str, body: &[u8]) -> Result<(), SignatureError> {
    let mut checked = 0;
    for part in value.split(',') {
        let (algorithm, encoded) = part.trim().split_once('=').ok_or_else(|| {
            SignatureError::BadSyntax(format!("Digest « {part} » sans algorithme"))
        })?;
        let Some(expected) = hash_body(algorithm, body) else {
            continue;
        };
        let given = STANDARD
            .decode(encoded.trim())
            .map_err(|_| SignatureError::BadSyntax(format!("Digest {algorithm} non base64")))?;
        if given != expected {
            return Err(SignatureError::DigestMismatch(format!(
                "Digest {algorithm}"
            )));
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(SignatureError::DigestMismatch(
            "aucun algorithme connu (SHA-256 ou SHA-512) dans Digest".to_string(),
        ));
    }
    Ok(())
}

/// An HTTP date in IMF-fixdate form (`Tue, 20 Apr 2021 02:07:55 GMT`).
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Reads an HTTP date (IMF-fixdate, which RFC 2822 parsing covers).
pub(super) fn parse_http_date(text: &str) -> Result<DateTime<Utc>, SignatureError> {
    DateTime::parse_from_rfc2822(text.trim())
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| SignatureError::BadSyntax(format!("date illisible : « {text} »")))
}

/// Refuses a signing moment outside the policy's window around `now`.
pub(super) fn check_time(
    at: DateTime<Utc>,
    what: &str,
    policy: &VerifyPolicy,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    if at < now - policy.max_age {
        return Err(SignatureError::StaleDate(format!(
            "{what} {} trop ancienne (au plus {} min)",
            http_date(at),
            policy.max_age.num_minutes()
        )));
    }
    if at > now + policy.max_future {
        return Err(SignatureError::StaleDate(format!(
            "{what} {} dans le futur (au plus {} min d'avance)",
            http_date(at),
            policy.max_future.num_minutes()
        )));
    }
    Ok(())
}

/// Refuses a signature whose `expires` moment (Unix seconds) has passed.
pub(super) fn check_expires(expires: i64, now: DateTime<Utc>) -> Result<(), SignatureError> {
    if expires < now.timestamp() {
        let at = DateTime::from_timestamp(expires, 0).unwrap_or_default();
        return Err(SignatureError::StaleDate(format!(
            "signature expirée depuis {}",
            http_date(at)
        )));
    }
    Ok(())
}

/// A Unix timestamp as a moment, refused when out of range.
pub(super) fn moment(seconds: i64, what: &str) -> Result<DateTime<Utc>, SignatureError> {
    DateTime::from_timestamp(seconds, 0)
        .ok_or_else(|| SignatureError::BadSyntax(format!("{what} hors limites")))
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
