//! The needs survey as the invited contact fills it, without an account: `/enquete/{token}`, where the token
//! signs the invitation ([`crate::mail::unsubscribe::Purpose::Survey`]). The form keeps a draft ("Enregistrer
//! et finir plus tard") and sends once; an expired link or one already used gets a clear page instead of
//! the form. French, accessible (every field labelled, errors listed and linked), usable on a phone.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::{WebError, WebResult};
use crate::mail::unsubscribe::Purpose;
use crate::store::survey::{Invitation, NewAnswer, Questionnaire, Submitted};

pub fn router() -> Router<AppState> {
    Router::new().route("/enquete/{token}", get(show).post(submit))
}

/// Largest text answer kept.
const MAX_TEXT: usize = 5_000;

enum SurveyState {
    Form {
        token: String,
        name: String,
        errors: Vec<String>,
        saved: bool,
    },
    Thanks,
    Answered,
    Expired,
    Invalid,
}

#[derive(Template)]
#[template(path = "survey.html", config = "src/web/askama.toml")]
struct SurveyPage {
    title: String,
    questionnaire: Questionnaire,
    state: SurveyState,
    /// The fields as last filled (draft or refused submission).
    values: Vec<(String, String)>,
}

impl SurveyPage {
    fn value(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn is(&self, name: &str, value: &str) -> bool {
        self.values.iter().any(|(k, v)| k == name && v == value)
    }

    fn interest_field(&self, code: &str) -> String {
        format!("interest_{code}")
    }

    fn experience_field(&self, code: &str) -> String {
        format!("experience_{code}")
    }
}

async fn invitation(state: &AppState, token: &str) -> WebResult<Option<Invitation>> {
    match state.unsubscribe.verify_for(Purpose::Survey, token) {
        Some(id) => Ok(state.store.survey_invitation(id).await?),
        None => Ok(None),
    }
}

async fn page(
    state: &AppState,
    status: StatusCode,
    page_state: SurveyState,
    values: Vec<(String, String)>,
) -> WebResult<Response> {
    let survey = state.store.survey().await?;
    let page = SurveyPage {
        title: survey.title,
        questionnaire: survey.questionnaire,
        state: page_state,
        values,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// The page an invitation that cannot be filled gets, if so.
fn closed(invitation: &Invitation, now: i64) -> Option<(StatusCode, SurveyState)> {
    if invitation.answered_at.is_some() {
        Some((StatusCode::GONE, SurveyState::Answered))
    } else if invitation.expires_at <= now {
        Some((StatusCode::GONE, SurveyState::Expired))
    } else {
        None
    }
}

async fn show(State(state): State<AppState>, Path(token): Path<String>) -> WebResult<Response> {
    let Some(invitation) = invitation(&state, &token).await? else {
        return page(
            &state,
            StatusCode::NOT_FOUND,
            SurveyState::Invalid,
            Vec::new(),
        )
        .await;
    };
    if let Some((status, closed)) = closed(&invitation, state.clock.now_millis()) {
        return page(&state, status, closed, Vec::new()).await;
    }
    let values: Vec<(String, String)> = serde_json::from_str(&invitation.draft).unwrap_or_default();
    let form = SurveyState::Form {
        token,
        name: invitation.name,
        errors: Vec::new(),
        saved: false,
    };
    page(&state, StatusCode::OK, form, values).await
}

/// Reads and checks the fields against the questionnaire.
fn parse_answer(
    questionnaire: &Questionnaire,
    fields: &[(String, String)],
) -> Result<NewAnswer, Vec<String>> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let mut errors = Vec::new();
    let mut answer = NewAnswer {
        problems: field("problems"),
        other_themes: field("other_themes"),
        involvement: field("involvement"),
        comments: field("comments"),
        slots: fields
            .iter()
            .filter(|(k, _)| k == "slot")
            .map(|(_, v)| v.clone())
            .filter(|v| questionnaire.slots.contains(v))
            .collect(),
        themes: Vec::new(),
    };
    for text in [&answer.problems, &answer.other_themes, &answer.comments] {
        if text.chars().count() > MAX_TEXT {
            errors.push(format!(
                "Une réponse dépasse {MAX_TEXT} caractères : raccourcissez-la."
            ));
        }
    }
    if !answer.involvement.is_empty() && !questionnaire.involvement.contains(&answer.involvement) {
        errors.push("Choisissez l'implication parmi celles proposées.".to_string());
    }
    for theme in &questionnaire.themes {
        let interest = field(&format!("interest_{}", theme.code));
        let experience = field(&format!("experience_{}", theme.code));
        if interest.is_empty() && experience.is_empty() {
            continue;
        }
        let interest = interest
            .parse::<i64>()
            .ok()
            .filter(|v| (-2..=2).contains(v));
        let experience = experience
            .parse::<i64>()
            .ok()
            .filter(|v| (0..=3).contains(v));
        match (interest, experience) {
            (Some(interest), Some(experience)) => {
                answer.themes.push((theme.code.clone(), interest, experience))
            }
            _ => errors.push(format!(
                "« {} » : indiquez l'intérêt (de −2 à +2) et l'expérience (de 0 à 3), ou ni l'un ni l'autre.",
                theme.label
            )),
        }
    }
    if answer.themes.is_empty() && answer.problems.is_empty() {
        errors.push(
            "Indiquez au moins les problèmes rencontrés ou votre intérêt pour un thème."
                .to_string(),
        );
    }
    if errors.is_empty() {
        Ok(answer)
    } else {
        Err(errors)
    }
}

async fn submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: String,
) -> WebResult<Response> {
    let Some(invitation) = invitation(&state, &token).await? else {
        return page(
            &state,
            StatusCode::NOT_FOUND,
            SurveyState::Invalid,
            Vec::new(),
        )
        .await;
    };
    let now = state.clock.now_millis();
    if let Some((status, closed)) = closed(&invitation, now) {
        return page(&state, status, closed, Vec::new()).await;
    }
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(&body)
        .map_err(|e| WebError::BadRequest(format!("formulaire illisible : {e}")))?;
    if body.len() > 64 * 1024 {
        return Err(WebError::BadRequest("Le formulaire est trop long.".into()));
    }
    let kept: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| k != "action")
        .cloned()
        .collect();
    let draft_only = fields
        .iter()
        .any(|(k, v)| k == "action" && v == "brouillon");
    let survey = state.store.survey().await?;
    if draft_only {
        let draft = serde_json::to_string(&kept).unwrap_or_default();
        state.store.save_survey_draft(invitation.id, &draft).await?;
        let form = SurveyState::Form {
            token,
            name: invitation.name,
            errors: Vec::new(),
            saved: true,
        };
        return page(&state, StatusCode::OK, form, kept).await;
    }
    match parse_answer(&survey.questionnaire, &fields) {
        Ok(answer) => match state.store.submit_survey(&invitation, &answer, now).await? {
            Submitted::Recorded => {
                page(&state, StatusCode::OK, SurveyState::Thanks, Vec::new()).await
            }
            Submitted::AlreadyAnswered => {
                page(&state, StatusCode::GONE, SurveyState::Answered, Vec::new()).await
            }
        },
        Err(errors) => {
            let form = SurveyState::Form {
                token,
                name: invitation.name,
                errors,
                saved: false,
            };
            page(&state, StatusCode::UNPROCESSABLE_ENTITY, form, kept).await
        }
    }
}
