//! Importing the staff spreadsheet from the web app: upload, then a preview (column mapping, what each line
//! would become, the errors of each bad line, candidates for ambiguous or unknown collectivities), then the
//! import itself, all or nothing. The uploaded file waits under the data folder between the steps, so the
//! preview and the import read exactly the same bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use askama::Template;
use axum::extract::{FromRequest, Multipart, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};

use crate::import::{
    Field, ImportPlan, RowStatus, Table, apply_overrides, guess_mapping, plan_import,
    read_table_in_background,
};
use crate::store::import::DuplicatePolicy;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::view::Chrome;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/import", get(upload_page))
        .route("/import/preview", post(preview_upload))
        .route("/import/confirm", post(confirm))
}

#[derive(Template)]
#[template(path = "import.html", config = "src/web/askama.toml")]
struct UploadPage {
    chrome: Chrome,
    error: Option<String>,
}

async fn upload_page(session: Session) -> WebResult<Html<String>> {
    session.require_staff()?;
    Ok(Html(
        UploadPage {
            chrome: Chrome::new(&session, "import", "Import"),
            error: None,
        }
        .render()?,
    ))
}

/// A column of the mapping step: its header, a sample value and the field chosen.
pub struct MappedColumn {
    pub index: usize,
    pub header: String,
    pub sample: String,
    pub field: String,
}

#[derive(Template)]
#[template(path = "import_preview.html", config = "src/web/askama.toml")]
struct PreviewPage {
    chrome: Chrome,
    upload: String,
    file_name: String,
    on_duplicate: String,
    columns: Vec<MappedColumn>,
    fields: Vec<(&'static str, &'static str)>,
    plan: ImportPlan,
    outcome: Option<String>,
}

impl PreviewPage {
    /// What a new or duplicate row will write, in the words of the targets page: the stage, each contact
    /// (function, addresses, phones), the next action and its date, the political colour and the notes.
    pub fn creates(row: &crate::import::PlannedRow) -> Vec<String> {
        use crate::domain::PoliticalColour;
        use crate::web::view::french_date;
        let Some(target) = &row.new_target else {
            return Vec::new();
        };
        let mut parts = vec![format!("étape « {} »", target.stage.label())];
        for contact in &target.contacts {
            let mut about: Vec<String> = Vec::new();
            if !contact.function.is_empty() {
                about.push(contact.function.clone());
            }
            about.extend(contact.emails.iter().cloned());
            about.extend(contact.phones.iter().cloned());
            parts.push(if about.is_empty() {
                format!("contact : {}", contact.full_name)
            } else {
                format!("contact : {} ({})", contact.full_name, about.join(", "))
            });
        }
        let fields = &target.fields;
        match (fields.next_action.is_empty(), fields.next_action_date) {
            (false, Some(date)) => parts.push(format!(
                "prochaine action : {} le {}",
                fields.next_action,
                french_date(Some(date))
            )),
            (false, None) => parts.push(format!("prochaine action : {}", fields.next_action)),
            (true, Some(date)) => {
                parts.push(format!("prochaine action le {}", french_date(Some(date))))
            }
            (true, None) => {}
        }
        if fields.political_colour != PoliticalColour::Unknown {
            parts.push(format!("couleur : {}", fields.political_colour.label()));
        }
        if !fields.notes.is_empty() {
            parts.push(format!("notes : {}", fields.notes));
        }
        parts
    }

    pub fn status_label(status: &RowStatus) -> &'static str {
        match status {
            RowStatus::New => "nouvelle cible",
            RowStatus::Duplicate => "doublon",
            RowStatus::Ambiguous => "ambiguë",
            RowStatus::Unknown => "inconnue",
            RowStatus::Invalid => "à corriger",
            RowStatus::Empty => "vide",
        }
    }
}

fn upload_dir(state: &AppState) -> PathBuf {
    state.settings.data_dir.join("imports")
}

