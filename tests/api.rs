//! The JSON API under `/api/v1`, on SQLite and PostgreSQL: bearer tokens and their roles, the resources
//! (targets, stage changes, interactions, organisations, people), JSON errors that name the field at fault
//! (ids that name nothing and texts with the NUL character included, with nothing written), and the OpenAPI
//! document (checked in depth, with the Python tools, by `tests/api_document.rs`).

mod common;

use relais::domain::Role;
use relais::store::Scope;
use reqwest::Method;
use serde_json::{Value, json};

/// One API call; answers the status and the JSON body (every answer of the API is JSON).
async fn call(
    app: &common::TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = common::TestApp::client().request(method.clone(), app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{method} {path} answered {status} without JSON: {text:?}"));
    (status, value)
}

async fn get(app: &common::TestApp, path: &str, token: &str) -> (u16, Value) {
    call(app, Method::GET, path, Some(token), None).await
}

async fn post(app: &common::TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(app, Method::POST, path, Some(token), Some(body)).await
}

async fn patch(app: &common::TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(app, Method::PATCH, path, Some(token), Some(body)).await
}

async fn target_count(app: &common::TestApp) -> i64 {
    app.store
        .list_targets(
            Scope::All,
            &Default::default(),
            relais::store::target_list::TargetSort::Name,
            1,
            0,
        )
        .await
        .unwrap()
        .1
}

// --- tokens --------------------------------------------------------------------------------------------------------

both_backends!(
    a_request_without_a_valid_token_is_refused_with_401,
    |app: common::TestApp| async move {
        let (status, body) = call(&app, Method::GET, "/api/v1/targets", None, None).await;
        assert_eq!(status, 401);
        assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
        let (status, body) = get(&app, "/api/v1/targets", "inconnu").await;
        assert_eq!(status, 401);
        assert!(body["error"].is_string());
        // A real token sent in another scheme is not read either.
        let token = app.api_token(Role::Staff).await;
        let response = common::TestApp::client()
            .get(app.url("/api/v1/targets"))
            .header("authorization", format!("Token {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let (status, _) = get(&app, "/api/v1/targets", &token).await;
        assert_eq!(status, 200, "the same token as a bearer passes");
    }
);

both_backends!(
    a_viewer_token_reads_but_cannot_write,
    |app: common::TestApp| async move {
        let id = app.add_target("69123").await;
        let viewer = app.api_token(Role::Viewer).await;
        let (status, body) = get(&app, "/api/v1/targets", &viewer).await;
        assert_eq!(status, 200);
        assert_eq!(body["total"], 1);
        let (status, body) = get(&app, &format!("/api/v1/targets/{id}"), &viewer).await;
        assert_eq!(status, 200);
        assert_eq!(body["name"], "Lyon");

        let refused = [
            (
                Method::POST,
                "/api/v1/targets".to_string(),
                json!({"code": "13055"}),
            ),
            (
                Method::PATCH,
                format!("/api/v1/targets/{id}"),
                json!({"next_action": "Relancer"}),
            ),
            (
                Method::POST,
                format!("/api/v1/targets/{id}/stage-changes"),
                json!({"stage": "contacted"}),
            ),
            (
                Method::POST,
                format!("/api/v1/targets/{id}/interactions"),
                json!({"kind": "email", "occurred_on": "2026-11-23", "summary": "Courriel"}),
            ),
            (
                Method::POST,
                "/api/v1/organisations".to_string(),
                json!({"kind": "partner", "name": "Partenaire"}),
            ),
            (
                Method::POST,
                "/api/v1/people".to_string(),
                json!({"full_name": "Quelqu'un"}),
            ),
        ];
        for (method, path, body) in refused {
            let (status, answer) =
                call(&app, method.clone(), &path, Some(&viewer), Some(body)).await;
            assert_eq!(status, 403, "{method} {path}");
            assert!(answer["error"].is_string(), "{answer}");
        }
        assert_eq!(target_count(&app).await, 1);
        let target = app.store.target(Scope::All, id).await.unwrap().unwrap();
        assert_eq!(target.stage.as_str(), "identified");
        assert_eq!(target.next_action, "");
        assert!(
            app.store
                .interactions(Scope::All, id)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            app.store
                .search_people(Scope::All, "", 100, 0)
                .await
                .unwrap()
                .len(),
            1,
            "only the harness's contact"
        );
    }
);

both_backends!(
    a_revoked_token_is_refused,
    |app: common::TestApp| async move {
        let kept = app.api_token(Role::Staff).await;
        let revoked = app.api_token(Role::Staff).await;
        let (status, _) = get(&app, "/api/v1/targets", &revoked).await;
        assert_eq!(status, 200, "works before revocation");
        let tokens = app.store.list_api_tokens().await.unwrap();
        assert_eq!(tokens.len(), 2);
        let id = tokens.iter().map(|t| t.id).max().unwrap();
        app.store
            .revoke_api_token(id, app.clock.now_millis())
            .await
            .unwrap();
        let (status, body) = get(&app, "/api/v1/targets", &revoked).await;
        assert_eq!(status, 401);
        assert!(body["error"].is_string());
        let (status, _) = post(&app, "/api/v1/targets", &revoked, json!({"code": "69123"})).await;
        assert_eq!(status, 401);
        assert_eq!(target_count(&app).await, 0);
        let (status, _) = get(&app, "/api/v1/targets", &kept).await;
        assert_eq!(status, 200, "the other token still works");
    }
);

// --- targets ---------------------------------------------------------------------------------------------------------

both_backends!(
    a_target_is_created_from_its_code_once,
    |app: common::TestApp| async move {
        let token = app.api_token(Role::Staff).await;
        let new = json!({"code": "69123", "stage": "contacted", "political_colour": "left"});
        let (status, target) = post(&app, "/api/v1/targets", &token, new.clone()).await;
        assert_eq!(status, 201, "{target}");
        assert_eq!(target["name"], "Lyon");
        assert_eq!(target["departement_code"], "69");
        assert_eq!(target["region_code"], "84");
        assert_eq!(target["scale"], "large_city");
        assert_eq!(target["stage"], "contacted");
        assert_eq!(target["political_colour"], "left");
        assert_eq!(target["lead_source"], "other");
        let id = target["id"].as_i64().unwrap();
        let (status, read) = get(&app, &format!("/api/v1/targets/{id}"), &token).await;
        assert_eq!(status, 200);
        assert_eq!(read, target);

        let (status, body) = post(&app, "/api/v1/targets", &token, new).await;
        assert_eq!(status, 409, "{body}");
        assert!(body["error"].as_str().unwrap().contains("Lyon"), "{body}");
        assert_eq!(target_count(&app).await, 1);

        let (status, body) = post(&app, "/api/v1/targets", &token, json!({"code": "99999"})).await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "code");
        let (status, body) = post(&app, "/api/v1/targets", &token, json!({})).await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "code");

        let (status, body) = post(
            &app,
            "/api/v1/targets",
            &token,
            json!({"code": "13055", "stage": "won"}),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "stage");
        let error = body["error"].as_str().unwrap();
        for accepted in ["identified", "contacted", "member", "declined", "on_hold"] {
            assert!(error.contains(accepted), "{accepted} listed in {error}");
        }
        let (status, body) = post(
            &app,
            "/api/v1/targets",
            &token,
            json!({"code": "13055", "political_colour": "violet"}),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "political_colour");
        assert_eq!(
            target_count(&app).await,
            1,
            "nothing created by the refusals"
        );
        assert!(
            app.store
                .target_by_official_code("commune", "13055")
                .await
                .unwrap()
                .is_none()
        );
    }
);

both_backends!(
    targets_are_listed_with_filters_and_sorting,
    |app: common::TestApp| async move {
        for code in ["42218", "69123", "13055", "93066"] {
            app.add_target(code).await;
        }
        let token = app.api_token(Role::Viewer).await;
        let (status, page) = get(&app, "/api/v1/targets?region=84&sort=population", &token).await;
        assert_eq!(status, 200);
        assert_eq!(page["total"], 2);
        let names: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Lyon", "Saint-Étienne"], "largest first");
        let (_, page) = get(&app, "/api/v1/targets?region=84", &token).await;
        let names: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Lyon", "Saint-Étienne"], "by name");
        let (_, page) = get(&app, "/api/v1/targets?sort=population&limit=1", &token).await;
        assert_eq!(page["total"], 4, "the total ignores the limit");
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["items"][0]["name"], "Marseille");
        let (_, page) = get(&app, "/api/v1/targets?q=st%20etienne", &token).await;
        assert_eq!(page["total"], 1);
        assert_eq!(page["items"][0]["official_code"], "42218");
    }
);

