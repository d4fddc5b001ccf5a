//! "Journal": the audit log told as French sentences ("Camille a passé Lyon de « Questionnaire envoyé » à
//! « Membre »"), filtered by person, kind of object, action and dates, fifty entries a page. Each entry names
//! its object by the label recorded with it; older entries without one fall back to the object's current
//! name, else to its kind and number. Staff and admins only.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use serde_json::Value;

use super::inbound::day;
use crate::domain::Stage;
use crate::french::paris_midnight;
use crate::store::audit::{AuditEntry, AuditFilter};
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::WebResult;
use crate::web::view::{Chrome, french_datetime, interaction_label};

const PAGE_SIZE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(audit))
}

/// The kinds of object the log names: code, the noun that introduces one in a sentence, the filter's label.
const ENTITIES: &[(&str, &str, &str)] = &[
    ("target", "la cible", "Cibles"),
    ("person", "le contact", "Contacts"),
    ("organisation", "l'organisation", "Organisations"),
    ("interaction", "l'échange", "Échanges"),
    ("newsletter_issue", "la lettre", "Lettres"),
    ("newsletter_item", "l'article", "Articles de la lettre"),
    ("meeting", "la", "Réunions"),
    ("meeting_series", "la série", "Séries de réunions"),
    (
        "agenda_item",
        "le point d'ordre du jour",
        "Points d'ordre du jour",
    ),
    ("list", "la liste", "Listes"),
    ("mailing_list", "la liste", "Réglages de listes"),
    ("subscription", "l'abonnement", "Abonnements"),
    ("list_post", "le message", "Messages de liste"),
    ("account", "le compte de", "Comptes"),
    ("import", "l'import", "Imports"),
    (
        "erasure_request",
        "la demande d'effacement",
        "Demandes d'effacement",
    ),
];

/// The actions the log records: code, the verb in the past tense, the filter's label.
const ACTIONS: &[(&str, &str, &str)] = &[
    ("create", "a créé", "Création"),
    ("update", "a modifié", "Modification"),
    ("delete", "a supprimé", "Suppression"),
    ("stage", "a changé l'étape de", "Changement d'étape"),
    ("interaction", "a noté un échange avec", "Échange noté"),
    (
        "local_need",
        "a noté un besoin local pour",
        "Besoin local noté",
    ),
    ("membership", "a modifié l'adhésion de", "Adhésion"),
    ("import", "a importé", "Import"),
    ("send", "a envoyé", "Envoi"),
    ("send_late", "a envoyé en retard", "Envoi en retard"),
    ("cancel", "a annulé", "Annulation"),
    ("subscribe", "a abonné", "Abonnement"),
    ("unsubscribe", "a désabonné", "Désabonnement"),
    ("reenable", "a réactivé", "Réactivation"),
    ("resubscribe", "a réabonné", "Réabonnement"),
    ("approve", "a approuvé", "Message approuvé"),
    (
        "approve_and_trust",
        "a approuvé",
        "Message approuvé, expéditeur de confiance",
    ),
    ("rejected", "a refusé", "Message refusé"),
    ("discarded", "a écarté", "Message écarté"),
    ("erase", "a effacé les données visées par", "Effacement"),
    ("stage_import", "a préparé", "Import préparé"),
    ("disable", "a désactivé", "Désactivation"),
    ("enable", "a réactivé", "Réactivation d'un compte"),
    (
        "set_password",
        "a choisi le mot de passe pour",
        "Mot de passe choisi",
    ),
    ("detach", "a détaché de sa collectivité", "Contact détaché"),
    ("ready", "a marqué comme prête", "Lettre prête"),
    (
        "draft",
        "a remis en brouillon",
        "Lettre remise en brouillon",
    ),
    ("schedule", "a choisi la date d'envoi de", "Date d'envoi"),
    (
        "reset_password",
        "a réinitialisé le mot de passe de",
        "Mot de passe réinitialisé",
    ),
];

/// The page's query string; empty strings (an untouched field) mean "any".
#[derive(Debug, Default, serde::Deserialize)]
struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    entity: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    page: Option<i64>,
}

