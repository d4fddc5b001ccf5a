//! Applying a checked import: every line in one transaction, so a file is imported entirely or not at all,
//! and a failure halfway leaves the pipeline as it was. The store does not know spreadsheets: the import
//! pipeline hands it an [`ImportSource`], lines already matched to the referential and validated.
//!
//! The plan was made from a snapshot of the targets; if another person creates one of the same collectivities
//! in between, the unique constraint on `targets.organisation_id` fails the insert and the whole import rolls
//! back, rather than recording the collectivity twice.

use std::collections::HashMap;

use chrono::NaiveDate;

use self::import_batch::CHUNK_ROWS;
use super::audit::{self, Actor};
use super::people::{NewPerson, insert_person};
use super::targets::{NewTarget, TargetFields, insert_target, update_target_fields};
use super::{Store, StoreError, StoreResult, Tx, with_db, with_tx};
use crate::domain::{LeadSource, PoliticalColour, Priority, fold};

#[path = "import_batch.rs"]
mod import_batch;

/// What to do with a row naming a collectivity that is already a target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicatePolicy {
    /// Leave the existing target as it is.
    #[default]
    Skip,
    /// Replace its follow-up fields by the non-empty values of the row and add its new contacts.
    Update,
}

/// What an import wrote. `updated` counts targets that actually changed; a duplicate whose values were
/// already there counts as skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportOutcome {
    pub created: usize,
    pub updated: usize,
    pub skipped: usize,
}

/// A checked import, line by line: what [`Store::apply_import`] writes.
pub trait ImportSource {
    /// Whether every line may be written (nothing to correct, no problem with the file itself).
    fn is_clean(&self) -> bool;
    /// The lines still to correct, named in the refusal of an import that is not clean.
    fn lines_to_correct(&self) -> usize;
    /// Every line of the file, in order.
    fn lines(&self) -> Vec<ImportLine<'_>>;
}

/// One line of a checked import.
#[derive(Debug, Clone)]
pub struct ImportLine<'a> {
    pub kind: ImportLineKind,
    /// The target to create, for new and duplicate lines (for a duplicate, the values that may update it).
    pub target: Option<&'a NewTarget>,
    /// The existing target a duplicate line names, when it is in the database (not on an earlier line).
    pub existing_target_id: Option<i64>,
    /// The follow-up fields the line gives a value for: only these replace existing values.
    pub provided: ProvidedFields,
}

/// What a line is to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportLineKind {
    /// A collectivity not yet followed.
    New,
    /// A collectivity already followed, in the database or on an earlier line.
    Duplicate,
    /// A line that writes nothing (empty).
    Ignored,
}

/// The follow-up fields a line gives a value for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProvidedFields {
    pub owner: bool,
    /// The political colour or the Ministry's nuance.
    pub political: bool,
    pub lead_source: bool,
    pub priority: bool,
    pub next_action: bool,
    pub next_action_date: bool,
    pub has_squats: bool,
    pub notes: bool,
}

impl ImportLine<'_> {
    /// The `(collectivity_kind, official_code)` the line resolved to, when it did.
    fn key(&self) -> Option<(String, String)> {
        let org = &self.target?.organisation;
        Some((org.collectivity_kind.clone()?, org.official_code.clone()?))
    }
}

/// `SELECT` of a target's organisation and follow-up fields, in [`TargetFields`] order.
type FieldsRow = (
    i64,
    Option<i64>,
    PoliticalColour,
    Option<String>,
    LeadSource,
    Priority,
    String,
    Option<NaiveDate>,
    bool,
    String,
);