both_backends!(
    the_follow_up_is_patched_and_a_bad_date_is_refused,
    |app: common::TestApp| async move {
        let id = app.add_target("69123").await;
        let token = app.api_token(Role::Staff).await;
        let path = format!("/api/v1/targets/{id}");
        let (status, target) = patch(
            &app,
            &path,
            &token,
            json!({"next_action": "Relancer le cabinet", "next_action_date": "2026-12-01"}),
        )
        .await;
        assert_eq!(status, 200, "{target}");
        assert_eq!(target["next_action"], "Relancer le cabinet");
        assert_eq!(target["next_action_date"], "2026-12-01");
        assert_eq!(
            target["political_colour"], "unknown",
            "untouched fields kept"
        );

        let (status, body) = patch(
            &app,
            &path,
            &token,
            json!({"next_action": "Autre chose", "next_action_date": "2026-02-31"}),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "next_action_date");
        let stored = app.store.target(Scope::All, id).await.unwrap().unwrap();
        assert_eq!(stored.next_action, "Relancer le cabinet");
        assert_eq!(
            stored.next_action_date,
            chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
        );

        let (status, body) = patch(&app, &path, &token, json!({"stage": "member"})).await;
        assert_eq!(status, 422, "the stage changes through stage-changes");
        assert_eq!(body["field"], "stage");
        let (status, _) = patch(&app, "/api/v1/targets/999999", &token, json!({})).await;
        assert_eq!(status, 404);
    }
);

