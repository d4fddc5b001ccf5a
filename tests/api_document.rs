//! The OpenAPI document of the JSON API (`/api/v1/openapi.json`) is one tools can use: valid OpenAPI 3.1 for
//! `openapi-spec-validator`, true to the routes (every operation at the path and method it is routed on, path
//! parameters declared, query parameters `in: query`, every `$ref` present, every error answer with its body),
//! and the running API keeps to it when schemathesis fuzzes it: no 5xx, no status or body the document does
//! not describe, schema-breaking requests refused.
//!
//! The Python tools are required, not optional: `.ci/run` installs them (`pip install
//! openapi-spec-validator==0.9.0 schemathesis==4.32.5`); without them these tests fail and say so.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use relais::domain::Role;
use serde_json::{Value, json};

/// The operations as `src/web/api/resources.rs` routes them under `/api/v1`.
const OPERATIONS: [(&str, &str); 14] = [
    ("get", "/api/v1/organisations"),
    ("post", "/api/v1/organisations"),
    ("get", "/api/v1/organisations/{id}"),
    ("get", "/api/v1/people"),
    ("post", "/api/v1/people"),
    ("get", "/api/v1/people/{id}"),
    ("get", "/api/v1/targets"),
    ("post", "/api/v1/targets"),
    ("get", "/api/v1/targets/{id}"),
    ("patch", "/api/v1/targets/{id}"),
    ("get", "/api/v1/targets/{id}/stage-changes"),
    ("post", "/api/v1/targets/{id}/stage-changes"),
    ("get", "/api/v1/targets/{id}/interactions"),
    ("post", "/api/v1/targets/{id}/interactions"),
];

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn fetch_document(app: &common::TestApp) -> Value {
    let response = common::TestApp::client()
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("document fetched");
    assert_eq!(response.status(), 200);
    response.json().await.expect("the document is JSON")
}

/// Follows a local `$ref` (`#/components/...`), or says why it cannot.
fn resolve<'a>(document: &'a Value, reference: &str) -> Result<&'a Value, String> {
    let pointer = reference
        .strip_prefix('#')
        .ok_or_else(|| format!("{reference} is not a local reference"))?;
    document
        .pointer(pointer)
        .ok_or_else(|| format!("{reference} points nowhere"))
}

/// Every `$ref` of the document, with where it was found.
fn references(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(fields) => {
            for (key, item) in fields {
                match (key.as_str(), item) {
                    ("$ref", Value::String(reference)) => {
                        found.push((at.to_string(), reference.clone()))
                    }
                    _ => references(item, &format!("{at}/{key}"), found),
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                references(item, &format!("{at}/{index}"), found);
            }
        }
        _ => {}
    }
}

/// The names between braces of a path template.
fn template_names(path: &str) -> BTreeSet<String> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_string)
        .collect()
}

/// Which error statuses an operation can answer, from what it does: every operation authenticates and
/// reads a path, query or body that can be malformed; writes need a writing token and validate their
/// values; an id in the path may name nothing; a new target may already be one. Query strings are
/// checked for the NUL character, so the lists can answer 422 too.
fn expected_errors(method: &str, path: &str) -> BTreeSet<u16> {
    let mut statuses = BTreeSet::from([400, 401]);
    let writes = method != "get";
    if writes {
        statuses.extend([403, 422]);
    }
    if path.contains("{id}") {
        statuses.insert(404);
    } else if method == "get" {
        statuses.insert(422);
    }
    if (method, path) == ("post", "/api/v1/targets") {
        statuses.insert(409);
    }
    statuses
}

