//! The outbox and its delivery workers against a real SMTP server (Python aiosmtpd, `tests/mail/sink.py`),
//! on both databases: what arrives, permanent refusals, temporary ones retried on the test clock, and the
//! folder transport.

mod common;

use std::time::Duration;

use common::sink::{Sink, app_sending_to, app_sending_to_port, dkimpy_verdicts};
use common::{Backend, TestApp, wait_for_deliveries as wait_for};
use relais::config::{SmtpSecurity, TransportKind};
use relais::domain::EmailAddress;
use relais::domain::mail_kind::MailKind;
use relais::store::outbox::{ListHeaders, NewMessage, NewRecipient};

fn message(subject: &str) -> NewMessage {
    NewMessage {
        kind: MailKind::Test,
        cause_kind: String::new(),
        cause_id: None,
        subject: subject.into(),
        body_text: "Bonjour,\n\nCeci est un essai.\n".into(),
        body_html: "<p>Bonjour,</p><p>Ceci est un <strong>essai</strong>.</p>".into(),
        template_data: serde_json::json!({}),
        auto_submitted: true,
        ..Default::default()
    }
}

fn recipient(address: &str) -> NewRecipient {
    NewRecipient {
        address: EmailAddress::parse(address).unwrap(),
        name: "Élu·e d'essai".into(),
        person_id: None,
    }
}

/// The value of a header of `raw`, its folded lines joined.
fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.split("\r\n").find_map(|line| {
        line.split_once(": ")
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_string())
    })
}

macro_rules! mail_test {
    ($name:ident, $body:expr) => {
        mail_test!($name, [], $body);
    };
    ($name:ident, [$($option:expr),*], $body:expr) => {
        mod $name {
            use super::*;
            async fn run(backend: Backend) {
                let sink = Sink::start_on(None, &[$($option),*]).await;
                let app = app_sending_to(backend, &sink).await;
                ($body)(app.clone(), sink).await;
                app.stop().await;
            }
            run_on_both_databases!();
        }
    };
}

mail_test!(
    a_queued_message_arrives_with_its_headers_and_both_parts,
    |app: TestApp, sink: Sink| async move {
        let id = app
            .store
            .enqueue_mail(
                &message("Ordre du jour de la réunion du club"),
                &[recipient("maire@commune.example")],
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        let rows = wait_for(&app, id, |rows| rows[0].state == "sent").await;
        assert!(rows[0].last_reply.starts_with("250"), "{:?}", rows[0]);
        let received = sink.received();
        assert_eq!(received.len(), 1);
        let raw = &received[0];
        assert_eq!(
            header(raw, "X-Sink-Rcpt").as_deref(),
            Some("maire@commune.example")
        );
        let bounce = header(raw, "X-Sink-Mail-From").unwrap();
        assert!(
            bounce.starts_with("bounces+") && bounce.ends_with("@romeurope.example"),
            "VERP return path: {bounce}"
        );
        assert_eq!(
            header(raw, "Auto-Submitted").as_deref(),
            Some("auto-generated")
        );
        let message_id = header(raw, "Message-ID").unwrap();
        assert!(message_id.ends_with("@romeurope.example>"), "{message_id}");
        assert!(header(raw, "Date").is_some());
        assert!(
            header(raw, "From")
                .unwrap()
                .contains("<club@romeurope.example>")
        );
        assert!(header(raw, "Subject").is_some());
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("Content-Type: text/plain"));
        assert!(raw.contains("Content-Type: text/html"));
    }
);

