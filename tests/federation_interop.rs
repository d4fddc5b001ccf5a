//! relais against an ActivityPub peer written apart from it (`tests/federation/peer.py`: Python's HTTP
//! server with apsig's HTTP Signatures): the peer follows the club's Group with a signed Follow, which relais
//! verifies; staff accept; the peer verifies relais' Accept, then the Create of a public meeting (Event) and
//! of a newsletter issue (Article) with the key it fetched from relais' actor; the peer's signed Join is
//! verified and recorded, and its Accept verified in turn. Needs `python3 -c 'import apsig'`.

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use common::federation::{free_port, post_ok};
use common::{Backend, TestApp};
use relais::domain::Role;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

/// The peer process and what it prints.
struct Peer {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// Lines read but not yet awaited: the peer prints what it receives as it comes, so a delivery may be
    /// printed before the answer to the peer's own request.
    unread: Vec<Value>,
}

impl Peer {
    async fn start(port: u16, relais_port: u16) -> Peer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/federation/peer.py");
        let mut child = tokio::process::Command::new("python3")
            .args([
                script,
                &port.to_string(),
                "club.test",
                &relais_port.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut peer = Peer {
            child,
            lines,
            unread: Vec::new(),
        };
        let ready = peer.next(|line| line["event"] == "ready").await;
        assert_eq!(ready["actor"], format!("http://peer.test:{port}/actor"));
        peer
    }

    async fn command(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    /// The next line the peer prints that `wanted` accepts (30 s at most, a liveness bound).
    async fn next(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(index) = self.unread.iter().position(&wanted) {
            return self.unread.remove(index);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .expect("the peer printed what was awaited in time")
                .unwrap()
                .expect("the peer is still running (is apsig installed? pip install apsig==0.6.0)");
            let parsed: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if wanted(&parsed) {
                return parsed;
            }
            self.unread.push(parsed);
        }
    }
}

mod an_independent_peer_follows_receives_and_joins {
    use super::*;

    async fn run(backend: Backend) {
        let (club_port, peer_port) = (free_port(), free_port());
        let club = TestApp::spawn_with(backend, |s| {
            s.server.listen = SocketAddr::from(([127, 0, 0, 1], club_port));
            s.server.public_url = format!("http://club.test:{club_port}");
            s.federation.resolve.insert(
                "peer.test".into(),
                SocketAddr::from(([127, 0, 0, 1], peer_port)),
            );
        })
        .await;
        // The peer signs with the real time; relais' clock reads the same.
        club.clock.set(chrono::Utc::now());
        let staff = club.logged_in(Role::Staff, &[]).await;
        let peer_host = format!("peer.test:{peer_port}");
        post_ok(&staff, "/reseaux/autoriser", &[("handle", &peer_host)]).await;

        let mut peer = Peer::start(peer_port, club_port).await;
        peer.command(&format!("follow club@club.test:{club_port}"))
            .await;
        let follow = peer
            .next(|l| l["event"] == "posted" && l["type"] == "Follow")
            .await;
        assert_eq!(
            follow["status"], 202,
            "relais verified the peer's Follow: {follow}"
        );
        let fetched = peer.next(|l| l["event"] == "fetched").await;
        assert_eq!(
            fetched["status"], 200,
            "a signed fetch of an allowed peer is served"
        );

        let partner = club
            .store
            .partner_by_host(&peer_host)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(partner.their_follow, "pending");
        post_ok(&staff, &format!("/reseaux/{}/accepter", partner.id), &[]).await;
        let accept = peer
            .next(|l| l["event"] == "received" && l["object_type"] == "Follow")
            .await;
        assert_eq!(accept["type"], "Accept");
        assert_eq!(accept["object_type"], "Follow");
        assert_eq!(
            accept["verified"], true,
            "apsig verified relais' Accept: {accept}"
        );

        // A public meeting and a public issue reach the peer, signed.
        post_ok(
            &staff,
            "/reunions/series",
            &[
                ("title", "Réunion du club"),
                ("rrule", "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU"),
                ("first_start", "2027-02-02T14:00"),
                ("duration_minutes", "120"),
            ],
        )
        .await;
        let meeting = club
            .store
            .meetings_from(club.clock.now_millis(), 1)
            .await
            .unwrap()[0]
            .clone();
        post_ok(
            &staff,
            "/reseaux/public",
            &[
                ("kind", "event"),
                ("id", &meeting.id.to_string()),
                ("public", "1"),
            ],
        )
        .await;
        let event = peer
            .next(|l| l["event"] == "received" && l["object_type"] == "Event")
            .await;
        assert_eq!(event["type"], "Create");
        assert_eq!(event["verified"], true, "{event}");
        assert_eq!(event["name"], "Réunion du club");
        let issue = common::newsletter::send_issue(
            &club,
            &staff,
            "Lettre de février",
            &[("practice", "Accueil en classe", "Une bonne pratique.")],
        )
        .await;
        post_ok(
            &staff,
            "/reseaux/public",
            &[
                ("kind", "article"),
                ("id", &issue.to_string()),
                ("public", "1"),
            ],
        )
        .await;
        let article = peer
            .next(|l| l["event"] == "received" && l["object_type"] == "Article")
            .await;
        assert_eq!(article["verified"], true, "{article}");
        assert_eq!(article["name"], "Lettre de février");

        // The peer joins the meeting: verified, recorded, accepted.
        let event_url = event["object_id"].as_str().unwrap().to_string();
        peer.command(&format!("join {event_url}")).await;
        let join = peer
            .next(|l| l["event"] == "posted" && l["type"] == "Join")
            .await;
        assert_eq!(join["status"], 202, "{join}");
        let accepted = peer
            .next(|l| l["event"] == "received" && l["object_type"] == "Join")
            .await;
        assert_eq!(accepted["type"], "Accept");
        assert_eq!(accepted["verified"], true, "{accepted}");
        let participants = club.store.remote_participants(meeting.id).await.unwrap();
        assert_eq!(participants.len(), 1);
        assert_eq!(participants[0].message, "Deux élus du réseau pair");

        peer.command("quit").await;
        let _ = peer.child.wait().await;
        club.stop().await;
    }

    run_on_both_databases!();
}
