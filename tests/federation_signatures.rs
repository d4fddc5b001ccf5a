//! relais' HTTP Signatures against apsig (PyPI), an ActivityPub signature library written apart from relais:
//! what relais signs, apsig verifies; what apsig signs, relais verifies, in draft-cavage form and in RFC 9421
//! form. Needs `python3 -c 'import apsig'` (`pip install apsig==0.6.0`; `.ci/run` installs it).

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::{Value, json};
use url::Url;

use relais::federation::keys::ActorKey;
use relais::federation::signature::{
    ACTIVITY_JSON, IncomingRequest, Scheme, SignatureError, VerifyPolicy, prepare, sign_request,
};

const KEY_ID: &str = "https://club.test/g/club#main-key";
const INBOX: &str = "https://cglu.test/g/club/inbox";
const BODY: &[u8] = br#"{"@context":"https://www.w3.org/ns/activitystreams","type":"Follow","actor":"https://club.test/g/club","object":"https://cglu.test/g/club"}"#;

/// Runs `tests/federation/apsig_check.py COMMAND` with `input`; its JSON answer and whether it exited 0.
fn apsig(command: &str, input: Value) -> (Value, bool) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/federation/apsig_check.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'apsig'"),
        "apsig is missing: pip install apsig==0.6.0 (.ci/run installs it)"
    );
    let answer = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("apsig_check.py {command} answered no JSON:\n{stderr}"));
    (answer, output.status.success())
}

fn headers_as_json(headers: &HeaderMap) -> Value {
    let fields: HashMap<&str, &str> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.to_str().unwrap()))
        .collect();
    json!(fields)
}

fn headers_from_json(fields: &Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in fields.as_object().expect("a JSON object of headers") {
        headers.append(
            HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap(),
            HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
        );
    }
    headers
}

fn request<'a>(
    method: &'a Method,
    path: &'a str,
    headers: &'a HeaderMap,
    body: &'a [u8],
) -> IncomingRequest<'a> {
    IncomingRequest {
        method,
        scheme: "https",
        path_and_query: path,
        headers,
        body,
    }
}

#[test]
fn apsig_verifies_what_relais_signs() {
    let key = ActorKey::generate().unwrap();
    let inbox = Url::parse(INBOX).unwrap();
    let signed = sign_request(
        &Method::POST,
        &inbox,
        Some((ACTIVITY_JSON, BODY)),
        &key,
        KEY_ID,
        Utc::now(),
    )
    .unwrap();
    let check = |body: &[u8], public_pem: String| {
        apsig(
            "verify-draft",
            json!({
                "method": "POST",
                "url": INBOX,
                "headers": headers_as_json(&signed),
                "body_b64": STANDARD.encode(body),
                "public_pem": public_pem,
            }),
        )
    };
    let (answer, valid) = check(BODY, key.public_pem());
    assert!(valid, "apsig refused relais' signature: {answer}");
    assert_eq!(answer["key_id"], KEY_ID);

    // apsig's refusals show its check is real: another body, another key.
    let (answer, valid) = check(br#"{"type":"Delete"}"#, key.public_pem());
    assert!(!valid, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("Digest"),
        "{answer}"
    );
    let other = ActorKey::generate().unwrap();
    let (answer, valid) = check(BODY, other.public_pem());
    assert!(!valid, "{answer}");

    // A signed fetch (GET, no body) too.
    let actor = Url::parse("https://cglu.test/g/club").unwrap();
    let signed = sign_request(&Method::GET, &actor, None, &key, KEY_ID, Utc::now()).unwrap();
    let (answer, valid) = apsig(
        "verify-draft",
        json!({
            "method": "GET",
            "url": actor.as_str(),
            "headers": headers_as_json(&signed),
            "body_b64": "",
            "public_pem": key.public_pem(),
        }),
    );
    assert!(valid, "apsig refused relais' signed GET: {answer}");
}

#[test]
fn relais_verifies_what_apsig_signs_the_draft_way() {
    let key = ActorKey::generate().unwrap();
    let (answer, _) = apsig(
        "sign-draft",
        json!({
            "method": "POST",
            "url": INBOX,
            "headers": {"content-type": ACTIVITY_JSON},
            "body_b64": STANDARD.encode(BODY),
            "private_pem": key.private_pem(),
            "key_id": KEY_ID,
        }),
    );
    let headers = headers_from_json(&answer);
    assert!(
        headers["signature"]
            .to_str()
            .unwrap()
            .contains("algorithm=\"rsa-sha256\""),
        "{answer}"
    );
    let received = request(&Method::POST, "/g/club/inbox", &headers, BODY);
    let pending = prepare(&received, &VerifyPolicy::default(), Utc::now()).unwrap();
    assert_eq!(pending.key_id(), KEY_ID);
    assert_eq!(pending.scheme(), Scheme::Cavage);
    pending.check(&key.public_key()).unwrap();

    let tampered = request(&Method::POST, "/g/club/inbox", &headers, b"{}");
    assert!(matches!(
        prepare(&tampered, &VerifyPolicy::default(), Utc::now()),
        Err(SignatureError::DigestMismatch(_))
    ));
}

/// apsig's RFC 9421 signer, for a request to `path` on cglu.test.
fn apsig_rfc9421(key: &ActorKey, method: &str, path: &str, body: &[u8]) -> HeaderMap {
    let (answer, _) = apsig(
        "sign-rfc9421",
        json!({
            "method": method,
            "path": path,
            "host": "cglu.test",
            "headers": {"content-type": ACTIVITY_JSON},
            "body_b64": STANDARD.encode(body),
            "private_pem": key.private_pem(),
            "key_id": KEY_ID,
        }),
    );
    let mut headers = headers_from_json(&answer);
    // apsig signs `@authority` but leaves the Host header to the HTTP client, as any client sends it.
    headers.insert(http::header::HOST, HeaderValue::from_static("cglu.test"));
    headers
}

#[test]
fn relais_verifies_an_rfc9421_fetch_apsig_signs() {
    let key = ActorKey::generate().unwrap();
    let headers = apsig_rfc9421(&key, "GET", "/g/club", b"");
    assert!(headers.contains_key("signature-input"), "{headers:?}");
    let received = request(&Method::GET, "/g/club", &headers, b"");
    let pending = prepare(&received, &VerifyPolicy::default(), Utc::now()).unwrap();
    assert_eq!(pending.key_id(), KEY_ID);
    assert_eq!(pending.scheme(), Scheme::Rfc9421);
    pending.clone().check(&key.public_key()).unwrap();
    let other = ActorKey::generate().unwrap();
    assert!(matches!(
        pending.check(&other.public_key()),
        Err(SignatureError::BadSignature(_))
    ));
}

#[test]
fn an_rfc9421_post_from_apsig_is_refused_for_leaving_its_body_uncovered() {
    // apsig 0.6.0 covers date, @method, @path, @authority, content-type and content-length, not
    // content-digest, so its body could be swapped: relais answers 401, and a double-knocking peer retries
    // the draft way (which apsig signs with a Digest, verified above).
    let key = ActorKey::generate().unwrap();
    let headers = apsig_rfc9421(&key, "POST", "/g/club/inbox", BODY);
    let received = request(&Method::POST, "/g/club/inbox", &headers, BODY);
    assert_eq!(
        prepare(&received, &VerifyPolicy::default(), Utc::now()).unwrap_err(),
        SignatureError::MissingCoveredHeader("content-digest".to_string())
    );
}
