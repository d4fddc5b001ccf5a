//! What every page template shares: the header context ([`Chrome`]) and small display helpers (French labels
//! for codes, dates in French form).

use chrono::NaiveDate;

use super::auth::Session;
use crate::domain::{InteractionKind, Scale, Stage};
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
    /// The message of the previous save, if this page follows one.
    pub notice: Option<String>,
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
            notice: session.notice.clone(),
        }
    }
}

pub fn interaction_label(code: &str) -> &'static str {
    InteractionKind::parse(code).map_or("?", InteractionKind::label)
}

/// The scale's label, or a dash when the collectivity has none (associations, partners).
pub fn scale_label(scale: Option<Scale>) -> &'static str {
    scale.map_or("—", Scale::label)
}

pub use crate::domain::mail_kind::{delivery_state_label, mail_kind_label};

pub fn region_name(code: Option<&str>) -> String {
    code.and_then(|c| Referential::get().region_name(c))
        .unwrap_or("—")
        .to_string()
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

pub use crate::french::{french_date, french_datetime};

pub fn iso_date(date: Option<NaiveDate>) -> String {
    date.map_or_else(String::new, |d| d.format("%Y-%m-%d").to_string())
}

pub fn population(value: Option<i64>) -> String {
    let Some(value) = value else {
        return "—".into();
    };
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
pub fn options<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
    current: &str,
) -> Vec<(String, String, bool)> {
    all.iter()
        .map(|v| {
            (
                code(*v).to_string(),
                label(*v).to_string(),
                code(*v) == current,
            )
        })
        .collect()
}

// Display methods the templates call; kept here so the store types stay free of presentation.

use crate::store::accounts::AccessRow;
use crate::store::api_tokens::ApiToken;
use crate::store::audit::AuditEntry;
use crate::store::dashboard::Activity;
use crate::store::interactions::Interaction;
use crate::store::local_needs::LocalNeed;
use crate::store::organisations::Organisation;
use crate::store::stage_changes::StageChange;
use crate::store::targets::Target;

impl Target {
    /// The Ministry's nuance as recorded, or nothing.
    pub fn nuance_label(&self) -> &str {
        self.political_nuance.as_deref().unwrap_or("")
    }
    pub fn scale_label(&self) -> &'static str {
        scale_label(self.scale)
    }
    pub fn departement_label(&self) -> String {
        departement_label(self.departement_code.as_deref())
    }
    pub fn region_label(&self) -> String {
        region_name(self.region_code.as_deref())
    }
    pub fn population_label(&self) -> String {
        population(self.population)
    }
    pub fn kind_label(&self) -> &'static str {
        self.collectivity_kind
            .as_deref()
            .and_then(crate::referential::CollectivityKind::parse)
            .map_or("", |k| k.label_fr())
    }
    pub fn next_action_date_label(&self) -> String {
        french_date(self.next_action_date)
    }
    pub fn next_action_date_iso(&self) -> String {
        iso_date(self.next_action_date)
    }
    pub fn on_hold_until_label(&self) -> String {
        french_date(self.on_hold_until)
    }
    pub fn owner_label(&self) -> &str {
        self.owner_name.as_deref().unwrap_or("—")
    }
    /// Whether the next action is past due on `today` (ISO text, as pages carry it).
    pub fn is_overdue(&self, today: &str) -> bool {
        self.next_action_date
            .is_some_and(|d| d.format("%Y-%m-%d").to_string().as_str() < today)
    }
}

impl StageChange {
    /// The stage left, or a dash for the first stage of a target.
    pub fn from_label(&self) -> &'static str {
        self.from_stage.map_or("—", Stage::label)
    }
    pub fn when(&self) -> String {
        french_datetime(self.changed_at)
    }
}

impl Interaction {
    pub fn kind_label(&self) -> &'static str {
        interaction_label(&self.kind)
    }
    pub fn date_label(&self) -> String {
        french_date(Some(self.occurred_on))
    }
}

impl crate::store::memberships::Membership {
    pub fn joined_label(&self) -> String {
        french_date(Some(self.joined_on))
    }
    pub fn joined_iso(&self) -> String {
        iso_date(Some(self.joined_on))
    }
}

impl LocalNeed {
    pub fn when(&self) -> String {
        french_datetime(self.created_at)
    }
}

/// What an organisation is, in French: a member association, a partner, or the kind of collectivity.
pub fn organisation_kind_label(kind: &str, collectivity_kind: Option<&str>) -> String {
    match kind {
        "association" => "Association membre".into(),
        "partner" => "Partenaire".into(),
        _ => collectivity_kind
            .and_then(crate::referential::CollectivityKind::parse)
            .map_or("Collectivité", |k| k.label_fr())
            .to_string(),
    }
}

impl Organisation {
    pub fn kind_label(&self) -> String {
        organisation_kind_label(&self.kind, self.collectivity_kind.as_deref())
    }
    pub fn departement_label(&self) -> String {
        departement_label(self.departement_code.as_deref())
    }
    pub fn region_label(&self) -> String {
        region_name(self.region_code.as_deref())
    }
    pub fn population_label(&self) -> String {
        population(self.population)
    }
    pub fn scale_label(&self) -> &'static str {
        scale_label(self.scale)
    }
    pub fn code_label(&self) -> &str {
        self.official_code.as_deref().unwrap_or("—")
    }
}

impl AccessRow {
    pub fn role_label(&self) -> &'static str {
        crate::domain::Role::parse(&self.role).map_or("?", crate::domain::Role::label)
    }
    pub fn last_login(&self) -> String {
        self.last_login_at
            .map_or_else(|| "jamais".into(), french_datetime)
    }
    /// Départements named, for the "who sees this contact?" question.
    pub fn sees(&self) -> String {
        match (&self.role[..], &self.territories) {
            ("relay", Some(codes)) => codes
                .split(", ")
                .map(|c| departement_label(Some(c)))
                .collect::<Vec<_>>()
                .join(", "),
            ("relay", None) => "aucun territoire".into(),
            _ => "tous les territoires".into(),
        }
    }
}

impl ApiToken {
    pub fn created(&self) -> String {
        french_datetime(self.created_at)
    }
    pub fn last_used(&self) -> String {
        self.last_used_at
            .map_or_else(|| "jamais".into(), french_datetime)
    }
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

impl AuditEntry {
    pub fn when(&self) -> String {
        french_datetime(self.at)
    }
    pub fn link(&self) -> Option<String> {
        match (self.entity.as_str(), self.entity_id) {
            ("target", Some(id)) => Some(format!("/targets/{id}")),
            ("person", Some(id)) => Some(format!("/people/{id}")),
            ("organisation", Some(id)) => Some(format!("/organisations/{id}")),
            _ => None,
        }
    }
}

impl Activity {
    pub fn when(&self) -> String {
        french_datetime(self.at)
    }
    pub fn describe(&self) -> String {
        // The detail of a stage line is the stage's code (one column shared with the interactions' summaries).
        if self.kind == "stage" {
            let stage = Stage::from_code(&self.detail).map_or("?", Stage::label);
            format!("passe à « {stage} »")
        } else {
            format!("{} : {}", interaction_label(&self.kind), self.detail)
        }
    }
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
