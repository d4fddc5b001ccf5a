//! Nobody acts in someone else's name and nobody gets backscatter, on both databases: leaving by mail needs
//! the address's confirmation unless the organisation's server vouches for the sender; an
//! `Authentication-Results` naming the trusted server below a foreign `Received` proves nothing; bounces,
//! machines and forged strangers get no automatic answer, and an address gets at most three a day; a
//! sender staff approve and trust posts without moderation afterwards.

mod common;

use common::Backend;
use common::lists::{echanges, lmtp, messages_of_kind, routed, signing_app};
use common::sink::Sink;

const TRUSTED: &str = "mx.club.example";

fn mail(from: &str, to: &str, subject: &str, head: &str) -> String {
    format!(
        "{head}From: {from}\nTo: {to}\nSubject: {subject}\nMessage-ID: <{}@example.net>\n\
         Date: Tue, 24 Nov 2026 09:30:00 +0100\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nBonjour.\n",
        uuid::Uuid::new_v4().simple()
    )
}

fn vouched(domain: &str) -> String {
    format!("Authentication-Results: {TRUSTED}; dkim=pass header.d={domain}\n")
}

mod leaving_by_mail_needs_the_address {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let (app, _) = signing_app(backend, &sink, |_| {}).await;
        echanges(
            &app,
            &[],
            "maire@lyon.example\ndgs@marseille.example\nelu@nantes.example",
        )
        .await;
        let list = app
            .store
            .discussion_list("echanges")
            .await
            .unwrap()
            .unwrap();
        // A forged From: the mayor is asked, and stays until she confirms.
        lmtp(
            &app,
            "pirate@ailleurs.example",
            "echanges-leave@romeurope.example",
            &mail(
                "maire@lyon.example",
                "echanges-leave@romeurope.example",
                "unsubscribe",
                "",
            ),
        )
        .await;
        // The organisation's server vouches for Marseille: gone at once.
        lmtp(
            &app,
            "dgs@marseille.example",
            "echanges-leave@romeurope.example",
            &mail(
                "dgs@marseille.example",
                "echanges-leave@romeurope.example",
                "unsubscribe",
                &vouched("marseille.example"),
            ),
        )
        .await;
        routed(&app, 2).await;
        assert!(
            app.store
                .is_subscriber(list.id, "maire@lyon.example")
                .await
                .unwrap(),
            "a forged leave changes nothing by itself"
        );
        assert!(
            !app.store
                .is_subscriber(list.id, "dgs@marseille.example")
                .await
                .unwrap()
        );
        let asked = messages_of_kind(&app, "list_leave_confirm").await;
        assert_eq!(asked.len(), 1);
        let deliveries = app.store.deliveries_of(asked[0]).await.unwrap();
        assert_eq!(deliveries[0].recipient, "maire@lyon.example");
        let outcomes = app.store.inbound_list(10).await.unwrap();
        assert!(
            outcomes
                .iter()
                .any(|o| o.outcome.contains("confirmation envoyée")),
            "{outcomes:?}"
        );
        app.stop().await;
    }

    run_on_both_databases!();
}

