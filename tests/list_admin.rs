//! Running a discussion list from its page, over HTTP against the real application on both databases:
//! staff change its settings (French messages for mistakes, the change in the audit log) while a viewer
//! reads and is refused every write; the bulk form adds the good lines and names each bad one with its
//! number; someone who left is not added back, but re-subscribed at their request with that consent
//! recorded; staff remove a subscriber and re-enable one that bounces disabled; held posts are moderated
//! from the list's page, and "Courriers reçus" shows the decision, filtered and a page at a time.

mod common;

use chrono::NaiveDate;
use common::lists::{echanges, lmtp, routed, signing_app};
use common::sink::Sink;
use common::{Backend, Staff, TestApp};
use relais::domain::Role;
use relais::store::discussion::DiscussionList;
use relais::store::list_admin::{ListSubscriber, RESUBSCRIBE_GROUND};

async fn list(app: &TestApp) -> DiscussionList {
    app.store
        .discussion_list("echanges")
        .await
        .unwrap()
        .expect("the list")
}

async fn subscriber(app: &TestApp, address: &str) -> ListSubscriber {
    let list = list(app).await;
    app.store
        .list_subscribers(list.id)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.address == address)
        .unwrap_or_else(|| panic!("{address} on the list"))
}

/// Posts a form and returns the status and the page.
async fn post(staff: &Staff, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let response = staff.post_form(path, fields).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

const SETTINGS: &[(&str, &str)] = &[
    ("name", "Échanges entre collectivités"),
    ("description", "Questions et retours d'expérience"),
    ("subject_prefix", "[Échanges]"),
    ("reply_to", "sender"),
    ("post_policy", "moderated"),
    ("archive", "public"),
    ("max_kb", "2048"),
    ("copies", "shared"),
    ("strip_executables", "non"),
];

mod staff_change_the_settings_and_a_viewer_only_reads {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let staff = echanges(&app, &[], "maire@lyon.example, Maire de Lyon").await;
        let overview = staff.get_text("/listes").await;
        assert!(overview.contains("href=\"/listes/echanges\""), "{overview}");
        let page = staff.get_text("/listes/echanges").await;
        assert!(page.contains("value=\"[Club]\""), "{page}");
        assert!(page.contains("href=\"/listes/echanges/archives\""));

        // Mistakes: every one said in French, the typed values kept, nothing saved.
        let (status, page) = post(
            &staff,
            "/listes/echanges",
            &[
                ("name", " "),
                ("subject_prefix", "[Nouveau]"),
                ("reply_to", "tout-le-monde"),
                ("post_policy", "members"),
                ("archive", "members"),
                ("max_kb", "beaucoup"),
            ],
        )
        .await;
        assert_eq!(status, 400);
        for message in [
            "Donnez un nom à la liste.",
            "Choisissez où vont les réponses : à la liste ou à l&#39;auteur.",
            "La taille maximale s&#39;écrit en Ko, en chiffres",
        ] {
            assert!(page.contains(message), "{message}: {page}");
        }
        assert!(page.contains("value=\"[Nouveau]\""), "typed value kept");
        let (status, page) = post(
            &staff,
            "/listes/echanges",
            &[
                ("name", "Échanges"),
                ("reply_to", "list"),
                ("post_policy", "members"),
                ("archive", "members"),
                ("max_kb", "30000"),
            ],
        )
        .await;
        assert_eq!(status, 400);
        assert!(page.contains("La taille maximale va de 10 Ko à 25 Mo"));
        assert_eq!(list(&app).await.subject_prefix, "[Club]");

        // Saved, with a message, and in the audit log.
        let (status, page) = post(&staff, "/listes/echanges", SETTINGS).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Réglages enregistrés."), "{page}");
        let saved = list(&app).await;
        assert_eq!(saved.name, "Échanges entre collectivités");
        assert_eq!(saved.description, "Questions et retours d'expérience");
        assert_eq!(saved.subject_prefix, "[Échanges]");
        assert_eq!(
            (
                saved.reply_to.as_str(),
                saved.post_policy.as_str(),
                saved.archive.as_str()
            ),
            ("sender", "moderated", "public")
        );
        assert_eq!(saved.max_bytes, 2048 * 1024);
        assert!(!saved.personalized && !saved.strip_executables);
        let audit = app
            .store
            .list_audit(Some(("mailing_list", saved.id)), 10)
            .await
            .unwrap();
        assert_eq!(audit.len(), 1, "{audit:?}");
        assert_eq!(audit[0].action, "update");
        let details: serde_json::Value = serde_json::from_str(&audit[0].details).unwrap();
        assert_eq!(details["before"]["subject_prefix"], "[Club]");
        assert_eq!(details["after"]["subject_prefix"], "[Échanges]");
        assert_eq!(details["after"]["strip_executables"], false);
        let (_, page) = post(&staff, "/listes/echanges", SETTINGS).await;
        assert!(page.contains("les réglages n&#39;ont pas changé"), "{page}");
        assert_eq!(
            app.store
                .list_audit(Some(("mailing_list", saved.id)), 10)
                .await
                .unwrap()
                .len(),
            1,
            "no change, no entry"
        );

        // A viewer reads the page without a form to send, and every write is refused.
        let viewer = app.logged_in(Role::Viewer, &[]).await;
        let page = viewer.get_text("/listes/echanges").await;
        assert!(page.contains("maire@lyon.example"));
        assert!(page.contains("Lecture seule"));
        assert!(!page.contains("Enregistrer les réglages"));
        assert!(!page.contains("/abonnes/"), "no remove button: {page}");
        assert!(!page.contains("action=\"/listes/echanges/abonnes\""));
        let id = subscriber(&app, "maire@lyon.example").await.id;
        for (path, fields) in [
            ("/listes/echanges".to_string(), SETTINGS.to_vec()),
            (
                "/listes/echanges/abonnes".to_string(),
                vec![("addresses", "nouveau@lyon.example")],
            ),
            (format!("/listes/echanges/abonnes/{id}/retirer"), vec![]),
            (format!("/listes/echanges/abonnes/{id}/reactiver"), vec![]),
            (
                "/listes/echanges/reabonner".to_string(),
                vec![("address", "maire@lyon.example"), ("demande", "oui")],
            ),
            (
                "/listes".to_string(),
                vec![
                    ("key", "autre"),
                    ("name", "Autre"),
                    ("reply_to", "list"),
                    ("post_policy", "members"),
                    ("archive", "members"),
                    ("max_kb", "100"),
                ],
            ),
        ] {
            let response = viewer.post_form(&path, &fields).await;
            assert_eq!(response.status(), 403, "POST {path}");
        }
        assert_eq!(subscriber(&app, "maire@lyon.example").await.state, "active");
        assert!(
            app.store
                .subscription_of("echanges", "nouveau@lyon.example")
                .await
                .unwrap()
                .is_none()
        );
        // A relay sees nothing of it.
        let relay = app.logged_in(Role::Relay, &["69"]).await;
        assert_eq!(relay.get("/listes/echanges").await.status(), 403);
        assert_eq!(staff.get("/listes/lettre").await.status(), 404);
        app.stop().await;
    }

    run_on_both_databases!();
}

