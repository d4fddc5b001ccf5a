//! The preferences page every mail links to, on both databases: each copy carries its own link, the page
//! changes the mode and ends subscriptions, the link can be asked for again by mail, the JSON export holds
//! every record about the person, and after a confirmed erasure none of their personal data is left in
//! any column of any table while the anonymous counts stay.

mod common;

use std::time::Duration;

use common::newsletter::{newsletter_copies, send_issue};
use common::sink::{Sink, app_sending_to};
use common::{Backend, TestApp};
use relais::domain::{Role, Stage};
use relais::mail::compose::PERSONAL_PLACEHOLDER;
use relais::store::audit::Actor;

/// Every preferences link (path and token) in a raw mail, quoted-printable soft breaks removed.
fn preferences_links(raw: &str) -> Vec<String> {
    let unfolded = raw.replace("=\r\n", "");
    unfolded
        .match_indices("/preferences/")
        .map(|(at, _)| {
            unfolded[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/_-".contains(*c))
                .collect()
        })
        .collect()
}

/// The address a written copy went to (its first `To`).
fn copy_address(copy: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(copy.as_bytes())
        .and_then(|m| {
            m.to()
                .and_then(|a| a.first())
                .and_then(|a| a.address().map(String::from))
        })
        .unwrap()
}

use common::lists::public_form_fields as form_fields;

mod every_copy_carries_its_own_link_to_a_page_that_changes_subscriptions {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let app = app_sending_to(backend, &sink).await;
        let list = app.store.mailing_list("lettre").await.unwrap().unwrap();
        let entries = vec![
            ("ana@commune.example".to_string(), "Ana".to_string()),
            ("bruno@commune.example".to_string(), "Bruno".to_string()),
        ];
        let now = app.clock.now_millis();
        app.store
            .add_subscriptions(&list, &entries, "import", "consent", now)
            .await
            .unwrap();
        let staff = app.logged_in(Role::Staff, &[]).await;
        let issue = send_issue(&app, &staff, "n° 1", &[("other", "Brève", "Un mot.")]).await;
        let copies = newsletter_copies(&app, issue, || sink.received()).await;
        assert_eq!(copies.len(), 2);

        let mut tokens = Vec::new();
        for copy in &copies {
            assert!(!copy.contains("RELAISx"), "no placeholder left: {copy}");
            let links = preferences_links(copy);
            assert_eq!(links.len(), 2, "one link in the text, one in the HTML");
            assert_eq!(links[0], links[1], "the same link in both parts");
            assert!(!links[0].contains(PERSONAL_PLACEHOLDER));
            let address = if copy.contains("To: Ana <ana@") {
                "ana@commune.example"
            } else {
                "bruno@commune.example"
            };
            tokens.push((address, links[0].clone()));
        }
        assert_ne!(tokens[0].1, tokens[1].1, "each copy has its own link");

        // Each link opens its own recipient's page, and only theirs.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let (ana, ana_link) = tokens.iter().find(|(a, _)| a.starts_with("ana")).unwrap();
        let page = client.get(app.url(ana_link)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains(ana) && !page.contains("bruno@"), "{page}");
        assert!(page.contains("Lettre du club"), "{page}");
        assert!(
            page.contains("importée"),
            "why the subscription exists: {page}"
        );

        // The monthly summary instead of each issue.
        let change = |action: &'static str| {
            let client = client.clone();
            let url = app.url(&format!("{ana_link}/listes/{}", list.id));
            async move {
                client
                    .post(url)
                    .form(&[("action", action)])
                    .send()
                    .await
                    .unwrap()
            }
        };
        let response = change("digest").await;
        assert_eq!(response.status(), 303);
        let own = app.store.subscriptions_of_address(ana).await.unwrap();
        assert_eq!(own[0].mode, "digest");
        assert_eq!(change("nimporte").await.status(), 400);

        // Leaving from the page ends the subscription and records the departure.
        assert_eq!(change("leave").await.status(), 303);
        let own = app.store.subscriptions_of_address(ana).await.unwrap();
        assert_eq!(own[0].state, "unsubscribed");
        let (_, source) = app
            .store
            .unsubscribed("lettre", ana)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(source, "preferences");
        let bruno = app
            .store
            .subscriptions_of_address("bruno@commune.example")
            .await
            .unwrap();
        assert_eq!(
            bruno[0].state, "active",
            "the other subscriber is untouched"
        );

        // A forged token, or a token of another purpose, opens nothing.
        let key = relais::mail::unsubscribe::UnsubscribeKey::new(
            &app.store.secret("unsubscribe").await.unwrap(),
        );
        let deliveries = app
            .store
            .deliveries_of(
                app.store
                    .issue(issue)
                    .await
                    .unwrap()
                    .unwrap()
                    .0
                    .message_id
                    .unwrap(),
            )
            .await
            .unwrap();
        for bad in [
            format!("/preferences/{PERSONAL_PLACEHOLDER}"),
            format!("/preferences/{}", key.token(deliveries[0].id)),
        ] {
            let response = client.get(app.url(&bad)).send().await.unwrap();
            assert_eq!(response.status(), 404, "{bad}");
            assert!(response.text().await.unwrap().contains("pas valide"));
        }

        // The archive shows the page where anyone asks for their link.
        let archive = client
            .get(app.url(&format!("/lettre/archives/{issue}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!archive.contains("RELAISx"), "{archive}");
        assert!(archive.contains("/preferences\""), "{archive}");
        // Read in the browser: no "read in a browser" line, relais' icon, a way back to the other issues.
        assert!(!archive.contains("Lire dans un navigateur"), "{archive}");
        assert!(
            archive.contains("<link rel=\"icon\" href=\"/favicon.svg\""),
            "{archive}"
        );
        assert!(
            archive.contains("<a href=\"/lettre/archives\">← Toutes les lettres</a>"),
            "{archive}"
        );

        // Asking for the link by mail: it comes once in ten minutes, and only to a known address.
        let ask = |email: &'static str| {
            let client = client.clone();
            let app = app.clone();
            async move {
                let (issued, proof) = form_fields(&client, &app, "/preferences").await;
                app.clock.advance(chrono::Duration::seconds(3));
                let response = client
                    .post(app.url("/preferences"))
                    .form(&[
                        ("email", email),
                        ("issued", &issued),
                        ("proof", &proof),
                        ("site", ""),
                    ])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                assert!(
                    response
                        .text()
                        .await
                        .unwrap()
                        .contains("Si le club connaît")
                );
            }
        };
        let before = sink.received().len();
        ask("Bruno@Commune.example").await;
        ask("bruno@commune.example").await;
        ask("inconnu@ailleurs.example").await;
        let mut link_mails = Vec::new();
        for _ in 0..100 {
            link_mails = sink.received()[before..].to_vec();
            if !link_mails.is_empty() {
                tokio::time::sleep(Duration::from_millis(300)).await;
                link_mails = sink.received()[before..].to_vec();
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(link_mails.len(), 1, "one link mail: {link_mails:?}");
        assert!(link_mails[0].contains("bruno@commune.example"));
        let link = &preferences_links(&link_mails[0])[0];
        let page = client
            .get(app.url(link))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("bruno@commune.example"), "{page}");
        app.stop().await;
    }

    run_on_both_databases!();
}

/// The columns of every table of the database at `url` whose text contains `needle` (any case).
async fn columns_containing(url: &str, needle: &str) -> Vec<String> {
    let needle = needle.to_lowercase();
    let mut found = Vec::new();
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        for table in tables {
            let columns: Vec<String> =
                sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            for column in columns {
                let count: i64 = sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM \"{table}\" WHERE LOWER(CAST(\"{column}\" AS TEXT)) LIKE $1"
                ))
                .bind(format!("%{needle}%"))
                .fetch_one(&pool)
                .await
                .unwrap();
                if count > 0 {
                    found.push(format!("{table}.{column}"));
                }
            }
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        for (table, column) in columns {
            let count: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM \"{table}\" WHERE LOWER(CAST(\"{column}\" AS TEXT)) LIKE $1"
            ))
            .bind(format!("%{needle}%"))
            .fetch_one(&pool)
            .await
            .unwrap();
            if count > 0 {
                found.push(format!("{table}.{column}"));
            }
        }
        pool.close().await;
    }
    found
}

