//! The federation HTTP client against a small peer on 127.0.0.1:0: the SSRF guard refuses loopback unless
//! configured (directly, by name, or at the end of a redirect), answers past the size cap are cut, and a
//! signed delivery is verified by relais' own verifier on the other side, which answers refusals as 401.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::json;
use url::Url;

use relais::clock::Clock;
use relais::config::FederationSettings;
use relais::federation::client::{ACCEPT_ACTIVITY, ClientError, FederationClient};
use relais::federation::keys::{ActorKey, PublicKey};
use relais::federation::signature::{IncomingRequest, VerifyPolicy, verify_request};

const KEY_ID: &str = "https://club.test/g/club#main-key";
const LIMIT: usize = 1024 * 1024;

#[derive(Clone)]
struct Peer {
    port: u16,
    hits: Arc<AtomicUsize>,
    keys: Arc<HashMap<String, PublicKey>>,
}

async fn actor(State(peer): State<Peer>, headers: HeaderMap) -> Response {
    peer.hits.fetch_add(1, Ordering::SeqCst);
    if headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) != Some(ACCEPT_ACTIVITY) {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    let body = json!({"type": "Group", "id": "https://cglu.test/g/club"}).to_string();
    ([(header::CONTENT_TYPE, "application/activity+json")], body).into_response()
}

/// `/hop/{n}` redirects to `/hop/{n-1}`; `/hop/0` is the actor.
async fn hop(State(peer): State<Peer>, Path(n): Path<u32>, headers: HeaderMap) -> Response {
    if n == 0 {
        return actor(State(peer), headers).await;
    }
    Redirect::to(&format!("/hop/{}", n - 1)).into_response()
}

async fn inbox(
    State(peer): State<Peer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let request = IncomingRequest {
        method: &method,
        scheme: "http",
        path_and_query: uri.path_and_query().map_or("/", |p| p.as_str()),
        headers: &headers,
        body: &body,
    };
    match verify_request(&request, &VerifyPolicy::default(), Utc::now(), &*peer.keys).await {
        Ok(verified) => (
            StatusCode::ACCEPTED,
            json!({"signed_by": verified.key_id}).to_string(),
        ),
        Err(error) => (
            StatusCode::UNAUTHORIZED,
            json!({"error": error.to_string(), "code": error.code()}).to_string(),
        ),
    }
}

/// A peer on 127.0.0.1 that trusts `keys`.
async fn spawn_peer(keys: HashMap<String, PublicKey>) -> Peer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peer = Peer {
        port: listener.local_addr().unwrap().port(),
        hits: Arc::new(AtomicUsize::new(0)),
        keys: Arc::new(keys),
    };
    let port = peer.port;
    let app = Router::new()
        .route("/actor", get(actor))
        .route("/hop/{n}", get(hop))
        .route(
            "/to-loopback",
            get(move || async move { Redirect::to(&format!("http://127.0.0.1:{port}/actor")) }),
        )
        .route(
            "/to-localhost",
            get(move || async move { Redirect::to(&format!("https://localhost:{port}/actor")) }),
        )
        .route("/big", get(|| async { vec![b'x'; 2 * LIMIT] }))
        .route(
            "/stream",
            get(|| async {
                // Chunked, with no Content-Length: only counting the bytes as they come can stop it.
                let chunks =
                    (0..64).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 64 * 1024])));
                Body::from_stream(futures::stream::iter(chunks))
            }),
        )
        .route("/inbox", post(inbox))
        .route("/moved", post(|| async { Redirect::permanent("/inbox") }))
        .with_state(peer.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    peer
}

/// The built-in `[federation]` settings.
fn defaults() -> FederationSettings {
    relais::config::Settings::for_tests("sqlite://unused", std::path::Path::new(".")).federation
}