mod the_bulk_form_adds_the_good_lines_and_names_each_bad_one {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let staff = echanges(
            &app,
            &[],
            "maire@lyon.example, Maire de Lyon\nelu@nantes.example, Élu de Nantes",
        )
        .await;
        let list = list(&app).await;
        // The official of Nantes leaves from her preferences page.
        app.clock.advance(chrono::Duration::minutes(30));
        app.store
            .leave_lists("elu@nantes.example", Some(list.id), app.clock.now_millis())
            .await
            .unwrap();
        app.clock.advance(chrono::Duration::hours(5));

        let lines = "dgs@marseille.example, DGS de Marseille\n\
                     pas-une-adresse\n\
                     Maire@Lyon.example\n\
                     elu@nantes.example\n\
                     \n\
                     \"Cabinet de Lille\" <cabinet@lille.example>\n\
                     dgs@marseille.example\n\
                     maire@rennes";
        let (status, page) =
            post(&staff, "/listes/echanges/abonnes", &[("addresses", lines)]).await;
        assert_eq!(status, 200, "{page}");
        assert!(
            page.contains(
                "2 abonnements ajoutés à Échanges du club, 1 adresse déjà abonnée, 4 lignes refusées."
            ),
            "{page}"
        );
        for line in [
            "Ligne 2 : « pas-une-adresse » n&#39;est pas une adresse email (il manque « @ »).",
            "Ligne 4 : elu@nantes.example a quitté la liste le 23/11/2026 10:30 (source : page de préférences ou courriel à la liste) : rien n&#39;a été fait.",
            "Ligne 7 : dgs@marseille.example figure déjà ligne 1.",
            "Ligne 8 : « maire@rennes » n&#39;est pas une adresse email valide.",
        ] {
            assert!(page.contains(line), "{line}: {page}");
        }
        assert!(page.contains("maire@lyon.example (abonné·e)"), "{page}");
        // The one who left gets a button, which asks that she asked.
        assert!(
            page.contains("action=\"/listes/echanges/reabonner\""),
            "{page}"
        );
        assert!(page.contains("La personne a demandé à revenir"));

