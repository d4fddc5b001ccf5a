//! Receiving mail over a real socket, on both databases: the LMTP dialogue (per-recipient replies, 550 5.1.1
//! for addresses that are not relais', 552 for a message too big), then what each message becomes — a
//! calendar reply recorded on its meeting (a forged one held), delivery status notifications counted or not
//! (permanent, delay, 5.7.1 policy), an unsubscribe by mail, list commands (join sends the double opt-in,
//! request sends help), a post to an announce list refused — and hostile messages (no From, broken MIME,
//! 8-bit headers, 100 nested multiparts) stored with an outcome and no panic. Postfix's `smtp-source` and
//! `swaks` speak LMTP to relais too, and `relais inject` stores what a pipe transport hands it.

mod common;

use std::time::Duration;

use common::{Backend, TestApp};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// An LMTP client that reads every reply line.
struct Lmtp {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Lmtp {
    async fn connect(app: &TestApp) -> Lmtp {
        let stream = TcpStream::connect(app.lmtp).await.unwrap();
        let (read, writer) = stream.into_split();
        let mut client = Lmtp {
            reader: BufReader::new(read),
            writer,
        };
        assert!(client.reply().await.starts_with("220 "));
        client
    }

    /// One reply (its last line).
    async fn reply(&mut self) -> String {
        loop {
            let mut line = String::new();
            tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line))
                .await
                .expect("a reply within 10 s")
                .unwrap();
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return line.trim_end().to_string();
            }
        }
    }

    async fn send(&mut self, line: &str) -> String {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        self.reply().await
    }

    /// Sends `message` to `recipients`; returns the RCPT replies and the per-recipient final replies.
    async fn deliver(
        &mut self,
        from: &str,
        recipients: &[&str],
        message: &str,
    ) -> (Vec<String>, Vec<String>) {
        assert!(self.send("LHLO test.example").await.starts_with("250 "));
        assert!(
            self.send(&format!("MAIL FROM:<{from}>"))
                .await
                .starts_with("250 ")
        );
        let mut rcpt = Vec::new();
        for recipient in recipients {
            rcpt.push(self.send(&format!("RCPT TO:<{recipient}>")).await);
        }
        let accepted = rcpt.iter().filter(|r| r.starts_with("250")).count();
        if accepted == 0 {
            assert!(self.send("RSET").await.starts_with("250"));
            return (rcpt, Vec::new());
        }
        assert!(self.send("DATA").await.starts_with("354"));
        let mut body = message.replace("\r\n", "\n").replace('\n', "\r\n");
        body = body.replace("\r\n.", "\r\n..");
        if !body.ends_with("\r\n") {
            body.push_str("\r\n");
        }
        self.writer.write_all(body.as_bytes()).await.unwrap();
        self.writer.write_all(b".\r\n").await.unwrap();
        let mut finals = Vec::new();
        for _ in 0..accepted {
            finals.push(self.reply().await);
        }
        (rcpt, finals)
    }
}

