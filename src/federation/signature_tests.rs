//! draft-cavage signatures as relais makes them, checked by relais' own verifier: the round trip holds, and
//! every change a forger or a broken peer could make is refused for its own reason.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{TimeDelta, TimeZone, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use url::Url;

use super::*;

const KEY_ID: &str = "https://club.test/g/club#main-key";
const BODY: &[u8] = br#"{"type":"Follow","actor":"https://club.test/g/club"}"#;

/// One key for the whole file: RSA generation is the slow part.
static KEY: LazyLock<ActorKey> = LazyLock::new(|| ActorKey::generate().unwrap());

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 21, 0, 0).unwrap()
}

fn inbox() -> Url {
    Url::parse("https://cglu.test/g/club/inbox").unwrap()
}

fn signed_post(body: &[u8]) -> HeaderMap {
    sign_request(
        &Method::POST,
        &inbox(),
        Some((ACTIVITY_JSON, body)),
        &KEY,
        KEY_ID,
        now(),
    )
    .unwrap()
}

fn received<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> IncomingRequest<'a> {
    IncomingRequest {
        method: &Method::POST,
        scheme: "https",
        path_and_query: "/g/club/inbox",
        headers,
        body,
    }
}

fn refusal(request: &IncomingRequest<'_>, at: DateTime<Utc>) -> SignatureError {
    match prepare(request, &VerifyPolicy::default(), at) {
        Ok(pending) => pending.check(&KEY.public_key()).unwrap_err(),
        Err(error) => error,
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    headers.insert(
        HeaderName::from_static(name),
        HeaderValue::from_str(value).unwrap(),
    );
}

#[test]
fn a_signed_post_carries_what_mastodon_expects_and_verifies() {
    let headers = signed_post(BODY);
    assert_eq!(headers["host"], "cglu.test");
    assert_eq!(headers["date"], "Fri, 04 Dec 2026 21:00:00 GMT");
    assert_eq!(headers["content-type"], ACTIVITY_JSON);
    assert_eq!(headers["digest"].to_str().unwrap(), digest_header(BODY));
    let signature = headers["signature"].to_str().unwrap();
    assert!(
        signature.starts_with(&format!(
            "keyId=\"{KEY_ID}\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest content-type\",signature=\""
        )),
        "{signature}"
    );
    let pending = prepare(&received(&headers, BODY), &VerifyPolicy::default(), now()).unwrap();
    assert_eq!(pending.key_id(), KEY_ID);
    assert_eq!(pending.scheme(), Scheme::Cavage);
    let verified = pending.check(&KEY.public_key()).unwrap();
    assert_eq!(verified.key_id, KEY_ID);
}

#[test]
fn a_signed_get_covers_the_request_line_host_and_date() {
    let url = Url::parse("https://cglu.test:8443/g/club?page=2").unwrap();
    let headers = sign_request(&Method::GET, &url, None, &KEY, KEY_ID, now()).unwrap();
    assert_eq!(headers["host"], "cglu.test:8443");
    assert!(!headers.contains_key("digest"));
    assert!(
        headers["signature"]
            .to_str()
            .unwrap()
            .contains("headers=\"(request-target) host date\"")
    );
    let request = IncomingRequest {
        method: &Method::GET,
        scheme: "https",
        path_and_query: "/g/club?page=2",
        headers: &headers,
        body: b"",
    };
    let pending = prepare(&request, &VerifyPolicy::default(), now()).unwrap();
    pending.check(&KEY.public_key()).unwrap();
}

#[test]
fn a_tampered_body_is_a_digest_mismatch() {
    let headers = signed_post(BODY);
    let error = refusal(&received(&headers, br#"{"type":"Delete"}"#), now());
    assert!(
        matches!(error, SignatureError::DigestMismatch(_)),
        "{error}"
    );
    assert_eq!(error.code(), "digest_mismatch");
}

#[test]
fn a_changed_header_or_target_breaks_the_signature() {
    let mut headers = signed_post(BODY);
    set(&mut headers, "content-type", "text/plain");
    let error = refusal(&received(&headers, BODY), now());
    assert_eq!(error, SignatureError::BadSignature(KEY_ID.to_string()));
    assert_eq!(
        error.to_string(),
        format!("signature invalide pour la clé {KEY_ID}")
    );

    let headers = signed_post(BODY);
    let elsewhere = IncomingRequest {
        path_and_query: "/inbox",
        ..received(&headers, BODY)
    };
    assert!(matches!(
        refusal(&elsewhere, now()),
        SignatureError::BadSignature(_)
    ));

    // A digest recomputed for a new body leaves the signature over the old digest.
    let mut headers = signed_post(BODY);
    let forged = br#"{"type":"Delete"}"#;
    set(&mut headers, "digest", &digest_header(forged));
    assert!(matches!(
        refusal(&received(&headers, forged), now()),
        SignatureError::BadSignature(_)
    ));
}

#[test]
fn another_key_does_not_verify() {
    let headers = signed_post(BODY);
    let pending = prepare(&received(&headers, BODY), &VerifyPolicy::default(), now()).unwrap();
    let other = ActorKey::generate().unwrap();
    assert!(matches!(
        pending.check(&other.public_key()),
        Err(SignatureError::BadSignature(_))
    ));
}

#[test]
fn dates_outside_the_window_are_stale() {
    let headers = signed_post(BODY);
    let request = received(&headers, BODY);
    let policy = VerifyPolicy::default();
    // Inside: 11 h after signing, or a peer 50 minutes ahead of us.
    assert!(prepare(&request, &policy, now() + TimeDelta::hours(11)).is_ok());
    assert!(prepare(&request, &policy, now() - TimeDelta::minutes(50)).is_ok());
    for at in [now() + TimeDelta::hours(13), now() - TimeDelta::hours(2)] {
        let error = refusal(&request, at);
        assert!(
            matches!(error, SignatureError::StaleDate(_)),
            "{at}: {error}"
        );
        assert!(
            error
                .to_string()
                .starts_with("date de signature hors de la fenêtre")
        );
    }
    let mut unreadable = signed_post(BODY);
    set(&mut unreadable, "date", "hier");
    assert!(matches!(
        refusal(&received(&unreadable, BODY), now()),
        SignatureError::BadSyntax(_)
    ));
}

#[test]
fn a_body_without_a_covered_digest_is_refused() {
    // Signed as a GET (no digest), then sent with a body.
    let headers = sign_request(&Method::POST, &inbox(), None, &KEY, KEY_ID, now()).unwrap();
    assert_eq!(
        refusal(&received(&headers, BODY), now()),
        SignatureError::MissingCoveredHeader("digest".to_string())
    );
    // Covered but removed on the way.
    let mut headers = signed_post(BODY);
    headers.remove("digest");
    assert_eq!(
        refusal(&received(&headers, BODY), now()),
        SignatureError::MissingCoveredHeader("digest".to_string())
    );
}

#[test]
fn signatures_that_leave_out_required_headers_are_refused() {
    for (covered, missing) in [
        ("host date digest", "(request-target)"),
        ("(request-target) date digest", "host"),
        ("(request-target) host digest", "date"),
    ] {
        let mut headers = signed_post(BODY);
        let value = headers["signature"]
            .to_str()
            .unwrap()
            .replace("(request-target) host date digest content-type", covered);
        set(&mut headers, "signature", &value);
        assert_eq!(
            refusal(&received(&headers, BODY), now()),
            SignatureError::MissingCoveredHeader(missing.to_string()),
            "{covered}"
        );
    }
}

#[test]
fn unsigned_and_unknown_schemes_are_told_apart() {
    let mut headers = signed_post(BODY);
    let value = headers.remove("signature").unwrap();
    assert_eq!(
        refusal(&received(&headers, BODY), now()),
        SignatureError::Unsigned
    );
    assert_eq!(SignatureError::Unsigned.code(), "unsigned");

    // The Authorization form some servers send is the same signature.
    let authorization = format!("Signature {}", value.to_str().unwrap());
    set(&mut headers, "authorization", &authorization);
    let pending = prepare(&received(&headers, BODY), &VerifyPolicy::default(), now()).unwrap();
    pending.check(&KEY.public_key()).unwrap();
    set(&mut headers, "authorization", "Bearer abc");
    assert_eq!(
        refusal(&received(&headers, BODY), now()),
        SignatureError::Unsigned
    );

    let mut headers = signed_post(BODY);
    let value = headers["signature"]
        .to_str()
        .unwrap()
        .replace("rsa-sha256", "hmac-sha256");
    set(&mut headers, "signature", &value);
    let error = refusal(&received(&headers, BODY), now());
    assert!(matches!(error, SignatureError::UnknownScheme(_)), "{error}");
}

#[test]
fn hs2019_with_created_and_expires_verifies_as_lemmy_signs_it() {
    // What activitypub_federation sends by default: hs2019 and the (created)/(expires) pseudo-headers.
    let mut headers = signed_post(BODY);
    let created = now().timestamp() - 10;
    let expires = created + 3600;
    let covered: Vec<String> = [
        "(request-target)",
        "(created)",
        "(expires)",
        "content-type",
        "date",
        "digest",
        "host",
    ]
    .map(String::from)
    .to_vec();
    let request = received(&headers, BODY);
    let string = cavage::signing_string(&request, &covered, Some(created), Some(expires)).unwrap();
    let signature = STANDARD.encode(KEY.sign_rsa_sha256(string.as_bytes()).unwrap());
    let value = format!(
        "keyId=\"{KEY_ID}\",algorithm=\"hs2019\",created={created},expires={expires},headers=\"{}\",signature=\"{signature}\"",
        covered.join(" ")
    );
    set(&mut headers, "signature", &value);
    let request = received(&headers, BODY);
    let pending = prepare(&request, &VerifyPolicy::default(), now()).unwrap();
    pending.check(&KEY.public_key()).unwrap();
    let error = refusal(&request, now() + TimeDelta::hours(2));
    assert!(error.to_string().contains("expirée"), "{error}");
}

#[test]
fn digests_and_dates_have_their_published_forms() {
    // RFC 9530's example: the SHA-256 of {"hello": "world"}.
    let body = br#"{"hello": "world"}"#;
    assert_eq!(
        content_digest_header(body),
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    );
    assert_eq!(
        digest_header(body),
        "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
    );
    check_digest(&digest_header(body), body).unwrap();
    assert!(check_digest("MD5=abc", body).is_err());
    let at = Utc.with_ymd_and_hms(2021, 4, 20, 2, 7, 55).unwrap();
    assert_eq!(http_date(at), "Tue, 20 Apr 2021 02:07:55 GMT");
    assert_eq!(
        parse_http_date("Tue, 20 Apr 2021 02:07:55 GMT").unwrap(),
        at
    );
}

#[tokio::test]
async fn verify_request_looks_the_key_up() {
    let headers = signed_post(BODY);
    let request = received(&headers, BODY);
    let mut keys = HashMap::new();
    let policy = VerifyPolicy::default();
    let error = verify_request(&request, &policy, now(), &keys)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("clé {KEY_ID} indisponible : clé inconnue")
    );
    keys.insert(KEY_ID.to_string(), KEY.public_key());
    let verified = verify_request(&request, &policy, now(), &keys)
        .await
        .unwrap();
    assert_eq!(verified.scheme, Scheme::Cavage);
}

#[test]
fn the_configured_window_defaults_to_the_default_policy() {
    let settings =
        crate::config::Settings::for_tests("sqlite://unused.db", std::path::Path::new("data"));
    assert_eq!(
        VerifyPolicy::from(&settings.federation),
        VerifyPolicy::default()
    );
}
