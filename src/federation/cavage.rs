//! draft-cavage-http-signatures-12, the form most of the fediverse signs in:
//! `Signature: keyId="…",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="…"`.
//!
//! The signing string is one `name: value` line per covered header, in the order listed; the pseudo-headers
//! are `(request-target)` (`post /inbox`), and `(created)`/`(expires)` (the parameters of the same names,
//! which `hs2019` signers such as Lemmy's add). relais demands `(request-target)`, `host` and `date`, and
//! `digest` when there is a body, as Mastodon does.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use super::keys::Algorithm;
use super::signature::{
    IncomingRequest, PendingSignature, Scheme, SignatureError, VerifyPolicy, check_digest,
    check_expires, check_time, moment, parse_http_date,
};

/// The parameters of a draft-cavage `Signature` header.
#[derive(Debug, Default, PartialEq, Eq)]
struct CavageParameters {
    key_id: String,
    algorithm: Option<String>,
    headers: Vec<String>,
    signature: Vec<u8>,
    created: Option<i64>,
    expires: Option<i64>,
}

/// Reads `name="value",name=value,…` (quoted values hold no quotes in this draft).
fn parse(value: &str) -> Result<CavageParameters, SignatureError> {
    let bad = |why: String| SignatureError::BadSyntax(why);
    let mut found: Vec<(String, String)> = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('=')
            .ok_or_else(|| bad(format!("paramètre sans valeur : « {rest} »")))?;
        let name = name.trim().to_string();
        let after = after.trim_start();
        let (text, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| bad(format!("guillemet non fermé après {name}")))?;
            let remaining = quoted[end + 1..].trim_start();
            (quoted[..end].to_string(), remaining)
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        if found.iter().any(|(seen, _)| *seen == name) {
            return Err(bad(format!("paramètre {name} répété")));
        }
        found.push((name, text));
        rest = match remaining.strip_prefix(',') {
            Some(next) => next.trim_start(),
            None if remaining.is_empty() => remaining,
            None => return Err(bad(format!("virgule attendue avant « {remaining} »"))),
        };
    }
    let mut parameters = CavageParameters {
        // Without `headers`, the draft signs the date alone; that fails relais' demands below.
        headers: vec!["date".to_string()],
        ..CavageParameters::default()
    };
    let integer = |name: &str, text: &str| {
        text.parse::<i64>()
            .map_err(|_| bad(format!("{name} n'est pas un entier : « {text} »")))
    };
    let mut has_signature = false;
    for (name, text) in found {
        match name.as_str() {
            "keyId" => parameters.key_id = text,
            "algorithm" => parameters.algorithm = Some(text.to_ascii_lowercase()),
            "headers" => {
                parameters.headers = text
                    .split_ascii_whitespace()
                    .map(|h| h.to_ascii_lowercase())
                    .collect()
            }
            "signature" => {
                parameters.signature = STANDARD
                    .decode(text.trim())
                    .map_err(|_| bad("signature non base64".to_string()))?;
                has_signature = true;
            }
            "created" => parameters.created = Some(integer("created", &text)?),
            "expires" => parameters.expires = Some(integer("expires", &text)?),
            // Unknown parameters are ignored, as the draft says.
            _ => {}
        }
    }
    if parameters.key_id.is_empty() {
        return Err(bad("keyId manquant".to_string()));
    }
    if !has_signature {
        return Err(bad("paramètre signature manquant".to_string()));
    }
    Ok(parameters)
}