both_backends!(
    declining_needs_a_reason_and_stage_changes_are_listed,
    |app: common::TestApp| async move {
        let id = app.add_target("69123").await;
        let token = app.api_token(Role::Staff).await;
        let path = format!("/api/v1/targets/{id}/stage-changes");
        let (status, body) = post(&app, &path, &token, json!({"stage": "declined"})).await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "reason");
        let (status, body) = post(
            &app,
            &path,
            &token,
            json!({"stage": "declined", "reason": "  "}),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "reason");
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

        let (status, target) = post(&app, &path, &token, json!({"stage": "contacted"})).await;
        assert_eq!(status, 201);
        assert_eq!(target["stage"], "contacted");
        let (status, target) = post(
            &app,
            &path,
            &token,
            json!({"stage": "declined", "reason": "Pas avant les élections"}),
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(target["stage"], "declined");
        assert_eq!(target["declined_reason"], "Pas avant les élections");

        let (status, history) = get(&app, &path, &token).await;
        assert_eq!(status, 200);
        let moves: Vec<(Value, Value)> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["from_stage"].clone(), c["to_stage"].clone()))
            .collect();
        assert_eq!(
            moves,
            vec![
                (json!("contacted"), json!("declined")),
                (json!("identified"), json!("contacted")),
                (Value::Null, json!("identified")),
            ],
            "newest first"
        );
        assert_eq!(history[0]["reason"], "Pas avant les élections");
        assert!(
            history[0]["author_label"]
                .as_str()
                .unwrap()
                .contains("jeton API")
        );
        let (status, body) = post(&app, &path, &token, json!({"stage": "won"})).await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "stage");
        let (status, _) = get(&app, "/api/v1/targets/999999/stage-changes", &token).await;
        assert_eq!(status, 404);
    }
);

both_backends!(
    interactions_are_recorded_and_listed,
    |app: common::TestApp| async move {
        let id = app.add_target("69123").await;
        let token = app.api_token(Role::Staff).await;
        let path = format!("/api/v1/targets/{id}/interactions");
        let (status, body) = post(
            &app,
            &path,
            &token,
            json!({"kind": "pigeon", "occurred_on": "2026-11-20", "summary": "Message"}),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "kind");
        assert!(body["error"].as_str().unwrap().contains("phone_call"));
        let (status, body) = post(
            &app,
            &path,
            &token,
            json!({"kind": "email", "occurred_on": "hier", "summary": "Message"}),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "occurred_on");
        assert!(
            app.store
                .interactions(Scope::All, id)
                .await
                .unwrap()
                .is_empty()
        );

        let organisation = app
            .store
            .target(Scope::All, id)
            .await
            .unwrap()
            .unwrap()
            .organisation_id;
        let contact = app
            .store
            .people_of_organisation(Scope::All, organisation)
            .await
            .unwrap()[0]
            .id;
        let (status, created) = post(
            &app,
            &path,
            &token,
            json!({
                "kind": "phone_call",
                "occurred_on": "2026-11-20",
                "summary": "Appel au cabinet du maire",
                "outcome": "Rendez-vous le 2 décembre",
                "people": [contact],
            }),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        let (status, list) = get(&app, &path, &token).await;
        assert_eq!(status, 200);
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["id"], created["id"]);
        assert_eq!(list[0]["kind"], "phone_call");
        assert_eq!(list[0]["occurred_on"], "2026-11-20");
        assert_eq!(list[0]["summary"], "Appel au cabinet du maire");
        assert_eq!(list[0]["people"], json!(["Contact de Lyon"]));
    }
);

