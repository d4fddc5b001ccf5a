//! A discussion list for the list tests: an application sending to the capturing sink and signing with DKIM,
//! the list `echanges@romeurope.example` created by staff through the web form, and its subscribers.

use super::sink::{Sink, send_to_port};
use super::{Backend, Staff, TestApp};
use relais::config::Settings;
use std::time::Duration;

use relais::domain::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An application sending to `sink`, signing with fresh DKIM keys (returns the DNS records `relais dkim
/// generate` printed, for dkimpy), with settings changed by `configure` last.
pub async fn signing_app(
    backend: Backend,
    sink: &Sink,
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, String) {
    let port = sink.port;
    let mut records = String::new();
    let app = TestApp::spawn_with(backend, |settings| {
        send_to_port(settings, port);
        settings.inbound.trusted_authserv_ids = vec!["mx.club.example".into()];
        records = relais::mail::dkim::generate(&settings.data_dir, "listes", "romeurope.example")
            .expect("keys generated");
        settings.mail.dkim_rsa_selector = "listes-rsa".into();
        settings.mail.dkim_ed25519_selector = "listes-ed25519".into();
        configure(settings);
    })
    .await;
    (app, records)
}

/// Staff create « Échanges du club » (`echanges`, prefix `[Club]`, replies to the list, members post, members
/// read the archive) with the form's fields overridden or completed by `extra`, and subscribe `addresses`
/// (one a line, « adresse » or « adresse, nom »).
pub async fn echanges(app: &TestApp, extra: &[(&str, &str)], addresses: &str) -> Staff {
    let staff = app.logged_in(Role::Staff, &[]).await;
    let mut fields = vec![
        ("key", "echanges"),
        ("name", "Échanges du club"),
        ("subject_prefix", "[Club]"),
        ("reply_to", "list"),
        ("post_policy", "members"),
        ("archive", "members"),
        ("max_kb", "5120"),
    ];
    for (name, value) in extra {
        fields.retain(|(n, _)| n != name);
        fields.push((name, value));
    }
    let created = staff.post_form("/listes", &fields).await;
    assert_eq!(created.status(), 303, "the list is created");
    let count = addresses.lines().filter(|l| !l.trim().is_empty()).count();
    let page = staff
        .post_form("/listes/echanges/abonnes", &[("addresses", addresses)])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&relais::french::count(
            count,
            "abonnement ajouté",
            "abonnements ajoutés"
        )),
        "{page}"
    );
    staff
}

/// The hidden fields (`issued`, `proof`) of a public form freshly shown at `path`.
pub async fn public_form_fields(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
) -> (String, String) {
    let page = client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = page.find(&marker).expect("hidden field") + marker.len();
        page[start..].split('"').next().unwrap().to_string()
    };
    (value("issued"), value("proof"))
}

/// Asks `/preferences` for a fresh link for `address`, as a subscriber who lost hers does, and returns the
/// path the mail brings (`/preferences/<token>`).
pub async fn fresh_preferences_link(app: &TestApp, sink: &Sink, address: &str) -> String {
    let client = TestApp::client();
    let before = sink.received().len();
    let (issued, proof) = public_form_fields(&client, app, "/preferences").await;
    app.clock.advance(chrono::Duration::seconds(3));
    let response = client
        .post(app.url("/preferences"))
        .form(&[
            ("email", address),
            ("issued", &issued),
            ("proof", &proof),
            ("site", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for _ in 0..200 {
        // Another mail to the same address (a list copy still on its way) may arrive meanwhile: the one
        // wanted is the one carrying the link.
        let mail = sink.received()[before..]
            .iter()
            .filter(|raw| raw.contains(&format!("X-Sink-Rcpt: {address}")))
            .map(|raw| raw.replace("=\r\n", ""))
            .find(|unfolded| unfolded.contains("/preferences/"));
        if let Some(unfolded) = mail {
            let at = unfolded.find("/preferences/").expect("a link");
            return unfolded[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/_-".contains(*c))
                .collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no preferences link mail for {address}");
}

/// Hands `message` (LF line ends) to relais over LMTP from `from` to `to`; returns the reply to DATA.
pub async fn lmtp(app: &TestApp, from: &str, to: &str, message: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.lmtp).await.unwrap();
    let body = message.replace('\n', "\r\n");
    let dialogue = format!(
        "LHLO mx.club.example\r\nMAIL FROM:<{from}>\r\nRCPT TO:<{to}>\r\nDATA\r\n{body}\r\n.\r\nQUIT\r\n"
    );
    stream.write_all(dialogue.as_bytes()).await.unwrap();
    let mut replies = String::new();
    stream.read_to_string(&mut replies).await.unwrap();
    let last: Vec<&str> = replies
        .lines()
        .filter(|l| l.starts_with("250 2.0.0") || l.starts_with('4') || l.starts_with('5'))
        .collect();
    last.first().map(|l| l.to_string()).unwrap_or(replies)
}

/// Waits until every received recipient has an outcome.
pub async fn routed(app: &TestApp, count: usize) {
    for _ in 0..400 {
        let rows = app.store.inbound_list(100).await.unwrap();
        if rows.len() >= count
            && rows
                .iter()
                .all(|r| r.state != "received" && r.state != "routing")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "not routed: {:?}",
        app.store.inbound_list(100).await.unwrap()
    );
}

/// The copies of message `id` at the sink, once all are sent.
pub async fn copies(app: &TestApp, sink: &Sink, id: i64) -> Vec<String> {
    for _ in 0..400 {
        let rows = app.store.deliveries_of(id).await.unwrap();
        if rows.iter().all(|r| r.state != "queued") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // A list post's copies carry its author's Message-ID; other mail, one of relais' own per copy.
    let message = app.store.mail_message(id).await.unwrap().unwrap();
    let marker = message
        .headers()
        .into_iter()
        .find(|(name, _)| name == "Message-ID")
        .map(|(_, value)| format!("Message-ID: {value}\r\n"))
        .unwrap_or_else(|| format!("Message-ID: <{id}."));
    sink.received()
        .into_iter()
        .filter(|raw| raw.contains(&marker))
        .collect()
}

pub async fn messages_of_kind(app: &TestApp, kind: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = app
        .store
        .list_mail_messages(200)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == kind)
        .map(|m| m.id)
        .collect();
    ids.sort();
    ids
}

/// The page of the first thread the archive of « Échanges du club » lists, as `staff` reads it.
pub async fn first_thread(staff: &Staff) -> String {
    let index = staff.get_text("/listes/echanges/archives").await;
    let thread = index
        .split("href=\"/listes/echanges/archives/fils/")
        .nth(1)
        .unwrap_or_else(|| panic!("no thread in {index}"))
        .split('"')
        .next()
        .unwrap()
        .to_string();
    staff
        .get_text(&format!("/listes/echanges/archives/fils/{thread}"))
        .await
}
