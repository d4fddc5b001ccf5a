//! The Ministry of the Interior's political nuances, as staff copy them from election results and the RNE:
//! read by the import (a French-Excel CSV), the web forms and the API, mapped onto the colour scale as
//! `docs/VOCABULARY.md` says, kept as written, and given back unchanged by the export. On SQLite and PostgreSQL.

mod common;

use relais::domain::Role;
use relais::import::{DuplicatePolicy, ImportPlan, import_file, report_lines};
use relais::store::Scope;
use relais::store::audit::Actor;
use relais::store::targets::Target;
use serde_json::{Value, json};

/// Code INSEE, commune, "Couleur politique" cell, "Code nuance" cell, expected colour, expected nuance.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

const ROWS: &[Row] = &[
    (
        "69123",
        "Lyon",
        "divers gauche",
        "",
        "left",
        Some("divers gauche"),
    ),
    ("13055", "Marseille", "", "LUG", "left", Some("LUG")),
    (
        "31555",
        "Toulouse",
        "Écologiste",
        "",
        "green",
        Some("Écologiste"),
    ),
    ("33063", "Bordeaux", "", "leco", "green", Some("leco")),
    (
        "06088",
        "Nice",
        "DIVERS DROITE",
        "",
        "right",
        Some("DIVERS DROITE"),
    ),
    (
        "44109",
        "Nantes",
        "Centre",
        "Union du centre",
        "centre",
        Some("Union du centre"),
    ),
    ("67482", "Strasbourg", "", "LENS", "centre", Some("LENS")),
    (
        "34172",
        "Montpellier",
        "Majorité présidentielle",
        "",
        "centre",
        Some("Majorité présidentielle"),
    ),
    ("35238", "Rennes", "", "LSOC", "left", Some("LSOC")),
    (
        "59350",
        "Lille",
        "Rassemblement national",
        "",
        "right",
        Some("Rassemblement national"),
    ),
    ("38185", "Grenoble", "", "SE", "non_partisan", Some("SE")),
    (
        "42218",
        "Saint-Étienne",
        "Sans étiquette",
        "",
        "non_partisan",
        Some("Sans étiquette"),
    ),
    ("21231", "Dijon", "", "LDIV", "various", Some("LDIV")),
    ("63113", "Clermont-Ferrand", "", "NC", "unknown", Some("NC")),
    ("76540", "Rouen", "Gauche", "", "left", None),
];

/// The rows as a CSV of French Excel: semicolons, Windows-1252.
fn windows_1252_csv() -> Vec<u8> {
    let mut text = String::from("Code INSEE;Commune;Couleur politique;Code nuance\r\n");
    for (code, name, colour, nuance, ..) in ROWS {
        text.push_str(&format!("{code};{name};{colour};{nuance}\r\n"));
    }
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(!unmappable && std::str::from_utf8(&bytes).is_err());
    bytes.into_owned()
}