fn client(allow_private: bool, resolve: &[(&str, SocketAddr)]) -> FederationClient {
    let settings = FederationSettings {
        allow_private_addresses: allow_private,
        resolve: resolve
            .iter()
            .map(|(host, address)| (host.to_string(), *address))
            .collect::<BTreeMap<_, _>>(),
        connect_timeout_seconds: 2,
        timeout_seconds: 10,
        max_response_bytes: LIMIT,
        max_redirects: 3,
        signature_max_age_minutes: 720,
        signature_max_future_minutes: 60,
        ..defaults()
    };
    FederationClient::new(&settings, Clock::system()).unwrap()
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn assert_refused(result: Result<impl std::fmt::Debug, ClientError>, what: &str) {
    match result {
        Err(ClientError::Refused(message)) => {
            assert!(message.contains("refusée"), "{what}: {message}")
        }
        other => panic!("{what}: expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn loopback_is_refused_by_default_and_allowed_when_configured() {
    let peer = spawn_peer(HashMap::new()).await;
    let port = peer.port;
    let guarded = client(false, &[]);
    assert_refused(
        guarded
            .fetch(&url(&format!("http://127.0.0.1:{port}/actor")), None)
            .await,
        "IPv4 literal",
    );
    assert_refused(
        guarded
            .fetch(&url(&format!("https://[::1]:{port}/actor")), None)
            .await,
        "IPv6 literal",
    );
    assert_refused(
        guarded
            .fetch(&url(&format!("https://localhost:{port}/actor")), None)
            .await,
        "a name for loopback",
    );
    assert_refused(
        guarded.fetch(&url("https://10.0.0.1/actor"), None).await,
        "a private address",
    );
    assert!(matches!(
        guarded.fetch(&url("http://cglu.example/actor"), None).await,
        Err(ClientError::BadUrl(_))
    ));
    assert_eq!(
        peer.hits.load(Ordering::SeqCst),
        0,
        "nothing reached the peer"
    );

    let open = client(true, &[]);
    let fetched = open
        .fetch(&url(&format!("http://127.0.0.1:{port}/actor")), None)
        .await
        .unwrap();
    assert_eq!(fetched.json().unwrap()["type"], "Group");
    assert_eq!(
        fetched.content_type.as_deref(),
        Some("application/activity+json")
    );
}

#[tokio::test]
async fn redirects_are_checked_again_and_counted() {
    let peer = spawn_peer(HashMap::new()).await;
    let origin: SocketAddr = ([127, 0, 0, 1], peer.port).into();
    // origin.test is the administrator's own mapping to loopback; where it redirects is not.
    let guarded = client(false, &[("origin.test", origin)]);
    let fetched = guarded
        .fetch(&url("http://origin.test/actor"), None)
        .await
        .unwrap();
    assert_eq!(fetched.json().unwrap()["type"], "Group");
    assert_refused(
        guarded
            .fetch(&url("http://origin.test/to-loopback"), None)
            .await,
        "to 127.0.0.1",
    );
    assert_refused(
        guarded
            .fetch(&url("http://origin.test/to-localhost"), None)
            .await,
        "to localhost",
    );

    let fetched = guarded
        .fetch(&url("http://origin.test/hop/3"), None)
        .await
        .unwrap();
    assert_eq!(fetched.url.path(), "/hop/0");
    assert!(matches!(
        guarded.fetch(&url("http://origin.test/hop/4"), None).await,
        Err(ClientError::TooManyRedirects(3))
    ));
}

#[tokio::test]
async fn answers_past_the_cap_are_cut_with_a_clear_error() {
    let peer = spawn_peer(HashMap::new()).await;
    let open = client(true, &[]);
    for path in ["big", "stream"] {
        let error = open
            .fetch(
                &url(&format!("http://127.0.0.1:{}/{path}", peer.port)),
                None,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(error, ClientError::TooLarge { limit: LIMIT, .. }),
            "{path}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("coupée : plus de 1048576 octets"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_signed_delivery_is_verified_by_the_peer_and_refusals_are_reported() {
    let key = ActorKey::generate().unwrap();
    let peer = spawn_peer(HashMap::from([(KEY_ID.to_string(), key.public_key())])).await;
    let cglu: SocketAddr = ([127, 0, 0, 1], peer.port).into();
    // The peer answers to its own name, on loopback, without a port in the URL.
    let client = client(false, &[("cglu.test", cglu)]);
    let inbox = url("http://cglu.test/inbox");
    let body = br#"{"type":"Follow","actor":"https://club.test/g/club"}"#;

    let delivery = client
        .post_signed(&inbox, body, &key, KEY_ID)
        .await
        .unwrap();
    assert_eq!(delivery.status, 202, "{}", delivery.excerpt);
    assert!(delivery.accepted());
    assert!(delivery.excerpt.contains(KEY_ID), "{}", delivery.excerpt);

    let impostor = ActorKey::generate().unwrap();
    let delivery = client
        .post_signed(&inbox, body, &impostor, KEY_ID)
        .await
        .unwrap();
    assert_eq!(delivery.status, 401);
    assert!(delivery.refused() && !delivery.accepted());
    assert!(
        delivery.excerpt.contains("signature invalide"),
        "{}",
        delivery.excerpt
    );

    let delivery = client
        .post_signed(&inbox, body, &key, "https://club.test/other#main-key")
        .await
        .unwrap();
    assert_eq!(delivery.status, 401);
    assert!(
        delivery.excerpt.contains("key_unavailable"),
        "{}",
        delivery.excerpt
    );

    // A delivery follows no redirect: the signature names the inbox it was made for.
    let moved = url("http://cglu.test/moved");
    let delivery = client
        .post_signed(&moved, body, &key, KEY_ID)
        .await
        .unwrap();
    assert_eq!(delivery.status, 308);
    assert!(delivery.refused());
}

#[tokio::test]
async fn a_silent_peer_times_out() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut settings = FederationSettings {
        allow_private_addresses: true,
        resolve: BTreeMap::new(),
        connect_timeout_seconds: 1,
        timeout_seconds: 1,
        max_response_bytes: LIMIT,
        max_redirects: 0,
        signature_max_age_minutes: 720,
        signature_max_future_minutes: 60,
        ..defaults()
    };
    let silent = FederationClient::new(&settings, Clock::system()).unwrap();
    let started = std::time::Instant::now();
    let error = silent
        .fetch(&url(&format!("http://127.0.0.1:{port}/actor")), None)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Timeout(_)), "{error:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // And no redirect at all when none is allowed.
    let peer = spawn_peer(HashMap::new()).await;
    settings.timeout_seconds = 10;
    let strict = FederationClient::new(&settings, Clock::system()).unwrap();
    assert!(matches!(
        strict
            .fetch(&url(&format!("http://127.0.0.1:{}/hop/1", peer.port)), None)
            .await,
        Err(ClientError::TooManyRedirects(0))
    ));
}