mod the_export_holds_every_record_and_erasure_leaves_no_personal_data {
    use super::*;

    const NAME: &str = "Jeanne Exemple-Dupuis";
    const ADDRESS: &str = "Jeanne.Dupuis@Mairie-Exemple.example";
    const PHONE: &str = "06 12 34 56 78";
    const NOTE: &str = "Préfère être appelée le matin";

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let actor = Actor::command_line();
        let now = app.clock.now_millis();
        let entry = relais::referential::Referential::get()
            .by_code(None, "69123")
            .expect("Lyon in the referential");
        let new = relais::store::targets::NewTarget {
            organisation: relais::store::organisations::NewOrganisation::from_referential(entry),
            stage: Stage::Identified,
            fields: relais::store::targets::TargetFields {
                political_colour: relais::domain::PoliticalColour::Unknown,
                lead_source: relais::domain::LeadSource::Other,
                priority: relais::domain::Priority::Normal,
                notes: format!("Contact principal : {NAME}"),
                ..Default::default()
            },
            contacts: vec![
                relais::store::people::NewPerson {
                    full_name: NAME.into(),
                    function: "Adjointe aux solidarités".into(),
                    notes: NOTE.into(),
                    emails: vec![ADDRESS.into()],
                    phones: vec![PHONE.into()],
                    ..Default::default()
                },
                relais::store::people::NewPerson {
                    full_name: "Paul Témoin".into(),
                    emails: vec!["paul.temoin@mairie-exemple.example".into()],
                    ..Default::default()
                },
            ],
        };
        let target = app.store.create_target(&new, &actor, now).await.unwrap();
        let people = app
            .store
            .people_of_organisation(
                relais::store::Scope::All,
                entry_organisation(&app, target).await,
            )
            .await
            .unwrap();
        let jeanne = people.iter().find(|p| p.full_name == NAME).unwrap().id;
        app.store
            .record_interaction(
                relais::store::Scope::All,
                target,
                &relais::store::interactions::NewInteraction {
                    kind: "meeting".into(),
                    occurred_on: app.clock.today(),
                    summary: format!("Rencontre avec {NAME} sur la résorption des bidonvilles"),
                    outcome: "Rappeler en janvier".into(),
                    people: vec![jeanne],
                },
                &actor,
                now,
            )
            .await
            .unwrap();
        // She wrote to the club.
        let mut lmtp = tokio::net::TcpStream::connect(app.lmtp).await.unwrap();
        {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let dialogue = format!(
                "LHLO test\r\nMAIL FROM:<{address}>\r\nRCPT TO:<club@relais.invalid>\r\nDATA\r\nFrom: {NAME} <{ADDRESS}>\r\nSubject: Question de {NAME}\r\n\r\nBonjour\r\n.\r\nQUIT\r\n",
                address = ADDRESS.to_lowercase()
            );
            lmtp.write_all(dialogue.as_bytes()).await.unwrap();
            let mut replies = String::new();
            lmtp.read_to_string(&mut replies).await.unwrap();
            assert!(replies.contains("250 2.0.0"), "{replies}");
        }
        // She spoke at a meeting and answered the needs survey.
        let series = app
            .store
            .create_series(
                &relais::store::meeting_series::NewSeries {
                    title: "Réunion du club".into(),
                    rrule: "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU".into(),
                    first_start: "2026-12-01T14:00".into(),
                    duration_minutes: 120,
                    video_url: String::new(),
                    invite_members: true,
                    invite_staff: true,
                },
                now,
            )
            .await
            .unwrap();
        app.store
            .add_occurrences(
                series,
                &[(now + 86_400_000, now + 93_600_000)],
                "club.example",
                now,
            )
            .await
            .unwrap();
        let meeting = app.store.meetings_from(now, 1).await.unwrap().remove(0);
        app.store
            .add_speaker(meeting.id, ADDRESS, NAME, "Mairie de Lyon", now)
            .await
            .unwrap();
        let survey = app.store.survey().await.unwrap();
        let contact = app
            .store
            .invitable_contacts(survey.id)
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.name == NAME)
            .unwrap();
        let invitation = app
            .store
            .invite_to_survey(&survey, &contact, &actor, now, |_| {
                Ok(relais::store::outbox::NewMessage {
                    kind: relais::domain::mail_kind::MailKind::SurveyInvitation,
                    subject: format!("Recensement pour {NAME}"),
                    body_text: format!("Bonjour {NAME}"),
                    ..Default::default()
                })
            })
            .await
            .unwrap()
            .unwrap();
        let invitation = app
            .store
            .survey_invitation(invitation)
            .await
            .unwrap()
            .unwrap();
        app.store
            .submit_survey(
                &invitation,
                &relais::store::survey::NewAnswer {
                    problems: format!("{NAME} cherche des solutions pour l'eau"),
                    themes: vec![("eau".into(), 2, 1)],
                    ..Default::default()
                },
                now,
            )
            .await
            .unwrap();
        let list = app.store.mailing_list("lettre").await.unwrap().unwrap();
        let added = app
            .store
            .subscribe_contacts(
                &list,
                relais::store::subscriptions::ContactSelection::Stage(Stage::SurveyAnswered),
                now,
            )
            .await
            .unwrap();
        assert_eq!(added, 2);

        let staff = app.logged_in(Role::Staff, &[]).await;
        let issue = send_issue(&app, &staff, "n° 1", &[("other", "Brève", "Un mot.")]).await;
        let copies = newsletter_copies(&app, issue, || app.written_mails()).await;
        assert_eq!(copies.len(), 2);
        let copy = copies
            .iter()
            .find(|c| c.to_lowercase().contains("jeanne.dupuis@"))
            .expect("Jeanne's copy");
        let stale = preferences_links(copy)[0].clone();
        let client = reqwest::Client::new();
        // A newsletter's link may have been forwarded or quoted: it opens no personal data.
        for refused in [
            client
                .get(app.url(&format!("{stale}/donnees.json")))
                .send()
                .await
                .unwrap(),
            client
                .post(app.url(&format!("{stale}/effacement")))
                .send()
                .await
                .unwrap(),
        ] {
            assert_eq!(refused.status(), 403);
            let text = refused.text().await.unwrap();
            assert!(text.contains("Recevoir un lien par courriel"), "{text}");
            assert!(!text.contains("jeanne"), "{text}");
        }
        assert!(app.store.pending_erasures().await.unwrap().is_empty());
        // The link Jeanne asks for by mail opens them for a day.
        let (issued, proof) = form_fields(&client, &app, "/preferences").await;
        app.clock.advance(chrono::Duration::seconds(3));
        let asked = client
            .post(app.url("/preferences"))
            .form(&[
                ("email", copy_address(copy).as_str()),
                ("issued", &issued),
                ("proof", &proof),
                ("site", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(asked.status(), 200);
        let mut link = String::new();
        for _ in 0..200 {
            let link_mail = app.written_mails().into_iter().find(|m| {
                mail_parser::MessageParser::default()
                    .parse(m.as_bytes())
                    .is_some_and(|m| m.subject() == Some("Votre lien vers vos préférences"))
            });
            if let Some(mail) = link_mail {
                link = preferences_links(&mail)[0].clone();
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(!link.is_empty(), "the link mail is written");

        // The export: every record, in one JSON document offered as a download.
        let export = client
            .get(app.url(&format!("{link}/donnees.json")))
            .send()
            .await
            .unwrap();
        assert_eq!(export.status(), 200);
        assert_eq!(
            export.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        assert!(
            export.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment")
        );
        let data: serde_json::Value = export.json().await.unwrap();
        assert_eq!(data["adresse"], ADDRESS.to_lowercase());
        let subscription = &data["abonnements"][0];
        assert_eq!(subscription["liste"], "Lettre du club");
        assert_eq!(subscription["etat"], "abonné");
        assert_eq!(
            subscription["consentement"]["source"],
            "ajouté par l'équipe"
        );
        assert_eq!(
            subscription["consentement"]["base_legale"],
            "intérêt légitime"
        );
        let contact = &data["fiches_contact"][0];
        assert_eq!(contact["nom"], NAME);
        assert_eq!(contact["notes"], NOTE);
        assert_eq!(contact["telephones"][0], PHONE);
        assert_eq!(contact["organisation"], "Lyon");
        assert!(
            contact["echanges"][0]["resume"]
                .as_str()
                .unwrap()
                .contains("Rencontre avec")
        );
        let mails = data["courriers"].as_array().unwrap();
        assert_eq!(
            mails.len(),
            3,
            "the survey invitation, the newsletter and the link: {mails:?}"
        );
        assert!(mails.iter().any(|m| m["objet"] == "Lettre du club : n° 1"
            && m["etat"] == "envoyé"
            && m["type"] == "Lettre du club"));
        // The folder transport's reply names a file on the server: the export says it in words instead.
        let export_text = data.to_string();
        assert!(!export_text.contains("data/outbox") && !export_text.contains(".eml"));
        assert!(
            mails
                .iter()
                .any(|m| m["derniere_reponse"] == "déposé dans le dossier d'envoi local")
        );
        assert_eq!(data["fiches_contact"].as_array().unwrap().len(), 1);
        assert_eq!(
            data["courriers_recus"][0]["objet"],
            format!("Question de {NAME}")
        );
        assert_eq!(data["reunions"][0]["role"], "personne qui intervient");
        assert_eq!(data["reunions"][0]["reponse"], "sans réponse");
        assert!(
            data["recensement"][0]["problemes"]
                .as_str()
                .unwrap()
                .contains("cherche des solutions")
        );

        // Asking twice makes one request, which staff see.
        for _ in 0..2 {
            let asked = client
                .post(app.url(&format!("{link}/effacement")))
                .send()
                .await
                .unwrap();
            assert_eq!(asked.status(), 200);
            assert!(asked.text().await.unwrap().contains("est enregistrée"));
        }
        let pending = app.store.pending_erasures().await.unwrap();
        assert_eq!(pending.len(), 1);
        let page = staff.get_text("/abonnes").await;
        assert!(page.contains("Demandes d'effacement (1)"), "{page}");
        assert!(page.contains(&ADDRESS.to_lowercase()));
        assert!(
            staff
                .get_text(&link)
                .await
                .contains("effacement est enregistrée"),
            "the person's page says the request waits"
        );

        let deliveries_before = app
            .store
            .deliveries_of(
                app.store
                    .issue(issue)
                    .await
                    .unwrap()
                    .unwrap()
                    .0
                    .message_id
                    .unwrap(),
            )
            .await
            .unwrap()
            .len();
        let erased = staff
            .post_form(
                &format!("/abonnes/effacements/{}", pending[0].id),
                &[("decision", "erase")],
            )
            .await;
        assert_eq!(erased.status(), 200);
        assert!(
            erased
                .text()
                .await
                .unwrap()
                .contains("Données effacées : 1 fiche de contact supprimée")
        );

        // Nothing personal left, in any column of any table.
        for needle in [
            ADDRESS,
            "jeanne.dupuis",
            NAME,
            "Exemple-Dupuis",
            PHONE,
            NOTE,
        ] {
            let found = columns_containing(app.database_url(), needle).await;
            assert!(found.is_empty(), "« {needle} » still in {found:?}");
        }
        // The other contact is untouched; the counts stay.
        assert!(
            !columns_containing(app.database_url(), "Paul Témoin")
                .await
                .is_empty()
        );
        let (issue_after, _) = app.store.issue(issue).await.unwrap().unwrap();
        assert_eq!(issue_after.recipients, 2);
        let deliveries = app
            .store
            .deliveries_of(issue_after.message_id.unwrap())
            .await
            .unwrap();
        assert_eq!(deliveries.len(), deliveries_before);
        assert_eq!(app.store.subscribers(list.id).await.unwrap().len(), 2);
        assert!(app.store.pending_erasures().await.unwrap().is_empty());
        // The interaction is kept, without the name; so are the survey's ratings and the meeting's count.
        // Its audit entry names it by its summary, scrubbed the same way.
        let mut found =
            columns_containing(app.database_url(), "Rencontre avec [personne effacée]").await;
        found.sort();
        assert_eq!(found, vec!["audit_log.details", "interactions.summary"]);
        assert_eq!(app.store.survey_ratings(survey.id).await.unwrap().len(), 1);
        assert_eq!(app.store.attendees(meeting.id).await.unwrap().len(), 1);

        // The link no longer opens anything; a second decision finds nothing to do.
        let gone = client.get(app.url(&link)).send().await.unwrap();
        assert_eq!(gone.status(), 404);
        let again = staff
            .post_form(
                &format!("/abonnes/effacements/{}", pending[0].id),
                &[("decision", "erase")],
            )
            .await;
        assert_eq!(again.status(), 404);
        app.stop().await;
    }

    async fn entry_organisation(app: &TestApp, target: i64) -> i64 {
        app.store
            .target(relais::store::Scope::All, target)
            .await
            .unwrap()
            .unwrap()
            .organisation_id
    }

    run_on_both_databases!();
}