        let state = |address: &'static str| {
            let app = app.clone();
            async move {
                app.store
                    .subscription_of("echanges", address)
                    .await
                    .unwrap()
                    .map(|s| s.0)
            }
        };
        assert_eq!(
            state("dgs@marseille.example").await.as_deref(),
            Some("active")
        );
        assert_eq!(
            state("cabinet@lille.example").await.as_deref(),
            Some("active")
        );
        assert_eq!(
            subscriber(&app, "cabinet@lille.example").await.name,
            "Cabinet de Lille"
        );
        assert_eq!(
            subscriber(&app, "dgs@marseille.example").await.name,
            "DGS de Marseille",
            "the first line counts"
        );
        assert_eq!(
            state("elu@nantes.example").await.as_deref(),
            Some("unsubscribed")
        );
        assert_eq!(state("maire@rennes").await, None);
        app.stop().await;
    }

    run_on_both_databases!();
}

mod someone_who_left_is_resubscribed_at_their_request_with_consent {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let staff = echanges(&app, &[], "elu@nantes.example, Élu de Nantes").await;
        let list = list(&app).await;
        app.store
            .leave_lists("elu@nantes.example", Some(list.id), app.clock.now_millis())
            .await
            .unwrap();
        app.clock.advance(chrono::Duration::hours(2));

        // Without saying the person asked, nothing happens.
        let (status, page) = post(
            &staff,
            "/listes/echanges/reabonner",
            &[("address", "elu@nantes.example")],
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            page.contains("cochez « La personne a demandé à revenir »"),
            "{page}"
        );
        assert_eq!(
            subscriber(&app, "elu@nantes.example").await.state,
            "unsubscribed"
        );

