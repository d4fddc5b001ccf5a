//! RFC 9421's own examples (Section 3.2, Appendix B.2 and B.4), with the RFC's keys (B.1.2 `test-key-rsa-pss`,
//! B.1.4 `test-key-ed25519`): each signature verifies over the signature base relais builds, and relais'
//! demands then accept or refuse the request for the reason the test names. The RFC's moment
//! (`created=1618884473`) stands for "now".

use chrono::DateTime;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::super::keys::{ActorKey, Algorithm, PublicKey};
use super::super::signature::{
    ACTIVITY_JSON, IncomingRequest, SignatureError, VerifyPolicy, prepare,
};
use super::{read_signatures, sign_request};

const TEST_KEY_RSA_PSS: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----
";

const TEST_KEY_ED25519: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----
";

const CONTENT_DIGEST: &str = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";
const BODY: &[u8] = br#"{"hello": "world"}"#;
const CREATED: i64 = 1618884473;

fn now() -> chrono::DateTime<chrono::Utc> {
    DateTime::from_timestamp(CREATED, 0).unwrap()
}

fn headers(fields: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

/// The `test-request` of Appendix B.2, with one signature's two fields.
fn test_request(input: &str, signature: &str) -> HeaderMap {
    headers(&[
        ("host", "example.com"),
        ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
        ("content-type", "application/json"),
        ("content-digest", CONTENT_DIGEST),
        ("content-length", "18"),
        ("signature-input", input),
        ("signature", signature),
    ])
}

fn post<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> IncomingRequest<'a> {
    IncomingRequest {
        method: &Method::POST,
        scheme: "https",
        path_and_query: "/foo?param=Value&Pet=dog",
        headers,
        body,
    }
}

fn rsa_pss() -> PublicKey {
    PublicKey::from_pem(TEST_KEY_RSA_PSS).unwrap()
}

fn ed25519() -> PublicKey {
    PublicKey::from_pem(TEST_KEY_ED25519).unwrap()
}

/// The one signature of `request`, checked with `key` under `algorithm` with no demand of relais'.
fn holds(request: &IncomingRequest<'_>, key: &PublicKey, algorithm: Algorithm) -> String {
    let [parsed] = read_signatures(request).unwrap().try_into().unwrap();
    assert!(
        key.verify(algorithm, parsed.base.as_bytes(), &parsed.signature),
        "the RFC's signature does not verify over:\n{}",
        parsed.base
    );
    parsed.base
}

const B21_INPUT: &str =
    r#"sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd""#;
const B21_SIGNATURE: &str = "sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:";

#[test]
fn b21_minimal_rsa_pss_verifies_but_covers_too_little_for_an_inbox() {
    let fields = test_request(B21_INPUT, B21_SIGNATURE);
    let request = post(&fields, BODY);
    let base = holds(&request, &rsa_pss(), Algorithm::RsaPssSha512);
    assert_eq!(
        base,
        r#""@signature-params": ();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd""#
    );
    assert_eq!(
        prepare(&request, &VerifyPolicy::default(), now()).unwrap_err(),
        SignatureError::MissingCoveredHeader("@method".to_string())
    );
}

#[test]
fn b22_selective_components_with_a_query_parameter_verify() {
    let fields = test_request(
        r#"sig-b22=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example""#,
        "sig-b22=:LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtjvuJyE5qH7KT8UCMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTlaqwZVtR8NV7+4UKkjqpcAoFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVkSFsURIjYErOs0tFTQosMTAoxk//0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==:",
    );
    let request = post(&fields, BODY);
    let base = holds(&request, &rsa_pss(), Algorithm::RsaPssSha512);
    assert!(
        base.contains("\n\"@query-param\";name=\"Pet\": dog\n"),
        "{base}"
    );
    assert_eq!(
        prepare(&request, &VerifyPolicy::default(), now()).unwrap_err(),
        SignatureError::MissingCoveredHeader("@method".to_string())
    );
}

const B23_INPUT: &str = r#"sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss""#;
const B23_SIGNATURE: &str = "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:";

