//! Hostile input on the public side (issue 14, its first parts), on both databases: a newsletter item's
//! `javascript:` and `data:` links are not clickable in the public archive; a name with a line break is
//! refused by the subscription form with a clear message, and one that reached the database another way
//! (an import, the API) goes out on one line instead of breaking the copy.

mod common;

use common::newsletter::send_issue;
use common::sink::{Sink, app_sending_to};
use common::{Backend, TestApp};
use relais::domain::EmailAddress;
use relais::domain::Role;
use relais::domain::mail_kind::MailKind;
use relais::store::outbox::{NewMessage, NewRecipient};

/// Sends the subscription form for `name` and `email` with a proof `(issued, proof)`; the status and page.
async fn subscribe_form(
    client: &reqwest::Client,
    app: &TestApp,
    proof: &(String, String),
    name: &str,
    email: &str,
) -> (u16, String) {
    let response = client
        .post(app.url("/abonnement"))
        .form(&[
            ("name", name),
            ("email", email),
            ("consent", "oui"),
            ("issued", proof.0.as_str()),
            ("proof", proof.1.as_str()),
            ("site", ""),
        ])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

mod newsletter_links_are_only_web_and_mail_links {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let staff = app.logged_in(Role::Staff, &[]).await;
        let issue = send_issue(
            &app,
            &staff,
            "n° 1",
            &[(
                "other",
                "Liens",
                "[le programme](https://club.example/programme) · [écrire](mailto:club@club.example) · \
                 [cliquez](javascript:alert(document.cookie)) · [image](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            )],
        )
        .await;
        let page = TestApp::client()
            .get(app.url(&format!("/lettre/archives/{issue}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("href=\"https://club.example/programme\"")
                && page.contains("href=\"mailto:club@club.example\""),
            "{page}"
        );
        assert!(!page.contains("javascript:"), "{page}");
        assert!(!page.contains("href=\"data:"), "{page}");
        app.stop().await;
    }

    run_on_both_databases!();
}

mod a_name_with_a_line_break_never_reaches_a_header {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let app = app_sending_to(backend, &sink).await;
        let client = TestApp::client();
        let proof = common::lists::public_form_fields(&client, &app, "/abonnement").await;
        app.clock.advance(chrono::Duration::seconds(3));
        let (status, page) = subscribe_form(
            &client,
            &app,
            &proof,
            "Ana\r\nBcc: tous@ailleurs.example",
            "ana@commune.example",
        )
        .await;
        assert_eq!(status, 422);
        assert!(
            page.contains("Le nom ne peut pas contenir de retour à la ligne"),
            "{page}"
        );
        assert!(
            app.store
                .subscription_of("lettre", "ana@commune.example")
                .await
                .unwrap()
                .is_none(),
            "nothing stored"
        );
        // A name that came in another way: the copy goes out, the name on one line.
        let id = app
            .store
            .enqueue_mail(
                &NewMessage {
                    kind: MailKind::Test,
                    subject: "Essai".into(),
                    body_text: "Bonjour".into(),
                    body_html: "<p>Bonjour</p>".into(),
                    ..Default::default()
                },
                &[NewRecipient {
                    address: EmailAddress::parse("bruno@commune.example").unwrap(),
                    name: "Bruno\r\nBcc: tous@ailleurs.example".into(),
                    person_id: None,
                }],
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        let mut rows = Vec::new();
        for _ in 0..200 {
            rows = app.store.deliveries_of(id).await.unwrap();
            if rows[0].state != "queued" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(rows[0].state, "sent", "{rows:?}");
        let copy = sink
            .received()
            .into_iter()
            .find(|raw| raw.contains("X-Sink-Rcpt: bruno@commune.example"))
            .unwrap();
        let parsed = mail_parser::MessageParser::default()
            .parse(copy.as_bytes())
            .unwrap();
        let to: Vec<_> = parsed.to().unwrap().iter().collect();
        assert_eq!(to.len(), 1, "{copy}");
        assert_eq!(to[0].name(), Some("Bruno Bcc: tous@ailleurs.example"));
        assert_eq!(to[0].address(), Some("bruno@commune.example"));
        assert!(parsed.bcc().is_none(), "{copy}");
        assert!(!copy.contains("\r\nBcc:"), "{copy}");
        app.stop().await;
    }

    run_on_both_databases!();
}

/// The subscription form sent again and again: one confirmation per address in ten minutes, and a client
/// that asks for more than its hour's budget of mails is told to wait (429, in French).
mod the_subscription_form_does_not_mail_on_every_post {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let app = app_sending_to(backend, &sink).await;
        let client = TestApp::client();
        let proof = common::lists::public_form_fields(&client, &app, "/abonnement").await;
        app.clock.advance(chrono::Duration::seconds(3));
        let ask = |email: String| {
            let (client, app, proof) = (client.clone(), app.clone(), proof.clone());
            async move { subscribe_form(&client, &app, &proof, "Ana", &email).await }
        };
        // Thirty times the same address, with the same proof: one mail.
        for _ in 0..30 {
            assert_eq!(ask("ana@commune.example".into()).await.0, 200);
        }
        // New addresses from the same client: nine more mails, then a refusal.
        let mut statuses = Vec::new();
        let mut refusal = String::new();
        for n in 0..12 {
            let (status, page) = ask(format!("personne{n}@commune.example")).await;
            if status == 429 {
                refusal = page;
            }
            statuses.push(status);
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            relais::web::budget::PER_HOUR - 1,
            "{statuses:?}"
        );
        assert!(
            statuses[relais::web::budget::PER_HOUR - 1..]
                .iter()
                .all(|s| *s == 429)
        );
        assert!(refusal.contains("Trop de demandes"), "{refusal}");
        let mut confirmations = 0;
        for message in app.store.list_mail_messages(100).await.unwrap() {
            if message.kind == "subscription_confirmation" {
                confirmations += app.store.deliveries_of(message.id).await.unwrap().len();
            }
        }
        assert_eq!(confirmations, relais::web::budget::PER_HOUR);
        // An hour later the budget is back.
        app.clock.advance(chrono::Duration::minutes(61));
        let proof = common::lists::public_form_fields(&client, &app, "/abonnement").await;
        app.clock.advance(chrono::Duration::seconds(3));
        let (status, _) = subscribe_form(&client, &app, &proof, "Zoé", "zoe@commune.example").await;
        assert_eq!(status, 200);
        app.stop().await;
    }

    run_on_both_databases!();
}

/// An upload over `server.max_upload_mb` is told it is too big (413), a binary file named ".csv" is told it
/// is not a spreadsheet, and relais keeps serving.
mod uploads_too_big_or_not_a_spreadsheet_are_refused_clearly {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn_with(backend, |settings| settings.server.max_upload_mb = 1).await;
        let staff = app.logged_in(Role::Staff, &[]).await;
        let big = "Collectivité;Code INSEE\n".to_string() + &"Lyon;69123\n".repeat(200_000);
        let (status, page) = staff.upload_import("cibles.csv", big.into_bytes()).await;
        assert_eq!(status, 413, "{page}");
        assert!(
            page.contains("Le fichier est trop gros : 1 Mo au plus"),
            "{page}"
        );
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend((0..4096u32).map(|n| (n % 251) as u8));
        let (status, page) = staff.upload_import("cibles.csv", png).await;
        assert_eq!(status, 422, "{page}");
        assert!(page.contains("n&#39;est pas un tableur"), "{page}");
        let healthy = TestApp::client()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(healthy.status(), 200);
        app.stop().await;
    }

    run_on_both_databases!();
}

/// Every response carries the security headers: a content security policy without inline scripts and
/// without framing, no MIME sniffing, no referrer to other sites; a page with a stricter policy of its
/// own keeps it.
mod every_response_carries_the_security_headers {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let staff = app.logged_in(Role::Staff, &[]).await;
        let anonymous = TestApp::client();
        let mut responses = Vec::new();
        for path in [
            "/abonnement",
            "/preferences",
            "/lettre/archives",
            "/login",
            "/nulle-part",
        ] {
            responses.push((path, anonymous.get(app.url(path)).send().await.unwrap()));
        }
        for path in ["/", "/listes", "/courriers", "/import"] {
            responses.push((path, staff.get(path).await));
        }
        for (path, response) in responses {
            let headers = response.headers();
            let policy = headers
                .get("content-security-policy")
                .unwrap_or_else(|| panic!("{path}: no policy"))
                .to_str()
                .unwrap();
            assert!(
                policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"),
                "{path}: {policy}"
            );
            assert!(!policy.contains("'unsafe-inline'; script"), "{path}");
            assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
            assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
            assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        }
        app.stop().await;
    }

    run_on_both_databases!();
}
