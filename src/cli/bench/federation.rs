//! `relais bench federation`: one public meeting's `Create(Event)` delivered to N partner inboxes (200 by
//! default) on a loopback receiver that checks every HTTP Signature with the key it fetched once from the
//! club's Group actor, as a partner does; then the reverse, signed activities posted by one partner to
//! relais' inbox, each through the whole gate (signature, allow-list, key, replay record, effect).
//!
//! Each partner is its own host (`peerN.bench`, resolved to the receiver by `federation.resolve`), so each
//! delivery is one row of the durable outbox, as in production. Printed: deliveries per second and the p50
//! and p99 of the time from the start of delivery to each verified receipt; activities verified per second
//! at the inbox with their p50/p99; and OpenSSL's own RSA-2048 rates on this machine beside them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use clap::Args;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::harness::openssl_baseline;
use crate::app::Application;
use crate::clock::Clock;
use crate::config::Settings;
use crate::federation::keys::{ActorKey, PublicKey};
use crate::federation::objects::{self, EventSource};
use crate::federation::signature::{
    ACTIVITY_JSON, IncomingRequest, VerifyPolicy, prepare, sign_request,
};
use crate::federation::urls::Urls;
use crate::federation::{Federation, activities};

#[derive(Args, Debug)]
pub struct FederationArgs {
    /// Database: empty for a SQLite file in a temporary folder, or a postgres:// URL of an EMPTY database.
    #[arg(long, default_value = "")]
    pub database_url: String,
    /// Partner inboxes the event is delivered to.
    #[arg(long, default_value_t = 200)]
    pub inboxes: usize,
    /// Signed activities posted to relais' inbox.
    #[arg(long, default_value_t = 2_000)]
    pub activities: usize,
    /// Requests in flight at once to relais' inbox.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
}

/// The loopback receiver: the club's public key once fetched, and when each verified delivery arrived.
struct Receiver {
    club_key: Mutex<Option<PublicKey>>,
    started: Instant,
    receipts: Mutex<Vec<Duration>>,
    refused: Mutex<Vec<String>>,
    peer_actor: serde_json::Value,
}

