//! RFC 9421 HTTP Message Signatures on requests: `Signature-Input: sig1=("@method" "@target-uri" …);created=…;
//! keyid="…";alg="…"` names the covered components, `Signature: sig1=:…:` carries the signature of the
//! signature base built from them.
//!
//! relais accepts `rsa-v1_5-sha256`, `rsa-pss-sha512` and `ed25519` (or no `alg`, the key's type deciding),
//! and demands `@method`, the target (`@target-uri`, or `@authority` with `@path` or `@request-target`), a
//! moment (`created`, or a covered `date`) inside the window, and `content-digest` when there is a body. When
//! a request carries several signatures, the first that meets these demands is the one checked.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use url::Url;

use super::keys::{ActorKey, Algorithm};
use super::signature::{
    IncomingRequest, PendingSignature, Scheme, SignatureError, VerifyPolicy, check_expires,
    check_time, content_digest_header, hash_body, moment, parse_http_date, target_of,
};
use super::structured_fields::{
    Bare, Member, Parameters, parse_dictionary, serialize_bare, serialize_inner_list,
    serialize_parameters,
};

/// What `@query-param` values are re-encoded with: everything but RFC 3986's unreserved characters, so a
/// space is `%20` as the RFC's examples show.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One signature of a request, read but not yet judged.
#[derive(Debug)]
pub(super) struct ParsedSignature {
    pub(super) components: Vec<String>,
    pub(super) key_id: String,
    pub(super) algorithm: Option<Algorithm>,
    created: Option<i64>,
    expires: Option<i64>,
    pub(super) base: String,
    pub(super) signature: Vec<u8>,
}

/// Reads and checks the request's RFC 9421 signature (everything but the cryptography).
pub(super) fn prepare(
    request: &IncomingRequest<'_>,
    policy: &VerifyPolicy,
    now: DateTime<Utc>,
) -> Result<PendingSignature, SignatureError> {
    let mut refusal = None;
    for parsed in read_signatures(request)? {
        match judge(request, &parsed, policy, now) {
            Ok(()) => {
                return Ok(PendingSignature {
                    key_id: parsed.key_id,
                    scheme: Scheme::Rfc9421,
                    algorithm: parsed.algorithm,
                    base: parsed.base.into_bytes(),
                    signature: parsed.signature,
                });
            }
            Err(error) => {
                refusal.get_or_insert(error);
            }
        }
    }
    Err(refusal.unwrap_or_else(|| SignatureError::BadSyntax("Signature-Input vide".to_string())))
}

/// Every signature the request carries, with its signature base, in the order of `Signature-Input`.
pub(super) fn read_signatures(
    request: &IncomingRequest<'_>,
) -> Result<Vec<ParsedSignature>, SignatureError> {
    let bad = SignatureError::BadSyntax;
    let inputs = request.header("signature-input")?.unwrap_or_default();
    let inputs = parse_dictionary(&inputs).map_err(|e| bad(format!("Signature-Input : {e}")))?;
    let signatures = request
        .header("signature")?
        .ok_or_else(|| bad("Signature-Input sans en-tête Signature".to_string()))?;
    let signatures = parse_dictionary(&signatures).map_err(|e| bad(format!("Signature : {e}")))?;
    let mut parsed = Vec::new();
    for (label, member) in &inputs {
        let Member::InnerList(items, parameters) = member else {
            return Err(bad(format!("{label} : liste de composants attendue")));
        };
        let signature = match signatures.iter().find(|(other, _)| other == label) {
            Some((_, Member::Item(Bare::Bytes(bytes), _))) => bytes.clone(),
            _ => return Err(bad(format!("pas de signature {label} dans Signature"))),
        };
        let mut key_id = None;
        let (mut algorithm, mut created, mut expires) = (None, None, None);
        for (name, value) in parameters {
            match (name.as_str(), value) {
                ("keyid", Bare::String(id)) => key_id = Some(id.clone()),
                ("alg", Bare::String(alg)) => {
                    algorithm = Some(Algorithm::from_rfc9421(alg).ok_or_else(|| {
                        SignatureError::UnknownScheme(format!(
                            "algorithme « {alg} » (rsa-v1_5-sha256, rsa-pss-sha512 ou ed25519 attendu)"
                        ))
                    })?)
                }
                ("created", Bare::Integer(at)) => created = Some(*at),
                ("expires", Bare::Integer(at)) => expires = Some(*at),
                ("keyid" | "alg" | "created" | "expires", _) => {
                    return Err(bad(format!("{label} : paramètre {name} mal typé")));
                }
                // nonce and tag are the application's business; relais deduplicates activity ids instead.
                _ => {}
            }
        }
        let key_id = key_id.ok_or_else(|| bad(format!("{label} : keyid manquant")))?;
        let mut components = Vec::new();
        for (item, _) in items {
            let Bare::String(name) = item else {
                return Err(bad(format!("{label} : composant non chaîne")));
            };
            components.push(name.clone());
        }
        let base = signature_base(request, items, parameters)?;
        parsed.push(ParsedSignature {
            components,
            key_id,
            algorithm,
            created,
            expires,
            base,
            signature,
        });
    }
    Ok(parsed)
}