/// The signing string over `covered`, in that order.
pub(super) fn signing_string(
    request: &IncomingRequest<'_>,
    covered: &[String],
    created: Option<i64>,
    expires: Option<i64>,
) -> Result<String, SignatureError> {
    let mut lines = Vec::with_capacity(covered.len());
    for name in covered {
        let value = match name.as_str() {
            "(request-target)" => format!(
                "{} {}",
                request.method.as_str().to_ascii_lowercase(),
                request.path_and_query
            ),
            "(created)" => created
                .ok_or_else(|| SignatureError::BadSyntax("(created) sans created".to_string()))?
                .to_string(),
            "(expires)" => expires
                .ok_or_else(|| SignatureError::BadSyntax("(expires) sans expires".to_string()))?
                .to_string(),
            header => request
                .header(header)?
                .ok_or_else(|| SignatureError::MissingCoveredHeader(header.to_string()))?,
        };
        lines.push(format!("{name}: {value}"));
    }
    Ok(lines.join("\n"))
}

/// Reads and checks a draft-cavage signature (everything but the cryptography).
pub(super) fn prepare(
    request: &IncomingRequest<'_>,
    value: &str,
    policy: &VerifyPolicy,
    now: DateTime<Utc>,
) -> Result<PendingSignature, SignatureError> {
    let parameters = parse(value)?;
    let algorithm = match parameters.algorithm.as_deref() {
        Some("rsa-sha256") => Some(Algorithm::RsaSha256),
        // hs2019 (and no algorithm at all) leaves the choice to the key's type.
        Some("hs2019") | None => None,
        Some(other) => {
            return Err(SignatureError::UnknownScheme(format!(
                "algorithme « {other} » (rsa-sha256 ou hs2019 attendu)"
            )));
        }
    };
    let covers = |name: &str| parameters.headers.iter().any(|h| h == name);
    let mut required = vec!["(request-target)", "host", "date"];
    if !request.body.is_empty() {
        required.push("digest");
    }
    if let Some(missing) = required.into_iter().find(|name| !covers(name)) {
        return Err(SignatureError::MissingCoveredHeader(missing.to_string()));
    }

    let date = request
        .header("date")?
        .ok_or_else(|| SignatureError::MissingCoveredHeader("date".to_string()))?;
    check_time(parse_http_date(&date)?, "Date", policy, now)?;
    if let Some(created) = parameters.created {
        check_time(moment(created, "created")?, "created", policy, now)?;
    }
    if let Some(expires) = parameters.expires {
        check_expires(expires, now)?;
    }
    if covers("digest") {
        let digest = request
            .header("digest")?
            .ok_or_else(|| SignatureError::MissingCoveredHeader("digest".to_string()))?;
        check_digest(&digest, request.body)?;
    }

    let base = signing_string(
        request,
        &parameters.headers,
        parameters.created,
        parameters.expires,
    )?;
    Ok(PendingSignature {
        key_id: parameters.key_id,
        scheme: Scheme::Cavage,
        algorithm,
        base: base.into_bytes(),
        signature: parameters.signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_read_in_any_order_with_unquoted_numbers() {
        let parameters = parse(
            "signature=\"AAEC\", headers=\"(request-target) (created) Host\",keyId=\"https://a.example/actor#main-key\",algorithm=\"hs2019\",created=1618884473",
        )
        .unwrap();
        assert_eq!(parameters.key_id, "https://a.example/actor#main-key");
        assert_eq!(parameters.algorithm.as_deref(), Some("hs2019"));
        assert_eq!(
            parameters.headers,
            ["(request-target)", "(created)", "host"]
        );
        assert_eq!(parameters.signature, [0, 1, 2]);
        assert_eq!(parameters.created, Some(1618884473));
    }

    #[test]
    fn malformed_parameters_are_bad_syntax() {
        for value in [
            "keyId=\"k\",signature=\"AAEC",
            "keyId=\"k\" signature=\"AAEC\"",
            "keyId=\"k\",keyId=\"j\",signature=\"AAEC\"",
            "keyId=\"k\",signature=\"***\"",
            "signature=\"AAEC\"",
            "keyId=\"k\"",
            "keyId=\"k\",signature=\"AAEC\",created=soon",
            "nonsense",
        ] {
            assert!(
                matches!(parse(value), Err(SignatureError::BadSyntax(_))),
                "{value}: {:?}",
                parse(value)
            );
        }
    }
}