async fn import(
    app: &common::TestApp,
    name: &str,
    bytes: &[u8],
    policy: DuplicatePolicy,
) -> ImportPlan {
    let (plan, _) = import_file(
        &app.store,
        bytes,
        name,
        false,
        policy,
        &Actor::command_line(),
        app.clock.now_millis(),
        |_, _| {},
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    plan
}

async fn target(app: &common::TestApp, code: &str) -> Target {
    app.store
        .target_by_official_code("commune", code)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{code} is a target"))
}

async fn assert_rows_as_documented(app: &common::TestApp) {
    for (code, name, _, _, colour, nuance) in ROWS {
        let target = target(app, code).await;
        assert_eq!(
            (
                target.political_colour.as_str(),
                target.political_nuance.as_deref()
            ),
            (*colour, *nuance),
            "{name}"
        );
    }
}

both_backends!(
    a_french_excel_csv_of_nuances_maps_each_as_documented_and_an_export_gives_them_back,
    |app: common::TestApp| async move {
        let plan = import(
            &app,
            "communes.csv",
            &windows_1252_csv(),
            DuplicatePolicy::Skip,
        )
        .await;
        assert!(plan.is_clean(), "{:#?}", report_lines(&plan));
        assert_rows_as_documented(&app).await;

        let staff = app.logged_in(Role::Staff, &[]).await;
        for format in ["csv", "xlsx"] {
            let response = staff.get(&format!("/targets/export?format={format}")).await;
            assert_eq!(response.status(), 200);
            let exported = response.bytes().await.unwrap();
            // Forget every colour and nuance, then import the export over the targets.
            for (code, ..) in ROWS {
                let target = target(&app, code).await;
                let mut fields = target.fields();
                fields.political_colour = relais::domain::PoliticalColour::Unknown;
                fields.political_nuance = None;
                app.store
                    .update_target(Scope::All, target.id, &fields, &Actor::command_line(), 1)
                    .await
                    .unwrap();
            }
            let plan = import(
                &app,
                &format!("cibles.{format}"),
                &exported,
                DuplicatePolicy::Update,
            )
            .await;
            assert!(plan.is_clean(), "{format}: {:#?}", report_lines(&plan));
            assert_rows_as_documented(&app).await;
        }
    }
);

both_backends!(
    unknown_or_contradictory_political_values_are_refused_with_the_accepted_ones,
    |app: common::TestApp| async move {
        let csv = "\u{feff}Code INSEE;Couleur politique;Nuance politique\n69123;Liste citoyenne;\n13055;Droite;LDVG\n";
        let plan = import(&app, "communes.csv", csv.as_bytes(), DuplicatePolicy::Skip).await;
        assert!(!plan.is_clean());
        let report = report_lines(&plan).join("\n");
        assert!(
            report.contains("« Liste citoyenne » n'est pas une couleur politique connue"),
            "{report}"
        );
        assert!(
            report.contains("Gauche") && report.contains("DVG, UG"),
            "{report}"
        );
        assert!(
            report.contains("« Droite » ne correspond pas à la nuance « LDVG »"),
            "{report}"
        );
    }
);

async fn api(
    app: &common::TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let response = common::TestApp::client()
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

both_backends!(
    the_api_takes_a_nuance_code_as_colour_or_as_nuance,
    |app: common::TestApp| async move {
        let token = app.api_token(Role::Staff).await;
        let post = reqwest::Method::POST;
        let (status, body) = api(
            &app,
            post.clone(),
            "/api/v1/targets",
            &token,
            json!({"code": "69123", "political_colour": "LDVG"}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(
            (
                body["political_colour"].as_str(),
                body["political_nuance"].as_str()
            ),
            (Some("left"), Some("LDVG"))
        );
        let (status, body) = api(
            &app,
            post.clone(),
            "/api/v1/targets",
            &token,
            json!({"code": "13055", "political_nuance": "union du centre"}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(
            (
                body["political_colour"].as_str(),
                body["political_nuance"].as_str()
            ),
            (Some("centre"), Some("union du centre"))
        );

        let (status, body) = api(
            &app,
            post.clone(),
            "/api/v1/targets",
            &token,
            json!({"code": "31555", "political_colour": "Liste citoyenne"}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert!(body.to_string().contains("DVG"), "{body}");
        let (status, body) = api(
            &app,
            post,
            "/api/v1/targets",
            &token,
            json!({"code": "33063", "political_colour": "right", "political_nuance": "DVG"}),
        )
        .await;
        assert_eq!(status, 422, "{body}");

        // The list filters take the same words.
        let client = common::TestApp::client();
        for (query, expected) in [
            ("colour=LDVG", 1),
            ("colour=Centre", 1),
            ("stage=Identifi%C3%A9es", 2),
            ("colour=right", 0),
        ] {
            let page: Value = client
                .get(app.url(&format!("/api/v1/targets?{query}")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(page["total"], expected, "{query}: {page}");
        }

        // A colour that changes the colour drops the nuance it contradicts.
        let lyon = target(&app, "69123").await.id;
        let (status, body) = api(
            &app,
            reqwest::Method::PATCH,
            &format!("/api/v1/targets/{lyon}"),
            &token,
            json!({"political_colour": "right"}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (body["political_colour"].as_str(), &body["political_nuance"]),
            (Some("right"), &Value::Null)
        );
    }
);

both_backends!(
    the_web_forms_take_a_nuance_and_the_target_page_shows_it,
    |app: common::TestApp| async move {
        let staff = app.logged_in(Role::Staff, &[]).await;
        staff
            .post_form(
                "/targets",
                &[
                    ("collectivity", "Lyon"),
                    ("reference", "commune:69123"),
                    ("stage", "identified"),
                    ("political_colour", "unknown"),
                    ("political_nuance", "LDVD"),
                ],
            )
            .await;
        let lyon = target(&app, "69123").await;
        assert_eq!(
            (
                lyon.political_colour.as_str(),
                lyon.political_nuance.as_deref()
            ),
            ("right", Some("LDVD"))
        );
        assert!(
            staff
                .get_text(&format!("/targets/{}", lyon.id))
                .await
                .contains("LDVD")
        );

        let follow_up = |nuance: &'static str| {
            [
                ("political_colour", "left"),
                ("political_nuance", nuance),
                ("lead_source", "other"),
                ("priority", "normal"),
            ]
        };
        staff
            .post_form(
                &format!("/targets/{}/follow-up", lyon.id),
                &follow_up("Union du centre"),
            )
            .await;
        let lyon = target(&app, "69123").await;
        assert_eq!(
            (
                lyon.political_colour.as_str(),
                lyon.political_nuance.as_deref()
            ),
            ("centre", Some("Union du centre"))
        );

        let answer = staff
            .post_form(
                &format!("/targets/{}/follow-up", lyon.id),
                &follow_up("Liste citoyenne"),
            )
            .await;
        assert!(
            answer
                .text()
                .await
                .unwrap()
                .contains("Nuance politique « Liste citoyenne » inconnue")
        );
        assert_eq!(
            target(&app, "69123").await.political_nuance.as_deref(),
            Some("Union du centre")
        );
    }
);