/// relais' demands on a signature (see the module doc).
fn judge(
    request: &IncomingRequest<'_>,
    parsed: &ParsedSignature,
    policy: &VerifyPolicy,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let covers = |name: &str| parsed.components.iter().any(|c| c == name);
    let missing = |name: &str| Err(SignatureError::MissingCoveredHeader(name.to_string()));
    if !covers("@method") {
        return missing("@method");
    }
    let target = covers("@authority") && (covers("@path") || covers("@request-target"));
    if !covers("@target-uri") && !target {
        return missing("@target-uri");
    }
    if !request.body.is_empty() && !covers("content-digest") {
        return missing("content-digest");
    }
    if covers("date") {
        let date = request.header("date")?.unwrap_or_default();
        check_time(parse_http_date(&date)?, "Date", policy, now)?;
    }
    match parsed.created {
        Some(created) => check_time(moment(created, "created")?, "created", policy, now)?,
        None if covers("date") => {}
        None => return missing("created"),
    }
    if let Some(expires) = parsed.expires {
        check_expires(expires, now)?;
    }
    if covers("content-digest") {
        let value = request.header("content-digest")?.unwrap_or_default();
        check_content_digest(&value, request.body)?;
    }
    Ok(())
}

/// Checks `Content-Digest` (`sha-256=:…:, sha-512=:…:`) against the body: every algorithm relais knows must
/// match, and at least one must be there.
pub(super) fn check_content_digest(value: &str, body: &[u8]) -> Result<(), SignatureError> {
    let members = parse_dictionary(value)
        .map_err(|e| SignatureError::BadSyntax(format!("Content-Digest : {e}")))?;
    let mut checked = 0;
    for (algorithm, member) in members {
        let Some(expected) = hash_body(&algorithm, body) else {
            continue;
        };
        let Member::Item(Bare::Bytes(given), _) = member else {
            return Err(SignatureError::BadSyntax(format!(
                "Content-Digest {algorithm} : octets attendus"
            )));
        };
        if given != expected {
            return Err(SignatureError::DigestMismatch(format!(
                "Content-Digest {algorithm}"
            )));
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(SignatureError::DigestMismatch(
            "aucun algorithme connu (sha-256 ou sha-512) dans Content-Digest".to_string(),
        ));
    }
    Ok(())
}

/// The signature base: one `"component": value` line per covered component, then `"@signature-params"`.
fn signature_base(
    request: &IncomingRequest<'_>,
    items: &[(Bare, Parameters)],
    parameters: &Parameters,
) -> Result<String, SignatureError> {
    let mut lines: Vec<String> = Vec::with_capacity(items.len() + 1);
    let mut identifiers: Vec<String> = Vec::with_capacity(items.len());
    for (item, item_parameters) in items {
        let Bare::String(name) = item else {
            return Err(SignatureError::BadSyntax(
                "composant non chaîne".to_string(),
            ));
        };
        let identifier = serialize_bare(item) + &serialize_parameters(item_parameters);
        if identifiers.contains(&identifier) {
            return Err(SignatureError::BadSyntax(format!(
                "composant {identifier} répété"
            )));
        }
        let value = component_value(request, name, item_parameters)?;
        lines.push(format!("{identifier}: {value}"));
        identifiers.push(identifier);
    }
    lines.push(format!(
        "\"@signature-params\": {}",
        serialize_inner_list(items, parameters)
    ));
    Ok(lines.join("\n"))
}

/// The value of one covered component.
fn component_value(
    request: &IncomingRequest<'_>,
    name: &str,
    parameters: &Parameters,
) -> Result<String, SignatureError> {
    let unsupported = || {
        Err(SignatureError::UnknownScheme(format!(
            "composant {name}{} non pris en charge",
            serialize_parameters(parameters)
        )))
    };
    let takes_name = name == "@query-param";
    if parameters.len() != usize::from(takes_name) {
        return unsupported();
    }
    let authority = || -> Result<String, SignatureError> {
        Ok(request
            .header("host")?
            .ok_or_else(|| SignatureError::MissingCoveredHeader("host".to_string()))?
            .to_ascii_lowercase())
    };
    Ok(match name {
        "@method" => request.method.as_str().to_string(),
        "@authority" => authority()?,
        "@scheme" => request.scheme.to_ascii_lowercase(),
        "@target-uri" => format!(
            "{}://{}{}",
            request.scheme.to_ascii_lowercase(),
            authority()?,
            request.path_and_query
        ),
        "@request-target" => request.path_and_query.to_string(),
        "@path" if request.path().is_empty() => "/".to_string(),
        "@path" => request.path().to_string(),
        "@query" => format!("?{}", request.query().unwrap_or_default()),
        "@query-param" => query_parameter(request, &parameters[0])?,
        _ if name.starts_with('@') => return unsupported(),
        _ if name != name.to_ascii_lowercase() => {
            return Err(SignatureError::BadSyntax(format!(
                "composant {name} en majuscules"
            )));
        }
        header => request
            .header(header)?
            .ok_or_else(|| SignatureError::MissingCoveredHeader(header.to_string()))?,
    })
}

/// `@query-param;name="…"`: the one value of that query parameter, decoded then re-encoded.
fn query_parameter(
    request: &IncomingRequest<'_>,
    (key, value): &(String, Bare),
) -> Result<String, SignatureError> {
    let (true, Bare::String(encoded)) = (key == "name", value) else {
        return Err(SignatureError::BadSyntax(
            "@query-param sans paramètre name".to_string(),
        ));
    };
    let wanted = percent_decode_str(encoded).decode_utf8_lossy();
    let query = request.query().unwrap_or_default();
    let values: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| *name == wanted)
        .map(|(_, value)| utf8_percent_encode(&value, QUERY_VALUE).to_string())
        .collect();
    match values.as_slice() {
        [value] => Ok(value.clone()),
        [] => Err(SignatureError::MissingCoveredHeader(format!(
            "@query-param {encoded}"
        ))),
        _ => Err(SignatureError::BadSyntax(format!(
            "paramètre de requête {encoded} répété"
        ))),
    }
}