/// Waits until every received recipient has an outcome; returns (recipient, kind, state, outcome), oldest
/// first.
async fn outcomes(app: &TestApp) -> Vec<(String, String, String, String)> {
    for _ in 0..400 {
        let rows = app.store.inbound_list(500).await.unwrap();
        if rows
            .iter()
            .all(|r| r.state != "received" && r.state != "routing")
        {
            let mut rows: Vec<_> = rows
                .into_iter()
                .map(|r| (r.recipient, r.kind, r.state, r.outcome))
                .collect();
            rows.reverse();
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "received mail left unrouted: {:?}",
        app.store.inbound_list(50).await.unwrap()
    );
}

fn calendar_reply(uid: &str, attendee: &str, from: &str, partstat: &str) -> String {
    format!(
        "From: <{from}>\nTo: club@romeurope.example\nSubject: Accepté : Réunion du club\nMessage-ID: <reply-{partstat}@lyon.example>\nMIME-Version: 1.0\nContent-Type: text/calendar; method=REPLY; charset=utf-8\n\nBEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Client//FR\nMETHOD:REPLY\nBEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20261124T100000Z\nATTENDEE;PARTSTAT={partstat}:mailto:{attendee}\nEND:VEVENT\nEND:VCALENDAR\n"
    )
}

fn dsn(token: &str, action: &str, status: &str) -> (String, String) {
    (
        format!("bounces+{token}@romeurope.example"),
        format!(
            "From: MAILER-DAEMON@mx.example\nTo: bounces+{token}@romeurope.example\nSubject: Undelivered Mail\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nYour message could not be delivered.\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; someone@elsewhere.example\nAction: {action}\nStatus: {status}\nDiagnostic-Code: smtp; 550 {status} refused\n--b--\n"
        ),
    )
}

/// A delivery (to `address`) of a mail of the list `list_key` (empty: not list mail); returns its VERP token.
async fn delivery_token(app: &TestApp, address: &str, list_key: &str) -> String {
    let message = app
        .store
        .enqueue_mail(
            &relais::store::outbox::NewMessage {
                kind: relais::domain::mail_kind::MailKind::Test,
                subject: "Essai".into(),
                body_text: "Bonjour".into(),
                body_html: "<p>Bonjour</p>".into(),
                list: (!list_key.is_empty()).then(|| relais::store::outbox::ListHeaders {
                    key: list_key.into(),
                    label: "Lettre du club".into(),
                    post: None,
                }),
                ..Default::default()
            },
            &[relais::store::outbox::NewRecipient {
                address: relais::domain::EmailAddress::parse(address).unwrap(),
                name: String::new(),
                person_id: None,
            }],
            app.clock.now_millis(),
        )
        .await
        .unwrap();
    let delivery = app.store.deliveries_of(message).await.unwrap()[0].id;
    app.store
        .delivery_as_claimed(message, delivery)
        .await
        .unwrap()
        .unwrap()
        .token
}

mod lmtp_replies_and_routing {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn_with(backend, |settings| {
            settings.mail.from_address = "club@romeurope.example".into();
        })
        .await;
        let now = app.clock.now_millis();
        // A meeting Lyon's mayor is invited to.
        let series = app
            .store
            .create_series(
                &relais::store::meeting_series::NewSeries {
                    title: "Réunion du club".into(),
                    rrule: "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU".into(),
                    first_start: "2026-12-01T14:00".into(),
                    duration_minutes: 120,
                    video_url: String::new(),
                    invite_members: false,
                    invite_staff: false,
                },
                now,
            )
            .await
            .unwrap();
        app.store
            .add_occurrences(
                series,
                &[(now + 86_400_000, now + 93_600_000)],
                "romeurope.example",
                now,
            )
            .await
            .unwrap();
        let meeting = app.store.meetings_from(now, 1).await.unwrap().remove(0);
        app.store
            .add_speaker(
                meeting.id,
                "maire@lyon.example",
                "Maire de Lyon",
                "Lyon",
                now,
            )
            .await
            .unwrap();

        // Per-recipient replies: ours accepted, others refused at RCPT, one final reply per accepted one.
        let mut lmtp = Lmtp::connect(&app).await;
        let (rcpt, finals) = lmtp
            .deliver(
                "maire@lyon.example",
                &[
                    "club@romeurope.example",
                    "personne@romeurope.example",
                    "club@ailleurs.example",
                    "lettre@romeurope.example",
                ],
                &calendar_reply(
                    &meeting.uid,
                    "maire@lyon.example",
                    "maire@lyon.example",
                    "ACCEPTED",
                ),
            )
            .await;
        assert!(rcpt[0].starts_with("250 2.1.5"), "{rcpt:?}");
        assert!(rcpt[1].starts_with("550 5.1.1"), "{rcpt:?}");
        assert!(rcpt[2].starts_with("550 5.1.1"), "{rcpt:?}");
        assert!(rcpt[3].starts_with("250 2.1.5"), "{rcpt:?}");
        assert_eq!(finals.len(), 2, "one final reply per accepted recipient");
        assert!(
            finals.iter().all(|f| f.starts_with("250 2.0.0")),
            "{finals:?}"
        );

        // A forged reply (the attendee is not the sender) is held.
        lmtp.deliver(
            "intrus@ailleurs.example",
            &["club@romeurope.example"],
            &calendar_reply(
                &meeting.uid,
                "maire@lyon.example",
                "intrus@ailleurs.example",
                "DECLINED",
            ),
        )
        .await;

        // Reports: a permanent failure, a delay, a policy refusal.
        let mut tokens = Vec::new();
        for (action, status) in [
            ("failed", "5.1.1"),
            ("delayed", "4.4.7"),
            ("failed", "5.7.1"),
        ] {
            let token = delivery_token(
                &app,
                &format!("{}@elsewhere.example", status.replace('.', "")),
                "",
            )
            .await;
            let (to, message) = dsn(&token, action, status);
            let (_, finals) = lmtp.deliver("", &[&to], &message).await;
            assert!(finals[0].starts_with("250"), "{finals:?}");
            tokens.push(token);
        }

        // One report about several recipients: the block about this delivery's recipient decides (a delay
        // here, though another recipient failed for good).
        let token = delivery_token(&app, "plusieurs@elsewhere.example", "").await;
        let several = format!(
            "From: MAILER-DAEMON@mx.example\nTo: bounces+{token}@romeurope.example\nSubject: Delivery report\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nReport.\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; plusieurs@elsewhere.example\nAction: delayed\nStatus: 4.4.7\n\nFinal-Recipient: rfc822; autre@elsewhere.example\nAction: failed\nStatus: 5.1.1\n--b--\n"
        );
        lmtp.deliver(
            "",
            &[&format!("bounces+{token}@romeurope.example")],
            &several,
        )
        .await;

        // Leaving the newsletter by mail (the List-Unsubscribe mailto), and list commands.
        let token = delivery_token(&app, "lecteur@commune.example", "lettre").await;
        lmtp.deliver(
            "lecteur@commune.example",
            &[&format!("desabonnement+{token}@romeurope.example")],
            "From: <lecteur@commune.example>\nSubject: unsubscribe\n\nunsubscribe\n",
        )
        .await;
        lmtp.deliver(
            "nouvelle@commune.example",
            &["lettre-join@romeurope.example"],
            "From: Nouvelle Abonnée <nouvelle@commune.example>\nSubject: inscription\n\nBonjour\n",
        )
        .await;
        lmtp.deliver(
            "curieux@commune.example",
            &["lettre-request@romeurope.example"],
            "From: <curieux@commune.example>\nSubject: help\n\nhelp\n",
        )
        .await;
        lmtp.deliver(
            "robot@commune.example",
            &["lettre-join@romeurope.example"],
            "From: <robot@commune.example>\nAuto-Submitted: auto-replied\nSubject: Réponse automatique\n\nAbsent.\n",
        )
        .await;

        // Hostile input: stored, routed, each with an outcome.
        let mut nested = String::from("From: <x@y.example>\nSubject: nested\nMIME-Version: 1.0\n");
        for depth in 0..100 {
            nested.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{depth}\"\n\n--b{depth}\n"
            ));
        }
        nested.push_str("Content-Type: text/plain\n\nfond\n");
        let hostile = [
            "Subject: pas d'expéditeur\n\nsans From\n".to_string(),
            "From: <x@y.example>\nContent-Type: multipart/mixed; boundary=\"jamais\"\n\n--autre\ncassé\n".to_string(),
            "From: =?unknown-8bit?Q?=E9t=E9?= <x@y.example>\nSubject: \u{e9}t\u{e9} 8 bits\nContent-Type: text/plain; charset=x-inconnu\n\n\u{e9}\n".to_string(),
            nested,
            format!("From: <x@y.example>\nX-Long: {}\n\nligne immense\n", "a".repeat(1_000_000)),
        ];
        for message in &hostile {
            let (_, finals) = lmtp
                .deliver("x@y.example", &["club@romeurope.example"], message)
                .await;
            assert!(finals[0].starts_with("250"), "{finals:?}");
        }
        assert!(lmtp.send("QUIT").await.starts_with("221"));

        let rows = outcomes(&app).await;
        let find = |recipient: &str, skip: usize| {
            rows.iter()
                .filter(|r| r.0 == recipient)
                .nth(skip)
                .unwrap_or_else(|| panic!("{recipient} #{skip} in {rows:?}"))
                .clone()
        };
        let (_, kind, state, outcome) = find("club@romeurope.example", 0);
        assert_eq!(
            (kind.as_str(), state.as_str()),
            ("calendar_reply", "done"),
            "{outcome}"
        );
        let (_, _, state, outcome) = find("lettre@romeurope.example", 0);
        assert_eq!(state, "refused", "{outcome}");
        let (_, kind, state, _) = find("club@romeurope.example", 1);
        assert_eq!((kind.as_str(), state.as_str()), ("calendar_reply", "held"));
        let attendee = app.store.attendees(meeting.id).await.unwrap().remove(0);
        assert_eq!(
            attendee.response, "accepted",
            "the forged decline changed nothing"
        );

        let bounces = |address: &'static str| {
            let app = app.clone();
            async move { app.store.bounces_of(address).await.unwrap() }
        };
        let permanent = bounces("511@elsewhere.example").await;
        assert_eq!(permanent.len(), 1);
        assert!(permanent[0].2, "a permanent failure counts");
        assert!(
            bounces("447@elsewhere.example").await.is_empty(),
            "a delay is not recorded as a bounce"
        );
        assert!(
            bounces("plusieurs@elsewhere.example").await.is_empty(),
            "the block about this recipient is a delay"
        );
        let policy = bounces("571@elsewhere.example").await;
        assert_eq!(policy.len(), 1);
        assert!(!policy[0].2, "a policy refusal is kept, not counted");

        let (_, source) = app
            .store
            .unsubscribed("lettre", "lecteur@commune.example")
            .await
            .unwrap()
            .expect("left by mail");
        assert_eq!(source, "mailto");
        assert_eq!(
            app.store
                .subscription_of("lettre", "nouvelle@commune.example")
                .await
                .unwrap()
                .unwrap()
                .0,
            "pending",
            "join by mail starts the double opt-in"
        );
        assert!(
            app.store
                .subscription_of("lettre", "robot@commune.example")
                .await
                .unwrap()
                .is_none()
        );
        let kinds: Vec<String> = app
            .store
            .list_mail_messages(100)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.kind)
            .collect();
        assert!(
            kinds.contains(&"subscription_confirmation".to_string()),
            "{kinds:?}"
        );
        assert!(kinds.contains(&"list_help".to_string()), "{kinds:?}");

        let hostile_rows: Vec<_> = rows
            .iter()
            .filter(|r| r.0 == "club@romeurope.example")
            .skip(2)
            .collect();
        assert_eq!(hostile_rows.len(), hostile.len(), "{rows:?}");
        assert!(
            hostile_rows
                .iter()
                .all(|r| r.2 == "done" || r.2 == "failed"),
            "{hostile_rows:?}"
        );
        assert!(
            hostile_rows.iter().all(|r| !r.3.is_empty()),
            "each has an outcome"
        );

        // Staff see it all.
        let staff = app.logged_in(relais::domain::Role::Staff, &[]).await;
        let page = staff.get_text("/courriers/recus").await;
        assert!(
            page.contains("réponse « accepted » de maire@lyon.example"),
            "{page}"
        );
        app.stop().await;
    }

    run_on_both_databases!();
}