// --- organisations and people ---------------------------------------------------------------------------------------

both_backends!(
    organisations_and_people_are_created_and_found,
    |app: common::TestApp| async move {
        let token = app.api_token(Role::Staff).await;
        let (status, organisation) = post(
            &app,
            "/api/v1/organisations",
            &token,
            json!({"kind": "association", "name": "Association X", "departement_code": "13"}),
        )
        .await;
        assert_eq!(status, 201, "{organisation}");
        assert_eq!(organisation["name"], "Association X");
        assert_eq!(organisation["kind"], "association");
        assert_eq!(organisation["departement_code"], "13");
        assert_eq!(organisation["region_code"], "93");
        let organisation_id = organisation["id"].as_i64().unwrap();
        let (status, found) = get(&app, "/api/v1/organisations?q=association%20x", &token).await;
        assert_eq!(status, 200);
        assert_eq!(found.as_array().unwrap().len(), 1);
        assert_eq!(found[0]["id"], organisation_id);

        let (status, body) = post(
            &app,
            "/api/v1/organisations",
            &token,
            json!({"kind": "collectivity", "name": "Lyon"}),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "kind");
        let (status, body) = post(
            &app,
            "/api/v1/organisations",
            &token,
            json!({"kind": "partner", "name": "P", "departement_code": "Atlantide"}),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "departement_code");

        let (status, body) = post(
            &app,
            "/api/v1/people",
            &token,
            json!({"organisation_id": organisation_id, "full_name": "Inès Marchal", "emails": ["pas-un-email"]}),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "emails");
        let (status, found) = get(&app, "/api/v1/people?q=marchal", &token).await;
        assert_eq!(status, 200);
        assert_eq!(found, json!([]), "nothing recorded by the refusal");

        let (status, person) = post(
            &app,
            "/api/v1/people",
            &token,
            json!({
                "organisation_id": organisation_id,
                "full_name": "Inès Marchal",
                "function": "coordinatrice",
                "emails": ["Ines.Marchal@Association-X.example"],
                "phones": ["04 91 00 00 00"],
            }),
        )
        .await;
        assert_eq!(status, 201, "{person}");
        assert_eq!(person["full_name"], "Inès Marchal");
        assert_eq!(person["organisation_name"], "Association X");
        assert_eq!(
            person["emails"],
            json!(["ines.marchal@association-x.example"])
        );
        assert_eq!(person["phones"], json!(["04 91 00 00 00"]));
        for query in ["marchal", "ines", "coordinatrice"] {
            let (status, found) = get(&app, &format!("/api/v1/people?q={query}"), &token).await;
            assert_eq!(status, 200);
            let found = found.as_array().unwrap();
            assert_eq!(found.len(), 1, "{query}");
            assert_eq!(found[0]["id"], person["id"], "{query}");
        }
        let (status, body) = post(
            &app,
            "/api/v1/people",
            &token,
            json!({"organisation_id": 999999, "full_name": "Personne"}),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["field"], "organisation_id");
    }
);

// --- ids that name nothing -----------------------------------------------------------------------------------------