#[test]
fn b23_full_coverage_passes_every_demand_and_verifies() {
    let fields = test_request(B23_INPUT, B23_SIGNATURE);
    let request = post(&fields, BODY);
    let base = holds(&request, &rsa_pss(), Algorithm::RsaPssSha512);
    assert!(
        base.starts_with(
            "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\"@method\": POST\n\"@path\": /foo\n\"@query\": ?param=Value&Pet=dog\n"
        ),
        "{base}"
    );
    let pending = prepare(&request, &VerifyPolicy::default(), now()).unwrap();
    assert_eq!(pending.key_id(), "test-key-rsa-pss");
    pending.check(&rsa_pss()).unwrap();

    // The same request a day later, with another body, or checked with another key, is refused.
    let later = now() + chrono::TimeDelta::days(1);
    assert!(matches!(
        prepare(&request, &VerifyPolicy::default(), later),
        Err(SignatureError::StaleDate(_))
    ));
    let tampered = post(&fields, br#"{"hello": "there"}"#);
    assert!(matches!(
        prepare(&tampered, &VerifyPolicy::default(), now()),
        Err(SignatureError::DigestMismatch(_))
    ));
    let pending = prepare(&request, &VerifyPolicy::default(), now()).unwrap();
    assert_eq!(
        pending.check(&ed25519()).unwrap_err(),
        SignatureError::BadSignature("test-key-rsa-pss".to_string())
    );
}

#[test]
fn section_3_2_example_verifies() {
    let fields = test_request(
        r#"sig1=("@method" "@authority" "@path" "content-digest" "content-length" "content-type");created=1618884473;keyid="test-key-rsa-pss""#,
        "sig1=:HIbjHC5rS0BYaa9v4QfD4193TORw7u9edguPh0AW3dMq9WImrlFrCGUDih47vAxi4L2YRZ3XMJc1uOKk/J0ZmZ+wcta4nKIgBkKq0rM9hs3CQyxXGxHLMCy8uqK488o+9jrptQ+xFPHK7a9sRL1IXNaagCNN3ZxJsYapFj+JXbmaI5rtAdSfSvzPuBCh+ARHBmWuNo1UzVVdHXrl8ePL4cccqlazIJdC4QEjrF+Sn4IxBQzTZsL9y9TP5FsZYzHvDqbInkTNigBcE9cKOYNFCn4D/WM7F6TNuZO9EgtzepLWcjTymlHzK7aXq6Am6sfOrpIC49yXjj3ae6HRalVc/g==:",
    );
    let request = post(&fields, BODY);
    let pending = prepare(&request, &VerifyPolicy::default(), now()).unwrap();
    pending.check(&rsa_pss()).unwrap();
}

#[test]
fn b26_ed25519_verifies_but_leaves_the_body_uncovered() {
    let fields = test_request(
        r#"sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#,
        "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:",
    );
    let request = post(&fields, BODY);
    holds(&request, &ed25519(), Algorithm::Ed25519);
    assert_eq!(
        prepare(&request, &VerifyPolicy::default(), now()).unwrap_err(),
        SignatureError::MissingCoveredHeader("content-digest".to_string())
    );
}

#[test]
fn b4_ed25519_get_verifies_and_a_changed_method_does_not() {
    let fields = headers(&[
        ("host", "example.org"),
        ("date", "Fri, 15 Jul 2022 14:24:55 GMT"),
        ("accept", "application/json"),
        ("accept", "*/*"),
        (
            "signature-input",
            r#"transform=("@method" "@path" "@authority" "accept");created=1618884473;keyid="test-key-ed25519""#,
        ),
        (
            "signature",
            "transform=:ZT1kooQsEHpZ0I1IjCqtQppOmIqlJPeo7DHR3SoMn0s5JZ1eRGS0A+vyYP9t/LXlh5QMFFQ6cpLt2m0pmj3NDA==:",
        ),
    ]);
    let get = IncomingRequest {
        method: &Method::GET,
        scheme: "https",
        path_and_query: "/demo?name1=Value1&Name2=value2",
        headers: &fields,
        body: b"",
    };
    let pending = prepare(&get, &VerifyPolicy::default(), now()).unwrap();
    assert_eq!(pending.key_id(), "test-key-ed25519");
    pending.check(&ed25519()).unwrap();

    let post = IncomingRequest {
        method: &Method::POST,
        ..get
    };
    let pending = prepare(&post, &VerifyPolicy::default(), now()).unwrap();
    assert!(matches!(
        pending.check(&ed25519()),
        Err(SignatureError::BadSignature(_))
    ));
}

#[test]
fn relais_own_rfc9421_signature_round_trips() {
    let key = ActorKey::generate().unwrap();
    let url = url::Url::parse("https://cglu.test/g/club/inbox").unwrap();
    let body = br#"{"type":"Follow"}"#;
    let signed = sign_request(
        &Method::POST,
        &url,
        Some((ACTIVITY_JSON, body)),
        &key,
        "https://club.test/g/club#main-key",
        now(),
    )
    .unwrap();
    let request = IncomingRequest {
        method: &Method::POST,
        scheme: "https",
        path_and_query: "/g/club/inbox",
        headers: &signed,
        body,
    };
    let pending = prepare(&request, &VerifyPolicy::default(), now()).unwrap();
    assert_eq!(pending.key_id(), "https://club.test/g/club#main-key");
    pending.clone().check(&key.public_key()).unwrap();
    let other = ActorKey::generate().unwrap();
    assert!(matches!(
        pending.check(&other.public_key()),
        Err(SignatureError::BadSignature(_))
    ));
    let elsewhere = IncomingRequest {
        path_and_query: "/inbox",
        ..request
    };
    let pending = prepare(&elsewhere, &VerifyPolicy::default(), now()).unwrap();
    assert!(pending.check(&key.public_key()).is_err());
}