/// A message over the size limit is refused for each recipient after DATA, and nothing is stored.
mod a_message_too_big_is_refused {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn_with(backend, |settings| {
            settings.inbound.max_message_bytes = 64 * 1024;
            settings.mail.from_address = "club@romeurope.example".into();
        })
        .await;
        let mut lmtp = Lmtp::connect(&app).await;
        let big = format!("From: <x@y.example>\n\n{}\n", "abcdefghij\n".repeat(10_000));
        let (_, finals) = lmtp
            .deliver(
                "x@y.example",
                &["club@romeurope.example", "lettre@romeurope.example"],
                &big,
            )
            .await;
        assert_eq!(finals.len(), 2);
        assert!(
            finals.iter().all(|f| f.starts_with("552 5.3.4")),
            "{finals:?}"
        );
        assert!(app.store.inbound_list(10).await.unwrap().is_empty());
        // The session goes on.
        let (_, finals) = lmtp
            .deliver(
                "x@y.example",
                &["club@romeurope.example"],
                "From: <x@y.example>\n\npetit\n",
            )
            .await;
        assert!(finals[0].starts_with("250"));
        app.stop().await;
    }

    run_on_both_databases!();
}

/// Postfix's own LMTP client (`smtp-source -L`) and swaks (over LMTP and over the SMTP listener) deliver to
/// relais; `relais inject` stores what a pipe transport hands it, and refuses an address that is not relais'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_tools_swaks_and_inject_deliver() {
    // An SMTP listener too, on a port found free just before.
    let smtp_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.mail.from_address = "club@romeurope.example".into();
        settings.inbound.smtp_listen =
            Some(std::net::SocketAddr::from(([127, 0, 0, 1], smtp_port)));
    })
    .await;
    let server = format!("127.0.0.1:{}", app.lmtp.port());
    let status = tokio::process::Command::new("smtp-source")
        .args([
            "-L",
            "-c",
            "-m",
            "5",
            "-s",
            "2",
            "-f",
            "postfix@mx.example",
            "-t",
            "club@romeurope.example",
            &server,
        ])
        .status()
        .await
        .expect("smtp-source runs (Debian package postfix)");
    assert!(status.success());
    let output = tokio::process::Command::new("swaks")
        .args([
            "--server",
            "127.0.0.1",
            "--port",
            &app.lmtp.port().to_string(),
            "--protocol",
            "LMTP",
            "--from",
            "elu@commune.example",
            "--to",
            "club@romeurope.example,inconnu@romeurope.example",
            "--header",
            "Subject: Essai swaks",
        ])
        .output()
        .await
        .expect("swaks runs (Debian package swaks)");
    let transcript = String::from_utf8_lossy(&output.stdout);
    assert!(transcript.contains("550 5.1.1"), "{transcript}");
    assert!(transcript.contains("250 2.0.0"), "{transcript}");
    let output = tokio::process::Command::new("swaks")
        .args([
            "--server",
            "127.0.0.1",
            "--port",
            &smtp_port.to_string(),
            "--from",
            "elu@commune.example",
            "--to",
            "club@romeurope.example",
            "--header",
            "Subject: Essai SMTP",
        ])
        .output()
        .await
        .expect("swaks runs");
    let transcript = String::from_utf8_lossy(&output.stdout);
    assert!(
        transcript.contains("250 2.0.0 Stored"),
        "over SMTP: {transcript}"
    );

    let inject = |to: &'static str| {
        let url = app.database_url().to_string();
        let dir = app.data_dir().to_path_buf();
        async move {
            let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_relais"))
                .args(["inject", "--to", to, "--from", "elu@commune.example"])
                .env("RELAIS_DATABASE__URL", url)
                .env("RELAIS_DATA__DIR", dir)
                .env("RELAIS_MAIL__FROM_ADDRESS", "club@romeurope.example")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            stdin
                .write_all(b"From: <elu@commune.example>\r\nSubject: par tube\r\n\r\nBonjour\r\n")
                .await
                .unwrap();
            drop(stdin);
            child.wait_with_output().await.unwrap()
        }
    };
    let injected = inject("club@romeurope.example").await;
    assert!(
        injected.status.success(),
        "{}",
        String::from_utf8_lossy(&injected.stderr)
    );
    let refused = inject("inconnu@romeurope.example").await;
    assert_eq!(refused.status.code(), Some(67));

    let rows = outcomes(&app).await;
    let subjects: Vec<String> = app
        .store
        .inbound_list(50)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.subject)
        .collect();
    assert_eq!(rows.len(), 5 + 1 + 1 + 1, "{subjects:?}");
    assert!(subjects.contains(&"Essai SMTP".to_string()));
    assert!(subjects.contains(&"Essai swaks".to_string()));
    assert!(subjects.contains(&"par tube".to_string()));
    app.stop().await;
}