pub async fn federation(args: FederationArgs) -> anyhow::Result<()> {
    let (dir, url) = super::workspace(&args.database_url)?;
    let club_port = free_port()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_port = listener.local_addr()?.port();
    let mut settings = Settings::for_tests(&url, dir.path());
    settings.server.listen = SocketAddr::from(([127, 0, 0, 1], club_port));
    settings.server.public_url = format!("http://club.bench:{club_port}");
    settings.federation.inbox_per_minute = u32::MAX;
    let receiver_address = SocketAddr::from(([127, 0, 0, 1], receiver_port));
    let mut resolve = BTreeMap::new();
    resolve.insert("peer.bench".to_string(), receiver_address);
    for n in 0..args.inboxes {
        resolve.insert(format!("peer{n}.bench"), receiver_address);
    }
    settings.federation.resolve = resolve;
    settings.inbound.lmtp_listen = None;
    let clock = Clock::system();
    let app = Application::build(settings.clone(), clock.clone()).await?;
    let store = app.store();
    let settings = Arc::new(settings);
    let federation = Federation::new(store.clone(), settings.clone(), clock.clone()).await?;

    // The peer's key, for the second half; its actor is served by the receiver.
    let peer_key = ActorKey::generate()?;
    let peer_actor_url = format!("http://peer.bench:{receiver_port}/actor");
    let receiver = Arc::new(Receiver {
        club_key: Mutex::new(None),
        started: Instant::now(),
        receipts: Mutex::new(Vec::new()),
        refused: Mutex::new(Vec::new()),
        peer_actor: json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "type": "Group", "id": peer_actor_url, "name": "Partenaire de mesure",
            "inbox": format!("http://peer.bench:{receiver_port}/inbox/peer"),
            "publicKey": {"id": format!("{peer_actor_url}#main-key"), "owner": peer_actor_url,
                          "publicKeyPem": peer_key.public_pem()},
        }),
    });
    let router = Router::new()
        .route(
            "/actor",
            get(|State(r): State<Arc<Receiver>>| async move { axum::Json(r.peer_actor.clone()) }),
        )
        .route("/inbox/{n}", post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let stop = CancellationToken::new();
    let served = tokio::spawn(app.run_until_stopped(stop.clone()));
    super::harness::wait_for_port(club_port).await?;

    // The receiver fetches the club's Group once, as a partner caches it.
    let club_actor: serde_json::Value = reqwest::Client::builder()
        .resolve("club.bench", SocketAddr::from(([127, 0, 0, 1], club_port)))
        .build()?
        .get(format!("http://club.bench:{club_port}/g/club"))
        .send()
        .await?
        .json()
        .await?;
    let pem = club_actor["publicKey"]["publicKeyPem"]
        .as_str()
        .unwrap_or_default();
    *receiver.club_key.lock().unwrap() =
        Some(PublicKey::from_pem(pem).map_err(anyhow::Error::msg)?);

    // N partners that follow the club, each its own host and inbox.
    let now = clock.now_millis();
    for n in 0..args.inboxes {
        let host = format!("peer{n}.bench:{receiver_port}");
        let id = store
            .allow_partner(
                &host,
                &format!("Partenaire {n}"),
                &format!("http://{host}/actor"),
                &format!("http://{host}/inbox/{n}"),
                now,
            )
            .await?;
        store
            .set_their_follow(id, "accepted", "", &format!("http://{host}/actor"), "")
            .await?;
    }
    println!(
        "relais bench federation: {} inboxes on one loopback receiver (verifying), database {}",
        args.inboxes,
        store.backend_name()
    );
    openssl_baseline().await;

    // Half one: one Event to every follower's inbox.
    let urls = Urls::new(&settings.server.public_url, &settings.federation.group_name)?;
    let event = objects::event(
        &urls,
        &EventSource {
            uuid: uuid::Uuid::new_v4().to_string(),
            title: "Réunion du Club des collectivités engagées".into(),
            starts_at: now + 7 * 86_400_000,
            ends_at: now + 7 * 86_400_000 + 7_200_000,
            video_url: "https://visio.example/club".into(),
            agenda: vec![("Tour de table".into(), "".into(), "".into()); 5],
            sheets: vec![],
            participant_count: 0,
            published_at: now,
            updated_at: now,
        },
    );
    let activity = activities::about_object(&urls, "Create", &event, "bench");
    // The running instance's federation job delivers (woken by the queueing), as in production.
    let started = Instant::now();
    let queued = federation.send_to_followers(&activity, "Mesure").await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while receiver.receipts.lock().unwrap().len() + receiver.refused.lock().unwrap().len()
        < queued as usize
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut receipts = receiver.receipts.lock().unwrap().clone();
    receipts.sort();
    let elapsed = receipts
        .last()
        .map(|last| last.saturating_sub(started.duration_since(receiver.started)))
        .unwrap_or_default();
    let refused = receiver.refused.lock().unwrap().clone();
    println!(
        "delivery: {queued} queued, {} verified by the receiver, {} refused, in {:.2} s: {:.0} deliveries/s; time to verified receipt p50 {:.1} ms, p99 {:.1} ms",
        receipts.len(),
        refused.len(),
        elapsed.as_secs_f64(),
        receipts.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        percentile(&receipts, 50, receiver.started, started),
        percentile(&receipts, 99, receiver.started, started),
    );
    if let Some(first) = refused.first() {
        println!("first refusal: {first}");
    }

    // Half two: signed activities from one partner to relais' inbox.
    let peer_host = format!("peer.bench:{receiver_port}");
    store
        .allow_partner(&peer_host, "Partenaire de mesure", &peer_actor_url, "", now)
        .await?;
    let client = reqwest::Client::builder()
        .resolve("club.bench", SocketAddr::from(([127, 0, 0, 1], club_port)))
        .pool_max_idle_per_host(args.connections)
        .build()?;
    let inbox = Url::parse(&format!("http://club.bench:{club_port}/inbox"))?;
    let bodies: Vec<String> = (0..args.activities)
        .map(|n| {
            json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "type": "Create",
                "id": format!("http://{peer_host}/activities/{n}"),
                "actor": peer_actor_url,
                "object": {"type": "Article", "id": format!("http://{peer_host}/articles/{n}"),
                           "attributedTo": peer_actor_url, "name": format!("Article {n}"),
                           "content": "<p>Une expérience à partager entre réseaux.</p>"},
            })
            .to_string()
        })
        .collect();
    // The first one alone: relais fetches the partner's actor and keeps its key.
    post_one(
        &client,
        &inbox,
        &bodies[0],
        &peer_key,
        &format!("{peer_actor_url}#main-key"),
        &clock,
    )
    .await?;
    let key_id = format!("{peer_actor_url}#main-key");
    let started = Instant::now();
    let mut latencies: Vec<Duration> =
        futures::StreamExt::collect::<Vec<_>>(futures::StreamExt::buffer_unordered(
            futures::stream::iter(bodies[1..].iter().map(|body| {
                let (client, inbox, key, key_id, clock) =
                    (&client, &inbox, &peer_key, &key_id, &clock);
                async move {
                    let sent = Instant::now();
                    post_one(client, inbox, body, key, key_id, clock)
                        .await
                        .map(|_| sent.elapsed())
                }
            })),
            args.connections,
        ))
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    let elapsed = started.elapsed();
    latencies.sort();
    let verified = latencies.len();
    println!(
        "inbox: {verified} signed activities verified and applied in {:.2} s with {} in flight: {:.0} activities/s; p50 {:.1} ms, p99 {:.1} ms",
        elapsed.as_secs_f64(),
        args.connections,
        verified as f64 / elapsed.as_secs_f64(),
        millis(&latencies, 50),
        millis(&latencies, 99),
    );
    let kept = store.remote_objects("article", 1_000_000).await?.len();
    println!("inbox: {kept} articles kept (one per activity)");

    stop.cancel();
    let _ = served.await;
    drop(dir);
    Ok(())
}