        let (status, page) = post(
            &staff,
            "/listes/echanges/reabonner",
            &[
                ("address", "Elu@Nantes.example"),
                ("name", "Élu de Nantes"),
                ("demande", "oui"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{page}");
        assert!(
            page.contains(
                "elu@nantes.example est de nouveau abonné·e à Échanges du club, à sa demande"
            ),
            "{page}"
        );
        let now = app.clock.now_millis();
        let row = subscriber(&app, "elu@nantes.example").await;
        assert_eq!(row.state, "active");
        assert_eq!(row.consent_at, Some(now));
        assert_eq!(row.consent_source, "staff");
        assert_eq!(row.legal_basis, "consent");
        assert_eq!(row.wording_version, RESUBSCRIBE_GROUND);
        assert!(row.consent_by.starts_with("staff-"), "{}", row.consent_by);
        // The person's own export says who in the team recorded it.
        let data = app
            .store
            .personal_data("elu@nantes.example", now)
            .await
            .unwrap();
        let subscription = data["abonnements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["liste"] == "Échanges du club")
            .unwrap();
        assert_eq!(
            subscription["consentement"]["enregistre_par"],
            row.consent_by.as_str()
        );
        assert!(
            page.contains("réabonnement par l&#39;équipe à la demande de la personne"),
            "{page}"
        );
        assert!(
            app.store
                .is_subscriber(list.id, "elu@nantes.example")
                .await
                .unwrap()
        );
        assert_eq!(
            app.store
                .unsubscribed("echanges", "elu@nantes.example")
                .await
                .unwrap(),
            None,
            "a later departure is recorded afresh"
        );
        let entry = app
            .store
            .list_audit(None, 20)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.action == "resubscribe")
            .expect("the re-subscription is in the audit log");
        let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap();
        assert_eq!(details["left_source"], "preferences");
        assert_eq!(details["ground"], RESUBSCRIBE_GROUND);

        // Asked again: already there.
        let (_, page) = post(
            &staff,
            "/listes/echanges/reabonner",
            &[("address", "elu@nantes.example"), ("demande", "oui")],
        )
        .await;
        assert!(page.contains("est déjà abonné·e"), "{page}");
        // Someone who never left goes through the bulk form.
        let (_, page) = post(
            &staff,
            "/listes/echanges/reabonner",
            &[("address", "jamais@lyon.example"), ("demande", "oui")],
        )
        .await;
        assert!(page.contains("n&#39;a jamais quitté"), "{page}");
        app.stop().await;
    }

    run_on_both_databases!();
}

mod staff_remove_a_subscriber_and_re_enable_one_bounces_disabled {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let staff = echanges(
            &app,
            &[],
            "maire@lyon.example, Maire de Lyon\ndgs@marseille.example\nelu@nantes.example, Élu de Nantes",
        )
        .await;
        let list = list(&app).await;
        let first = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        for day in 0..5 {
            app.store
                .charge_bounce(
                    "dgs@marseille.example",
                    first + chrono::Duration::days(day),
                    app.clock.now_millis(),
                )
                .await
                .unwrap();
        }
        app.store
            .set_subscription_mode(
                "maire@lyon.example",
                list.id,
                "digest",
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        let page = staff.get_text("/listes/echanges").await;
        assert!(page.contains("suspendu·e (retours en erreur)"), "{page}");
        assert!(page.contains("5 / 5"), "{page}");
        assert!(page.contains("récapitulatif quotidien"));
        assert!(page.contains("Réactiver dgs@marseille.example"));

        // A search by part of the address, or the name without its accent.
        let found = staff.get_text("/listes/echanges?q=elu+de").await;
        assert!(found.contains("elu@nantes.example"), "{found}");
        assert!(!found.contains("maire@lyon.example"), "{found}");
        let found = staff.get_text("/listes/echanges?q=MARSEILLE").await;
        assert!(found.contains("dgs@marseille.example"));
        assert!(!found.contains("elu@nantes.example"));

        let disabled = subscriber(&app, "dgs@marseille.example").await;
        let (status, page) = post(
            &staff,
            &format!("/listes/echanges/abonnes/{}/reactiver", disabled.id),
            &[],
        )
        .await;
        assert_eq!(status, 200);
        assert!(
            page.contains("dgs@marseille.example reçoit de nouveau"),
            "{page}"
        );
        assert_eq!(
            app.store
                .bounce_state("echanges", "dgs@marseille.example")
                .await
                .unwrap(),
            Some(("active".to_string(), 0, 0))
        );

        let leaving = subscriber(&app, "maire@lyon.example").await;
        let (status, page) = post(
            &staff,
            &format!("/listes/echanges/abonnes/{}/retirer", leaving.id),
            &[],
        )
        .await;
        assert_eq!(status, 200);
        assert!(page.contains("maire@lyon.example ne reçoit plus"), "{page}");
        assert!(
            !app.store
                .is_subscriber(list.id, "maire@lyon.example")
                .await
                .unwrap()
        );
        let departure = app
            .store
            .unsubscribed("echanges", "maire@lyon.example")
            .await
            .unwrap()
            .expect("departure recorded");
        assert_eq!(departure.1, "staff");
        // Twice is nothing more.
        let (_, page) = post(
            &staff,
            &format!("/listes/echanges/abonnes/{}/retirer", leaving.id),
            &[],
        )
        .await;
        assert!(page.contains("était déjà terminé"), "{page}");
        // Another list's subscription is out of reach through this one.
        let lettre = app.store.mailing_list("lettre").await.unwrap().unwrap();
        app.store
            .add_subscriptions(
                &lettre,
                &[("lecteur@lyon.example".into(), String::new())],
                "staff",
                "legitimate_interest",
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        let other = app
            .store
            .list_subscribers(lettre.id)
            .await
            .unwrap()
            .remove(0);
        let (_, page) = post(
            &staff,
            &format!("/listes/echanges/abonnes/{}/retirer", other.id),
            &[],
        )
        .await;
        assert!(page.contains("était déjà terminé"), "{page}");
        assert!(
            app.store
                .is_subscriber(lettre.id, "lecteur@lyon.example")
                .await
                .unwrap()
        );
        let actions: Vec<String> = app
            .store
            .list_audit(None, 20)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.entity == "subscription")
            .map(|e| e.action)
            .collect();
        // Newest first: the removal, the re-enabling, and the subscriptions staff added at the start.
        assert_eq!(actions, vec!["unsubscribe", "reenable", "subscribe"]);
        app.stop().await;
    }

    run_on_both_databases!();
}

/// A post as an official's mail client sends it, vouched for by the organisation's server.
fn message(from: &str, subject: &str) -> String {
    format!(
        "Authentication-Results: mx.club.example; dkim=pass header.d=lyon.example\nFrom: <{from}>\n\
         To: <echanges@romeurope.example>\nSubject: {subject}\nMessage-ID: <{}@lyon.example>\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0100\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n\
         Bonjour.\n",
        uuid::Uuid::new_v4().simple()
    )
}

/// How many received recipients a "Courriers reçus" page lists.
fn rows(page: &str) -> usize {
    page.matches("/brut\">").count()
}

mod held_posts_are_moderated_from_the_list_page_and_courriers_recus_follows {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let (app, _) = signing_app(backend, &sink, |_| {}).await;
        let staff = echanges(&app, &[], "maire@lyon.example, Maire de Lyon").await;
        for (from, subject) in [
            ("intrus@lyon.example", "Publicité"),
            ("maire@lyon.example", "Raccordement"),
        ] {
            let reply = lmtp(
                &app,
                from,
                "echanges@romeurope.example",
                &message(from, subject),
            )
            .await;
            assert!(reply.starts_with("250"), "{reply}");
        }
        routed(&app, 2).await;
        let held = app.store.held_posts().await.unwrap();
        assert_eq!(held.len(), 1);

        let page = staff.get_text("/listes/echanges").await;
        assert!(
            page.contains("Messages en attente de modération (1)"),
            "{page}"
        );
        assert!(page.contains("Publicité"));
        assert!(page.contains(&format!("action=\"/listes/messages/{}\"", held[0].id)));
        assert!(page.contains("name=\"back\" value=\"echanges\""));
        let inbound = staff.get_text("/courriers/recus?state=held").await;
        assert_eq!(rows(&inbound), 1, "{inbound}");
        assert!(inbound.contains("en attente"));

        let (status, page) = post(
            &staff,
            &format!("/listes/messages/{}", held[0].id),
            &[("decision", "discard"), ("back", "echanges")],
        )
        .await;
        assert_eq!(status, 200);
        assert!(page.contains("Message écarté sans réponse."), "{page}");
        assert!(page.contains("Messages en attente de modération (0)"));
        assert!(page.contains("id=\"abonnes\""), "back on the list's page");

        let inbound = staff.get_text("/courriers/recus").await;
        assert!(inbound.contains("écarté par la modération"), "{inbound}");
        assert_eq!(
            rows(&staff.get_text("/courriers/recus?state=held").await),
            0
        );
        let discarded = staff.get_text("/courriers/recus?state=discarded").await;
        assert_eq!(rows(&discarded), 1);
        assert!(discarded.contains("Publicité"));
        assert_eq!(rows(&staff.get_text("/courriers/recus?kind=post").await), 2);
        assert_eq!(
            rows(&staff.get_text("/courriers/recus?kind=bounce").await),
            0
        );
        assert_eq!(
            rows(&staff.get_text("/courriers/recus?list=echanges").await),
            2
        );
        assert_eq!(
            rows(&staff.get_text("/courriers/recus?list=lettre").await),
            0
        );
        let day = staff
            .get_text("/courriers/recus?from=2026-11-23&to=2026-11-23&kind=post")
            .await;
        assert_eq!(rows(&day), 2);
        assert_eq!(
            rows(&staff.get_text("/courriers/recus?from=2026-11-24").await),
            0
        );
        assert_eq!(
            rows(&staff.get_text("/courriers/recus?to=2026-11-22").await),
            0
        );
        let wrong = staff.get_text("/courriers/recus?from=2026-13-45").await;
        assert!(
            wrong.contains("La date de début « 2026-13-45 » se lit mal"),
            "{wrong}"
        );

        // Sixty messages for the team: two pages, the filters kept in the links.
        for n in 0..60 {
            let raw = format!("From: <x{n}@lyon.example>\nSubject: Note {n}\n\nBonjour.\n");
            let reply = lmtp(&app, "x@lyon.example", "club@romeurope.example", &raw).await;
            assert!(reply.starts_with("250"), "{reply}");
        }
        routed(&app, 62).await;
        let first = staff.get_text("/courriers/recus?kind=staff").await;
        assert_eq!(rows(&first), 50);
        assert!(first.contains("Page 1 sur 2"), "{first}");
        assert!(
            first.contains("href=\"/courriers/recus?kind=staff&amp;page=2\""),
            "{first}"
        );
        let second = staff.get_text("/courriers/recus?kind=staff&page=2").await;
        assert_eq!(rows(&second), 10);
        assert!(second.contains("Note 0"));
        app.stop().await;
    }

    run_on_both_databases!();
}
