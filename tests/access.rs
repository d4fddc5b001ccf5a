//! Who may see and do what, through the web app, on SQLite and PostgreSQL: anonymous visitors are sent to the
//! login page, viewers read but never write, staff and admins do everything, a relay works only the targets of
//! its départements; state-changing requests need the session's CSRF token.

mod common;

use relais::domain::Role;
use relais::store::Scope;
use relais::store::target_list::{TargetFilter, TargetSort};
use relais::store::targets::TargetFields;

const LYON: &str = "69123";
const MARSEILLE: &str = "13055";

/// What a refused request must leave untouched: one target, its history, and the counts of the whole store.
#[derive(Debug, PartialEq)]
struct Snapshot {
    stage: String,
    fields: TargetFields,
    updated_at: i64,
    stage_changes: usize,
    interactions: usize,
    needs: usize,
    people: usize,
    targets: i64,
}

async fn snapshot(app: &common::TestApp, target: i64) -> Snapshot {
    let t = app
        .store
        .target(Scope::All, target)
        .await
        .unwrap()
        .expect("target exists");
    Snapshot {
        stage: t.stage.as_str().to_string(),
        fields: t.fields(),
        updated_at: t.updated_at,
        stage_changes: app
            .store
            .stage_history(Scope::All, target)
            .await
            .unwrap()
            .len(),
        interactions: app
            .store
            .interactions(Scope::All, target)
            .await
            .unwrap()
            .len(),
        needs: app
            .store
            .local_needs(Scope::All, target)
            .await
            .unwrap()
            .len(),
        people: app
            .store
            .search_people(Scope::All, "", 10_000, 0)
            .await
            .unwrap()
            .len(),
        targets: app
            .store
            .list_targets(Scope::All, &TargetFilter::default(), TargetSort::Name, 1, 0)
            .await
            .unwrap()
            .1,
    }
}

/// The organisation of a target and the id of its first contact (the harness adds one per target).
async fn organisation_and_contact(app: &common::TestApp, target: i64) -> (i64, i64) {
    let organisation = app
        .store
        .target(Scope::All, target)
        .await
        .unwrap()
        .unwrap()
        .organisation_id;
    let people = app
        .store
        .people_of_organisation(Scope::All, organisation)
        .await
        .unwrap();
    (organisation, people[0].id)
}

/// Every page of the web app that a GET may ask for, with the ids of one target, its contact and collectivity.
fn page_routes(target: i64, person: i64, organisation: i64) -> Vec<String> {
    vec![
        "/".into(),
        "/targets".into(),
        "/targets/new".into(),
        format!("/targets/{target}"),
        "/board".into(),
        "/people".into(),
        format!("/people/{person}"),
        "/organisations".into(),
        format!("/organisations/{organisation}"),
        "/access".into(),
        "/audit".into(),
        "/courriers".into(),
        "/abonnes".into(),
        "/lettre".into(),
        "/reunions".into(),
        "/recensement".into(),
        "/recensement/resultats".into(),
        "/import".into(),
        "/referential/search?q=lyon".into(),
        "/targets/export?format=csv".into(),
    ]
}

/// Every state-changing form of the web app, each with fields that would be accepted from staff.
fn write_routes(target: i64) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            "/targets".into(),
            vec![
                ("collectivity", "Aix-en-Provence"),
                ("reference", "commune:13001"),
                ("stage", "identified"),
            ],
        ),
        (
            format!("/targets/{target}/stage"),
            vec![("stage", "contacted")],
        ),
        (
            format!("/targets/{target}/follow-up"),
            vec![
                ("political_colour", "left"),
                ("lead_source", "social_media"),
                ("priority", "high"),
                ("next_action", "Relancer le cabinet"),
                ("next_action_date", "2026-12-01"),
            ],
        ),
        (
            format!("/targets/{target}/interactions"),
            vec![
                ("kind", "phone_call"),
                ("occurred_on", "2026-11-23"),
                ("summary", "Appel au cabinet"),
            ],
        ),
        (
            format!("/targets/{target}/contacts"),
            vec![
                ("full_name", "Dominique Nouveau"),
                ("email", "dominique@mairie.example"),
            ],
        ),
        (
            format!("/targets/{target}/needs"),
            vec![("description", "Hébergement d'urgence")],
        ),
        (
            "/import/confirm".into(),
            vec![
                ("upload", "abcdef"),
                ("file_name", "cibles.csv"),
                ("action", "import"),
            ],
        ),
    ]
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The part of a page below its header (the navigation names no collectivity, but keep to the content).
fn content(page: &str) -> &str {
    &page[page.find("<main").expect("main element")..]
}