/// 550, 451 and 552 replies, whether the server pipelines or not (RCPT replies then come in one read).
async fn refusals_then_retries(app: TestApp, sink: Sink) {
    let id = app
        .store
        .enqueue_mail(
            &message("Lettre d'information"),
            &[
                recipient("refuse@commune.example"),
                recipient("later@commune.example"),
                recipient("full@commune.example"),
                recipient("ok@commune.example"),
            ],
            app.clock.now_millis(),
        )
        .await
        .unwrap();
    let rows = wait_for(&app, id, |rows| {
        rows.iter()
            .all(|r| r.state != "queued" || r.attempts == 1 && !r.last_reply.is_empty())
    })
    .await;
    let by = |address: &str| {
        rows.iter()
            .find(|r| r.recipient == address)
            .unwrap()
            .clone()
    };
    let refused = by("refuse@commune.example");
    assert_eq!(refused.state, "bounced");
    assert!(refused.last_reply.contains("550"), "{refused:?}");
    let bounces = app
        .store
        .bounces_of("refuse@commune.example")
        .await
        .unwrap();
    assert_eq!(
        bounces.len(),
        1,
        "the refusal counts as a bounce for the address"
    );
    assert_eq!((bounces[0].0.as_str(), bounces[0].2), ("5.1.1", true));
    assert!(
        app.store
            .bounces_of("later@commune.example")
            .await
            .unwrap()
            .is_empty(),
        "a temporary failure is never charged"
    );
    let later = by("later@commune.example");
    assert_eq!(later.state, "queued", "a 451 is retried");
    assert!(later.last_reply.contains("451"), "{later:?}");
    assert_eq!(
        later.next_attempt_at,
        app.clock.now_millis() + 60_000,
        "first retry after a minute"
    );
    assert_eq!(by("full@commune.example").state, "queued", "552 is retried");
    assert_eq!(by("ok@commune.example").state, "sent");
    assert_eq!(sink.received().len(), 1);

    // Nothing more happens until the test clock reaches the retry time.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.received().len(), 1);
    app.clock.advance(chrono::Duration::seconds(61));
    let rows = wait_for(&app, id, |rows| rows.iter().all(|r| r.state != "queued")).await;
    assert_eq!(by("refuse@commune.example").attempts, 1, "never retried");
    let states: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.recipient.as_str(), r.state.as_str()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("refuse@commune.example", "bounced"),
            ("later@commune.example", "sent"),
            ("full@commune.example", "sent"),
            ("ok@commune.example", "sent"),
        ]
    );
    assert_eq!(
        sink.received().len(),
        3,
        "each accepted recipient exactly once"
    );
    let expected = if sink.pipelining { "yes" } else { "no" };
    for raw in sink.received() {
        assert_eq!(header(&raw, "X-Sink-Pipelined").as_deref(), Some(expected));
    }
}

mail_test!(
    a_550_is_a_bounce_and_a_451_is_retried_on_the_schedule,
    refusals_then_retries
);

mail_test!(
    without_pipelining_a_550_is_a_bounce_and_a_451_is_retried,
    ["--no-pipelining"],
    refusals_then_retries
);

mod dkim_signatures_verify_with_dkimpy {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let port = sink.port;
        let mut records = String::new();
        let app = TestApp::spawn_with(backend, |settings| {
            settings.mail.transport = TransportKind::Smtp;
            settings.mail.from_address = "club@romeurope.example".into();
            settings.mail.smtp.host = "127.0.0.1".into();
            settings.mail.smtp.port = port;
            settings.mail.smtp.security = SmtpSecurity::None;
            records =
                relais::mail::dkim::generate(&settings.data_dir, "essai", "romeurope.example")
                    .expect("keys generated");
            settings.mail.dkim_rsa_selector = "essai-rsa".into();
            settings.mail.dkim_ed25519_selector = "essai-ed25519".into();
        })
        .await;
        let id = app
            .store
            .enqueue_mail(
                &NewMessage {
                    list: Some(ListHeaders {
                        key: "lettre".into(),
                        label: "Lettre du club".into(),
                        post: None,
                    }),
                    ..message("Compte rendu signé")
                },
                &[recipient("maire@commune.example")],
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        wait_for(&app, id, |rows| rows[0].state == "sent").await;
        let raw = sink.received().remove(0);
        let signatures: Vec<&str> = raw
            .split("\r\n")
            .filter(|l| l.starts_with("DKIM-Signature:"))
            .collect();
        assert_eq!(signatures.len(), 2, "{raw}");
        assert!(raw.contains("a=ed25519-sha256") && raw.contains("a=rsa-sha256"));
        assert!(raw.contains("c=relaxed/relaxed"));
        let unfolded = raw.replace("\r\n ", " ").replace("\r\n\t", " ");
        // What a receiver relies on is signed; From and Subject once more than they appear (oversigned).
        let signed: Vec<String> = unfolded
            .split("; h=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split(':')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        for name in [
            "list-unsubscribe-post",
            "list-unsubscribe",
            "list-id",
            "message-id",
            "date",
            "to",
            "cc",
            "reply-to",
            "in-reply-to",
            "references",
            "mime-version",
            "content-type",
        ] {
            assert!(signed.contains(&name.to_string()), "{name} in {signed:?}");
        }
        for twice in ["from", "subject"] {
            assert_eq!(
                signed.iter().filter(|h| *h == twice).count(),
                2,
                "{twice} oversigned: {signed:?}"
            );
        }
        assert_eq!(
            dkimpy_verdicts(&records, &raw),
            vec!["SIG 0 ok", "SIG 1 ok"]
        );
        // The same copy with its subject changed no longer verifies.
        let tampered = raw.replacen("Subject: ", "Subject: Re: ", 1);
        assert_eq!(
            dkimpy_verdicts(&records, &tampered),
            vec!["SIG 0 fail", "SIG 1 fail"]
        );
        app.stop().await;
    }

