//! Practical sheets uploaded as documents: staff upload them from "Réunions" (`POST /ressources/document`,
//! multipart, CSRF token in the query string), relais keeps each under `<data.dir>/resources/<id>` and
//! serves it at `/ressources/{id}/fichier` without a session, since agendas and minutes link to them for
//! officials who have no account.

use axum::Router;
use axum::extract::{Multipart, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::AppState;
use super::auth::Session;
use super::error::{WebError, WebResult};

/// The documents accepted, by extension, with the type they are served as.
const ACCEPTED: &[(&str, &str)] = &[
    ("pdf", "application/pdf"),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
];

/// The public download; the staff upload goes through the staff router (it needs a session and CSRF).
pub fn router() -> Router<AppState> {
    Router::new().route("/ressources/{id}/fichier", get(download))
}

pub fn staff_router() -> Router<AppState> {
    Router::new().route("/ressources/document", post(upload))
}

fn folder(state: &AppState) -> std::path::PathBuf {
    state.settings.data_dir.join("resources")
}

async fn upload(
    session: Session,
    State(state): State<AppState>,
    mut multipart: Multipart,
) -> WebResult<Response> {
    session.require_staff()?;
    let (mut title, mut themes, mut description) = (String::new(), String::new(), String::new());
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| WebError::BadRequest(format!("Envoi illisible : {e}")))?
    {
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or_default().to_string();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| WebError::BadRequest(format!("Envoi interrompu : {e}")))?;
                file = Some((name, bytes.to_vec()));
            }
            Some("title") => title = field.text().await.unwrap_or_default(),
            Some("themes") => themes = field.text().await.unwrap_or_default(),
            Some("description") => description = field.text().await.unwrap_or_default(),
            _ => {}
        }
    }
    let Some((file_name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Err(WebError::BadRequest(
            "Choisissez le document à déposer.".into(),
        ));
    };
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let Some((_, content_type)) = ACCEPTED.iter().find(|(e, _)| *e == extension) else {
        return Err(WebError::BadRequest(format!(
            "« {file_name} » : seuls les documents PDF, ODT, ODS, DOCX, XLSX, PNG et JPEG sont acceptés."
        )));
    };
    let title = if title.trim().is_empty() {
        file_name.clone()
    } else {
        title.trim().to_string()
    };
    let id = state
        .store
        .add_resource_document(
            &title,
            description.trim(),
            themes.trim(),
            &file_name,
            content_type,
            state.clock.now_millis(),
        )
        .await?;
    // The row first, then the file; a file that cannot be written takes its row away.
    let stored = async {
        tokio::fs::create_dir_all(folder(&state)).await?;
        tokio::fs::write(folder(&state).join(id.to_string()), &bytes).await
    }
    .await;
    if let Err(error) = stored {
        state.store.remove_resource(id).await?;
        return Err(WebError::Internal(format!("document not stored: {error}")));
    }
    Ok(Redirect::to("/reunions#fiches").into_response())
}

async fn download(State(state): State<AppState>, Path(id): Path<i64>) -> WebResult<Response> {
    let (file_name, content_type) = state
        .store
        .resource_document(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let bytes = tokio::fs::read(folder(&state).join(id.to_string()))
        .await
        .map_err(|_| WebError::NotFound)?;
    // The name as sent, ASCII only in the simple parameter, in full in the RFC 5987 one.
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(&file_name, percent_encoding::NON_ALPHANUMERIC);
    let disposition = format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