/// Posts one signed activity; an answer other than 202 is an error.
async fn post_one(
    client: &reqwest::Client,
    inbox: &Url,
    body: &str,
    key: &ActorKey,
    key_id: &str,
    clock: &Clock,
) -> anyhow::Result<()> {
    let headers = sign_request(
        &Method::POST,
        inbox,
        Some((ACTIVITY_JSON, body.as_bytes())),
        key,
        key_id,
        clock.now(),
    )?;
    let response = client
        .post(inbox.clone())
        .headers(headers)
        .body(body.to_string())
        .send()
        .await?;
    let status = response.status();
    if status != StatusCode::ACCEPTED {
        anyhow::bail!(
            "relais answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

/// The receiver's inbox: checks the signature with the club's key, then records the moment.
async fn receive(
    State(receiver): State<Arc<Receiver>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = uri.0.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let request = IncomingRequest {
        method: &method,
        scheme: "http",
        path_and_query: path,
        headers: &headers,
        body: &body,
    };
    let key = receiver.club_key.lock().unwrap().clone();
    let verified = match (
        prepare(&request, &VerifyPolicy::default(), chrono::Utc::now()),
        key,
    ) {
        (Ok(pending), Some(key)) => pending.check(&key).map_err(|e| e.to_string()),
        (Err(error), _) => Err(error.to_string()),
        (_, None) => Err("clé du club inconnue".to_string()),
    };
    match verified {
        Ok(_) => {
            receiver
                .receipts
                .lock()
                .unwrap()
                .push(receiver.started.elapsed());
            StatusCode::ACCEPTED
        }
        Err(error) => {
            receiver.refused.lock().unwrap().push(error);
            StatusCode::UNAUTHORIZED
        }
    }
}

/// The `p`th percentile of receipt moments, in milliseconds since `from`.
fn percentile(sorted: &[Duration], p: usize, origin: Instant, from: Instant) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let offset = from.duration_since(origin);
    let index = ((sorted.len() * p).div_ceil(100)).clamp(1, sorted.len()) - 1;
    sorted[index].saturating_sub(offset).as_secs_f64() * 1000.0
}

fn millis(sorted: &[Duration], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() * p).div_ceil(100)).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