    run_on_both_databases!();
}

both_backends!(
    the_folder_transport_writes_each_copy_as_a_file,
    |app: TestApp| async move {
        let id = app
            .store
            .enqueue_mail(
                &message("Essai"),
                &[
                    recipient("a@commune.example"),
                    recipient("b@commune.example"),
                ],
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        let rows = wait_for(&app, id, |rows| rows.iter().all(|r| r.state == "sent")).await;
        let outbox = app.data_dir().join("outbox");
        let files: Vec<_> = std::fs::read_dir(&outbox).unwrap().flatten().collect();
        assert_eq!(files.len(), 2);
        for row in rows {
            let path = outbox.join(format!("{id}-{}.eml", row.id));
            let raw = std::fs::read_to_string(&path).unwrap();
            assert!(raw.contains(&row.recipient), "{raw}");
            assert!(raw.contains("multipart/alternative"));
        }
    }
);

mail_test!(
    list_mail_carries_list_headers_and_leaves_in_one_click_without_a_session,
    |app: TestApp, sink: Sink| async move {
        let newsletter = NewMessage {
            kind: MailKind::Newsletter,
            list: Some(ListHeaders {
                key: "lettre".into(),
                label: "Lettre du club".into(),
                post: Some("NO".into()),
            }),
            auto_submitted: false,
            ..message("Lettre du club n° 1")
        };
        let id = app
            .store
            .enqueue_mail(
                &newsletter,
                &[
                    recipient("maire@commune.example"),
                    recipient("dgs@commune.example"),
                ],
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        wait_for(&app, id, |rows| rows.iter().all(|r| r.state == "sent")).await;
        let received = sink.received();
        assert_eq!(received.len(), 2);
        let link_path = |raw: &str| {
            let value = header(raw, "List-Unsubscribe").expect("List-Unsubscribe");
            assert!(value.contains("<mailto:desabonnement+"), "{value}");
            let start = value.find("/desabonnement/").unwrap();
            value[start..].split('>').next().unwrap().to_string()
        };
        let first = &received[0];
        assert_eq!(
            header(first, "List-Id").as_deref(),
            Some("\"Lettre du club\" <lettre.romeurope.example>")
        );
        assert_eq!(
            header(first, "List-Unsubscribe-Post").as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
        assert_eq!(header(first, "List-Post").as_deref(), Some("NO"));
        assert_eq!(header(first, "Precedence").as_deref(), Some("list"));
        assert!(header(first, "Auto-Submitted").is_none());
        let (maire, dgs) =
            if header(first, "X-Sink-Rcpt").as_deref() == Some("maire@commune.example") {
                (link_path(first), link_path(&received[1]))
            } else {
                (link_path(&received[1]), link_path(first))
            };
        assert_ne!(maire, dgs, "one link per recipient");

        let client = reqwest::Client::new();
        // Forged and altered tokens change nothing.
        let token = maire.trim_start_matches("/desabonnement/");
        let mut altered: Vec<char> = token.chars().collect();
        altered[3] = if altered[3] == 'A' { 'B' } else { 'A' };
        let altered: String = altered.into_iter().collect();
        for bad in [
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string(),
            altered,
            "pas-un-jeton".to_string(),
        ] {
            let response = client
                .post(app.url(&format!("/desabonnement/{bad}")))
                .body("List-Unsubscribe=One-Click")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 404, "{bad}");
            assert!(response.text().await.unwrap().contains("pas valide"));
        }
        assert!(
            app.store
                .unsubscribed("lettre", "maire@commune.example")
                .await
                .unwrap()
                .is_none()
        );

        // RFC 8058 one-click: a POST with no session, no confirmation.
        let response = client
            .post(app.url(&maire))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let (at, source) = app
            .store
            .unsubscribed("lettre", "maire@commune.example")
            .await
            .unwrap()
            .expect("recorded");
        assert_eq!((at, source.as_str()), (app.clock.now_millis(), "one-click"));

        // The page: a button first, then the same effect, recorded as coming from the page.
        let page = client.get(app.url(&dgs)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("Lettre du club") && page.contains("dgs@commune.example"));
        assert!(page.contains("Me désabonner"));
        assert!(
            app.store
                .unsubscribed("lettre", "dgs@commune.example")
                .await
                .unwrap()
                .is_none(),
            "looking at the page changes nothing"
        );
        let response = client
            .post(app.url(&dgs))
            .form(&[("source", "page")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains("C'est fait"));
        let (_, source) = app
            .store
            .unsubscribed("lettre", "dgs@commune.example")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(source, "page");
    }
);

mail_test!(
    staff_see_each_recipients_state_and_any_copy_on_the_sent_mail_page,
    |app: TestApp, sink: Sink| async move {
        let id = app
            .store
            .enqueue_mail(
                &message("Invitation à la réunion du club"),
                &[
                    recipient("refuse@commune.example"),
                    recipient("maire@commune.example"),
                ],
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        let rows = wait_for(&app, id, |rows| rows.iter().all(|r| r.state != "queued")).await;
        assert_eq!(sink.received().len(), 1);
        let staff = app.logged_in(relais::domain::Role::Staff, &[]).await;
        let list = staff.get_text("/courriers").await;
        assert!(list.contains("Invitation à la réunion du club"));
        assert!(list.contains(&format!("href=\"/courriers/{id}\"")));
        let page = staff.get_text(&format!("/courriers/{id}")).await;
        assert!(page.contains("maire@commune.example") && page.contains("envoyé"));
        assert!(page.contains("refuse@commune.example") && page.contains("refusé"));
        assert!(page.contains("550 5.1.1"), "the server's reply is shown");
        assert!(page.contains("Ceci est un essai."), "the text version");
        let html = staff.get(&format!("/courriers/{id}/html")).await;
        assert!(
            html.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .starts_with("sandbox")
        );
        assert!(
            html.text()
                .await
                .unwrap()
                .contains("<strong>essai</strong>")
        );
        let source = staff
            .get_text(&format!("/courriers/{id}/copies/{}", rows[1].id))
            .await;
        assert!(source.contains("Message-ID: <") && source.contains("maire@commune.example"));
        let viewer = app.logged_in(relais::domain::Role::Viewer, &[]).await;
        assert_eq!(viewer.get(&format!("/courriers/{id}")).await.status(), 403);
        assert_eq!(
            staff.get("/courriers/999999").await.status(),
            404,
            "an unknown message"
        );
    }
);

/// Gives target `id` an owner and a next action on `date`.
async fn follow_up(app: &TestApp, id: i64, owner: i64, action: &str, date: chrono::NaiveDate) {
    let store = &app.store;
    let scope = relais::store::Scope::All;
    let mut fields = store.target(scope, id).await.unwrap().unwrap().fields();
    fields.owner_id = Some(owner);
    fields.next_action = action.into();
    fields.next_action_date = Some(date);
    let actor = relais::store::audit::Actor::command_line();
    store
        .update_target(scope, id, &fields, &actor, app.clock.now_millis())
        .await
        .unwrap();
}

both_backends!(
    each_morning_staff_receive_their_due_and_overdue_follow_ups_once,
    |app: TestApp| async move {
        use relais::domain::Role;
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let alex = app.create_user("alex@cndh.example", Role::Staff, &[]).await;
        let sam = app.create_user("sam@cndh.example", Role::Admin, &[]).await;
        let lyon = app.add_target("69123").await;
        let marseille = app.add_target("13055").await;
        let toulouse = app.add_target("31555").await;
        follow_up(&app, lyon, alex, "Relancer le cabinet du maire", day(24)).await;
        follow_up(&app, marseille, alex, "Envoyer la note", day(20)).await;
        follow_up(&app, toulouse, sam, "Proposer un rendez-vous", day(30)).await;

        // Monday 10:00 in Paris: the digest of 7:00 is past; the next is Tuesday 7:00 (06:00 UTC).
        app.clock.set(
            chrono::DateTime::parse_from_rfc3339("2026-11-24T05:59:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            app.store.list_mail_messages(10).await.unwrap().is_empty(),
            "not yet"
        );
        app.clock.advance(chrono::Duration::minutes(2));
        let mut digests = Vec::new();
        for _ in 0..200 {
            digests = app.store.list_mail_messages(10).await.unwrap();
            if !digests.is_empty() && digests.iter().all(|m| m.sent == m.recipients) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(
            digests.len(),
            1,
            "only Alex has follow-ups due: {digests:?}"
        );
        assert_eq!(digests[0].kind, "digest");
        assert!(digests[0].subject.contains("24/11/2026"));
        let rows = app.store.deliveries_of(digests[0].id).await.unwrap();
        assert_eq!(rows[0].recipient, "alex@cndh.example");
        assert_eq!(rows[0].state, "sent");
        let copy = std::fs::read_to_string(
            app.data_dir()
                .join("outbox")
                .join(format!("{}-{}.eml", digests[0].id, rows[0].id)),
        )
        .unwrap();
        let message = app
            .store
            .mail_message(digests[0].id)
            .await
            .unwrap()
            .unwrap();
        assert!(message.body_text.contains("Relancer le cabinet du maire"));
        assert!(message.body_text.contains("en retard depuis le 20/11/2026"));
        assert!(message.body_text.contains(&format!("/targets/{lyon}")));
        assert!(!message.body_text.contains("Proposer un rendez-vous"));
        assert!(
            message
                .body_html
                .contains(&format!("/targets/{marseille}\""))
        );
        assert!(message.body_html.contains("class=\"overdue\""));
        assert!(copy.contains("Auto-Submitted: auto-generated"));
        assert!(copy.contains("text/plain") && copy.contains("text/html"));

        // Once per person and day, whoever runs the schedule again (another instance, a restart).
        app.clock.advance(chrono::Duration::hours(3));
        let settings = relais::config::Settings::for_tests("sqlite://unused", app.data_dir());
        let again = relais::mail::digest::enqueue_digests(&app.store, &settings, &app.clock)
            .await
            .unwrap();
        assert_eq!(again, 0);
        assert_eq!(app.store.list_mail_messages(10).await.unwrap().len(), 1);
        // The next morning the follow-ups still due come again, once, though the schedule and this call
        // both try.
        app.clock.advance(chrono::Duration::days(1));
        relais::mail::digest::enqueue_digests(&app.store, &settings, &app.clock)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.store.list_mail_messages(10).await.unwrap().len(), 2);
    }
);

mod a_relay_down_for_hours_gets_everything_once_it_is_back_and_days_later_the_rest_fails {
    use super::*;

    async fn run(backend: Backend) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Nothing listens on `port` yet: the relay is down.
        let app = app_sending_to_port(backend, port).await;
        let now = app.clock.now_millis();
        let id = app
            .store
            .enqueue_mail(
                &message("Ordre du jour"),
                &[recipient("maire@commune.example")],
                now,
            )
            .await
            .unwrap();
        // An attempt has settled when its outcome is recorded: the delivery is done, or its next attempt is
        // scheduled after the test clock's present. (A claim counts the attempt before its outcome: moving
        // the clock between the two would push the next attempt past the next move.)
        let settled = |app: &TestApp, id: i64| {
            let app = app.clone();
            async move {
                let now = app.clock.now_millis();
                wait_for(&app, id, move |rows| {
                    rows[0].state != "queued" || rows[0].next_attempt_at > now
                })
                .await
            }
        };
        let rows = settled(&app, id).await;
        assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("queued", 1));
        assert!(rows[0].last_reply.contains("connexion"), "{:?}", rows[0]);
        // Down for the first four retries (1, 5, 15 and 60 minutes later).
        for (attempt, minutes) in [(2, 1), (3, 5), (4, 15), (5, 60)] {
            app.clock
                .advance(chrono::Duration::minutes(minutes) + chrono::Duration::seconds(1));
            let rows = settled(&app, id).await;
            assert_eq!(
                (rows[0].state.as_str(), rows[0].attempts),
                ("queued", attempt)
            );
        }
        let rows = app.store.deliveries_of(id).await.unwrap();
        assert_eq!(rows[0].state, "queued");
        // The relay comes back; the next attempt, 4 hours later, delivers.
        let sink = Sink::start_on(Some(port), &[]).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(sink.received().is_empty(), "nothing before the retry time");
        app.clock
            .advance(chrono::Duration::hours(4) + chrono::Duration::seconds(1));
        let rows = wait_for(&app, id, |rows| rows[0].state == "sent").await;
        assert_eq!(rows[0].attempts, 6);
        assert_eq!(sink.received().len(), 1);
        drop(sink);

        // Another mail while the relay is down for good: after five days of retries it fails, with why.
        let id = app
            .store
            .enqueue_mail(
                &message("Compte rendu"),
                &[recipient("dgs@commune.example")],
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        for _ in 0..40 {
            let rows = settled(&app, id).await;
            if rows[0].state != "queued" {
                break;
            }
            app.clock
                .advance(chrono::Duration::hours(4) + chrono::Duration::seconds(1));
        }
        let rows = app.store.deliveries_of(id).await.unwrap();
        assert_eq!(rows[0].state, "failed", "{:?}", rows[0]);
        assert!(
            rows[0].last_reply.contains("connexion"),
            "staff see why: {:?}",
            rows[0]
        );
        app.stop().await;
    }

    run_on_both_databases!();
}