async fn wait_for<F: Fn() -> Fut, Fut: std::future::Future<Output = bool>>(what: &str, check: F) {
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("waited in vain for {what}");
}

/// Mailman's scoring through reports received over LMTP: one point a day, 5 disables delivery, three
/// weekly warnings (staff told at the first), then removal; a delay, a 5.7.1 refusal and a second report
/// the same day change nothing; an abuse report unsubscribes the reporter from that list.
mod bounces_disable_warn_remove_and_abuse_unsubscribes {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn_with(backend, |settings| {
            settings.mail.from_address = "club@romeurope.example".into();
        })
        .await;
        app.create_user("equipe@cndh.example", relais::domain::Role::Staff, &[])
            .await;
        let list = app.store.mailing_list("lettre").await.unwrap().unwrap();
        let entries = vec![
            ("rebond@far.example".to_string(), String::new()),
            ("plainte@far.example".to_string(), String::new()),
        ];
        app.store
            .add_subscriptions(&list, &entries, "import", "consent", app.clock.now_millis())
            .await
            .unwrap();
        let state = |address: &'static str| {
            let app = app.clone();
            async move {
                app.store
                    .bounce_state("lettre", address)
                    .await
                    .unwrap()
                    .unwrap()
            }
        };
        let report = |action: &'static str, status: &'static str| {
            let app = app.clone();
            async move {
                let token = delivery_token(&app, "rebond@far.example", "lettre").await;
                let (to, message) = dsn(&token, action, status);
                let mut lmtp = Lmtp::connect(&app).await;
                let (_, finals) = lmtp.deliver("", &[&to], &message).await;
                assert!(finals[0].starts_with("250"));
                outcomes(&app).await;
            }
        };
        for day in 1..=5 {
            report("failed", "5.1.1").await;
            if day == 1 {
                report("failed", "5.1.1").await; // the same day: not counted again
                report("delayed", "4.4.7").await;
                report("failed", "5.7.1").await;
                assert_eq!(
                    state("rebond@far.example").await,
                    ("active".to_string(), 1, 0)
                );
            }
            if day < 5 {
                app.clock.advance(chrono::Duration::days(1));
            }
        }
        assert_eq!(state("rebond@far.example").await.0, "disabled");

        // Three warnings a week apart, staff told once, then removal.
        for warning in 1..=3 {
            app.clock.advance(chrono::Duration::hours(7));
            wait_for("a warning", || async {
                state("rebond@far.example").await.2 == warning
            })
            .await;
            app.clock
                .advance(chrono::Duration::days(7) - chrono::Duration::hours(7));
        }
        app.clock.advance(chrono::Duration::hours(7));
        wait_for("the removal", || async {
            state("rebond@far.example").await.0 == "unsubscribed"
        })
        .await;
        let kinds: Vec<(String, String)> = app
            .store
            .list_mail_messages(200)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.kind, m.subject))
            .collect();
        assert_eq!(
            kinds.iter().filter(|(k, _)| k == "bounce_warning").count(),
            3
        );
        assert_eq!(
            kinds
                .iter()
                .filter(|(_, s)| s == "Envois suspendus : rebond@far.example")
                .count(),
            1,
            "staff told once"
        );

        // An abuse report: the reporter leaves the list.
        let token = delivery_token(&app, "plainte@far.example", "lettre").await;
        let arf = format!(
            "From: abuse@fai.example\nTo: bounces+{token}@romeurope.example\nSubject: Abuse report\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"f\"\n\n--f\nContent-Type: text/plain\n\nThis is an abuse report.\n--f\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: FAI/1.0\nVersion: 1\n--f\nContent-Type: text/rfc822-headers\n\nFrom: club@romeurope.example\nSubject: Lettre\n--f--\n"
        );
        let mut lmtp = Lmtp::connect(&app).await;
        lmtp.deliver("", &[&format!("bounces+{token}@romeurope.example")], &arf)
            .await;
        outcomes(&app).await;
        let (_, source) = app
            .store
            .unsubscribed("lettre", "plainte@far.example")
            .await
            .unwrap()
            .expect("unsubscribed by the report");
        assert_eq!(source, "abuse");
        app.stop().await;
    }

    run_on_both_databases!();
}

