//! A discussion list over a real socket, on both databases: staff create it and subscribe three officials; a
//! member's reply arrives by LMTP with the organisation's server vouching for its DKIM, and every subscriber's
//! copy reaches the capturing SMTP server with the list headers, one prefix, the thread kept, the author's
//! From rewritten to the list, and a DKIM signature dkimpy accepts. A forged member, a non-member, an
//! automatic reply and a looped message are not redistributed: the first two wait with their reasons (their
//! senders told), the last two are dropped. Staff approve and trust the non-member, whose next post goes
//! straight out, and reject the forgery with a message.

mod common;

use std::time::Duration;

use common::lists::{
    copies, echanges, first_thread, fresh_preferences_link, lmtp, messages_of_kind, routed,
    signing_app,
};
use common::sink::{Sink, dkimpy_verdicts};
use common::{Backend, TestApp};
use relais::domain::Role;

/// Hands `message` to relais over LMTP for `to`; returns the final reply.
fn post(from: &str, results: &str, subject: &str, extra: &str) -> String {
    format!(
        "Authentication-Results: {results}\nFrom: Maire de Lyon <{from}>\nTo: Échanges du club <echanges@romeurope.example>\nSubject: {subject}\nMessage-ID: <{}@lyon.example>\nIn-Reply-To: <debut@nantes.example>\nDate: Mon, 23 Nov 2026 10:00:00 +0100\n{extra}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nNous avons raccordé le terrain en une semaine.\n",
        uuid::Uuid::new_v4().simple()
    )
}

mod a_members_reply_goes_to_every_subscriber_and_the_rest_waits {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let (app, records) = signing_app(backend, &sink, |_| {}).await;
        let staff = app.logged_in(Role::Staff, &[]).await;
        let created = staff
            .post_form(
                "/listes",
                &[
                    ("key", "echanges"),
                    ("name", "Échanges du club"),
                    ("subject_prefix", "[Club]"),
                    ("reply_to", "list"),
                    ("post_policy", "members"),
                    ("archive", "members"),
                    ("max_kb", "5120"),
                ],
            )
            .await;
        assert_eq!(created.status(), 303);
        let bad = staff
            .post_form(
                "/listes",
                &[
                    ("key", "x-join"),
                    ("name", "x"),
                    ("reply_to", "list"),
                    ("post_policy", "members"),
                    ("archive", "members"),
                    ("max_kb", "100"),
                ],
            )
            .await;
        assert_eq!(bad.status(), 400);
        let page = staff
            .post_form(
                "/listes/echanges/abonnes",
                &[(
                    "addresses",
                    "maire@lyon.example, Maire de Lyon\ndgs@marseille.example\nelu@nantes.example, Élu de Nantes",
                )],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("3 abonnements ajoutés"), "{page}");