impl AuditQuery {
    fn without_page(&self) -> String {
        let pairs = [
            ("actor", &self.actor),
            ("entity", &self.entity),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ];
        serde_urlencoded::to_string(
            pairs
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default()
    }
}

/// One entry as the page shows it: who, then the sentence around the object's name (a link when the object
/// has a page).
pub struct Line {
    pub when: String,
    pub actor: String,
    pub before: String,
    pub object: String,
    pub link: Option<String>,
    pub after: String,
}

#[derive(Template)]
#[template(path = "audit.html", config = "src/web/askama.toml")]
struct AuditPage {
    chrome: Chrome,
    lines: Vec<Line>,
    errors: Vec<String>,
    query: AuditQuery,
    query_string: String,
    total: i64,
    page: i64,
    pages: i64,
    actors: Vec<(String, String, bool)>,
    entities: Vec<(String, String, bool)>,
    actions: Vec<(String, String, bool)>,
}

async fn audit(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let mut errors = Vec::new();
    let actors = state.store.audit_actors().await?;
    let mut filter = AuditFilter {
        actor: actors.iter().find(|a| **a == query.actor).cloned(),
        entity: ENTITIES
            .iter()
            .find(|(code, _, _)| *code == query.entity)
            .map(|(code, _, _)| code.to_string()),
        action: ACTIONS
            .iter()
            .find(|(code, _, _)| *code == query.action)
            .map(|(code, _, _)| code.to_string()),
        ..AuditFilter::default()
    };
    let from = day(&query.from, "de début").unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let to = day(&query.to, "de fin").unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        errors.push("La date de début vient après la date de fin : inversez-les.".to_string());
    }
    filter.from = from.and_then(paris_midnight);
    filter.until = to.and_then(|d| d.succ_opt()).and_then(paris_midnight);
    let page = query.page.unwrap_or(1).max(1);
    let (entries, total) = state
        .store
        .audit_page(&filter, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?;
    // Entries written before labels were recorded: the object's current name, looked up once each.
    let mut names = HashMap::new();
    for entry in &entries {
        if let Some(id) = entry.entity_id
            && label_of(&details(entry)).is_none()
            && !names.contains_key(&(entry.entity.clone(), id))
        {
            let name = state.store.audit_object_name(&entry.entity, id).await?;
            names.insert((entry.entity.clone(), id), name);
        }
    }
    let lines = entries
        .iter()
        .map(|entry| {
            let current = entry
                .entity_id
                .and_then(|id| names.get(&(entry.entity.clone(), id)).cloned().flatten());
            line(entry, current)
        })
        .collect();
    let choices = |all: &[(&str, &str, &str)], selected: &str| {
        all.iter()
            .map(|(code, _, label)| (code.to_string(), label.to_string(), *code == selected))
            .collect::<Vec<_>>()
    };
    let page = AuditPage {
        chrome: Chrome::new(&session, "audit", "Journal"),
        lines,
        errors,
        query_string: query.without_page(),
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        actors: actors
            .iter()
            .map(|a| (a.clone(), a.clone(), *a == query.actor))
            .collect(),
        entities: choices(ENTITIES, &query.entity),
        actions: choices(ACTIONS, &query.action),
        query,
    };
    Ok(Html(page.render()?))
}

fn details(entry: &AuditEntry) -> Value {
    serde_json::from_str(&entry.details).unwrap_or(Value::Null)
}

fn label_of(details: &Value) -> Option<String> {
    ["label", "name", "title"]
        .iter()
        .find_map(|key| details.get(*key).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn text(details: &Value, key: &str) -> String {
    match details.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn count(details: &Value, key: &str) -> Option<i64> {
    details.get(key).and_then(Value::as_i64)
}

fn plural(n: i64, one: &str, many: &str) -> String {
    crate::french::count(n.max(0) as usize, one, many)
}

/// The French words for the fields a change names (`changes`, or the keys that differ between `before` and
/// `after`); an unknown field reads as "un autre champ".
fn field_name(field: &str) -> &'static str {
    match field {
        "title" => "le titre",
        "name" | "full_name" => "le nom",
        "owner_id" | "owner" => "le responsable",
        "political_colour" => "la couleur politique",
        "political_nuance" => "la nuance politique",
        "lead_source" => "l'origine",
        "priority" => "la priorité",
        "next_action" => "la prochaine action",
        "next_action_date" => "la date de la prochaine action",
        "has_squats" => "la présence de squats",
        "notes" => "les notes",
        "function" => "la fonction",
        "emails" => "les adresses",
        "phones" => "les téléphones",
        "summary" => "le résumé",
        "outcome" => "la suite donnée",
        "occurred_on" => "la date",
        "kind" => "le type",
        "starts_at" | "time" | "starts" => "l'horaire",
        "ends_at" | "ends_on" | "until" => "la fin",
        "place" | "location" => "le lieu",
        "rule" | "recurrence" => "la récurrence",
        "theme" => "le thème",
        "joined_on" => "la date d'adhésion",
        "themes" => "les thèmes",
        "representatives" => "les représentants",
        "role" => "le rôle",
        "territories" => "les territoires",
        "scheduled_for" | "date" => "la date prévue",
        "body" | "text" | "content" => "le texte",
        "moderated" | "moderation" => "la modération",
        "archive" => "l'archive",
        "description" => "la description",
        "subject_prefix" => "le préfixe des sujets",
        "reply_to" => "l'adresse de réponse",
        "post_policy" => "qui peut écrire",
        "max_bytes" => "la taille maximale des messages",
        "personalized" => "les copies",
        "strip_executables" => "le retrait des programmes joints",
        _ => "un autre champ",
    }
}

/// A stage as an audit entry's details recorded it (JSON text, possibly older than today's codes).
fn stage_label(code: &str) -> &'static str {
    Stage::parse(code).map_or("?", Stage::label)
}

fn changed_fields(details: &Value) -> Vec<&'static str> {
    let mut fields: Vec<&'static str> = Vec::new();
    let mut add = |name: &'static str| {
        if !fields.contains(&name) {
            fields.push(name);
        }
    };
    if let Some(changes) = details.get("changes").and_then(Value::as_object) {
        changes.keys().for_each(|k| add(field_name(k)));
    }
    if let (Some(before), Some(after)) = (
        details.get("before").and_then(Value::as_object),
        details.get("after").and_then(Value::as_object),
    ) {
        for (key, value) in after {
            if before.get(key) != Some(value) {
                add(field_name(key));
            }
        }
    }
    fields
}

