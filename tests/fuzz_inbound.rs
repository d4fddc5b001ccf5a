//! Bounded random input against the receiving side, over the real socket: a few hundred sessions of junk
//! and half-valid commands, then a few hundred mutated messages (byte flips, cuts, repeats of a DSN, a
//! calendar reply, an abuse report and a list post) to every kind of address. Relais must answer or close,
//! keep serving, and give every stored recipient an outcome. The generator is seeded, so a failure replays.

mod common;

use std::time::Duration;

use common::{Backend, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// xorshift64*: small, seeded, good enough to shake a parser.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Sends `bytes` and reads what comes back for a moment; the server may answer or close.
async fn exchange(app: &TestApp, bytes: &[u8]) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(app.lmtp).await.unwrap();
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    out
}

const VERBS: &[&str] = &[
    "LHLO x",
    "EHLO x",
    "HELO x",
    "MAIL FROM:<a@b.example>",
    "MAIL FROM:<>",
    "RCPT TO:<club@romeurope.example>",
    "RCPT TO:<echanges@romeurope.example>",
    "RCPT TO:<lettre-join@romeurope.example>",
    "DATA",
    "RSET",
    "NOOP",
    "VRFY x",
    "BDAT 10 LAST",
    "AUTH PLAIN",
    "STARTTLS",
    "QUIT",
    "MAIL FROM:<a@b.example> SIZE=99999999999",
    "RCPT TO:<bounces+abc@romeurope.example> NOTIFY=NEVER",
    "XYZZY",
    "",
];

fn seeds() -> Vec<String> {
    vec![
        "From: <a@b.example>\r\nTo: <echanges@romeurope.example>\r\nSubject: Re: [Club] x\r\nIn-Reply-To: <p@q>\r\n\r\nBonjour\r\n".into(),
        "From: MAILER-DAEMON@x\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@b\r\nAction: failed\r\nStatus: 5.1.1\r\n--b--\r\n".into(),
        "From: <a@b.example>\r\nContent-Type: text/calendar; method=REPLY\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:x@y\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:a@b.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".into(),
        "From: abuse@x\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"f\"\r\n\r\n--f\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n--f--\r\n".into(),
    ]
}

fn mutate(random: &mut Random, seed: &str) -> Vec<u8> {
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..1 + random.below(8) {
        if bytes.is_empty() {
            break;
        }
        let at = random.below(bytes.len());
        match random.below(5) {
            0 => bytes[at] = random.next() as u8,
            1 => bytes.truncate(at),
            2 => {
                let chunk: Vec<u8> = bytes[at..].iter().take(64).copied().collect();
                bytes.splice(at..at, chunk);
            }
            3 => bytes.insert(at, [b'\r', b'\n', b'.', 0, 0xff, b'='][random.below(6)]),
            _ => {
                bytes.remove(at);
            }
        }
    }
    // Never end DATA early by accident: a lone dot line is stuffed as a client would.
    let text = String::from_utf8_lossy(&bytes).replace("\r\n.", "\r\n..");
    text.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sessions_and_mutated_messages_neither_crash_nor_lose_an_outcome() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.mail.from_address = "club@romeurope.example".into();
        settings.inbound.timeout_seconds = 5;
    })
    .await;
    let mut random = Random(0x5eed_2026_1122);

    // Junk and half-valid sessions.
    for _ in 0..300 {
        let mut session = Vec::new();
        for _ in 0..random.below(12) {
            if random.below(4) == 0 {
                for _ in 0..random.below(300) {
                    session.push(random.next() as u8);
                }
            } else {
                session.extend_from_slice(VERBS[random.below(VERBS.len())].as_bytes());
            }
            if random.below(6) != 0 {
                session.extend_from_slice(b"\r\n");
            }
        }
        let reply = exchange(&app, &session).await;
        assert!(
            reply.is_empty() || reply.starts_with(b"220 "),
            "a session starts with a greeting: {}",
            String::from_utf8_lossy(&reply)
        );
    }

    // Mutated messages to every kind of address.
    let seeds = seeds();
    let recipients = [
        "club@romeurope.example",
        "bounces+abc@romeurope.example",
        "lettre@romeurope.example",
        "lettre-join@romeurope.example",
        "lettre-request@romeurope.example",
        "desabonnement+abc@romeurope.example",
    ];
    let mut stored = 0;
    for _ in 0..300 {
        let seed = random.below(seeds.len());
        let message = mutate(&mut random, &seeds[seed]);
        let to = recipients[random.below(recipients.len())];
        let mut dialogue =
            format!("LHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<{to}>\r\nDATA\r\n").into_bytes();
        dialogue.extend_from_slice(&message);
        if !message.ends_with(b"\r\n") {
            dialogue.extend_from_slice(b"\r\n");
        }
        dialogue.extend_from_slice(b".\r\nQUIT\r\n");
        let reply = String::from_utf8_lossy(&exchange(&app, &dialogue).await).into_owned();
        if reply.contains("250 2.0.0 Stored") {
            stored += 1;
        }
    }
    assert!(stored > 250, "most mutated messages are stored: {stored}");

    // Every stored recipient ends with an outcome, and relais still serves.
    let mut pending = usize::MAX;
    for _ in 0..600 {
        let rows = app.store.inbound_list(1000).await.unwrap();
        pending = rows
            .iter()
            .filter(|r| r.state == "received" || r.state == "routing")
            .count();
        if pending == 0 {
            assert_eq!(rows.len(), stored, "one row per stored message");
            assert!(
                rows.iter().all(|r| !r.outcome.is_empty()),
                "each with an outcome"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pending, 0, "recipients left without an outcome");
    let reply = exchange(&app, b"LHLO x\r\nQUIT\r\n").await;
    assert!(String::from_utf8_lossy(&reply).contains("221 2.0.0"));
    app.stop().await;
}