// --- anonymous visitors --------------------------------------------------------------------------------------

both_backends!(
    the_page_not_found_speaks_to_anyone_and_leads_back,
    |app: common::TestApp| async move {
        // A visitor following a stale link, and a staff member out of their territory, read the same page:
        // no staff words, relais' icon, and a way back that works under the content security policy.
        let client = common::TestApp::client();
        let missing = client
            .get(app.url("/lettre/archives/999999"))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        let page = missing.text().await.unwrap();
        for staff_word in ["Tableau de bord", "périmètre", "javascript:"] {
            assert!(!page.contains(staff_word), "{staff_word} in {page}");
        }
        assert!(
            page.contains("Cette page n&#39;existe pas, ou plus"),
            "{page}"
        );
        assert!(
            page.contains("<link rel=\"icon\" href=\"/favicon.svg\""),
            "{page}"
        );
        assert!(
            page.contains("<a href=\"/\" data-back>Revenir à la page précédente</a>"),
            "{page}"
        );
    }
);

both_backends!(
    a_staff_error_page_keeps_the_menu_and_leads_back_where_the_person_was,
    |app: common::TestApp| async move {
        let staff = app.logged_in(Role::Staff, &[]).await;
        let missing = staff
            .client
            .get(app.url("/targets/999999"))
            .header("Referer", app.url("/targets?q=lyon"))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        let page = missing.text().await.unwrap();
        assert!(
            page.contains("Navigation principale"),
            "inside the layout: {page}"
        );
        assert!(page.contains("<h1>Page introuvable</h1>"), "{page}");
        assert!(
            page.contains("<a href=\"/targets?q=lyon\" data-back>"),
            "back to where the person was: {page}"
        );
        // A referer from another site is not a way back.
        let elsewhere = staff
            .client
            .get(app.url("/targets/999999"))
            .header("Referer", "https://ailleurs.example/piege")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            elsewhere.contains("<a href=\"/\" data-back>"),
            "{elsewhere}"
        );
        // A viewer refused a write reads the refusal inside the app too.
        let viewer = app.logged_in(Role::Viewer, &[]).await;
        let refused = viewer.get("/import").await;
        assert_eq!(refused.status(), 403);
        let refused = refused.text().await.unwrap();
        assert!(
            refused.contains("Navigation principale") && refused.contains("Accès refusé"),
            "{refused}"
        );
    }
);

both_backends!(
    anonymous_visitors_are_sent_to_the_login_page_from_every_page,
    |app: common::TestApp| async move {
        let target = app.add_target(LYON).await;
        let (organisation, person) = organisation_and_contact(&app, target).await;
        let client = common::TestApp::client();
        for path in page_routes(target, person, organisation) {
            let response = client.get(app.url(&path)).send().await.unwrap();
            assert_eq!(response.status(), 303, "GET {path}");
            assert_eq!(location(&response), "/login", "GET {path}");
        }
        let login = client.get(app.url("/login")).send().await.unwrap();
        assert_eq!(login.status(), 200, "the login page itself is open");
    }
);

both_backends!(
    anonymous_posts_are_refused_and_write_nothing,
    |app: common::TestApp| async move {
        let target = app.add_target(LYON).await;
        let before = snapshot(&app, target).await;
        let client = common::TestApp::client();
        let mut routes = write_routes(target);
        routes.push(("/logout".into(), vec![]));
        for (path, fields) in routes {
            let response = client
                .post(app.url(&path))
                .form(&fields)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 303, "POST {path}");
            assert_eq!(location(&response), "/login", "POST {path}");
        }
        assert_eq!(snapshot(&app, target).await, before);
    }
);