/// Everything that makes the document untrue to the routes or unusable by tools; empty when all is well.
fn problems(document: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if !document["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1"))
    {
        problems.push(format!("openapi is {}, not 3.1", document["openapi"]));
    }
    let mut found = Vec::new();
    references(document, "#", &mut found);
    for (at, reference) in &found {
        if let Err(why) = resolve(document, reference) {
            problems.push(format!("{at}: {why}"));
        }
    }

    let empty = serde_json::Map::new();
    let paths = document["paths"].as_object().unwrap_or(&empty);
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            HTTP_METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(|method| (method.to_string(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    for (method, path) in documented.difference(&routed) {
        problems.push(format!("{method} {path} is documented but not routed"));
    }
    for (method, path) in routed.difference(&documented) {
        problems.push(format!("{method} {path} is routed but not documented"));
    }

    for (method, path) in documented.intersection(&routed) {
        let operation = &paths[path.as_str()][method.as_str()];
        let name = format!("{method} {path}");
        let parameters: Vec<&Value> = operation["parameters"]
            .as_array()
            .map(|p| p.iter().collect())
            .unwrap_or_default();
        let parameters: Vec<&Value> = parameters
            .into_iter()
            .map(|p| match p["$ref"].as_str() {
                Some(reference) => resolve(document, reference).unwrap_or(p),
                None => p,
            })
            .collect();
        let in_path: BTreeSet<String> = parameters
            .iter()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect();
        let template = template_names(path);
        for missing in template.difference(&in_path) {
            problems.push(format!("{name}: {{{missing}}} is not declared in: path"));
        }
        for stray in in_path.difference(&template) {
            problems.push(format!(
                "{name}: parameter {stray} is declared in: path but is not in the path"
            ));
        }
        for parameter in &parameters {
            if parameter["in"] == "path" && parameter["required"] != true {
                problems.push(format!(
                    "{name}: path parameter {} is not required",
                    parameter["name"]
                ));
            }
        }

        let responses = operation["responses"].as_object().unwrap_or(&empty);
        let success = if method == "post" { "201" } else { "200" };
        if !responses.contains_key(success) {
            problems.push(format!("{name}: no {success} response"));
        }
        for status in expected_errors(method, path) {
            let Some(response) = responses.get(&status.to_string()) else {
                problems.push(format!("{name}: answer {status} is not documented"));
                continue;
            };
            let response = match response["$ref"].as_str() {
                Some(reference) => resolve(document, reference).unwrap_or(response),
                None => response,
            };
            if response["content"]["application/json"]["schema"]["$ref"]
                != "#/components/schemas/ApiErrorBody"
            {
                problems.push(format!(
                    "{name}: answer {status} does not have the error body: {response}"
                ));
            }
        }
        for status in responses.keys() {
            if status != success
                && !status
                    .parse::<u16>()
                    .is_ok_and(|s| expected_errors(method, path).contains(&s))
            {
                problems.push(format!(
                    "{name}: answer {status} is documented but never given"
                ));
            }
        }
    }
    problems
}

/// Runs a Python tool in an empty folder (nothing it leaves behind lands in the checkout); panics, with how
/// to install it, when it is not there, and when it runs longer than `within`.
async fn python(args: &[&str], within: Duration) -> (bool, String) {
    let folder = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new("python3");
    command
        .args(args)
        .current_dir(folder.path())
        .kill_on_drop(true);
    let output = tokio::time::timeout(within, command.output())
        .await
        .unwrap_or_else(|_| panic!("python3 {args:?} did not finish within {within:?}"))
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !text.contains("No module named"),
        "python3 {args:?}: a tool is missing ({}); install them with \
         `pip install openapi-spec-validator==0.9.0 schemathesis==4.32.5` (.ci/run does)",
        text.trim()
    );
    (output.status.success(), text)
}

#[test]
fn the_checks_find_what_was_wrong_with_the_first_document() {
    // The faults of the document as it was first served: a query parameter in: path, an operation on
    // `{id}` without its parameter, a reference to a schema the components lack, statuses left out.
    let broken = json!({
        "openapi": "3.1.0",
        "paths": {
            "/api/v1/targets": {"get": {
                "parameters": [{"name": "sort", "in": "path", "required": true,
                                "schema": {"$ref": "#/components/schemas/TargetSort"}}],
                "responses": {"200": {"description": ""}}
            }},
            "/api/v1/targets/{id}": {"get": {"responses": {"200": {"description": ""}, "404": {"description": ""}}}}
        },
        "components": {"schemas": {}}
    });
    let found = problems(&broken);
    for expected in [
        "parameter sort is declared in: path but is not in the path",
        "{id} is not declared in: path",
        "#/components/schemas/TargetSort points nowhere",
        "get /api/v1/targets: answer 401 is not documented",
        "get /api/v1/targets/{id}: answer 404 does not have the error body",
        "post /api/v1/targets is routed but not documented",
    ] {
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{expected:?} not found in {found:#?}"
        );
    }
}

mod the_document_is_valid_openapi_and_true_to_the_routes {
    use super::*;

    async fn run(backend: common::Backend) {
        let app = common::TestApp::spawn(backend).await;
        let document = fetch_document(&app).await;
        let found = problems(&document);
        assert!(found.is_empty(), "the document is wrong:\n{found:#?}");

        // Each documented operation is routed there: without a token it answers the API's 401, not the
        // site's 404 or a 405.
        for (method, path) in OPERATIONS {
            let url = app.url(&path.replace("{id}", "1"));
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = common::TestApp::client()
                .request(method.clone(), &url)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "{method} {url}");
            let body: Value = response.json().await.expect("a JSON error");
            assert!(body["error"].is_string(), "{method} {url}: {body}");
        }

        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("openapi.json");
        std::fs::write(&file, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
        let (valid, output) = python(
            &["-m", "openapi_spec_validator", file.to_str().unwrap()],
            Duration::from_secs(60),
        )
        .await;
        assert!(
            valid,
            "openapi-spec-validator refuses the document:\n{output}"
        );
        app.stop().await;
    }

    run_on_both_databases!();
}

/// schemathesis against the running API, bounded: 40 cases per operation in the examples, coverage and
/// fuzzing phases (the stateful phase needs links the document does not have), and a hard limit on the
/// whole run. The checks: no 5xx, no status, content type or body outside the document, requests that
/// break the schema refused, requests without a valid token refused. Not `positive_data_acceptance`: a
/// request the schema allows may still be refused with a 422 (an unknown INSEE code, a date that does not
/// exist), as documented.
async fn fuzz(app: &common::TestApp) {
    // Something to find: a target, its collectivity and its contact, all with id 1 in a fresh database, the
    // id of the document's examples.
    app.add_target("69123").await;
    let token = app.api_token(Role::Staff).await;
    let started = Instant::now();
    let (passed, output) = python(
        &[
            "-m",
            "schemathesis.cli",
            "run",
            &app.url("/api/v1/openapi.json"),
            "--url",
            &app.url(""),
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,negative_data_rejection,ignored_auth",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "40",
            "--request-timeout",
            "10",
            "--generation-database",
            "none",
            "--no-color",
        ],
        Duration::from_secs(90),
    )
    .await;
    println!("schemathesis ran for {:?}", started.elapsed());
    assert!(passed, "schemathesis found faults:\n{output}");
}

mod schemathesis_finds_no_server_error_nor_answer_outside_the_document {
    use super::*;

    async fn run(backend: common::Backend) {
        let app = common::TestApp::spawn(backend).await;
        fuzz(&app).await;
        app.stop().await;
    }

    run_on_both_databases!();
}
