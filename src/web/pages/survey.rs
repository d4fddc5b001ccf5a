//! "Recensement": the needs survey on the staff side — the questionnaire (edited here; a default ships),
//! inviting chosen contacts of targets (each gets a personal link that expires, and a reminder later), and
//! the results: per theme the interest and experience of respondents as a chart and a matrix, the themes
//! most wanted that no meeting took up yet, who could speak from experience, and CSV/XLSX exports.
//! Staff and admins only.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::domain::survey::{Rating, ThemeResult, results, wanted_not_covered};
use crate::export::{ExportFormat, Sheet};
use crate::mail::survey::invitation_message;
use crate::store::survey::{Invitable, Survey, Theme};
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::forms::{self, RepeatedForm};
use crate::web::view::Chrome;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/recensement", get(overview).post(update))
        .route("/recensement/invitations", post(invite))
        .route("/recensement/resultats", get(show_results))
        .route("/recensement/export", get(export))
}

#[derive(Template)]
#[template(path = "survey_staff.html", config = "src/web/askama.toml")]
struct OverviewPage {
    chrome: Chrome,
    survey: Survey,
    themes_text: String,
    involvement_text: String,
    slots_text: String,
    sent: i64,
    answered: i64,
    contacts: Vec<Invitable>,
    notice: String,
}

async fn overview_page(
    session: &Session,
    state: &AppState,
    notice: String,
) -> WebResult<Html<String>> {
    let survey = state.store.survey().await?;
    let (sent, answered) = state.store.survey_counts(survey.id).await?;
    let questionnaire = &survey.questionnaire;
    let page = OverviewPage {
        chrome: Chrome::new(session, "survey", "Recensement des attentes"),
        themes_text: questionnaire
            .themes
            .iter()
            .map(|t| t.label.clone())
            .collect::<Vec<_>>()
            .join("\n"),
        involvement_text: questionnaire.involvement.join("\n"),
        slots_text: questionnaire.slots.join("\n"),
        contacts: state.store.invitable_contacts(survey.id).await?,
        sent,
        answered,
        survey,
        notice,
    };
    Ok(Html(page.render()?))
}

async fn overview(session: Session, State(state): State<AppState>) -> WebResult<Html<String>> {
    session.require_staff()?;
    overview_page(&session, &state, String::new()).await
}