both_backends!(
    the_api_without_a_token_answers_401_in_json,
    |app: common::TestApp| async move {
        let client = common::TestApp::client();
        for path in ["/api/v1/targets", "/api/v1/people", "/api/v1/organisations"] {
            let response = client.get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status(), 401, "GET {path}");
            let body: serde_json::Value = response.json().await.expect("JSON body");
            assert!(body["error"].is_string(), "{body}");
        }
        let response = client
            .post(app.url("/api/v1/targets"))
            .json(&serde_json::json!({"code": LYON}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(
            app.store
                .list_targets(Scope::All, &TargetFilter::default(), TargetSort::Name, 1, 0)
                .await
                .unwrap()
                .1,
            0
        );
    }
);

// --- viewers ---------------------------------------------------------------------------------------------------

both_backends!(
    a_viewer_reads_every_page_but_the_access_audit_mail_import_and_new_target_pages,
    |app: common::TestApp| async move {
        let target = app.add_target(LYON).await;
        let (organisation, person) = organisation_and_contact(&app, target).await;
        let viewer = app.logged_in(Role::Viewer, &[]).await;
        for path in page_routes(target, person, organisation) {
            let expected = match path.as_str() {
                // The form that adds a target is a write: its button is hidden from viewers too.
                "/access"
                | "/audit"
                | "/courriers"
                | "/abonnes"
                | "/lettre"
                | "/import"
                | "/reunions"
                | "/recensement"
                | "/recensement/resultats"
                | "/targets/new" => 403,
                _ => 200,
            };
            assert_eq!(viewer.get(&path).await.status(), expected, "GET {path}");
        }
        let page = viewer.get_text(&format!("/targets/{target}")).await;
        assert!(page.contains("Lyon"));
        let dashboard = viewer.get_text("/").await;
        assert!(
            !dashboard.contains("href=\"/access\""),
            "no link to the access page for a viewer"
        );
    }
);

both_backends!(
    a_viewer_cannot_write_anything_even_with_a_valid_csrf_token,
    |app: common::TestApp| async move {
        let target = app.add_target(LYON).await;
        let viewer = app.logged_in(Role::Viewer, &[]).await;
        let before = snapshot(&app, target).await;
        for (path, fields) in write_routes(target) {
            let response = viewer.post_form(&path, &fields).await;
            assert_eq!(response.status(), 403, "POST {path}");
        }
        // The board's fetch call too.
        let response = viewer
            .client
            .post(app.url(&format!("/targets/{target}/stage")))
            .header("X-CSRF-Token", &viewer.csrf)
            .header("Accept", "application/json")
            .form(&[("stage", "member")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert_eq!(snapshot(&app, target).await, before);
        assert_eq!(before.stage, "identified");
    }
);

// --- staff and admins --------------------------------------------------------------------------------------------

both_backends!(
    staff_and_admins_read_the_access_and_audit_pages_and_write,
    |app: common::TestApp| async move {
        let target = app.add_target(LYON).await;
        for (role, summary) in [
            (Role::Staff, "Appel de l'équipe"),
            (Role::Admin, "Appel de l'administratrice"),
        ] {
            let person = app.logged_in(role, &[]).await;
            for path in [
                "/access",
                "/audit",
                "/courriers",
                "/abonnes",
                "/reunions",
                "/recensement",
                "/recensement/resultats",
                "/import",
                "/targets/new",
            ] {
                assert_eq!(person.get(path).await.status(), 200, "{role:?} GET {path}");
            }
            let response = person
                .post_form(
                    &format!("/targets/{target}/interactions"),
                    &[
                        ("kind", "email"),
                        ("occurred_on", "2026-11-23"),
                        ("summary", summary),
                    ],
                )
                .await;
            assert_eq!(response.status(), 303, "{role:?} logs an interaction");
            let interactions = app.store.interactions(Scope::All, target).await.unwrap();
            assert!(
                interactions.iter().any(|(i, _)| i.summary == summary),
                "{role:?}'s interaction recorded"
            );
        }
        let staff = app.logged_in(Role::Staff, &[]).await;
        let response = staff
            .post_form(
                &format!("/targets/{target}/stage"),
                &[("stage", "contacted")],
            )
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(snapshot(&app, target).await.stage, "contacted");
        let name = app
            .store
            .user_by_id(staff.user_id)
            .await
            .unwrap()
            .unwrap()
            .name;
        let audit = staff.get_text("/audit").await;
        let row = audit[audit.find("id=\"audit-entries\"").unwrap()..]
            .split("<li>")
            .find(|row| row.contains(&name))
            .expect("the stage change is in the journal");
        assert!(
            row.contains("a passé") && row.contains("« Contactée »"),
            "{row}"
        );
        assert!(row.contains(&format!("/targets/{target}")));
    }
);

// --- relays ----------------------------------------------------------------------------------------------------

/// A relay of Bouches-du-Rhône, with a target in its département (Marseille) and one outside it (Lyon).
struct RelayWorld {
    relay: common::Staff,
    marseille: i64,
    lyon: i64,
}

async fn relay_world(app: &common::TestApp) -> RelayWorld {
    let lyon = app.add_target(LYON).await;
    let marseille = app.add_target(MARSEILLE).await;
    let relay = app.logged_in(Role::Relay, &["13"]).await;
    RelayWorld {
        relay,
        marseille,
        lyon,
    }
}

both_backends!(
    a_relay_sees_only_its_departements_in_lists_board_dashboard_and_searches,
    |app: common::TestApp| async move {
        let RelayWorld {
            relay,
            marseille,
            lyon,
        } = relay_world(&app).await;
        let table = |page: String| page[page.find("id=\"targets-table\"").unwrap()..].to_string();
        for path in [
            "/targets",
            "/targets?sort=population",
            "/targets?stage=identified",
        ] {
            let page = table(relay.get_text(path).await);
            assert!(page.contains("Marseille"), "{path}");
            assert!(!page.contains("Lyon"), "{path}");
        }
        let page = table(relay.get_text("/targets?q=lyon").await);
        assert!(!page.contains("Lyon") && page.contains("Aucune cible"));
        let page = relay.get_text("/targets").await;
        assert!(page.contains("Cibles <small>(1)</small>"), "count of one");

        let board = relay.get_text("/board").await;
        assert!(board.contains(&format!("id=\"card-{marseille}\"")));
        assert!(!board.contains(&format!("id=\"card-{lyon}\"")));
        assert!(!content(&board).contains("Lyon"));

        // Staff look at the dashboard first: what they see must not be served to the relay.
        let staff = app.logged_in(Role::Staff, &[]).await;
        let dashboard = staff.get_text("/").await;
        assert!(dashboard.contains("id=\"total-targets\">2<"));
        assert!(content(&dashboard).contains("Lyon"));
        let dashboard = relay.get_text("/").await;
        assert!(dashboard.contains("id=\"total-targets\">1<"));
        assert!(content(&dashboard).contains("Marseille"));
        assert!(!content(&dashboard).contains("Lyon"));

        for path in ["/people", "/people?q=contact", "/people?q=maire"] {
            let page = relay.get_text(path).await;
            assert!(page.contains("Contact de Marseille"), "{path}");
            assert!(!page.contains("Contact de Lyon"), "{path}");
        }
        let page = relay.get_text("/people?q=lyon").await;
        assert!(!page.contains("Contact de Lyon"));

        for path in ["/organisations", "/organisations?kind=collectivity"] {
            let page = content(&relay.get_text(path).await).to_string();
            assert!(page.contains("Marseille"), "{path}");
            assert!(!page.contains("Lyon"), "{path}");
        }
        let page = relay.get_text("/organisations?q=lyon").await;
        assert!(!content(&page).contains("Lyon"));

        // Staff see both, so the filtering above is the relay's scope and not missing data.
        let page = table(staff.get_text("/targets").await);
        assert!(page.contains("Marseille") && page.contains("Lyon"));
        assert!(
            staff
                .get_text("/people?q=lyon")
                .await
                .contains("Contact de Lyon")
        );
    }
);

both_backends!(
    a_relay_exports_only_its_departements,
    |app: common::TestApp| async move {
        let RelayWorld { relay, .. } = relay_world(&app).await;
        let response = relay.get("/targets/export?format=csv").await;
        assert_eq!(response.status(), 200);
        let csv = response.text().await.unwrap();
        assert_eq!(csv.lines().count(), 2, "header and Marseille:\n{csv}");
        assert!(csv.contains("Marseille") && csv.contains(MARSEILLE));
        assert!(!csv.contains("Lyon") && !csv.contains(LYON));
        let csv = relay
            .get("/targets/export?q=lyon&format=csv")
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(csv.lines().count(), 1, "only the header:\n{csv}");
    }
);

both_backends!(
    collectivity_completion_offers_a_relay_only_its_departements,
    |app: common::TestApp| async move {
        let RelayWorld { relay, .. } = relay_world(&app).await;
        let entries = |body: String| -> Vec<serde_json::Value> {
            serde_json::from_str(&body).expect("JSON array")
        };
        let lyon = entries(relay.get_text("/referential/search?q=lyon").await);
        assert!(
            lyon.iter().all(|e| e["departement"] == "13"),
            "only Bouches-du-Rhône: {lyon:?}"
        );
        assert!(
            !lyon
                .iter()
                .any(|e| e["name"].as_str().unwrap().contains("Lyon")),
            "{lyon:?}"
        );
        let marseille = entries(relay.get_text("/referential/search?q=marseille").await);
        assert!(
            marseille
                .iter()
                .any(|e| e["code"] == MARSEILLE && e["name"] == "Marseille"),
            "{marseille:?}"
        );
        assert!(marseille.iter().all(|e| e["departement"] == "13"));
        // Staff are offered Lyon.
        let staff = app.logged_in(Role::Staff, &[]).await;
        let lyon = entries(staff.get_text("/referential/search?q=lyon").await);
        assert!(lyon.iter().any(|e| e["code"] == LYON), "{lyon:?}");
    }
);

both_backends!(
    collectivity_completion_finds_a_relays_communes_behind_larger_namesakes,
    |app: common::TestApp| async move {
        // Dozens of larger communes elsewhere start with "Saint"; those of Bouches-du-Rhône (Saint-Martin-de-Crau,
        // Saint-Rémy-de-Provence, Saint-Chamas…) must still be offered to a relay of 13.
        let relay = app.logged_in(Role::Relay, &["13"]).await;
        let body = relay.get_text("/referential/search?q=saint").await;
        let entries: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
        assert!(
            entries.iter().all(|e| e["departement"] == "13"),
            "{entries:?}"
        );
        assert!(
            !entries.is_empty(),
            "the communes of 13 named Saint-… are offered"
        );
    }
);

both_backends!(
    a_relay_gets_404_for_whatever_lies_outside_its_departements,
    |app: common::TestApp| async move {
        let RelayWorld {
            relay,
            marseille,
            lyon,
        } = relay_world(&app).await;
        let (lyon_organisation, lyon_contact) = organisation_and_contact(&app, lyon).await;
        let (marseille_organisation, marseille_contact) =
            organisation_and_contact(&app, marseille).await;
        for path in [
            format!("/targets/{lyon}"),
            format!("/people/{lyon_contact}"),
            format!("/organisations/{lyon_organisation}"),
        ] {
            let response = relay.get(&path).await;
            assert_eq!(response.status(), 404, "GET {path}");
            assert!(!response.text().await.unwrap().contains("Lyon"), "{path}");
        }
        for path in [
            format!("/targets/{marseille}"),
            format!("/people/{marseille_contact}"),
            format!("/organisations/{marseille_organisation}"),
        ] {
            assert_eq!(relay.get(&path).await.status(), 200, "GET {path}");
        }
    }
);

both_backends!(
    a_relay_cannot_change_a_target_outside_its_departements,
    |app: common::TestApp| async move {
        let RelayWorld {
            relay,
            marseille,
            lyon,
        } = relay_world(&app).await;
        let before = snapshot(&app, lyon).await;
        for (path, fields) in write_routes(lyon)
            .into_iter()
            .filter(|(path, _)| path.starts_with(&format!("/targets/{lyon}/")))
        {
            let response = relay.post_form(&path, &fields).await;
            assert_eq!(response.status(), 404, "POST {path}");
        }
        // Naming Lyon's contact in an interaction on Marseille does not reach Lyon either.
        let (_, lyon_contact) = organisation_and_contact(&app, lyon).await;
        let response = relay
            .post_form(
                &format!("/targets/{marseille}/interactions"),
                &[
                    ("kind", "meeting"),
                    ("occurred_on", "2026-11-23"),
                    ("summary", "Réunion"),
                    ("people", &lyon_contact.to_string()),
                ],
            )
            .await;
        assert_eq!(response.status(), 404);
        assert!(
            app.store
                .interactions(Scope::All, marseille)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(snapshot(&app, lyon).await, before);
    }
);

both_backends!(
    a_relay_works_the_targets_of_its_own_departement,
    |app: common::TestApp| async move {
        let RelayWorld {
            relay, marseille, ..
        } = relay_world(&app).await;
        let (_, contact) = organisation_and_contact(&app, marseille).await;
        let contact = contact.to_string();
        let response = relay
            .post_form(
                &format!("/targets/{marseille}/interactions"),
                &[
                    ("kind", "meeting"),
                    ("occurred_on", "2026-11-20"),
                    ("summary", "Rencontre avec la mairie de secteur"),
                    ("people", &contact),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), format!("/targets/{marseille}"));
        let response = relay
            .post_form(
                &format!("/targets/{marseille}/contacts"),
                &[
                    ("full_name", "Nadia Benali"),
                    ("function", "adjointe au logement"),
                    ("email", "nadia.benali@marseille.example"),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        let response = relay
            .post_form(
                &format!("/targets/{marseille}/needs"),
                &[("description", "Domiciliation des familles du squat")],
            )
            .await;
        assert_eq!(response.status(), 303);

        let interactions = app.store.interactions(Scope::All, marseille).await.unwrap();
        assert_eq!(interactions.len(), 1);
        assert_eq!(interactions[0].1, vec!["Contact de Marseille".to_string()]);
        let needs = app.store.local_needs(Scope::All, marseille).await.unwrap();
        assert_eq!(needs.len(), 1);
        assert_eq!(needs[0].description, "Domiciliation des familles du squat");
        let organisation = app
            .store
            .target(Scope::All, marseille)
            .await
            .unwrap()
            .unwrap()
            .organisation_id;
        let people = app
            .store
            .people_of_organisation(Scope::All, organisation)
            .await
            .unwrap();
        assert!(
            people.iter().any(|p| p.full_name == "Nadia Benali"
                && p.emails() == ["nadia.benali@marseille.example"])
        );
        let page = relay.get_text(&format!("/targets/{marseille}")).await;
        assert!(
            page.contains("Rencontre avec la mairie de secteur") && page.contains("Nadia Benali")
        );
    }
);

both_backends!(
    a_relay_creates_targets_only_in_its_departements,
    |app: common::TestApp| async move {
        let relay = app.logged_in(Role::Relay, &["13"]).await;
        assert_eq!(relay.get("/targets/new").await.status(), 200);
        let response = relay
            .post_form(
                "/targets",
                &[
                    ("collectivity", "Lyon"),
                    ("reference", "commune:69123"),
                    ("stage", "identified"),
                ],
            )
            .await;
        assert_eq!(response.status(), 422);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("pas dans les départements de votre association")
        );
        let referential = relais::referential::Referential::get();
        assert!(
            app.store
                .target_by_official_code("commune", LYON)
                .await
                .unwrap()
                .is_none()
        );
        assert!(referential.by_code(None, LYON).is_some());

        let response = relay
            .post_form(
                "/targets",
                &[
                    ("collectivity", "Aix-en-Provence"),
                    ("reference", "commune:13001"),
                    ("stage", "identified"),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        let aix = app
            .store
            .target_by_official_code("commune", "13001")
            .await
            .unwrap()
            .expect("Aix-en-Provence created");
        assert_eq!(location(&response), format!("/targets/{}", aix.id));
        assert_eq!(aix.departement_code.as_deref(), Some("13"));
    }
);

both_backends!(
    a_relay_cannot_open_the_access_audit_mail_or_import_pages,
    |app: common::TestApp| async move {
        let relay = app.logged_in(Role::Relay, &["13"]).await;
        for path in [
            "/access",
            "/audit",
            "/courriers",
            "/abonnes",
            "/lettre",
            "/reunions",
            "/recensement",
            "/import",
        ] {
            assert_eq!(relay.get(path).await.status(), 403, "GET {path}");
        }
        let response = relay
            .post_form(
                "/import/confirm",
                &[("upload", "abcdef"), ("action", "import")],
            )
            .await;
        assert_eq!(response.status(), 403);
    }
);

// --- CSRF --------------------------------------------------------------------------------------------------------

both_backends!(
    a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing,
    |app: common::TestApp| async move {
        let target = app.add_target(LYON).await;
        let staff = app.logged_in(Role::Staff, &[]).await;
        let other = app.logged_in(Role::Staff, &[]).await;
        assert_ne!(staff.csrf, other.csrf);
        let before = snapshot(&app, target).await;
        let stage = format!("/targets/{target}/stage");

        let response = staff
            .post_form_without_csrf(&stage, &[("stage", "contacted")])
            .await;
        assert_eq!(response.status(), 403, "no token");
        assert!(response.text().await.unwrap().contains("Formulaire expiré"));

        let response = staff
            .post_form_without_csrf(&stage, &[("stage", "contacted"), ("_csrf", "faux-jeton")])
            .await;
        assert_eq!(response.status(), 403, "wrong form token");

        let response = staff
            .client
            .post(app.url(&stage))
            .header("X-CSRF-Token", "faux-jeton")
            .header("Accept", "application/json")
            .form(&[("stage", "member")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "wrong header");

        let response = staff
            .post_form_without_csrf(&stage, &[("stage", "contacted"), ("_csrf", &other.csrf)])
            .await;
        assert_eq!(response.status(), 403, "token of another session");

        let response = staff
            .post_form_without_csrf(
                &format!("/targets/{target}/interactions"),
                &[
                    ("kind", "email"),
                    ("occurred_on", "2026-11-23"),
                    ("summary", "Courriel"),
                    ("_csrf", &other.csrf),
                ],
            )
            .await;
        assert_eq!(response.status(), 403, "token of another session");
        assert_eq!(snapshot(&app, target).await, before);

        // The session's own token passes, so the refusals above were the token's doing.
        let response = staff
            .post_form_without_csrf(&stage, &[("stage", "contacted"), ("_csrf", &staff.csrf)])
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(snapshot(&app, target).await.stage, "contacted");
    }
);

// --- login and sessions -------------------------------------------------------------------------------------------

async fn login(
    app: &common::TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(app.url("/login"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

both_backends!(
    a_wrong_password_is_refused_with_a_french_message,
    |app: common::TestApp| async move {
        app.create_user("camille@cndh.example", Role::Staff, &[])
            .await;
        let client = common::TestApp::client();
        let response = login(&app, &client, "camille@cndh.example", "mauvais").await;
        assert_eq!(response.status(), 401);
        assert!(response.headers().get("set-cookie").is_none());
        let page = response.text().await.unwrap();
        assert!(
            page.contains("Adresse email ou mot de passe incorrect"),
            "{page}"
        );
        let response = login(&app, &client, "personne@cndh.example", common::PASSWORD).await;
        assert_eq!(response.status(), 401, "unknown account");
        // Still not logged in.
        assert_eq!(client.get(app.url("/")).send().await.unwrap().status(), 303);
        let response = login(&app, &client, "Camille@CNDH.example ", common::PASSWORD).await;
        assert_eq!(
            response.status(),
            303,
            "the right password, email case ignored"
        );
        assert_eq!(client.get(app.url("/")).send().await.unwrap().status(), 200);
    }
);

// Login throttling (delays per account and address, limits that never lock an owner out) has its own tests
// in tests/login_throttle.rs.

both_backends!(
    a_session_ends_on_time_even_just_after_being_read,
    |app: common::TestApp| async move {
        let staff = app.logged_in(Role::Staff, &[]).await;
        // Read twice: the second request is answered from the sessions kept in memory.
        assert_eq!(staff.get("/").await.status(), 200);
        assert_eq!(staff.get("/targets").await.status(), 200);
        // Sessions last `security.session_hours`, 72 by default.
        app.clock
            .advance(chrono::Duration::hours(72) + chrono::Duration::minutes(1));
        let response = staff.get("/targets").await;
        assert_eq!(response.status(), 303, "the session has ended");
        assert_eq!(location(&response), "/login");
    }
);

fn session_cookie(response: &reqwest::Response) -> (String, String) {
    let header = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("relais_session="))
        .expect("session cookie set");
    let value = header
        .trim_start_matches("relais_session=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    (header, value)
}

both_backends!(
    session_cookies_are_http_only_and_same_site_lax,
    |app: common::TestApp| async move {
        app.create_user("lou@cndh.example", Role::Viewer, &[]).await;
        let response = login(
            &app,
            &common::TestApp::client(),
            "lou@cndh.example",
            common::PASSWORD,
        )
        .await;
        assert_eq!(response.status(), 303);
        let (header, value) = session_cookie(&response);
        let attributes: Vec<String> = header
            .split(';')
            .skip(1)
            .map(|a| a.trim().to_ascii_lowercase())
            .collect();
        assert!(attributes.contains(&"httponly".into()), "{header}");
        assert!(attributes.contains(&"samesite=lax".into()), "{header}");
        assert!(attributes.contains(&"path=/".into()), "{header}");
        assert!(value.len() >= 32, "a long random token: {header}");
    }
);

both_backends!(
    logging_out_deletes_the_session,
    |app: common::TestApp| async move {
        app.create_user("noe@cndh.example", Role::Staff, &[]).await;
        let client = common::TestApp::client();
        let response = login(&app, &client, "noe@cndh.example", common::PASSWORD).await;
        let (_, token) = session_cookie(&response);
        // The bare cookie, replayed by a client that keeps no jar of its own.
        let replay = || async {
            common::TestApp::client()
                .get(app.url("/"))
                .header("cookie", format!("relais_session={token}"))
                .send()
                .await
                .unwrap()
                .status()
        };
        assert_eq!(replay().await, 200, "the cookie opens a session");
        let page = client
            .get(app.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let marker = "name=\"csrf-token\" content=\"";
        let start = page.find(marker).unwrap() + marker.len();
        let csrf = page[start..].split('"').next().unwrap().to_string();
        let response = client
            .post(app.url("/logout"))
            .form(&[("_csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/login");
        assert_eq!(replay().await, 303, "the old cookie no longer works");
        let response = client.get(app.url("/")).send().await.unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/login");
    }
);

// --- the access page -------------------------------------------------------------------------------------------

both_backends!(
    the_access_page_lists_each_account_with_its_role_and_a_relays_departements,
    |app: common::TestApp| async move {
        let staff = app.logged_in(Role::Staff, &[]).await;
        app.create_user("relais-marseille@cndh.example", Role::Relay, &["13"])
            .await;
        app.create_user("relais-sud@cndh.example", Role::Relay, &["13", "84"])
            .await;
        app.create_user("lecture@cndh.example", Role::Viewer, &[])
            .await;
        app.create_user("admin@cndh.example", Role::Admin, &[])
            .await;
        let page = staff.get_text("/access").await;
        let table = &page[page.find("id=\"access-table\"").unwrap()..];
        let table = &table[..table.find("</table>").unwrap()];
        let row = |email: &str| -> String {
            table
                .split("<tr>")
                .find(|row| row.contains(email))
                .unwrap_or_else(|| panic!("{email} listed"))
                .to_string()
        };
        let relay = row("relais-marseille@cndh.example");
        assert!(relay.contains("Relais local"), "{relay}");
        assert!(relay.contains("Bouches-du-Rhône (13)"), "{relay}");
        assert!(
            relay.contains("Association de relais-marseille@cndh.example"),
            "{relay}"
        );
        let south = row("relais-sud@cndh.example");
        assert!(
            south.contains("Bouches-du-Rhône (13), Vaucluse (84)"),
            "{south}"
        );
        let viewer = row("lecture@cndh.example");
        assert!(viewer.contains("Lecture seule") && viewer.contains("tous les territoires"));
        assert!(!viewer.contains("Bouches-du-Rhône"));
        let admin = row("admin@cndh.example");
        assert!(admin.contains("Administrateur·rice"), "{admin}");
        let own = table
            .split("<tr>")
            .find(|row| row.contains("@cndh.example") && row.contains("staff-"))
            .expect("the logged-in staff account");
        assert!(own.contains("Équipe"), "{own}");
    }
);
