//! Working the pipeline through the web app, on SQLite and PostgreSQL: add a target from the referential, log
//! an interaction, edit the follow-up, move it through the stages (the board's JSON call included), and see
//! the history, the dashboard and the exports follow.

mod common;

use relais::domain::Role;
use relais::store::Scope;

both_backends!(
    a_target_added_from_the_form_keeps_its_whole_history,
    |app: common::TestApp| async move {
        let staff = app.logged_in(Role::Staff, &[]).await;
        let response = staff
            .post_form(
                "/targets",
                &[
                    ("collectivity", "Saint-Étienne"),
                    ("reference", "commune:42218"),
                    ("stage", "identified"),
                    ("political_colour", "right"),
                    ("lead_source", "social_media"),
                    ("contact_name", "Camille Martin"),
                    ("contact_function", "adjointe à la solidarité"),
                    ("contact_email", "Camille.Martin@Saint-Etienne.example"),
                    ("next_action", "Appeler le cabinet"),
                    ("next_action_date", "2026-11-30"),
                    ("has_squats", "on"),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let id: i64 = location.trim_start_matches("/targets/").parse().unwrap();

        let page = staff.get_text(&location).await;
        assert!(
            page.contains("Saint-Étienne") && page.contains("Loire (42)"),
            "collectivity and département shown"
        );
        assert!(
            page.contains("camille.martin@saint-etienne.example"),
            "contact email stored lowercase"
        );

        let contacts = app
            .store
            .people_of_organisation(
                Scope::All,
                app.store
                    .target(Scope::All, id)
                    .await
                    .unwrap()
                    .unwrap()
                    .organisation_id,
            )
            .await
            .unwrap();
        let person = contacts[0].id.to_string();
        let response = staff
            .post_form(
                &format!("/targets/{id}/interactions"),
                &[
                    ("kind", "phone_call"),
                    ("occurred_on", "2026-11-23"),
                    ("summary", "Appel au cabinet du maire"),
                    ("outcome", "Rendez-vous à fixer"),
                    ("people", &person),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);

        for (stage, reason) in [
            ("contacted", ""),
            ("in_discussion", ""),
            ("declined", "Pas de priorité avant les élections"),
        ] {
            let response = staff
                .post_form(
                    &format!("/targets/{id}/stage"),
                    &[("stage", stage), ("reason", reason)],
                )
                .await;
            assert_eq!(response.status(), 303, "move to {stage}");
        }
        let history = app.store.stage_history(Scope::All, id).await.unwrap();
        let moves: Vec<(Option<String>, String)> = history
            .iter()
            .rev()
            .map(|c| {
                (
                    c.from_stage.map(|s| s.as_str().to_string()),
                    c.to_stage.as_str().to_string(),
                )
            })
            .collect();
        assert_eq!(
            moves,
            vec![
                (None, "identified".into()),
                (Some("identified".into()), "contacted".into()),
                (Some("contacted".into()), "in_discussion".into()),
                (Some("in_discussion".into()), "declined".into()),
            ]
        );
        assert_eq!(history[0].reason, "Pas de priorité avant les élections");
        let interactions = app.store.interactions(Scope::All, id).await.unwrap();
        assert_eq!(interactions.len(), 1);
        assert_eq!(interactions[0].1, vec!["Camille Martin".to_string()]);
        let page = staff.get_text(&location).await;
        assert!(
            page.contains("Appel au cabinet du maire")
                && page.contains("Pas de priorité avant les élections")
        );
    }
);

both_backends!(
    declining_without_a_reason_is_refused_and_changes_nothing,
    |app: common::TestApp| async move {
        let staff = app.logged_in(Role::Staff, &[]).await;
        let id = app.add_target("69123").await;
        let response = staff
            .post_form(
                &format!("/targets/{id}/stage"),
                &[("stage", "declined"), ("reason", " ")],
            )
            .await;
        assert_eq!(response.status(), 422);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Indiquez la raison du refus")
        );
        assert_eq!(
            app.store
                .target(Scope::All, id)
                .await
                .unwrap()
                .unwrap()
                .stage
                .as_str(),
            "identified"
        );
        assert_eq!(
            app.store.stage_history(Scope::All, id).await.unwrap().len(),
            1
        );
    }
);

both_backends!(
    the_board_moves_a_card_and_the_dashboard_counts_follow,
    |app: common::TestApp| async move {
        let staff = app.logged_in(Role::Staff, &[]).await;
        let lyon = app.add_target("69123").await;
        app.add_target("13055").await;
        let dashboard = staff.get_text("/").await;
        assert!(dashboard.contains("id=\"total-members\">0<"));
        // The board's script posts with the CSRF header and asks for JSON.
        let response = staff
            .client
            .post(app.url(&format!("/targets/{lyon}/stage")))
            .header("X-CSRF-Token", &staff.csrf)
            .header("Accept", "application/json")
            .form(&[("stage", "member")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["stage"], "member");
        let dashboard = staff.get_text("/").await;
        assert!(
            dashboard.contains("id=\"total-members\">1<"),
            "member counted on the dashboard"
        );
        assert!(dashboard.contains("id=\"total-targets\">2<"));
        let board = staff.get_text("/board").await;
        assert!(board.contains(&format!("id=\"card-{lyon}\"")));
    }
);

both_backends!(
    the_follow_up_is_edited_in_place_and_audited,
    |app: common::TestApp| async move {
        let staff = app.logged_in(Role::Staff, &[]).await;
        let id = app.add_target("75056").await;
        let owner = staff.user_id.to_string();
        let response = staff
            .post_form(
                &format!("/targets/{id}/follow-up"),
                &[
                    ("owner", &owner),
                    ("political_colour", "left"),
                    ("lead_source", "known_to_collective"),
                    ("priority", "high"),
                    ("next_action", "Envoyer le questionnaire"),
                    ("next_action_date", "20/11/2026"),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        let target = app.store.target(Scope::All, id).await.unwrap().unwrap();
        assert_eq!(
            target.next_action_date,
            chrono::NaiveDate::from_ymd_opt(2026, 11, 20)
        );
        assert_eq!(target.owner_id, Some(staff.user_id));
        let audit = app
            .store
            .list_audit(Some(("target", id)), 10)
            .await
            .unwrap();
        assert!(
            audit
                .iter()
                .any(|e| e.action == "update" && e.details.contains("Envoyer le questionnaire"))
        );
        // The next action is overdue on the test clock's date, so the dashboard lists it for this owner.
        let dashboard = staff.get_text("/").await;
        assert!(dashboard.contains("class=\"overdue\""));
        // A bad date is refused with a message and nothing changes.
        let response = staff
            .post_form(
                &format!("/targets/{id}/follow-up"),
                &[
                    ("political_colour", "left"),
                    ("lead_source", "other"),
                    ("priority", "high"),
                    ("next_action_date", "31/02/2026"),
                ],
            )
            .await;
        assert_eq!(response.status(), 422);
        assert_eq!(
            app.store
                .target(Scope::All, id)
                .await
                .unwrap()
                .unwrap()
                .lead_source
                .as_str(),
            "known_to_collective"
        );
    }
);

both_backends!(
    the_targets_list_filters_sorts_and_exports_the_current_view,
    |app: common::TestApp| async move {
        let staff = app.logged_in(Role::Viewer, &[]).await;
        for code in ["69123", "13055", "42218", "93066"] {
            app.add_target(code).await;
        }
        let table = |page: String| page[page.find("id=\"targets-table\"").unwrap()..].to_string();
        let page = table(staff.get_text("/targets?region=84").await);
        assert!(
            page.contains("Lyon") && page.contains("Saint-Étienne") && !page.contains("Marseille")
        );
        let page = table(staff.get_text("/targets?q=st%20etienne").await);
        assert!(page.contains("Saint-Étienne") && !page.contains("Lyon"));
        let page = staff.get_text("/targets?sort=population").await;
        let table = &page[page.find("id=\"targets-table\"").unwrap()..];
        assert!(
            table.find("Marseille").unwrap() < table.find("Saint-Denis").unwrap(),
            "largest first"
        );
        let csv = staff.get("/targets/export?region=84&format=csv").await;
        assert_eq!(csv.status(), 200);
        let text = csv.text().await.unwrap();
        assert!(text.starts_with('\u{feff}'));
        assert_eq!(
            text.lines().count(),
            3,
            "header and the two targets of Auvergne-Rhône-Alpes:\n{text}"
        );
        let xlsx = staff
            .get("/targets/export?format=xlsx")
            .await
            .bytes()
            .await
            .unwrap();
        assert!(xlsx.starts_with(b"PK"));
    }
);

both_backends!(
    operational_endpoints_answer,
    |app: common::TestApp| async move {
        let client = common::TestApp::client();
        assert_eq!(
            client
                .get(app.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(
            client
                .get(app.url("/readyz"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
            "ready"
        );
        let metrics = client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("relais_http_requests_total"), "{metrics}");
    }
);

both_backends!(
    a_member_gets_its_join_date_themes_and_representatives,
    |app: common::TestApp| async move {
        let staff = app.logged_in(Role::Staff, &[]).await;
        let id = app.add_target("93066").await;
        let page = staff.get_text(&format!("/targets/{id}")).await;
        assert!(
            !page.contains("id=\"membership\""),
            "no membership before joining"
        );
        assert_eq!(
            staff
                .post_form(&format!("/targets/{id}/stage"), &[("stage", "member")])
                .await
                .status(),
            303
        );
        let target = app.store.target(Scope::All, id).await.unwrap().unwrap();
        let contact = app
            .store
            .people_of_organisation(Scope::All, target.organisation_id)
            .await
            .unwrap()[0]
            .id
            .to_string();
        let response = staff
            .post_form(
                &format!("/targets/{id}/membership"),
                &[
                    ("joined_on", "15/11/2026"),
                    ("themes", "eau\nscolarisation\n"),
                    ("representatives", &contact),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        let (membership, representatives) = app
            .store
            .membership_of(Scope::All, target.organisation_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            membership.joined_on,
            chrono::NaiveDate::from_ymd_opt(2026, 11, 15).unwrap()
        );
        assert_eq!(membership.theme_list(), vec!["eau", "scolarisation"]);
        assert_eq!(representatives, vec![contact.parse::<i64>().unwrap()]);
        let page = staff.get_text(&format!("/targets/{id}")).await;
        assert!(
            page.contains("Membre depuis le 15/11/2026") && page.contains("eau, scolarisation")
        );
    }
);

both_backends!(
    staff_add_member_associations_partners_and_their_people,
    |app: common::TestApp| async move {
        let staff = app.logged_in(Role::Staff, &[]).await;
        let response = staff
            .post_form(
                "/organisations",
                &[
                    ("kind", "partner"),
                    ("name", "Coalition Eau"),
                    ("departement", "Rhône"),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let organisation: i64 = location
            .trim_start_matches("/organisations/")
            .parse()
            .unwrap();
        let saved = app
            .store
            .organisation(Scope::All, organisation)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                saved.kind.as_str(),
                saved.departement_code.as_deref(),
                saved.region_code.as_deref()
            ),
            ("partner", Some("69"), Some("84"))
        );
        let response = staff
            .post_form(
                &format!("/organisations/{organisation}/people"),
                &[("full_name", "Léa Roux"), ("email", "lea@coalition-eau")],
            )
            .await;
        assert_eq!(response.status(), 400, "an invalid email is refused");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("pas une adresse email valide")
        );
        let response = staff
            .post_form(
                &format!("/organisations/{organisation}/people"),
                &[
                    ("full_name", "Léa Roux"),
                    ("email", "lea@coalition-eau.org"),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        let page = staff.get_text(&location).await;
        assert!(page.contains("Léa Roux"));
        let found = staff.get_text("/people?q=lea%20roux").await;
        assert!(found.contains("lea@coalition-eau.org"));
    }
);

/// Uploads a spreadsheet to the preview step; returns the status, the page and the upload token.
async fn upload(staff: &common::Staff, name: &str, csv: &str) -> (u16, String, String) {
    let (status, page) = staff.upload_import(name, csv.as_bytes().to_vec()).await;
    let token = page
        .split("name=\"upload\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string();
    (status, page, token)
}

both_backends!(
    the_web_import_previews_refuses_bad_lines_and_imports_all_at_once,
    |app: common::TestApp| async move {
        let staff = app.logged_in(Role::Staff, &[]).await;
        let (status, page, token) = upload(
            &staff,
            "cibles.csv",
            "Collectivité;Département;Mail\nLyon;69;maire@lyon.example\nLyonne;69;x@y.example\n",
        )
        .await;
        assert_eq!(status, 422, "an unknown collectivity blocks the import");
        assert!(page.contains("ligne 3") && !page.contains("id=\"confirm-import\""));
        // Asking to import anyway re-plans the same file and writes nothing.
        let response = staff
            .post_form(
                "/import/confirm",
                &[
                    ("upload", &token),
                    ("file_name", "cibles.csv"),
                    ("on_duplicate", "skip"),
                    ("action", "import"),
                ],
            )
            .await;
        assert_eq!(response.status(), 422);
        assert_eq!(
            app.store
                .list_targets(Scope::All, &Default::default(), Default::default(), 10, 0)
                .await
                .unwrap()
                .1,
            0
        );

        let (status, page, token) = upload(&staff, "cibles.csv", "Collectivité;Département;Adresse pro\nLyon;69;maire@lyon.example\nMarseille;13;maire@marseille.example\n").await;
        assert_eq!(status, 200, "{page}");
        assert!(
            page.contains("id=\"confirm-import\"")
                && page.contains("Colonnes ignorées : « Adresse pro »"),
            "{page}"
        );
        // The mapping step: the third column is not recognised until it is mapped to the email field.
        let response = staff
            .post_form(
                "/import/confirm",
                &[
                    ("upload", &token),
                    ("file_name", "cibles.csv"),
                    ("on_duplicate", "skip"),
                    ("map_2", "email"),
                    ("action", "import"),
                ],
            )
            .await;
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains("2 cibles créées"));
        let found = staff.get_text("/people?q=maire%40marseille").await;
        assert!(
            found.contains("maire@marseille.example"),
            "the remapped column was imported"
        );
    }
);