both_backends!(
    an_id_that_names_nothing_is_a_422_naming_the_field_and_nothing_is_written,
    |app: common::TestApp| async move {
        let token = app.api_token(Role::Staff).await;
        let (status, body) = post(
            &app,
            "/api/v1/targets",
            &token,
            json!({"code": "13055", "owner_id": 999999}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["field"], "owner_id");
        assert!(
            body["error"].as_str().unwrap().contains("introuvable"),
            "{body}"
        );
        assert_eq!(target_count(&app).await, 0);
        let (_, organisations) = get(&app, "/api/v1/organisations?q=marseille", &token).await;
        assert_eq!(
            organisations,
            json!([]),
            "the collectivity written before the target is rolled back with it"
        );

        let owner = app.create_user("suivi@example.org", Role::Staff, &[]).await;
        let (status, target) = post(
            &app,
            "/api/v1/targets",
            &token,
            json!({"code": "13055", "owner_id": owner}),
        )
        .await;
        assert_eq!(status, 201, "{target}");
        assert_eq!(target["owner_id"], owner);
        let path = format!("/api/v1/targets/{}", target["id"]);
        let (status, body) = patch(
            &app,
            &path,
            &token,
            json!({"owner_id": 999999, "next_action": "Relancer"}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["field"], "owner_id");
        let (_, unchanged) = get(&app, &path, &token).await;
        assert_eq!(unchanged, target, "nothing of the refused change is kept");

        let (status, body) = post(
            &app,
            "/api/v1/people",
            &token,
            json!({"organisation_id": 999999, "full_name": "Personne"}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["field"], "organisation_id");

        let interactions = format!("{path}/interactions");
        let (status, body) = post(
            &app,
            &interactions,
            &token,
            json!({"kind": "email", "occurred_on": "2026-11-20", "summary": "Courriel", "people": [999999]}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["field"], "people");
        let (_, list) = get(&app, &interactions, &token).await;
        assert_eq!(list, json!([]), "the refused interaction is not recorded");
        let (status, body) = post(
            &app,
            "/api/v1/targets/999999/interactions",
            &token,
            json!({"kind": "email", "occurred_on": "2026-11-20", "summary": "Courriel"}),
        )
        .await;
        assert_eq!(status, 404, "a missing target stays a 404: {body}");
    }
);

both_backends!(
    a_person_named_twice_in_an_interaction_is_linked_once,
    |app: common::TestApp| async move {
        let id = app.add_target("69123").await;
        let token = app.api_token(Role::Staff).await;
        let organisation = app
            .store
            .target(Scope::All, id)
            .await
            .unwrap()
            .unwrap()
            .organisation_id;
        let contact = app
            .store
            .people_of_organisation(Scope::All, organisation)
            .await
            .unwrap()[0]
            .id;
        let path = format!("/api/v1/targets/{id}/interactions");
        let (status, body) = post(
            &app,
            &path,
            &token,
            json!({"kind": "email", "occurred_on": "2026-11-20", "summary": "Courriel", "people": [contact, contact]}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let (_, list) = get(&app, &path, &token).await;
        assert_eq!(list[0]["people"], json!(["Contact de Lyon"]));
    }
);

both_backends!(
    a_text_with_the_nul_character_is_a_422_naming_the_field,
    |app: common::TestApp| async move {
        // PostgreSQL cannot store U+0000 in a text; SQLite could, but both answer the same.
        let token = app.api_token(Role::Staff).await;
        let (status, body) = post(
            &app,
            "/api/v1/organisations",
            &token,
            json!({"kind": "partner", "name": "Parte\u{0}naire"}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["field"], "name");
        let (status, body) = post(
            &app,
            "/api/v1/people",
            &token,
            json!({"full_name": "Quelqu'un", "phones": ["04\u{0}"]}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["field"], "phones");
        let (status, body) = get(&app, "/api/v1/targets?stage=%00", &token).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["field"], "stage");
        let (_, found) = get(&app, "/api/v1/organisations?q=partenaire", &token).await;
        assert_eq!(found, json!([]));
    }
);

// --- malformed bodies and the OpenAPI document -------------------------------------------------------------------------

both_backends!(
    a_malformed_json_body_is_a_400_json_error,
    |app: common::TestApp| async move {
        let token = app.api_token(Role::Staff).await;
        let response = common::TestApp::client()
            .post(app.url("/api/v1/targets"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{\"code\": \"69123\"")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("the error is not JSON: {text:?}"));
        assert!(body["error"].is_string(), "{body}");
        assert_eq!(target_count(&app).await, 0);
    }
);

both_backends!(
    the_openapi_document_describes_the_targets_paths,
    |app: common::TestApp| async move {
        let response = common::TestApp::client()
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let document: Value = response.json().await.expect("valid JSON");
        assert!(
            document["openapi"].as_str().unwrap().starts_with('3'),
            "{}",
            document["openapi"]
        );
        let paths = document["paths"].as_object().unwrap();
        for path in [
            "/api/v1/targets",
            "/api/v1/targets/{id}",
            "/api/v1/targets/{id}/stage-changes",
            "/api/v1/targets/{id}/interactions",
            "/api/v1/organisations",
            "/api/v1/people",
        ] {
            assert!(paths.contains_key(path), "{path} documented");
        }
        assert!(paths["/api/v1/targets"]["post"].is_object());
        assert!(paths["/api/v1/targets/{id}/stage-changes"]["post"].is_object());
        assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    }
);
