//! The dashboard: the funnel against the club's objective, the diversity matrix (région × scale × political
//! colour) for the pipeline and for members, follow-ups due per owner, and recent activity.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use chrono::NaiveDate;

use crate::domain::{PoliticalColour, Scale, Stage};
use crate::store::Scope;
use crate::store::dashboard::{Activity, DiversityCell, Engagement, FollowUps};
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::WebResult;
use crate::web::view::Chrome;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(dashboard))
}

pub struct FunnelBar {
    pub code: &'static str,
    pub label: &'static str,
    pub count: i64,
    /// Targets at this stage or further along the funnel.
    pub reached: i64,
    pub width_percent: i64,
}

/// One row of a matrix: a région and its count per column, with the political colours behind each count.
pub struct MatrixRow {
    pub region: String,
    pub cells: Vec<(i64, String)>,
    pub total: i64,
}

pub struct Matrix {
    pub title: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<MatrixRow>,
    pub colour_totals: Vec<(&'static str, i64)>,
}

#[derive(Template)]
#[template(path = "dashboard.html", config = "src/web/askama.toml")]
struct DashboardPage<'a> {
    chrome: Chrome,
    funnel: Vec<FunnelBar>,
    exits: Vec<(&'static str, i64)>,
    total: i64,
    members: i64,
    target_objective: i64,
    member_min: i64,
    member_max: i64,
    matrices: Vec<Matrix>,
    follow_ups: &'a [FollowUps],
    activity: &'a [Activity],
    engagement: &'a [Engagement],
    /// `YYYY-MM-DD`, for the link to the overdue follow-ups.
    today: String,
    /// Targets that partner networks list as members: (target id, name, "network depuis year").
    elsewhere: Vec<(i64, String, String)>,
}

/// The dashboard's aggregates for one scope and day.
pub struct DashboardData {
    counts: Vec<(Stage, i64)>,
    cells: Vec<DiversityCell>,
    follow_ups: Vec<FollowUps>,
    activity: Vec<Activity>,
    engagement: Vec<Engagement>,
}

/// The aggregates scan the whole pipeline (milliseconds on 10,000 targets): they are kept per scope and day.
pub type DashboardCache = crate::web::cache::DerivedCache<(Scope, NaiveDate), DashboardData>;

async fn dashboard_data(state: &AppState, scope: Scope) -> WebResult<Arc<DashboardData>> {
    let today = state.clock.today();
    state
        .dashboard_cache
        .get(
            &state.store,
            (scope, today),
            |(_, day)| *day == today,
            || async {
                Ok(DashboardData {
                    counts: state.store.count_by_stage(scope).await?,
                    cells: state.store.diversity(scope).await?,
                    follow_ups: state.store.follow_ups(scope, today).await?,
                    activity: state.store.recent_activity(scope, 15).await?,
                    engagement: state.store.member_engagement(scope, 10).await?,
                })
            },
        )
        .await
}

async fn dashboard(session: Session, State(state): State<AppState>) -> WebResult<Html<String>> {
    let scope = session.scope();
    let data = dashboard_data(&state, scope).await?;
    let counts = &data.counts;
    let count_of = |stage: Stage| {
        counts
            .iter()
            .find(|(s, _)| *s == stage)
            .map_or(0, |(_, n)| *n)
    };
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let pipeline = &state.settings.pipeline;
    let scale_max = total.max(pipeline.target_objective).max(1);
    let funnel = Stage::FUNNEL
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let reached: i64 = Stage::FUNNEL[i..].iter().map(|s| count_of(*s)).sum();
            FunnelBar {
                code: stage.as_str(),
                label: stage.label(),
                count: count_of(*stage),
                reached,
                width_percent: (reached * 100 / scale_max).max(if reached > 0 { 1 } else { 0 }),
            }
        })
        .collect();
    let exits = [Stage::OnHold, Stage::Declined]
        .iter()
        .map(|s| (s.label(), count_of(*s)))
        .collect();
    let matrices = vec![
        matrix("Pipeline (hors refus)", &data.cells, |c| c.total),
        matrix("Membres", &data.cells, |c| c.members),
    ];
    let page = DashboardPage {
        chrome: Chrome::new(&session, "dashboard", "Tableau de bord"),
        funnel,
        exits,
        total,
        members: count_of(Stage::Member),
        target_objective: pipeline.target_objective,
        member_min: pipeline.member_objective_min,
        member_max: pipeline.member_objective_max,
        matrices,
        follow_ups: &data.follow_ups,
        engagement: &data.engagement,
        activity: &data.activity,
        today: state.clock.today().format("%Y-%m-%d").to_string(),
        elsewhere: state
            .store
            .targets_member_elsewhere(scope)
            .await?
            .into_iter()
            .map(|m| {
                let network = match crate::french::year_of(&m.since) {
                    Some(year) => format!("{} depuis {year}", m.network_name),
                    None => m.network_name,
                };
                (m.target_id, m.name, network)
            })
            .collect(),
    };
    Ok(Html(page.render()?))
}

/// Régions as rows, scales as columns; each cell says how many, and which colours, so gaps show at a glance.
fn matrix(
    title: &'static str,
    cells: &[DiversityCell],
    count: fn(&DiversityCell) -> i64,
) -> Matrix {
    let referential = crate::referential::Referential::get();
    let mut regions: Vec<(String, String)> = referential
        .regions()
        .map(|r| (r.code.clone(), r.name.clone()))
        .collect();
    regions.sort_by(|a, b| a.1.cmp(&b.1));
    let rows = regions
        .into_iter()
        .filter_map(|(code, name)| {
            let in_region: Vec<&DiversityCell> = cells
                .iter()
                .filter(|c| c.region_code.as_deref() == Some(code.as_str()) && count(c) > 0)
                .collect();
            if in_region.is_empty() {
                return None;
            }
            let cells = Scale::ALL
                .iter()
                .map(|scale| {
                    let here: Vec<&&DiversityCell> = in_region
                        .iter()
                        .filter(|c| c.scale == Some(*scale))
                        .collect();
                    let n: i64 = here.iter().map(|c| count(c)).sum();
                    let colours = here
                        .iter()
                        .map(|c| format!("{} : {}", c.political_colour.label(), count(c)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    (n, colours)
                })
                .collect::<Vec<_>>();
            let total = cells.iter().map(|(n, _)| n).sum();
            Some(MatrixRow {
                region: name,
                cells,
                total,
            })
        })
        .collect();
    let colour_totals = PoliticalColour::ALL
        .iter()
        .map(|colour| {
            let n = cells
                .iter()
                .filter(|c| c.political_colour == *colour)
                .map(count)
                .sum();
            (colour.label(), n)
        })
        .collect();
    Matrix {
        title,
        columns: Scale::ALL.iter().map(|s| s.label()).collect(),
        rows,
        colour_totals,
    }
}