#[derive(serde::Deserialize)]
struct QuestionnaireForm {
    title: String,
    intro: String,
    themes: String,
    involvement: String,
    slots: String,
    reminder_days: String,
    link_days: String,
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// A theme's code from its label: folded, words joined by `_` (`Accès à l'eau` → `acces_a_l_eau`). Codes
/// of themes already there are kept, so answers stay attached to them.
fn theme_code(label: &str) -> String {
    crate::domain::search_text(&[label]).replace(['.', '@', ' '], "_")
}

async fn update(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<QuestionnaireForm>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let mut survey = state.store.survey().await?;
    let mut errors = Vec::new();
    let labels = lines(&form.themes);
    if labels.is_empty() {
        errors.push("Le questionnaire propose au moins un thème.".to_string());
    }
    let reminder_days: Option<i64> = form
        .reminder_days
        .trim()
        .parse()
        .ok()
        .filter(|d| (1..=60).contains(d));
    let link_days: Option<i64> = form
        .link_days
        .trim()
        .parse()
        .ok()
        .filter(|d| (2..=180).contains(d));
    if reminder_days.is_none() {
        errors.push("Le rappel part entre 1 et 60 jours après l'invitation.".to_string());
    }
    if link_days.is_none() {
        errors.push("Un lien vaut entre 2 et 180 jours.".to_string());
    }
    if form.title.trim().is_empty() {
        errors.push("Donnez un titre au questionnaire.".to_string());
    }
    if !errors.is_empty() {
        return Err(WebError::BadRequest(errors.join(" ")));
    }
    let existing = survey.questionnaire.themes.clone();
    survey.title = form.title.trim().to_string();
    survey.questionnaire.intro = form.intro.trim().to_string();
    survey.questionnaire.themes = labels
        .into_iter()
        .map(|label| {
            let code = existing
                .iter()
                .find(|t| t.label == label)
                .map_or_else(|| theme_code(&label), |t| t.code.clone());
            Theme { code, label }
        })
        .collect();
    survey.questionnaire.involvement = lines(&form.involvement);
    survey.questionnaire.slots = lines(&form.slots);
    survey.reminder_days = reminder_days.unwrap_or(10);
    survey.link_days = link_days.unwrap_or(30);
    state
        .store
        .update_survey(&survey, state.clock.now_millis())
        .await?;
    overview_page(&session, &state, "Questionnaire enregistré.".to_string()).await
}

/// The contacts checked, one `person` field each.
#[derive(serde::Deserialize)]
struct InviteForm {
    #[serde(default)]
    person: Vec<String>,
}

/// Invites the checked contacts not invited yet.
async fn invite(
    session: Session,
    State(state): State<AppState>,
    form: RepeatedForm<InviteForm>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let chosen =
        forms::ids_or_refuse(&form.read()?.person, "le contact").map_err(WebError::BadRequest)?;
    if chosen.is_empty() {
        return Err(WebError::BadRequest(
            "Cochez au moins un contact à inviter.".into(),
        ));
    }
    let survey = state.store.survey().await?;
    let contacts = state.store.invitable_contacts(survey.id).await?;
    let now = state.clock.now_millis();
    let actor = session.actor();
    let mut invited = 0;
    for contact in contacts.iter().filter(|c| chosen.contains(&c.person_id)) {
        let sent = state
            .store
            .invite_to_survey(&survey, contact, &actor, now, |id| {
                invitation_message(
                    &state.settings,
                    &state.unsubscribe,
                    &survey,
                    id,
                    &contact.name,
                    now + survey.link_days * 86_400_000,
                    false,
                )
                .map_err(|e| e.to_string())
            })
            .await?;
        if sent.is_some() {
            invited += 1;
        }
    }
    state.store.wake_schedules();
    overview_page(
        &session,
        &state,
        format!(
            "{} {}. Les contacts déjà invités ne le sont pas deux fois.",
            crate::french::count(invited as usize, "invitation", "invitations"),
            if invited > 1 { "envoyées" } else { "envoyée" }
        ),
    )
    .await
}

/// A theme placed on the chart, with where its label goes (`label_x`, `label_y`: the text's anchor, centred).
pub struct Point {
    pub label: String,
    pub x: f64,
    pub y: f64,
    pub r: f64,
    pub label_x: f64,
    pub label_y: f64,
}

/// The chart's drawing area (viewBox units) and its labels' font size.
const CHART_WIDTH: f64 = 480.0;
const LABEL_HEIGHT: f64 = 15.0;

/// A label's box on the chart, from its centre-bottom anchor: width estimated from its length at 11 px.
fn label_box(label: &str, x: f64, y: f64) -> (f64, f64, f64, f64) {
    let width = label.chars().count() as f64 * 6.6 + 6.0;
    (
        x - width / 2.0,
        y - LABEL_HEIGHT + 2.0,
        x + width / 2.0,
        y + 2.0,
    )
}

fn overlaps(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Places each label above its disc, else below, else further up or down, so that no two labels overlap
/// (themes with close means would otherwise print over each other), and keeps each inside the chart.
fn place_labels(points: &mut [Point]) {
    let mut placed: Vec<(f64, f64, f64, f64)> = Vec::new();
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|a, b| points[*a].y.total_cmp(&points[*b].y));
    for index in order {
        let point = &points[index];
        let width = point.label.chars().count() as f64 * 6.6 + 6.0;
        let x = point.x.clamp(width / 2.0, CHART_WIDTH - width / 2.0);
        let above = point.y - point.r - 3.0;
        let below = point.y + point.r + LABEL_HEIGHT;
        let candidates = (0..12).flat_map(|step| {
            let shift = step as f64 * LABEL_HEIGHT;
            [above - shift, below + shift]
        });
        let y = candidates
            .clone()
            .find(|y| {
                let candidate = label_box(&point.label, x, *y);
                *y > LABEL_HEIGHT && *y < 300.0 && !placed.iter().any(|p| overlaps(*p, candidate))
            })
            .unwrap_or(above);
        placed.push(label_box(&point.label, x, y));
        points[index].label_x = x;
        points[index].label_y = y;
    }
}

#[derive(Template)]
#[template(path = "survey_results.html", config = "src/web/askama.toml")]
struct ResultsPage {
    chrome: Chrome,
    results: Vec<ThemeResult>,
    wanted: Vec<ThemeResult>,
    points: Vec<Point>,
    answers: usize,
}

/// The results of the survey, per theme, with the meetings' themes for coverage.
pub async fn survey_results(state: &AppState) -> WebResult<(Survey, Vec<ThemeResult>, usize)> {
    let survey = state.store.survey().await?;
    let answers = state.store.survey_answers(survey.id).await?;
    let ratings = state.store.survey_ratings(survey.id).await?;
    let meeting_themes: Vec<String> = state
        .store
        .meetings_from(0, 1000)
        .await?
        .into_iter()
        .filter(|m| m.state == "planned" && !m.theme.is_empty())
        .map(|m| m.theme)
        .collect();
    let shown: Vec<Rating> = ratings
        .iter()
        .filter_map(|r| {
            let answer = answers.iter().find(|a| a.id == r.answer_id)?;
            Some(Rating {
                theme: &r.theme,
                interest: r.interest,
                experience: r.experience,
                name: &answer.name,
                collectivity: &answer.collectivity,
            })
        })
        .collect();
    let themes: Vec<(String, String)> = survey
        .questionnaire
        .themes
        .iter()
        .map(|t| (t.code.clone(), t.label.clone()))
        .collect();
    let computed = results(&themes, &shown, &meeting_themes);
    Ok((survey, computed, answers.len()))
}

async fn show_results(session: Session, State(state): State<AppState>) -> WebResult<Html<String>> {
    session.require_staff()?;
    let (_, results, answers) = survey_results(&state).await?;
    // The chart: interest from −2 to +2 across 400 px, experience from 0 to 3 up 240 px.
    let mut points: Vec<Point> = results
        .iter()
        .filter(|r| r.respondents > 0)
        .map(|r| Point {
            label: r.label.clone(),
            x: 40.0 + (r.mean_interest + 2.0) * 100.0,
            y: 270.0 - r.mean_experience * 80.0,
            r: 6.0 + (r.respondents as f64).sqrt() * 4.0,
            label_x: 0.0,
            label_y: 0.0,
        })
        .collect();
    place_labels(&mut points);
    let page = ResultsPage {
        chrome: Chrome::new(&session, "survey", "Résultats du recensement"),
        wanted: wanted_not_covered(&results).into_iter().cloned().collect(),
        results,
        points,
        answers,
    };
    Ok(Html(page.render()?))
}

#[derive(serde::Deserialize)]
struct ExportQuery {
    format: Option<ExportFormat>,
}

async fn export(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<ExportQuery>,
) -> WebResult<Response> {
    session.require_staff()?;
    let format = query.format.unwrap_or(ExportFormat::Csv);
    let survey = state.store.survey().await?;
    let answers = state.store.survey_answers(survey.id).await?;
    let ratings = state.store.survey_ratings(survey.id).await?;
    let mut headers: Vec<String> = [
        "Collectivité",
        "Personne",
        "Date",
        "Problèmes",
        "Autres thèmes",
        "Implication",
        "Créneaux",
        "Commentaires",
    ]
    .map(String::from)
    .to_vec();
    for theme in &survey.questionnaire.themes {
        headers.push(format!("{} : intérêt", theme.label));
        headers.push(format!("{} : expérience", theme.label));
    }
    let rows = answers
        .iter()
        .map(|a| {
            let mut row = vec![
                a.collectivity.clone(),
                a.name.clone(),
                crate::web::view::french_datetime(a.submitted_at),
                a.problems.clone(),
                a.other_themes.clone(),
                a.involvement.clone(),
                a.slots.replace('\n', ", "),
                a.comments.clone(),
            ];
            for theme in &survey.questionnaire.themes {
                let rating = ratings
                    .iter()
                    .find(|r| r.answer_id == a.id && r.theme == theme.code);
                row.push(rating.map(|r| r.interest.to_string()).unwrap_or_default());
                row.push(rating.map(|r| r.experience.to_string()).unwrap_or_default());
            }
            row
        })
        .collect();
    let sheet = Sheet {
        name: "Recensement".into(),
        headers,
        rows,
    };
    let bytes = sheet.to_bytes(format).map_err(WebError::Internal)?;
    let disposition = format!(
        "attachment; filename=\"recensement-{}.{}\"",
        state.clock.today(),
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(label: &str, x: f64, y: f64) -> Point {
        Point {
            label: label.into(),
            x,
            y,
            r: 10.0,
            label_x: 0.0,
            label_y: 0.0,
        }
    }

    #[test]
    fn labels_of_themes_at_the_same_place_do_not_overlap_and_stay_on_the_chart() {
        let mut points = vec![
            point("Accès à l'eau", 240.0, 150.0),
            point("Scolarisation", 242.0, 151.0),
            point("Domiciliation", 238.0, 149.0),
            point("Accès aux droits et à la santé", 470.0, 30.0),
        ];
        place_labels(&mut points);
        let boxes: Vec<_> = points
            .iter()
            .map(|p| label_box(&p.label, p.label_x, p.label_y))
            .collect();
        for (i, a) in boxes.iter().enumerate() {
            assert!(
                a.0 >= 0.0 && a.2 <= CHART_WIDTH,
                "{} leaves the chart",
                points[i].label
            );
            for b in &boxes[i + 1..] {
                assert!(!overlaps(*a, *b), "{a:?} overlaps {b:?}");
            }
        }
    }
}
