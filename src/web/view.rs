//! What every page template shares: the header context ([`Chrome`]) and small display helpers (French labels
//! for codes, dates in French form).

use chrono::NaiveDate;

use super::auth::Session;
use crate::domain::{InteractionKind, LeadSource, PoliticalColour, Priority, Scale, Stage};
use crate::referential::Referential;

/// The part of every staff page around its content: who is logged in, what they may do, the CSRF token.
pub struct Chrome {
    pub title: String,
    pub nav: &'static str,
    pub user_name: String,
    pub role_label: &'static str,
    pub csrf: String,
    pub can_write: bool,
    pub is_staff: bool,
}

impl Chrome {
    pub fn new(session: &Session, nav: &'static str, title: impl Into<String>) -> Chrome {
        let role = session.role();
        Chrome {
            title: title.into(),
            nav,
            user_name: session.user.name.clone(),
            role_label: role.label(),
            csrf: session.csrf.clone(),
            can_write: role.can_write(),
            is_staff: role.is_staff(),
        }
    }
}

pub fn stage_label(code: &str) -> &'static str {
    Stage::parse(code).map_or("?", Stage::label)
}

pub fn colour_label(code: &str) -> &'static str {
    PoliticalColour::parse(code).map_or("?", PoliticalColour::label)
}

pub fn source_label(code: &str) -> &'static str {
    LeadSource::parse(code).map_or("?", LeadSource::label)
}

pub fn priority_label(code: &str) -> &'static str {
    Priority::parse(code).map_or("?", Priority::label)
}

pub fn interaction_label(code: &str) -> &'static str {
    InteractionKind::parse(code).map_or("?", InteractionKind::label)
}

pub fn scale_label(code: Option<&str>) -> &'static str {
    code.and_then(Scale::parse).map_or("—", Scale::label)
}

pub fn region_name(code: Option<&str>) -> String {
    code.and_then(|c| Referential::get().region_name(c)).unwrap_or("—").to_string()
}

pub fn departement_label(code: Option<&str>) -> String {
    match code {
        Some(code) => match Referential::get().departement_name(code) {
            Some(name) => format!("{name} ({code})"),
            None => code.to_string(),
        },
        None => "—".to_string(),
    }
}

pub fn french_date(date: Option<NaiveDate>) -> String {
    date.map_or_else(String::new, |d| d.format("%d/%m/%Y").to_string())
}

pub fn iso_date(date: Option<NaiveDate>) -> String {
    date.map_or_else(String::new, |d| d.format("%Y-%m-%d").to_string())
}

/// Epoch milliseconds as a Paris date and time.
pub fn french_datetime(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|at| at.with_timezone(&crate::clock::PARIS).format("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_default()
}

pub fn population(value: Option<i64>) -> String {
    let Some(value) = value else { return "—".into() };
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// Options for a `<select>`: (code, label, selected).
pub fn options<T: Copy>(all: &[T], code: fn(T) -> &'static str, label: fn(T) -> &'static str, current: &str) -> Vec<(String, String, bool)> {
    all.iter().map(|v| (code(*v).to_string(), label(*v).to_string(), code(*v) == current)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn populations_are_grouped_by_thousands() {
        assert_eq!(population(Some(516_092)), "516\u{202f}092");
        assert_eq!(population(Some(860)), "860");
        assert_eq!(population(None), "—");
    }
}