/// The stored upload of this token; the token is checked so no other path can be named.
fn upload_path(state: &AppState, token: &str) -> WebResult<PathBuf> {
    if token.is_empty()
        || !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(WebError::BadRequest(
            "Fichier d'import inconnu : recommencez l'envoi.".into(),
        ));
    }
    Ok(upload_dir(state).join(token))
}

/// Most bytes read and thrown away from an upload declared too big, so the browser, still sending, reads
/// the answer instead of a reset connection (what nginx's lingering close does).
const DRAINED_AT_MOST: usize = 256 << 20;

/// Reads and drops the rest of a refused upload, within [`DRAINED_AT_MOST`] bytes and ten seconds.
async fn drain(body: axum::body::Body) {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut drained = 0usize;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(Ok(chunk)) = stream.next().await {
            drained += chunk.len();
            if drained > DRAINED_AT_MOST {
                break;
            }
        }
    })
    .await;
}

async fn preview_upload(
    session: Session,
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> WebResult<Response> {
    session.require_staff()?;
    let too_big_page = || -> WebResult<Response> {
        let page = UploadPage {
            chrome: Chrome::new(&session, "import", "Import"),
            error: Some(format!(
                "Le fichier est trop gros : {} Mo au plus (réglage server.max_upload_mb). \
                 Enregistrez-le sans mise en forme ni images, ou découpez-le.",
                state.settings.server.max_upload_mb
            )),
        };
        Ok((StatusCode::PAYLOAD_TOO_LARGE, Html(page.render()?)).into_response())
    };
    let too_big = |status: StatusCode| -> WebResult<Option<Response>> {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            too_big_page().map(Some)
        } else {
            Ok(None)
        }
    };
    let limit = state.settings.server.max_upload_mb * 1024 * 1024;
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        drain(request.into_body()).await;
        return too_big_page();
    }
    let multipart = Multipart::from_request(request, &state).await;
    let mut multipart = match multipart {
        Ok(multipart) => multipart,
        Err(rejection) => {
            if let Some(response) = too_big(rejection.status())? {
                return Ok(response);
            }
            return Err(WebError::BadRequest(format!(
                "Envoi illisible : {rejection}"
            )));
        }
    };
    // Shared with the reading thread, then written as it was uploaded: one copy of the file.
    let mut file: Option<(String, std::sync::Arc<[u8]>)> = None;
    let mut on_duplicate = "skip".to_string();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => {
                if let Some(response) = too_big(error.status())? {
                    return Ok(response);
                }
                return Err(WebError::BadRequest(format!("Envoi illisible : {error}")));
            }
        };
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or("import.csv").to_string();
                let bytes = match field.bytes().await {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        if let Some(response) = too_big(error.status())? {
                            return Ok(response);
                        }
                        return Err(WebError::BadRequest(format!("Envoi interrompu : {error}")));
                    }
                };
                file = Some((name, std::sync::Arc::from(&bytes[..])));
            }
            Some("on_duplicate") => on_duplicate = field.text().await.unwrap_or_default(),
            _ => {}
        }
    }
    let Some((file_name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        let page = UploadPage {
            chrome: Chrome::new(&session, "import", "Import"),
            error: Some("Choisissez un fichier CSV ou XLSX.".into()),
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    let table = match read_table_in_background(bytes.clone(), file_name.clone()).await {
        Ok(table) => table,
        Err(error) => {
            let page = UploadPage {
                chrome: Chrome::new(&session, "import", "Import"),
                error: Some(error.to_string()),
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
        }
    };
    let token = crate::security::random_token();
    std::fs::create_dir_all(upload_dir(&state)).map_err(|e| WebError::Internal(e.to_string()))?;
    std::fs::write(upload_path(&state, &token)?, &bytes)
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let plan = plan_with_owners(&state, &table, &guess_mapping(&table.headers)).await?;
    render_preview(&session, token, file_name, on_duplicate, &table, plan)
}

/// Plans the import of `table` as the preview and the import both need it.
async fn plan_with_owners(
    state: &AppState,
    table: &Table,
    mapping: &[Option<Field>],
) -> WebResult<ImportPlan> {
    let owners = state.store.import_owners().await?;
    Ok(plan_import(&state.store, table, mapping, &owners).await?)
}

/// The preview: the column mapping, what each line would become, and the errors to fix.
fn render_preview(
    session: &Session,
    upload: String,
    file_name: String,
    on_duplicate: String,
    table: &Table,
    plan: ImportPlan,
) -> WebResult<Response> {
    let columns = table
        .headers
        .iter()
        .enumerate()
        .map(|(index, header)| MappedColumn {
            index,
            header: header.clone(),
            sample: table
                .rows
                .iter()
                .filter_map(|(_, r)| r.get(index))
                .find(|v| !v.trim().is_empty())
                .cloned()
                .unwrap_or_default(),
            field: plan
                .mapping
                .get(index)
                .copied()
                .flatten()
                .map_or("", Field::code)
                .to_string(),
        })
        .collect();
    let status = if plan.is_clean() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = PreviewPage {
        chrome: Chrome::new(session, "import", "Aperçu de l'import"),
        upload,
        file_name,
        on_duplicate,
        columns,
        fields: Field::ALL
            .iter()
            .map(|f| (f.code(), f.label_fr()))
            .collect(),
        plan,
        outcome: None,
    };
    Ok((status, Html(page.render()?)).into_response())
}

async fn confirm(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<BTreeMap<String, String>>,
) -> WebResult<Response> {
    session.require_staff()?;
    let token = form.get("upload").cloned().unwrap_or_default();
    let file_name = form.get("file_name").cloned().unwrap_or_default();
    let on_duplicate = form
        .get("on_duplicate")
        .cloned()
        .unwrap_or_else(|| "skip".into());
    let path = upload_path(&state, &token)?;
    let bytes = std::fs::read(&path).map_err(|_| {
        WebError::BadRequest("Ce fichier n'est plus disponible : envoyez-le à nouveau.".into())
    })?;
    let table = read_table_in_background(bytes.into(), file_name.clone())
        .await
        .map_err(|e| WebError::BadRequest(e.to_string()))?;
    let mut mapping = guess_mapping(&table.headers);
    let overrides: Vec<(usize, Option<Field>)> = form
        .iter()
        .filter_map(|(key, value)| {
            let column = key.strip_prefix("map_")?.parse().ok()?;
            Some((
                column,
                if value.is_empty() {
                    None
                } else {
                    Field::parse(value)
                },
            ))
        })
        .collect();
    apply_overrides(&mut mapping, &overrides).map_err(WebError::BadRequest)?;
    let plan = plan_with_owners(&state, &table, &mapping).await?;
    // Remapping, or an import asked while lines still need fixing, shows the preview again.
    if form.get("action").map(String::as_str) != Some("import") || !plan.is_clean() {
        return render_preview(&session, token, file_name, on_duplicate, &table, plan);
    }
    let policy = if on_duplicate == "update" {
        DuplicatePolicy::Update
    } else {
        DuplicatePolicy::Skip
    };
    let actor = crate::store::audit::Actor {
        user_id: Some(session.user.id),
        label: format!("{} (import de {file_name})", session.user.name),
    };
    let outcome = state
        .store
        .apply_import(&plan, policy, &actor, state.clock.now_millis())
        .await?;
    let _ = std::fs::remove_file(&path);
    let message = format!(
        "Import terminé : {} cibles créées, {} mises à jour, {} ignorées.",
        outcome.created, outcome.updated, outcome.skipped
    );
    tracing::info!(
        created = outcome.created,
        updated = outcome.updated,
        "web import applied"
    );
    let page = PreviewPage {
        chrome: Chrome::new(&session, "import", "Import terminé"),
        upload: String::new(),
        file_name,
        on_duplicate,
        columns: vec![],
        fields: vec![],
        plan,
        outcome: Some(message),
    };
    Ok(Html(page.render()?).into_response())
}