mod no_backscatter_and_no_forged_authentication {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let (app, _) = signing_app(backend, &sink, |_| {}).await;
        let staff = echanges(&app, &[], "maire@lyon.example\ndgs@marseille.example").await;
        let request = "echanges-request@romeurope.example";
        // A bounce (null envelope sender), a daemon, an automatic mail: no help reply.
        lmtp(
            &app,
            "",
            request,
            &mail("maire@lyon.example", request, "aide", ""),
        )
        .await;
        lmtp(
            &app,
            "MAILER-DAEMON@mx.ailleurs.example",
            request,
            &mail("MAILER-DAEMON@mx.ailleurs.example", request, "aide", ""),
        )
        .await;
        lmtp(
            &app,
            "maire@lyon.example",
            request,
            &mail(
                "maire@lyon.example",
                request,
                "aide",
                "Auto-Submitted: auto-replied\n",
            ),
        )
        .await;
        // A person asks for help five times in a day: three answers.
        for _ in 0..5 {
            lmtp(
                &app,
                "elu@nantes.example",
                request,
                &mail("elu@nantes.example", request, "aide", ""),
            )
            .await;
        }
        // A stranger nobody vouches for posts: held, and not told (the From may be anyone's).
        lmtp(
            &app,
            "promo@gagnant.example",
            "echanges@romeurope.example",
            &mail(
                "promo@gagnant.example",
                "echanges@romeurope.example",
                "Gagnez un iPhone",
                "",
            ),
        )
        .await;
        // A result naming the trusted server, below a Received it did not write: forged, held.
        let forged = format!(
            "Authentication-Results: {TRUSTED}; dkim=fail header.d=lyon.example\n\
             Received: from relais.pirate.example by relais.pirate.example with SMTP\n\
             Authentication-Results: {TRUSTED}; dkim=pass header.d=lyon.example\n"
        );
        lmtp(
            &app,
            "maire@lyon.example",
            "echanges@romeurope.example",
            &mail(
                "maire@lyon.example",
                "echanges@romeurope.example",
                "Faux",
                &forged,
            ),
        )
        .await;
        routed(&app, 10).await;
        let help = messages_of_kind(&app, "list_help").await;
        assert_eq!(help.len(), 3, "three answers a day to one address");
        for id in &help {
            let deliveries = app.store.deliveries_of(*id).await.unwrap();
            assert_eq!(deliveries[0].recipient, "elu@nantes.example");
        }
        let held = app.store.held_posts().await.unwrap();
        assert_eq!(held.len(), 2, "{held:?}");
        let forged_post = held.iter().find(|p| p.subject == "Faux").unwrap();
        assert!(
            forged_post.reasons.contains("non vérifiée"),
            "{}",
            forged_post.reasons
        );
        let notices = messages_of_kind(&app, "list_held").await;
        let told: Vec<String> = {
            let mut told = Vec::new();
            for id in notices {
                for d in app.store.deliveries_of(id).await.unwrap() {
                    told.push(d.recipient);
                }
            }
            told
        };
        assert!(
            !told.contains(&"promo@gagnant.example".to_string()),
            "no notice to a stranger: {told:?}"
        );
        assert_eq!(
            told,
            vec!["maire@lyon.example".to_string()],
            "a subscriber hears that her post waits"
        );

        // Approve and trust: the stranger's next post goes out without moderation.
        let stranger = held
            .iter()
            .find(|p| p.subject == "Gagnez un iPhone")
            .unwrap();
        let decided = staff
            .post_form(
                &format!("/listes/messages/{}", stranger.id),
                &[("decision", "trust"), ("message", "")],
            )
            .await;
        assert!(
            decided.status().is_success() || decided.status().is_redirection(),
            "{}",
            decided.status()
        );
        let before = messages_of_kind(&app, "list_post").await.len();
        lmtp(
            &app,
            "promo@gagnant.example",
            "echanges@romeurope.example",
            &mail(
                "promo@gagnant.example",
                "echanges@romeurope.example",
                "Suite",
                &vouched("gagnant.example"),
            ),
        )
        .await;
        routed(&app, 11).await;
        assert_eq!(
            messages_of_kind(&app, "list_post").await.len(),
            before + 1,
            "{:?}",
            app.store.held_posts().await
        );
        app.stop().await;
    }

    run_on_both_databases!();
}

/// Joining by mail: the confirmation names the list joined (not the newsletter), and the subscription keeps
/// the display name the official's client gave.
mod joining_by_mail_names_the_list_and_keeps_the_name {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let (app, _) = signing_app(backend, &sink, |_| {}).await;
        echanges(&app, &[], "maire@lyon.example").await;
        let join = "echanges-join@romeurope.example";
        lmtp(
            &app,
            "elu4@nantes.example",
            join,
            &mail("Élu Quatre <elu4@nantes.example>", join, "join", ""),
        )
        .await;
        routed(&app, 1).await;
        let mut link = None;
        for _ in 0..200 {
            link = sink.received().iter().find_map(|raw| {
                let unfolded = raw.replace("=\r\n", "");
                let at = unfolded.find("/abonnement/confirmer/")?;
                Some(
                    unfolded[at..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || "/_-".contains(*c))
                        .collect::<String>(),
                )
            });
            if link.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let link = link.expect("a confirmation mail");
        let client = common::TestApp::client();
        let page = client
            .get(app.url(&link))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("<h1>Échanges du club</h1>"), "{page}");
        assert!(!page.contains("Lettre du club"), "{page}");
        let done = client
            .post(app.url(&link))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            done.contains("recevra désormais <strong>Échanges du club</strong>"),
            "{done}"
        );
        let list = app
            .store
            .discussion_list("echanges")
            .await
            .unwrap()
            .unwrap();
        assert!(
            app.store
                .is_subscriber(list.id, "elu4@nantes.example")
                .await
                .unwrap()
        );
        let subscriptions = app
            .store
            .subscriptions_of_address("elu4@nantes.example")
            .await
            .unwrap();
        assert_eq!(subscriptions[0].name, "Élu Quatre", "{subscriptions:?}");
        assert_eq!(subscriptions[0].consent_source, "mail");
        app.stop().await;
    }

    run_on_both_databases!();
}