impl Store {
    /// Every existing target, keyed by `(collectivity_kind, official_code)` of its collectivity, in one query
    /// (the plan checks each row against it instead of querying per row).
    pub async fn target_keys(&self) -> StoreResult<HashMap<(String, String), i64>> {
        let rows: Vec<(String, String, i64)> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT o.collectivity_kind, o.official_code, t.id FROM targets t JOIN organisations o ON o.id = t.organisation_id
             WHERE o.collectivity_kind IS NOT NULL AND o.official_code IS NOT NULL"
        )
        .fetch_all(p)
        .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(kind, code, id)| ((kind, code), id))
            .collect())
    }

    /// Active staff and admins who may own targets, as `(id, name, email)`: an imported "Responsable" is
    /// matched against their names and emails.
    pub async fn import_owners(&self) -> StoreResult<Vec<(i64, String, String)>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, name, email FROM users WHERE active AND role IN ('admin', 'staff') ORDER BY name"
        )
        .fetch_all(p)
        .await
        })?)
    }

    /// Applies a clean plan in one transaction: new rows become targets, duplicates are skipped or updated,
    /// and one audit entry records the import. A plan that is not clean is refused and nothing is written.
    pub async fn apply_import(
        &self,
        plan: &impl ImportSource,
        on_duplicate: DuplicatePolicy,
        actor: &Actor,
        now: i64,
    ) -> StoreResult<ImportOutcome> {
        self.apply_import_with_progress(plan, on_duplicate, actor, now, |_| {})
            .await
    }

    /// [`Store::apply_import`], calling `progress(rows_done)` after each chunk of rows is written.
    ///
    /// The new targets of a chunk are written together, a few multi-row statements per table (see
    /// [`import_batch`]); duplicates, rare, are updated one by one.
    pub async fn apply_import_with_progress(
        &self,
        plan: &impl ImportSource,
        on_duplicate: DuplicatePolicy,
        actor: &Actor,
        now: i64,
        progress: impl Fn(usize),
    ) -> StoreResult<ImportOutcome> {
        if !plan.is_clean() {
            let blocking = plan.lines_to_correct();
            return Err(StoreError::Conflict(format!(
                "l'import a {} à corriger ; rien n'a été enregistré",
                crate::french::count(blocking, "ligne", "lignes")
            )));
        }
        let mut tx = self.begin().await?;
        let mut outcome = ImportOutcome::default();
        // Targets created by this import, for a later line of the same file naming the same collectivity.
        let mut created: HashMap<(String, String), i64> = HashMap::new();
        let lines = plan.lines();
        for (index, chunk) in lines.chunks(CHUNK_ROWS).enumerate() {
            // New lines first, batched; a duplicate always names a collectivity of an earlier line, so the
            // target it updates exists by the time its own line is reached below.
            let (batched, single): (Vec<&ImportLine>, Vec<&ImportLine>) = chunk
                .iter()
                .filter(|row| row.kind == ImportLineKind::New && row.target.is_some())
                .partition(|row| row.target.is_some_and(import_batch::can_batch));
            let news: Vec<&NewTarget> = batched.iter().filter_map(|row| row.target).collect();
            let ids = import_batch::insert_targets(&mut tx, &news, actor, now).await?;
            for (row, id) in batched.iter().zip(ids) {
                created.extend(row.key().map(|key| (key, id)));
            }
            for row in &single {
                if let Some(new) = row.target {
                    insert_target(&mut tx, new, actor, now).await?;
                }
            }
            outcome.created += batched.len() + single.len();
            for row in chunk {
                match (row.kind, row.target) {
                    (ImportLineKind::Duplicate, Some(new))
                        if on_duplicate == DuplicatePolicy::Update =>
                    {
                        let id = row
                            .existing_target_id
                            .or_else(|| row.key().and_then(|key| created.get(&key).copied()))
                            .ok_or(StoreError::NotFound)?;
                        if update_from_row(&mut tx, id, row, new, actor, now).await? {
                            outcome.updated += 1;
                        } else {
                            outcome.skipped += 1;
                        }
                    }
                    (ImportLineKind::Duplicate, _) => outcome.skipped += 1,
                    _ => {}
                }
            }
            progress(index * CHUNK_ROWS + chunk.len());
        }
        let details = serde_json::json!({
            "rows": lines.len(),
            "created": outcome.created,
            "updated": outcome.updated,
            "skipped": outcome.skipped,
            "on_duplicate": on_duplicate,
        });
        audit::record(&mut tx, actor, "import", "target", None, details, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

/// Updates an existing target from a duplicate row: the row's non-empty values replace the current ones
/// (an empty cell never erases what staff recorded), and its contact is added unless already known.
/// The stage is left alone: stage changes go through their own history. Returns whether anything changed.
async fn update_from_row(
    tx: &mut Tx,
    id: i64,
    row: &ImportLine<'_>,
    new: &NewTarget,
    actor: &Actor,
    now: i64,
) -> StoreResult<bool> {
    let (
        organisation_id,
        owner_id,
        political_colour,
        political_nuance,
        lead_source,
        priority,
        next_action,
        next_action_date,
        has_squats,
        notes,
    ): FieldsRow = with_tx!(tx, |c| {
        sqlx::query_as(
            "SELECT organisation_id, owner_id, political_colour, political_nuance, lead_source, priority, next_action, next_action_date,
                    has_squats, notes FROM targets WHERE id = $1"
        )
        .bind(id)
        .fetch_one(c)
        .await
    })?;
    let before = TargetFields {
        owner_id,
        political_colour,
        political_nuance,
        lead_source,
        priority,
        next_action,
        next_action_date,
        has_squats,
        notes,
    };
    let mut after = before.clone();
    let given = row.provided;
    let imported = &new.fields;
    if given.owner {
        after.owner_id = imported.owner_id;
    }
    if given.political {
        // A bare colour that agrees with the recorded nuance ("Gauche" over "LDVG") keeps the nuance.
        let same_colour = after.political_colour == imported.political_colour;
        if imported.political_nuance.is_some() || !same_colour {
            after
                .political_nuance
                .clone_from(&imported.political_nuance);
        }
        after.political_colour = imported.political_colour;
    }
    if given.lead_source {
        after.lead_source = imported.lead_source;
    }
    if given.priority {
        after.priority = imported.priority;
    }
    if given.next_action {
        after.next_action.clone_from(&imported.next_action);
    }
    if given.next_action_date {
        after.next_action_date = imported.next_action_date;
    }
    if given.has_squats {
        after.has_squats = imported.has_squats;
    }
    if given.notes {
        after.notes.clone_from(&imported.notes);
    }
    let mut changed = before != after;
    update_target_fields(tx, id, &before, &after, actor, now).await?;
    if !new.contacts.is_empty() {
        let known: Vec<(String, Option<String>)> = with_tx!(tx, |c| {
            sqlx::query_as(
            "SELECT p.full_name, e.email FROM people p LEFT JOIN person_emails e ON e.person_id = p.id
             WHERE p.organisation_id = $1"
        )
        .bind(organisation_id)
        .fetch_all(c)
        .await
        })?;
        for contact in new.contacts.iter().filter(|c| !is_known(c, &known)) {
            let contact = NewPerson {
                organisation_id: Some(organisation_id),
                ..contact.clone()
            };
            insert_person(tx, &contact, now).await?;
            changed = true;
        }
    }
    Ok(changed)
}

/// A contact is known when one of its emails is, or (without email) when someone has the same name.
fn is_known(contact: &NewPerson, known: &[(String, Option<String>)]) -> bool {
    if contact.emails.is_empty() {
        let name = fold(&contact.full_name);
        known.iter().any(|(full_name, _)| fold(full_name) == name)
    } else {
        known.iter().any(|(_, email)| {
            email
                .as_ref()
                .is_some_and(|e| contact.emails.iter().any(|c| c.eq_ignore_ascii_case(e)))
        })
    }
}