/// Bounces as servers write them (from the shipped corpus: qmail in French, a DSN with a folded
/// diagnostic, a delay warning) reach their delivery by VERP: the permanent ones count and turn the
/// delivery's line on "Courriers envoyés" into the bounce with the whole diagnostic; the warning does not.
mod real_bounces_reach_their_delivery {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn_with(backend, |settings| {
            settings.mail.from_address = "club@romeurope.example".into();
        })
        .await;
        let list = app.store.mailing_list("lettre").await.unwrap().unwrap();
        let cases = [
            ("qmail/french.eml", "remi.gauthier@example.fr", true),
            ("dsn/folded-diagnostic.eml", "ines.garcia@example.com", true),
            (
                "dsn/postfix-delayed-fr.eml",
                "claire.vincent@example.fr",
                false,
            ),
        ];
        let entries: Vec<(String, String)> = cases
            .iter()
            .map(|(_, address, _)| (address.to_string(), String::new()))
            .collect();
        app.store
            .add_subscriptions(&list, &entries, "import", "consent", app.clock.now_millis())
            .await
            .unwrap();
        let staff = app.logged_in(relais::domain::Role::Staff, &[]).await;
        for (file, address, permanent) in cases {
            let token = delivery_token(&app, address, "lettre").await;
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/bounces")
                .join(file);
            let message = std::fs::read_to_string(path).unwrap().replace("\r\n", "\n");
            let to = format!("bounces+{token}@romeurope.example");
            let mut lmtp = Lmtp::connect(&app).await;
            let (_, finals) = lmtp.deliver("", &[&to], &message).await;
            assert!(finals[0].starts_with("250"), "{file}: {finals:?}");
            let rows = outcomes(&app).await;
            let (_, _, _, text) = rows
                .iter()
                .find(|(recipient, _, _, _)| recipient == &to)
                .unwrap_or_else(|| panic!("{rows:?}"));
            assert_eq!(
                text.starts_with("retour permanent"),
                permanent,
                "{file}: {text}"
            );
            let (_, counted, _) = app
                .store
                .bounce_state("lettre", address)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(counted, i64::from(permanent), "{file}");
        }
        let mut found = None;
        for message in app.store.list_mail_messages(10).await.unwrap() {
            for delivery in app.store.deliveries_of(message.id).await.unwrap() {
                if delivery.recipient == "ines.garcia@example.com" {
                    found = Some((message.id, delivery));
                }
            }
        }
        let (message, line) = found.unwrap();
        assert_eq!(line.state, "bounced");
        assert!(
            line.last_reply.contains(
                "550-5.1.1 The email account that you tried to reach does not exist. Please try"
            ),
            "the whole diagnostic, unfolded: {}",
            line.last_reply
        );
        let shown = staff.get_text(&format!("/courriers/{message}")).await;
        assert!(shown.contains("retour après envoi"), "{shown}");
        app.stop().await;
    }

    run_on_both_databases!();
}