/// "le titre, la date et le lieu".
fn french_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} et {last}", rest.join(", ")),
    }
}

/// Who acted, as the sentence's subject: people by their name as written; relais' own actors ("ligne de
/// commande", "calendrier de la lettre", "jeton API « … »") with a capital, as they open the sentence.
fn actor_name(actor: &str) -> String {
    const SYSTEM: &[&str] = &[
        "ligne de commande",
        "calendrier",
        "données de démonstration",
        "jeton API",
        "import en ligne de commande",
    ];
    if SYSTEM.iter().any(|prefix| actor.starts_with(prefix)) {
        capitalised(actor)
    } else {
        actor.to_string()
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The sentence of one entry. `current` is the object's name today, for entries without a recorded label.
pub fn line(entry: &AuditEntry, current: Option<String>) -> Line {
    let details = details(entry);
    let entity = entry.entity.as_str();
    let noun = ENTITIES
        .iter()
        .find(|(code, _, _)| *code == entity || (*code == "list" && entity == "mailing_list"))
        .map_or("l'objet", |(_, noun, _)| noun);
    let named = match entity {
        // A subscription is named by its list.
        "subscription" => label_of(&details)
            .or(current)
            .or_else(|| Some(text(&details, "list")))
            .filter(|l| !l.is_empty()),
        _ => label_of(&details).or(current),
    };
    let object = match (&named, entry.entity_id) {
        (Some(name), _) => name.clone(),
        (None, Some(id)) => {
            let noun = match noun {
                "la" => "la réunion",
                "le compte de" => "le compte",
                other => other,
            };
            format!("{noun} n° {id}")
        }
        (None, None) => String::new(),
    };
    let link = match (entity, entry.entity_id) {
        ("target", Some(id)) => Some(format!("/targets/{id}")),
        ("person", Some(id)) => Some(format!("/people/{id}")),
        ("organisation", Some(id)) => Some(format!("/organisations/{id}")),
        ("newsletter_issue", Some(id)) => Some(format!("/lettre/numeros/{id}")),
        ("meeting", Some(id)) => Some(format!("/reunions/{id}")),
        _ => None,
    };
    let (before, after) = phrase(entry, &details, noun, named.is_some());
    Line {
        when: french_datetime(entry.at),
        actor: actor_name(&entry.actor),
        before,
        link: link.filter(|_| !object.is_empty()),
        object,
        after,
    }
}

/// The words before and after the object's name, per (entity, action); a generic sentence for the rest.
/// `named`: the object has a name, so the sentence says its kind ("la cible Lyon"); otherwise the object is
/// shown as its kind and number, which says it already.
fn phrase(entry: &AuditEntry, details: &Value, noun: &str, named: bool) -> (String, String) {
    let with_noun = |verb: &str| {
        if named {
            format!("{verb} {noun}")
        } else {
            verb.to_string()
        }
    };
    let address = text(details, "address");
    match (entry.entity.as_str(), entry.action.as_str()) {
        ("target", "stage") => {
            let from = details
                .get("from")
                .and_then(Value::as_str)
                .map_or("—", stage_label);
            let to = stage_label(&text(details, "to"));
            let reason = text(details, "reason");
            let reason = if reason.is_empty() {
                String::new()
            } else {
                format!(" ({reason})")
            };
            (
                "a passé".into(),
                format!(" de « {from} » à « {to} »{reason}"),
            )
        }
        ("target", "create") => {
            let stage = text(details, "stage");
            let at = if stage.is_empty() {
                String::new()
            } else {
                format!(", à l'étape « {} »", stage_label(&stage))
            };
            (with_noun("a créé"), at)
        }
        ("target", "interaction") => {
            let kind = interaction_label(&text(details, "kind")).to_lowercase();
            (format!("a noté un échange ({kind}) avec"), String::new())
        }
        (_, "import") => {
            let created = count(details, "created").unwrap_or(0);
            let updated = count(details, "updated").unwrap_or(0);
            let skipped = count(details, "skipped").unwrap_or(0);
            let mut parts = vec![plural(created, "cible créée", "cibles créées")];
            if updated > 0 {
                parts.push(plural(updated, "mise à jour", "mises à jour"));
            }
            if skipped > 0 {
                parts.push(plural(skipped, "ligne ignorée", "lignes ignorées"));
            }
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            (
                format!("a importé un fichier : {}", french_list(&parts)),
                String::new(),
            )
        }
        ("subscription", action @ ("subscribe" | "unsubscribe" | "reenable" | "resubscribe")) => {
            let who = match (address.is_empty(), count(details, "count")) {
                (false, _) => address,
                (true, Some(n)) => plural(n, "adresse", "adresses"),
                (true, None) => "une adresse".to_string(),
            };
            let before = match action {
                "subscribe" => format!("a abonné {who} à"),
                "unsubscribe" => format!("a désabonné {who} de"),
                "reenable" => format!("a réactivé l'abonnement de {who} à"),
                _ => format!("a réabonné {who}, à sa demande, à"),
            };
            (
                if named {
                    format!("{before} la liste")
                } else {
                    before
                },
                String::new(),
            )
        }
        ("list_post", action) => {
            let verb = match action {
                "approve" | "approve_and_trust" => "a approuvé",
                "rejected" => "a refusé",
                "discarded" => "a écarté",
                _ => "a traité",
            };
            let trust = if action == "approve_and_trust" {
                " et fait désormais confiance à son expéditeur"
            } else {
                ""
            };
            let copies = count(details, "copies")
                .map(|n| format!(" ({} envoyées)", plural(n, "copie", "copies")))
                .unwrap_or_default();
            (with_noun(verb), format!("{trust}{copies}"))
        }
        ("newsletter_issue", action @ ("send" | "send_late")) => {
            let late = if action == "send_late" {
                ", en retard après un arrêt de relais,"
            } else {
                ""
            };
            let to = count(details, "count")
                .or_else(|| count(details, "recipients"))
                .map(|n| format!(" à {}", plural(n, "abonné·e", "abonné·es")))
                .unwrap_or_default();
            (with_noun(&format!("a envoyé{late}")), to)
        }
        ("erasure_request", "erase") => (
            "a effacé les données personnelles visées par".into(),
            String::new(),
        )
            .named(named, noun),
        (_, action) => {
            let verb = ACTIONS
                .iter()
                .find(|(code, _, _)| *code == action)
                .map_or("a agi sur", |(_, verb, _)| verb);
            let before = with_noun(verb);
            let count = count(details, "count")
                .map(|n| {
                    format!(
                        " ({})",
                        plural(n, "personne concernée", "personnes concernées")
                    )
                })
                .unwrap_or_default();
            (before, format!("{}{count}", changes_suffix(details)))
        }
    }
}

fn changes_suffix(details: &Value) -> String {
    let fields = changed_fields(details);
    if fields.is_empty() {
        String::new()
    } else {
        format!(" : {}", french_list(&fields))
    }
}

/// Adds the object's kind after the verb when the object is shown by its name.
trait Named {
    fn named(self, named: bool, noun: &str) -> (String, String);
}

impl Named for (String, String) {
    fn named(self, named: bool, noun: &str) -> (String, String) {
        if named {
            (format!("{} {noun}", self.0), self.1)
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        actor: &str,
        action: &str,
        entity: &str,
        id: Option<i64>,
        details: Value,
    ) -> AuditEntry {
        AuditEntry {
            id: 1,
            at: 0,
            actor: actor.into(),
            action: action.into(),
            entity: entity.into(),
            entity_id: id,
            details: details.to_string(),
        }
    }

    fn sentence(line: &Line) -> String {
        format!(
            "{} {} {}{}",
            line.actor, line.before, line.object, line.after
        )
    }

    #[test]
    fn a_stage_change_reads_as_a_sentence_with_the_stage_names() {
        let e = entry(
            "Camille",
            "stage",
            "target",
            Some(3),
            serde_json::json!({"from": "survey_sent", "to": "member", "reason": "", "label": "Lyon"}),
        );
        let l = line(&e, None);
        assert_eq!(
            sentence(&l),
            "Camille a passé Lyon de « Questionnaire envoyé » à « Membre »"
        );
        assert_eq!(l.link.as_deref(), Some("/targets/3"));
    }

    #[test]
    fn an_entry_without_label_uses_the_current_name_or_the_kind_and_number() {
        let e = entry(
            "Camille",
            "update",
            "target",
            Some(12),
            serde_json::json!({
            "before": {"priority": "low", "notes": ""}, "after": {"priority": "high", "notes": ""}}),
        );
        assert_eq!(
            sentence(&line(&e, Some("Lyon".into()))),
            "Camille a modifié la cible Lyon : la priorité"
        );
        assert_eq!(
            sentence(&line(&e, None)),
            "Camille a modifié la cible n° 12 : la priorité"
        );
    }

    #[test]
    fn an_import_reads_as_what_it_did() {
        let e = entry(
            "Camille (import de suivi.csv)",
            "import",
            "target",
            None,
            serde_json::json!({"rows": 4, "created": 3, "updated": 0, "skipped": 1}),
        );
        let l = line(&e, None);
        assert_eq!(l.object, "");
        assert_eq!(
            l.before,
            "a importé un fichier : 3 cibles créées et 1 ligne ignorée"
        );
    }

    #[test]
    fn every_entry_relais_writes_reads_as_a_sentence() {
        use serde_json::json;
        let cases = [
            (
                entry(
                    "Camille",
                    "stage",
                    "target",
                    Some(1),
                    json!({"from": "survey_sent", "to": "survey_answered", "reason": "recensement des attentes"}),
                ),
                Some("Lyon"),
                "Camille a passé Lyon de « Questionnaire envoyé » à « Questionnaire reçu » (recensement des attentes)",
            ),
            (
                entry(
                    "Camille",
                    "interaction",
                    "target",
                    Some(1),
                    json!({"interaction": 4, "kind": "phone_call"}),
                ),
                Some("Lyon"),
                "Camille a noté un échange (appel) avec Lyon",
            ),
            (
                entry(
                    "Camille",
                    "local_need",
                    "target",
                    Some(1),
                    json!({"need": 2}),
                ),
                Some("Lyon"),
                "Camille a noté un besoin local pour la cible Lyon",
            ),
            (
                entry(
                    "Camille",
                    "membership",
                    "organisation",
                    Some(5),
                    json!({"before": {"themes": []}, "after": {"themes": ["eau"]}}),
                ),
                Some("Lyon"),
                "Camille a modifié l'adhésion de l'organisation Lyon : les thèmes",
            ),
            (
                entry(
                    "Camille",
                    "update",
                    "mailing_list",
                    Some(2),
                    json!({"list": "echanges", "before": {"post_policy": "members"}, "after": {"post_policy": "moderated"}}),
                ),
                Some("Échanges du club"),
                "Camille a modifié la liste Échanges du club : qui peut écrire",
            ),
            (
                entry(
                    "Camille",
                    "unsubscribe",
                    "subscription",
                    Some(9),
                    json!({"list": "echanges", "address": "a@b.example", "source": "staff"}),
                ),
                Some("Échanges du club"),
                "Camille a désabonné a@b.example de la liste Échanges du club",
            ),
            (
                entry(
                    "Camille",
                    "resubscribe",
                    "subscription",
                    Some(9),
                    json!({"label": "Échanges du club", "address": "a@b.example"}),
                ),
                None,
                "Camille a réabonné a@b.example, à sa demande, à la liste Échanges du club",
            ),
            (
                entry(
                    "Camille",
                    "create",
                    "person",
                    Some(3),
                    json!({"name": "Grégory Doucet"}),
                ),
                None,
                "Camille a créé le contact Grégory Doucet",
            ),
            (
                entry(
                    "Camille",
                    "create",
                    "organisation",
                    Some(3),
                    json!({"name": "Association des maires", "kind": "association"}),
                ),
                None,
                "Camille a créé l'organisation Association des maires",
            ),
            (
                entry(
                    "Camille",
                    "approve_and_trust",
                    "list_post",
                    Some(7),
                    json!({"copies": 12}),
                ),
                None,
                "Camille a approuvé le message n° 7 et fait désormais confiance à son expéditeur (12 copies envoyées)",
            ),
            (
                entry("Camille", "rejected", "list_post", Some(7), json!({})),
                None,
                "Camille a refusé le message n° 7",
            ),
            (
                entry(
                    "calendrier de la lettre",
                    "send_late",
                    "newsletter_issue",
                    Some(2),
                    json!({"planned": 0, "recipients": 19}),
                ),
                Some("n° 4"),
                "Calendrier de la lettre a envoyé, en retard après un arrêt de relais, la lettre n° 4 à 19 abonné·es",
            ),
            (
                entry(
                    "Camille",
                    "erase",
                    "erasure_request",
                    Some(2),
                    json!({"people": 1}),
                ),
                None,
                "Camille a effacé les données personnelles visées par la demande d'effacement n° 2",
            ),
            (
                entry(
                    "Camille",
                    "cancel",
                    "meeting",
                    Some(8),
                    json!({"label": "réunion du mardi 2 février 2027"}),
                ),
                None,
                "Camille a annulé la réunion du mardi 2 février 2027",
            ),
            (
                entry(
                    "Camille",
                    "delete",
                    "agenda_item",
                    Some(8),
                    json!({"label": "Accès à l'eau"}),
                ),
                None,
                "Camille a supprimé le point d'ordre du jour Accès à l'eau",
            ),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .map(|(e, current, expected)| (sentence(&line(e, current.map(String::from))), expected))
            .filter(|(got, expected)| got != *expected)
            .map(|(got, expected)| format!("\n  got:      {got}\n  expected: {expected}"))
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.concat());
    }

    #[test]
    fn an_unknown_pair_still_reads_as_french() {
        let e = entry(
            "Inès",
            "archive",
            "gadget",
            Some(4),
            serde_json::json!({"label": "Truc"}),
        );
        assert_eq!(sentence(&line(&e, None)), "Inès a agi sur l'objet Truc");
    }
}