/// Signs an outgoing request the RFC 9421 way (`rsa-v1_5-sha256` over `@method @target-uri date`, and
/// `content-digest content-type` for a body), label `sig1`: returns the headers to send. For peers that
/// prefer RFC 9421; Mastodon and Mobilizon get [`super::signature::sign_request`]'s draft-cavage form.
pub fn sign_request(
    method: &Method,
    url: &Url,
    body: Option<(&str, &[u8])>,
    key: &ActorKey,
    key_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<HeaderMap> {
    let mut headers = super::signature::unsigned_headers(
        url,
        now,
        body,
        "content-digest",
        content_digest_header,
    )?;
    let mut components = vec!["@method", "@target-uri", "date"];
    if body.is_some() {
        components.extend(["content-digest", "content-type"]);
    }
    let items: Vec<(Bare, Parameters)> = components
        .into_iter()
        .map(|name| (Bare::String(name.to_string()), Vec::new()))
        .collect();
    let parameters: Parameters = vec![
        ("created".to_string(), Bare::Integer(now.timestamp())),
        ("keyid".to_string(), Bare::String(key_id.to_string())),
        (
            "alg".to_string(),
            Bare::String("rsa-v1_5-sha256".to_string()),
        ),
    ];
    let target = target_of(url);
    let request = IncomingRequest {
        method,
        scheme: url.scheme(),
        path_and_query: &target,
        headers: &headers,
        body: body.map(|(_, bytes)| bytes).unwrap_or_default(),
    };
    let base = signature_base(&request, &items, &parameters)?;
    let signature = STANDARD.encode(key.sign_rsa_sha256(base.as_bytes())?);
    let input = format!("sig1={}", serialize_inner_list(&items, &parameters));
    headers.insert(
        HeaderName::from_static("signature-input"),
        HeaderValue::from_str(&input)?,
    );
    headers.insert(
        HeaderName::from_static("signature"),
        HeaderValue::from_str(&format!("sig1=:{signature}:"))?,
    );
    Ok(headers)
}

#[cfg(test)]
#[path = "rfc9421_vectors.rs"]
mod vectors;