        // A member, vouched for by the organisation's server: redistributed.
        let trusted = "mx.club.example; dkim=pass header.d=lyon.example header.s=s1; spf=pass smtp.mailfrom=lyon.example";
        let reply = lmtp(
            &app,
            "maire@lyon.example",
            "echanges@romeurope.example",
            &post(
                "maire@lyon.example",
                trusted,
                "RE: Re: [Club] Raccordement à l'eau",
                "",
            ),
        )
        .await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
        routed(&app, 1).await;
        let sent = messages_of_kind(&app, "list_post").await;
        assert_eq!(
            sent.len(),
            1,
            "{:?}",
            app.store.inbound_list(10).await.unwrap()
        );
        let copies_of_post = copies(&app, &sink, sent[0]).await;
        assert_eq!(copies_of_post.len(), 3, "one copy per subscriber");
        for copy in &copies_of_post {
            assert!(
                copy.contains("echanges.romeurope.example>"),
                "List-Id: {copy}"
            );
            assert!(
                copy.contains("List-Post: <mailto:echanges@romeurope.example>"),
                "{copy}"
            );
            assert!(copy.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
            assert!(
                copy.contains("<echanges@romeurope.example>"),
                "From rewritten to the list: {copy}"
            );
            assert!(
                copy.contains("X-Original-From: \"Maire de Lyon\" <maire@lyon.example>"),
                "{copy}"
            );
            assert!(
                copy.contains("Reply-To: echanges@romeurope.example\r\n"),
                "{copy}"
            );
            assert!(
                copy.contains("In-Reply-To: <debut@nantes.example>"),
                "{copy}"
            );
            assert!(
                !copy.contains("References:"),
                "thread headers as received, none added: {copy}"
            );
            assert!(
                !copy.contains("Authentication-Results"),
                "incoming headers do not pass"
            );
            let verdicts = dkimpy_verdicts(&records, copy);
            assert_eq!(
                verdicts,
                vec!["SIG 0 ok", "SIG 1 ok"],
                "both signatures verify"
            );
        }
        let archived = copies_of_post[0]
            .lines()
            .find(|l| l.starts_with("Archived-At: "))
            .expect("an Archived-At on every copy")
            .to_string();
        assert!(
            archived.starts_with(
                "Archived-At: <http://127.0.0.1:8080/listes/echanges/archives/messages/"
            ),
            "{archived}"
        );
        let parsed = mail_parser::MessageParser::default()
            .parse(copies_of_post[0].as_bytes())
            .unwrap();
        assert_eq!(parsed.subject(), Some("[Club] Re: Raccordement à l'eau"));
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Maire de Lyon via Échanges du club"));
        assert_eq!(from.address(), Some("echanges@romeurope.example"));
        let body = parsed.body_text(0).unwrap().replace("\r\n", "\n");
        assert_eq!(
            body,
            "Nous avons raccordé le terrain en une semaine.\n\n-- \nÉchanges du club · echanges@romeurope.example\n\
             Archives : http://127.0.0.1:8080/listes/echanges/archives\n\
             Gérer votre abonnement (un lien personnel vous est envoyé) : http://127.0.0.1:8080/preferences\n",
            "the text, then the list's footer, which holds no personal link (replies quote it)"
        );
        // The author's Message-ID and Date in every copy: a reply to any copy threads in every mailbox.
        for copy in &copies_of_post {
            let parsed = mail_parser::MessageParser::default()
                .parse(copy.as_bytes())
                .unwrap();
            assert!(parsed.message_id().unwrap().ends_with("@lyon.example"));
            assert_eq!(
                parsed.date().unwrap().to_rfc3339(),
                "2026-11-23T10:00:00+01:00"
            );
            assert!(!copy.contains("/preferences/"), "{copy}");
        }
        assert!(
            !copies_of_post[0].contains("text/html"),
            "a plain text post stays plain text"
        );

        // A forged member, a non-member, an automatic reply, a loop.
        let forged =
            "mx.club.example; dkim=fail header.d=lyon.example; spf=fail smtp.mailfrom=lyon.example";
        lmtp(
            &app,
            "maire@lyon.example",
            "echanges@romeurope.example",
            &post("maire@lyon.example", forged, "Faux", ""),
        )
        .await;
        let outsider = "mx.club.example; dkim=pass header.d=coalition-eau.example";
        lmtp(
            &app,
            "lea@coalition-eau.example",
            "echanges@romeurope.example",
            &post(
                "lea@coalition-eau.example",
                outsider,
                "Notre expérience",
                "",
            ),
        )
        .await;
        lmtp(
            &app,
            "dgs@marseille.example",
            "echanges@romeurope.example",
            &post(
                "dgs@marseille.example",
                trusted,
                "Réponse automatique : absente",
                "",
            ),
        )
        .await;
        lmtp(
            &app,
            "maire@lyon.example",
            "echanges@romeurope.example",
            &post(
                "maire@lyon.example",
                trusted,
                "Boucle",
                "List-Id: \"Échanges du club\" <echanges.romeurope.example>\n",
            ),
        )
        .await;
        routed(&app, 5).await;
        assert_eq!(
            messages_of_kind(&app, "list_post").await.len(),
            1,
            "nothing more went out"
        );
        let held = app.store.held_posts().await.unwrap();
        assert_eq!(held.len(), 2, "{held:?}");
        let forged_post = held.iter().find(|p| p.subject == "Faux").unwrap();
        assert!(
            forged_post.reasons.contains("non vérifiée"),
            "{}",
            forged_post.reasons
        );
        assert!(
            !forged_post.reasons.contains("pas abonné"),
            "{}",
            forged_post.reasons
        );
        let outsider_post = held
            .iter()
            .find(|p| p.subject == "Notre expérience")
            .unwrap();
        assert!(
            outsider_post.reasons.contains("n'est pas abonné"),
            "{}",
            outsider_post.reasons
        );
        assert!(
            !outsider_post.reasons.contains("non vérifiée"),
            "her own domain vouches for her: {}",
            outsider_post.reasons
        );
        assert_eq!(
            messages_of_kind(&app, "list_held").await.len(),
            2,
            "each held sender told once"
        );
        let outcomes: Vec<String> = app
            .store
            .inbound_list(10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.outcome)
            .collect();
        assert!(
            outcomes
                .iter()
                .any(|o| o.contains("écarté : réponse automatique")),
            "{outcomes:?}"
        );
        assert!(
            outcomes.iter().any(|o| o.contains("écarté : boucle")),
            "{outcomes:?}"
        );

        // Staff see every reason; they approve and trust the outsider, reject the forgery.
        let page = staff.get_text("/listes").await;
        assert!(
            page.contains("Messages en attente de modération (2)"),
            "{page}"
        );
        assert!(page.contains("n&#39;est pas abonné·e à la liste"), "{page}");
        let approved = staff
            .post_form(
                &format!("/listes/messages/{}", outsider_post.id),
                &[("decision", "trust")],
            )
            .await;
        assert_eq!(approved.status(), 200);
        let rejected = staff
            .post_form(
                &format!("/listes/messages/{}", forged_post.id),
                &[
                    ("decision", "reject"),
                    ("message", "Ce message ne semble pas venir de vous."),
                ],
            )
            .await;
        assert_eq!(rejected.status(), 200);
        assert!(app.store.held_posts().await.unwrap().is_empty());
        let sent = messages_of_kind(&app, "list_post").await;
        assert_eq!(sent.len(), 2);
        assert_eq!(copies(&app, &sink, sent[1]).await.len(), 3);
        assert_eq!(messages_of_kind(&app, "list_rejected").await.len(), 1);

        // A reply to a copy joins its thread in the archive (staff only: the list's archive is for members).
        let copy_id = copies_of_post[0]
            .lines()
            .find(|l| l.starts_with("Message-ID: "))
            .unwrap()
            .trim_start_matches("Message-ID: ")
            .to_string();
        lmtp(
            &app,
            "dgs@marseille.example",
            "echanges@romeurope.example",
            &post(
                "dgs@marseille.example",
                "mx.club.example; dkim=pass header.d=marseille.example",
                "Re: [Club] Re: Raccordement",
                "",
            )
            .replace(
                "In-Reply-To: <debut@nantes.example>",
                &format!("In-Reply-To: {copy_id}"),
            ),
        )
        .await;
        routed(&app, 6).await;
        let index = staff.get_text("/listes/echanges/archives").await;
        assert!(
            index.contains("RE: Re: [Club] Raccordement à l&#39;eau"),
            "{index}"
        );
        let thread = first_thread(&staff).await;
        assert_eq!(
            thread.matches("<article").count(),
            2,
            "the reply is in the thread: {thread}"
        );
        assert!(thread.contains("Nous avons raccordé le terrain"));
        let anonymous = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(app.url("/listes/echanges/archives"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 403, "a members' archive is not public");
        let refusal = anonymous.text().await.unwrap();
        assert!(
            refusal.contains("Archives réservées aux abonnés")
                && refusal.contains("href=\"/preferences\""),
            "an official learns how to open it: {refusal}"
        );
        // A subscriber opens it from the footer: « Gérer votre abonnement » mails her a link to her page,
        // then « Lire les archives ».
        let reader = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let link = fresh_preferences_link(&app, &sink, "maire@lyon.example").await;
        let token = link.trim_start_matches("/preferences/").to_string();
        let preferences = reader
            .get(app.url(&format!("/preferences/{token}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let open = format!("/preferences/{token}/archives/echanges");
        assert!(
            preferences.contains(&format!("href=\"{open}\"")),
            "{preferences}"
        );
        let opened = reader.get(app.url(&open)).send().await.unwrap();
        assert_eq!(opened.status(), 200);
        assert_eq!(opened.url().path(), "/listes/echanges/archives");
        let archive = opened.text().await.unwrap();
        assert!(archive.contains("Raccordement à l&#39;eau"), "{archive}");
        let forged = reqwest::Client::new()
            .get(app.url("/listes/echanges/archives"))
            .header("Cookie", "relais_lecteur=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403, "a forged reader cookie opens nothing");
        // Leaving the list closes its archive.
        let list_id = preferences
            .split(&format!("action=\"/preferences/{token}/listes/"))
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let left = reader
            .post(app.url(&format!("/preferences/{token}/listes/{list_id}")))
            .form(&[("action", "leave")])
            .send()
            .await
            .unwrap();
        assert!(left.status().is_success(), "{}", left.status());
        let closed = reader
            .get(app.url("/listes/echanges/archives"))
            .send()
            .await
            .unwrap();
        assert_eq!(closed.status(), 403, "no longer a subscriber");
        let searched = staff
            .get_text("/listes/echanges/archives?q=exp%C3%A9rience")
            .await;
        assert!(
            searched.contains("Notre expérience") && !searched.contains("Raccordement"),
            "{searched}"
        );
        let month = staff
            .get("/listes/echanges/archives/mois/2026-11.mbox")
            .await;
        assert_eq!(month.headers()["content-type"], "application/mbox");
        let mbox = month.text().await.unwrap();
        assert_eq!(
            mbox.matches("\nFrom ").count() + usize::from(mbox.starts_with("From ")),
            3,
            "{mbox}"
        );

        // Trusted now: the outsider's next post goes straight out (still authenticated for her domain).
        let own = "mx.club.example; dkim=pass header.d=coalition-eau.example";
        lmtp(
            &app,
            "lea@coalition-eau.example",
            "echanges@romeurope.example",
            &post("lea@coalition-eau.example", own, "Suite", ""),
        )
        .await;
        routed(&app, 7).await;
        assert_eq!(messages_of_kind(&app, "list_post").await.len(), 4);
        app.stop().await;
    }

    run_on_both_databases!();
}

/// A subscriber in digest mode gets the day's posts in one mail at the digest time, and nothing on a day
/// without posts; the others get each post.
mod a_digest_subscriber_gets_one_mail_a_day {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn_with(backend, |settings| {
            settings.mail.from_address = "club@romeurope.example".into();
            settings.inbound.trusted_authserv_ids = vec!["mx.club.example".into()];
        })
        .await;
        let list = relais::store::discussion::DiscussionList {
            id: 0,
            list_key: "echanges".into(),
            name: "Échanges du club".into(),
            description: String::new(),
            kind: relais::domain::ListKind::Discussion,
            subject_prefix: "[Club]".into(),
            reply_to: relais::domain::ReplyTo::List,
            post_policy: relais::domain::PostPolicy::Members,
            archive: "members".into(),
            max_bytes: 5 * 1024 * 1024,
            personalized: true,
            strip_executables: true,
        };
        let now = app.clock.now_millis();
        app.store.create_discussion_list(&list, now).await.unwrap();
        let list = app.store.mailing_list("echanges").await.unwrap().unwrap();
        let entries = vec![
            (
                "maire@lyon.example".to_string(),
                "Maire de Lyon".to_string(),
            ),
            ("lecteur@nantes.example".to_string(), String::new()),
        ];
        app.store
            .add_subscriptions(&list, &entries, "staff", "legitimate_interest", now)
            .await
            .unwrap();
        app.store
            .set_subscription_mode("lecteur@nantes.example", list.id, "digest", now)
            .await
            .unwrap();
        let trusted = "mx.club.example; dkim=pass header.d=lyon.example";
        for subject in ["Premier sujet", "Second sujet"] {
            lmtp(
                &app,
                "maire@lyon.example",
                "echanges@romeurope.example",
                &post("maire@lyon.example", trusted, subject, ""),
            )
            .await;
        }
        routed(&app, 2).await;
        for id in messages_of_kind(&app, "list_post").await {
            let rows = app.store.deliveries_of(id).await.unwrap();
            assert_eq!(rows.len(), 1, "each post to the one who receives each");
            assert_eq!(rows[0].recipient, "maire@lyon.example");
        }
        // 18:00 in Paris: the digest.
        app.clock.set(
            chrono::DateTime::parse_from_rfc3339("2026-11-23T17:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
        );
        for _ in 0..200 {
            if !messages_of_kind(&app, "list_digest").await.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let digests = messages_of_kind(&app, "list_digest").await;
        assert_eq!(digests.len(), 1);
        let message = app.store.mail_message(digests[0]).await.unwrap().unwrap();
        assert_eq!(message.subject, "Échanges du club : 2 messages du jour");
        let first = message.body_text.find("Premier sujet").unwrap();
        let second = message.body_text.find("Second sujet").unwrap();
        assert!(first < second && message.body_text[..first].contains("les messages du jour"));
        let rows = app.store.deliveries_of(digests[0]).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].recipient, "lecteur@nantes.example");
        // A day without posts: no digest.
        app.clock.advance(chrono::Duration::days(1));
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(messages_of_kind(&app, "list_digest").await.len(), 1);
        app.stop().await;
    }

    run_on_both_databases!();
}

/// A digest schedule that runs twice a day: each post is in exactly one digest (the period since the time
/// before, not the day, is claimed).
mod a_digest_twice_a_day_loses_no_post {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let (app, _) = signing_app(backend, &sink, |settings| {
            settings.newsletter.list_digest_schedule = "0 0 12,18 * * *".into();
        })
        .await;
        echanges(
            &app,
            &[],
            "maire@lyon.example
lecteur@nantes.example",
        )
        .await;
        let list = app.store.mailing_list("echanges").await.unwrap().unwrap();
        app.store
            .set_subscription_mode(
                "lecteur@nantes.example",
                list.id,
                "digest",
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        let trusted = "mx.club.example; dkim=pass header.d=lyon.example";
        let at = |time: &str| {
            chrono::DateTime::parse_from_rfc3339(time)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        let digests_after = |count: usize| {
            let app = app.clone();
            async move {
                for _ in 0..200 {
                    if messages_of_kind(&app, "list_digest").await.len() >= count {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                messages_of_kind(&app, "list_digest").await
            }
        };
        // 10:00 in Paris, a post; 12:00, the first digest.
        lmtp(
            &app,
            "maire@lyon.example",
            "echanges@romeurope.example",
            &post("maire@lyon.example", trusted, "Avant midi", ""),
        )
        .await;
        routed(&app, 1).await;
        app.clock.set(at("2026-11-23T11:00:00Z"));
        let digests = digests_after(1).await;
        assert_eq!(digests.len(), 1);
        // 14:00, another post; 18:00, the second digest carries it (and only it).
        app.clock.set(at("2026-11-23T13:00:00Z"));
        lmtp(
            &app,
            "maire@lyon.example",
            "echanges@romeurope.example",
            &post("maire@lyon.example", trusted, "Après midi", ""),
        )
        .await;
        routed(&app, 2).await;
        app.clock.set(at("2026-11-23T17:00:00Z"));
        let digests = digests_after(2).await;
        assert_eq!(digests.len(), 2, "the afternoon's post is not lost");
        let first = app.store.mail_message(digests[0]).await.unwrap().unwrap();
        let second = app.store.mail_message(digests[1]).await.unwrap().unwrap();
        assert!(first.body_text.contains("Avant midi") && !first.body_text.contains("Après midi"));
        assert!(
            second.body_text.contains("Après midi") && !second.body_text.contains("Avant midi")
        );
        assert!(
            second.body_html.contains("width=device-width"),
            "the shared layout"
        );
        app.stop().await;
    }

    run_on_both_databases!();
}

/// A post's attachments go out with every copy, bytes and names intact, under relais' DKIM signature.
mod a_posts_attachments_reach_every_subscriber {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let (app, records) = signing_app(backend, &sink, |_| {}).await;
        echanges(
            &app,
            &[],
            "maire@lyon.example, Maire de Lyon\ndgs@marseille.example",
        )
        .await;
        // Bytes of every value, so a wrong transfer encoding shows.
        let pdf: Vec<u8> = (0..=255u8).cycle().take(40_000).collect();
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&pdf);
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let message = format!(
            "Authentication-Results: mx.club.example; dkim=pass header.d=lyon.example\n\
             From: Maire de Lyon <maire@lyon.example>\nTo: echanges@romeurope.example\n\
             Subject: Le compte rendu\nMessage-ID: <cr@lyon.example>\nDate: Mon, 23 Nov 2026 10:00:00 +0100\n\
             MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n\
             --b1\nContent-Type: text/plain; charset=utf-8\n\nLe compte rendu est joint.\n\
             --b1\nContent-Type: application/pdf; name=\"compte-rendu-été.pdf\"\n\
             Content-Disposition: attachment; filename*=utf-8''compte-rendu-%C3%A9t%C3%A9.pdf\n\
             Content-Transfer-Encoding: base64\n\n{}\n--b1--\n",
            lines.join("\n")
        );
        let reply = lmtp(
            &app,
            "maire@lyon.example",
            "echanges@romeurope.example",
            &message,
        )
        .await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
        routed(&app, 1).await;
        let sent = messages_of_kind(&app, "list_post").await;
        assert_eq!(
            sent.len(),
            1,
            "{:?}",
            app.store.inbound_list(10).await.unwrap()
        );
        let received = copies(&app, &sink, sent[0]).await;
        assert_eq!(received.len(), 2);
        for copy in &received {
            let parsed = mail_parser::MessageParser::default()
                .parse(copy.as_bytes())
                .unwrap();
            assert!(
                parsed
                    .body_text(0)
                    .unwrap()
                    .replace("\r\n", "\n")
                    .starts_with("Le compte rendu est joint.\n\n-- \n")
            );
            let files: Vec<_> = parsed.attachments().collect();
            assert_eq!(files.len(), 1, "{copy}");
            use mail_parser::MimeHeaders;
            assert_eq!(files[0].attachment_name(), Some("compte-rendu-été.pdf"));
            assert_eq!(files[0].content_type().unwrap().subtype(), Some("pdf"));
            assert!(
                files[0].contents() == pdf.as_slice(),
                "the bytes are intact"
            );
            assert_eq!(
                dkimpy_verdicts(&records, copy),
                vec!["SIG 0 ok", "SIG 1 ok"]
            );
        }
        app.stop().await;
    }

    run_on_both_databases!();
}

/// A list whose copies are all alike: every subscriber receives the same content (To names the list, the
/// author's Message-ID, the same body), and only the envelope (VERP) and the one-click unsubscribe headers
/// are each delivery's own, under each copy's own signature (RFC 8058: large providers require it).
mod a_list_with_shared_copies_keeps_one_click_unsubscribe {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let (app, records) = signing_app(backend, &sink, |_| {}).await;
        let staff = echanges(
            &app,
            &[("copies", "shared")],
            "maire@lyon.example, Maire de Lyon\ndgs@marseille.example\nelu@nantes.example",
        )
        .await;
        assert!(
            staff
                .get_text("/listes")
                .await
                .contains("discussion, copies identiques")
        );
        let reply = lmtp(
            &app,
            "maire@lyon.example",
            "echanges@romeurope.example",
            &post(
                "maire@lyon.example",
                "mx.club.example; dkim=pass header.d=lyon.example",
                "Un seul exemplaire",
                "",
            ),
        )
        .await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
        routed(&app, 1).await;
        let sent = messages_of_kind(&app, "list_post").await;
        let received = copies(&app, &sink, sent[0]).await;
        assert_eq!(received.len(), 3);
        // The envelope (X-Sink-*), the signatures and the one-click headers are each delivery's; the rest
        // of the message is the same for everyone.
        let personal = |line: &str| {
            ["X-Sink-", "DKIM-Signature", "List-Unsubscribe", "\t", " "]
                .iter()
                .any(|p| line.starts_with(p))
        };
        let common = |raw: &str| -> Vec<String> {
            raw.split("\r\n")
                .filter(|l| !personal(l))
                .map(String::from)
                .collect()
        };
        let message0 = received[0].clone();
        let mut senders = std::collections::HashSet::new();
        let mut links = std::collections::HashSet::new();
        for copy in &received {
            assert_eq!(
                common(copy),
                common(&message0),
                "the same content for everyone"
            );
            let mail_from = copy
                .lines()
                .find_map(|l| l.strip_prefix("X-Sink-Mail-From: "))
                .unwrap()
                .to_string();
            assert!(mail_from.starts_with("bounces+"), "{mail_from}");
            senders.insert(mail_from);
            let unfolded = copy.replace("\r\n ", " ");
            let one_click = unfolded
                .lines()
                .find_map(|l| l.strip_prefix("List-Unsubscribe: <"))
                .expect("one-click link")
                .split('>')
                .next()
                .unwrap()
                .to_string();
            assert!(
                one_click.starts_with("http://127.0.0.1:8080/desabonnement/"),
                "{one_click}"
            );
            links.insert(one_click);
            assert!(copy.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
            assert_eq!(
                dkimpy_verdicts(&records, copy),
                vec!["SIG 0 ok", "SIG 1 ok"]
            );
        }
        assert_eq!(senders.len(), 3, "each delivery its own bounce address");
        assert_eq!(links.len(), 3, "each delivery its own one-click link");
        assert!(
            message0.contains("To: =?utf-8?b?"),
            "the list in To: {message0}"
        );
        assert!(message0.contains("<echanges@romeurope.example>"));
        let received_id = mail_parser::MessageParser::default()
            .parse(message0.as_bytes())
            .and_then(|m| m.message_id().map(String::from))
            .unwrap();
        assert!(
            received_id.ends_with("@lyon.example"),
            "the author's Message-ID: {received_id}"
        );
        // The one-click POST of one copy unsubscribes its own recipient.
        let link = links.iter().next().unwrap().clone();
        let posted = reqwest::Client::new()
            .post(link.replace("http://127.0.0.1:8080", &app.url("")))
            .form(&[("List-Unsubscribe", "One-Click")])
            .send()
            .await
            .unwrap();
        assert!(posted.status().is_success(), "{}", posted.status());
        let list = app
            .store
            .discussion_list("echanges")
            .await
            .unwrap()
            .unwrap();
        let mut still = 0;
        for address in [
            "maire@lyon.example",
            "dgs@marseille.example",
            "elu@nantes.example",
        ] {
            if app.store.is_subscriber(list.id, address).await.unwrap() {
                still += 1;
            }
        }
        assert_eq!(still, 2, "exactly one subscriber left");

        // A reply to the shared copy joins the thread.
        lmtp(
            &app,
            "dgs@marseille.example",
            "echanges@romeurope.example",
            &post(
                "dgs@marseille.example",
                "mx.club.example; dkim=pass header.d=marseille.example",
                "Re: [Club] Un seul exemplaire",
                "",
            )
            .replace(
                "In-Reply-To: <debut@nantes.example>",
                &format!("In-Reply-To: <{received_id}>"),
            ),
        )
        .await;
        routed(&app, 2).await;
        let index = staff.get_text("/listes/echanges/archives").await;
        assert_eq!(
            index.matches("/listes/echanges/archives/fils/").count(),
            1,
            "one thread: {index}"
        );
        app.stop().await;
    }

    run_on_both_databases!();
}
