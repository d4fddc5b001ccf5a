//! The batched write path of an import: the new targets of a chunk of rows are written with a few multi-row
//! `INSERT … VALUES (…), (…)` statements per table instead of about seven statements per row, which matters on
//! PostgreSQL where each statement is a network round trip.
//!
//! The rows written are the ones [`insert_target`](crate::store::targets::insert_target) would write, column for
//! column. Generated ids are never paired with inputs by position: organisations come back with their
//! `(collectivity_kind, official_code)`, targets with their `organisation_id`, and people with every column
//! they were inserted with.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::store::audit::Actor;
use crate::store::targets::NewTarget;
use crate::store::{StoreError, StoreResult, Tx, TxConn, with_tx};

/// Rows of the plan written per batch: small enough for progress to move, large enough to save round trips.
pub(super) const CHUNK_ROWS: usize = 500;

/// Bind parameters allowed in one statement: SQLite's limit (PostgreSQL allows 65,535).
const MAX_PARAMETERS: usize = 32_766;

/// Bind parameters per statement on SQLite. Binding looks each `$n` up by name, a linear scan in SQLite, so
/// its cost grows with the square of the count (6,500 parameters take ~50 ms to bind, a few hundred well under
/// a millisecond); and an SQLite statement costs no round trip, so small ones lose nothing.
const SQLITE_PARAMETERS: usize = 250;

/// Bind parameters per statement: on PostgreSQL, where each statement is a round trip, as many as allowed (a
/// chunk then takes one statement per table); on SQLite, [`SQLITE_PARAMETERS`].
fn parameters_per_statement(tx: &Tx) -> usize {
    match tx.conn {
        TxConn::Sqlite(_) => SQLITE_PARAMETERS,
        TxConn::Postgres(_) => MAX_PARAMETERS,
    }
}

/// One bound value of a multi-row statement, of the Rust types the per-row statements bind, so that both paths
/// store the same values.
enum Value<'a> {
    Int(Option<i64>),
    Text(Option<Cow<'a, str>>),
    Bool(bool),
    Date(Option<NaiveDate>),
}

impl From<i64> for Value<'_> {
    fn from(value: i64) -> Self {
        Value::Int(Some(value))
    }
}
impl From<Option<i64>> for Value<'_> {
    fn from(value: Option<i64>) -> Self {
        Value::Int(value)
    }
}
impl<'a> From<&'a str> for Value<'a> {
    fn from(value: &'a str) -> Self {
        Value::Text(Some(Cow::Borrowed(value)))
    }
}
impl From<String> for Value<'_> {
    fn from(value: String) -> Self {
        Value::Text(Some(Cow::Owned(value)))
    }
}
impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Value::Text(value.map(Cow::Borrowed))
    }
}
impl From<bool> for Value<'_> {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}
impl From<Option<NaiveDate>> for Value<'_> {
    fn from(value: Option<NaiveDate>) -> Self {
        Value::Date(value)
    }
}

/// Binds `values` in order to a query of either database (expanded once per backend by [`with_tx!`]).
macro_rules! bind_all {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                Value::Int(v) => query.bind(*v),
                Value::Text(v) => query.bind(v.as_deref()),
                Value::Bool(v) => query.bind(*v),
                Value::Date(v) => query.bind(*v),
            };
        }
        query
    }};
}

/// Runs a statement that returns no rows.
async fn execute(tx: &mut Tx, sql: &str, values: &[Value<'_>]) -> Result<u64, sqlx::Error> {
    with_tx!(tx, |c| bind_all!(sqlx::query(sql), values)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
}

/// Runs a query and decodes its rows as `T` (a tuple) on either database.
async fn fetch<T>(tx: &mut Tx, sql: &str, values: &[Value<'_>]) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    with_tx!(tx, |c| bind_all!(sqlx::query_as(sql), values)
        .fetch_all(c)
        .await)
}

/// `$start, $start+1, …` for `count` values, as in an `IN (…)` list.
fn placeholder_list(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2, $3), ($4, $5, $6)` for `rows` rows of `columns` values: the `VALUES` of a multi-row insert.
pub(super) fn values_placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| format!("({})", placeholder_list(row * columns + 1, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows to insert into one table, their values one after the other.
struct Rows<'a> {
    table: &'static str,
    columns: &'static [&'static str],
    values: Vec<Value<'a>>,
}

impl<'a> Rows<'a> {
    fn new(table: &'static str, columns: &'static [&'static str]) -> Self {
        Rows {
            table,
            columns,
            values: Vec::new(),
        }
    }

    fn push<const N: usize>(&mut self, row: [Value<'a>; N]) {
        assert_eq!(
            N,
            self.columns.len(),
            "one value per column of {}",
            self.table
        );
        self.values.extend(row);
    }

    /// The statements inserting these rows, each with the values it binds, as many whole rows per statement as
    /// `max_parameters` allows (at least one); `tail` ends each statement (`ON CONFLICT …`, `RETURNING …`).
    fn statements(
        &self,
        max_parameters: usize,
        tail: &str,
    ) -> impl Iterator<Item = (String, &[Value<'a>])> {
        let width = self.columns.len();
        let per_statement = (max_parameters / width).max(1) * width;
        self.values.chunks(per_statement).map(move |values| {
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {}{tail}",
                self.table,
                self.columns.join(", "),
                values_placeholders(values.len() / width, width)
            );
            (sql, values)
        })
    }

    async fn insert(&self, tx: &mut Tx, tail: &str) -> Result<(), sqlx::Error> {
        for (sql, values) in self.statements(parameters_per_statement(tx), tail) {
            execute(tx, &sql, values).await?;
        }
        Ok(())
    }

    /// Inserts and returns what `returning` (a `RETURNING …` clause) names, in no particular order.
    async fn insert_returning<T>(&self, tx: &mut Tx, returning: &str) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        let mut rows = Vec::new();
        for (sql, values) in self.statements(parameters_per_statement(tx), returning) {
            rows.extend(fetch(tx, &sql, values).await?);
        }
        Ok(rows)
    }
}

/// A collectivity as the import names it: `(collectivity_kind, official_code)`.
type Key<'a> = (&'a str, &'a str);

fn key_of(new: &NewTarget) -> Option<Key<'_>> {
    let organisation = &new.organisation;
    Some((
        organisation.collectivity_kind.as_deref()?,
        organisation.official_code.as_deref()?,
    ))
}

/// Whether the batched path can write this target: its collectivity has a kind and an official code.
pub(super) fn can_batch(new: &NewTarget) -> bool {
    key_of(new).is_some()
}

/// Writes new targets (each naming a distinct collectivity with kind and official code, see [`can_batch`])
/// with their collectivities when new, first stage changes, contacts and audit entries, inside `tx`. Returns
/// the target ids in the order of `news`.
pub(super) async fn insert_targets(
    tx: &mut Tx,
    news: &[&NewTarget],
    actor: &Actor,
    now: i64,
) -> StoreResult<Vec<i64>> {
    if news.is_empty() {
        return Ok(Vec::new());
    }
    let keys = target_keys(news)?;
    let organisation_ids = organisations(tx, news, &keys, now).await?;
    let target_ids = targets(tx, news, &organisation_ids, now).await?;

    let mut stage_changes = Rows::new(
        "stage_changes",
        &[
            "target_id",
            "from_stage",
            "to_stage",
            "reason",
            "changed_at",
            "author_id",
            "author_label",
        ],
    );
    let mut audit = Rows::new(
        "audit_log",
        &["at", "actor", "action", "entity", "entity_id", "details"],
    );
    for (new, &id) in news.iter().zip(&target_ids) {
        stage_changes.push([
            id.into(),
            None::<&str>.into(),
            new.stage.as_str().into(),
            "".into(),
            now.into(),
            actor.user_id.into(),
            actor.label.as_str().into(),
        ]);
        let details = serde_json::json!({"name": new.organisation.name, "stage": new.stage});
        audit.push([
            now.into(),
            actor.label.as_str().into(),
            "create".into(),
            "target".into(),
            id.into(),
            details.to_string().into(),
        ]);
    }
    stage_changes.insert(tx, "").await?;
    people(tx, news, &organisation_ids, now).await?;
    audit.insert(tx, "").await?;
    Ok(target_ids)
}

/// The key of each new target; a collectivity named twice fails as the second `insert_target` would.
fn target_keys<'a>(news: &[&'a NewTarget]) -> StoreResult<Vec<Key<'a>>> {
    let mut seen = HashSet::new();
    news.iter()
        .map(|new| {
            let key = key_of(new).ok_or(StoreError::NotFound)?;
            if !seen.insert(key) {
                return Err(already_a_target(new));
            }
            Ok(key)
        })
        .collect()
}

fn already_a_target(new: &NewTarget) -> StoreError {
    StoreError::Conflict(format!("{} est déjà une cible", new.organisation.name))
}

/// The organisation id of each new target: existing collectivities are found (and refused when they are
/// already targets), the others inserted. Ids come back with their keys, never by position.
async fn organisations(
    tx: &mut Tx,
    news: &[&NewTarget],
    keys: &[Key<'_>],
    now: i64,
) -> StoreResult<Vec<i64>> {
    let mut ids: HashMap<(String, String), i64> = HashMap::new();
    let mut targeted: HashSet<i64> = HashSet::new();
    for keys in keys.chunks(CHUNK_ROWS) {
        // Joined against the keys (VALUES columns are `column1`, `column2` on both databases), so that each key
        // is one probe of the unique index, however large the table.
        let sql = format!(
            "SELECT o.collectivity_kind, o.official_code, o.id, t.id
             FROM (VALUES {}) AS k
             JOIN organisations o ON o.collectivity_kind = k.column1 AND o.official_code = k.column2
             LEFT JOIN targets t ON t.organisation_id = o.id",
            values_placeholders(keys.len(), 2)
        );
        let values: Vec<Value> = keys
            .iter()
            .flat_map(|&(kind, code)| [kind.into(), code.into()])
            .collect();
        let existing: Vec<(String, String, i64, Option<i64>)> = fetch(tx, &sql, &values).await?;
        for (kind, code, id, target) in existing {
            ids.insert((kind, code), id);
            targeted.extend(target.map(|_| id));
        }
    }

    let mut missing = Rows::new(
        "organisations",
        &[
            "kind",
            "name",
            "collectivity_kind",
            "official_code",
            "departement_code",
            "region_code",
            "population",
            "scale",
            "website",
            "notes",
            "search_text",
            "created_at",
            "updated_at",
        ],
    );
    for (new, (kind, code)) in news.iter().zip(keys) {
        if let Some(id) = ids.get(&(kind.to_string(), code.to_string())) {
            if targeted.contains(id) {
                return Err(already_a_target(new));
            }
            continue;
        }
        let o = &new.organisation;
        let search_text = crate::domain::search_text(&[&o.name, code]);
        missing.push([
            o.kind.as_str().into(),
            o.name.as_str().into(),
            Some(*kind).into(),
            Some(*code).into(),
            o.departement_code.as_deref().into(),
            o.region_code.as_deref().into(),
            o.population.into(),
            o.scale.map(crate::domain::Scale::as_str).into(),
            o.website.as_str().into(),
            o.notes.as_str().into(),
            search_text.into(),
            now.into(),
            now.into(),
        ]);
    }
    let inserted: Vec<(String, String, i64)> = missing
        .insert_returning(tx, " RETURNING collectivity_kind, official_code, id")
        .await
        .map_err(StoreError::from_write)?;
    ids.extend(
        inserted
            .into_iter()
            .map(|(kind, code, id)| ((kind, code), id)),
    );
    keys.iter()
        .map(|(kind, code)| {
            ids.get(&(kind.to_string(), code.to_string()))
                .copied()
                .ok_or(StoreError::NotFound)
        })
        .collect()
}

/// Inserts the targets and returns their ids, paired by `organisation_id` (unique among targets).
async fn targets(
    tx: &mut Tx,
    news: &[&NewTarget],
    organisation_ids: &[i64],
    now: i64,
) -> StoreResult<Vec<i64>> {
    let mut rows = Rows::new(
        "targets",
        &[
            "organisation_id",
            "stage",
            "owner_id",
            "political_colour",
            "lead_source",
            "priority",
            "next_action",
            "next_action_date",
            "has_squats",
            "notes",
            "created_at",
            "updated_at",
            "political_nuance",
        ],
    );
    for (new, &organisation_id) in news.iter().zip(organisation_ids) {
        let f = &new.fields;
        rows.push([
            organisation_id.into(),
            new.stage.as_str().into(),
            f.owner_id.into(),
            f.political_colour.as_str().into(),
            f.lead_source.as_str().into(),
            f.priority.as_str().into(),
            f.next_action.as_str().into(),
            f.next_action_date.into(),
            f.has_squats.into(),
            f.notes.as_str().into(),
            now.into(),
            now.into(),
            f.political_nuance.as_deref().into(),
        ]);
    }
    let inserted: Vec<(i64, i64)> = rows
        .insert_returning(tx, " RETURNING organisation_id, id")
        .await
        .map_err(|e| match StoreError::from_write(e) {
            // Another person made one of these collectivities a target since the checks above.
            StoreError::Conflict(_) => StoreError::Conflict(
                "une des collectivités de l'import est devenue une cible entre-temps".into(),
            ),
            other => other,
        })?;
    let by_organisation: HashMap<i64, i64> = inserted.into_iter().collect();
    organisation_ids
        .iter()
        .map(|id| by_organisation.get(id).copied().ok_or(StoreError::NotFound))
        .collect()
}

/// `(organisation_id, full_name, function, notes, search_text)` of a person row.
type PersonKey<'a> = (i64, &'a str, &'a str, &'a str, &'a str);

/// Inserts the contacts of the new targets with their emails and phones, as
/// [`insert_person`](crate::store::people::insert_person) does for each.
///
/// People have no natural key: each inserted row comes back with all the columns it was given, and rows given
/// the same values (a homonym with the same function in the same collectivity) take their ids in increasing
/// order, i.e. in the order they were inserted.
async fn people(
    tx: &mut Tx,
    news: &[&NewTarget],
    organisation_ids: &[i64],
    now: i64,
) -> StoreResult<()> {
    let contacts: Vec<_> = news
        .iter()
        .zip(organisation_ids)
        .flat_map(|(new, &organisation_id)| {
            new.contacts.iter().map(move |contact| {
                let search_text = crate::domain::search_text(&[
                    &contact.full_name,
                    &contact.function,
                    &contact.emails.join(" "),
                ]);
                (organisation_id, contact, search_text)
            })
        })
        .collect();
    if contacts.is_empty() {
        return Ok(());
    }
    let mut people = Rows::new(
        "people",
        &[
            "organisation_id",
            "full_name",
            "function",
            "notes",
            "search_text",
            "created_at",
            "updated_at",
        ],
    );
    for (organisation_id, contact, search_text) in &contacts {
        people.push([
            (*organisation_id).into(),
            contact.full_name.as_str().into(),
            contact.function.as_str().into(),
            contact.notes.as_str().into(),
            search_text.as_str().into(),
            now.into(),
            now.into(),
        ]);
    }
    let returned: Vec<(i64, i64, String, String, String, String)> = people
        .insert_returning(
            tx,
            " RETURNING id, organisation_id, full_name, function, notes, search_text",
        )
        .await
        .map_err(StoreError::from_write)?;
    let mut ids: HashMap<PersonKey, Vec<i64>> = HashMap::new();
    for (id, organisation_id, full_name, function, notes, search_text) in &returned {
        let key = (
            *organisation_id,
            full_name.as_str(),
            function.as_str(),
            notes.as_str(),
            search_text.as_str(),
        );
        ids.entry(key).or_default().push(*id);
    }
    // Largest id last, so that popping hands them out in increasing order.
    for same in ids.values_mut() {
        same.sort_unstable_by(|a, b| b.cmp(a));
    }

    let mut emails = Rows::new("person_emails", &["person_id", "email"]);
    let mut phones = Rows::new("person_phones", &["person_id", "phone"]);
    for (organisation_id, contact, search_text) in &contacts {
        let key = (
            *organisation_id,
            contact.full_name.as_str(),
            contact.function.as_str(),
            contact.notes.as_str(),
            search_text.as_str(),
        );
        let id = ids
            .get_mut(&key)
            .and_then(Vec::pop)
            .ok_or(StoreError::NotFound)?;
        // A value given twice is stored once, as `ON CONFLICT DO NOTHING` does row by row.
        for (i, email) in contact.emails.iter().enumerate() {
            if !contact.emails[..i].contains(email) {
                emails.push([id.into(), email.as_str().into()]);
            }
        }
        for (i, phone) in contact.phones.iter().enumerate() {
            if !contact.phones[..i].contains(phone) {
                phones.push([id.into(), phone.as_str().into()]);
            }
        }
    }
    emails.insert(tx, " ON CONFLICT DO NOTHING").await?;
    phones.insert(tx, " ON CONFLICT DO NOTHING").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_then_columns() {
        assert_eq!(values_placeholders(1, 1), "($1)");
        assert_eq!(values_placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholder_list(4, 3), "$4, $5, $6");
    }

    #[test]
    fn statements_stay_under_the_parameter_limit() {
        let mut rows = Rows::new("t", &["a", "b", "c"]);
        for i in 0..12_000 {
            rows.push([i.into(), "x".into(), true.into()]);
        }
        let statements: Vec<_> = rows.statements(MAX_PARAMETERS, "").collect();
        // 10,922 rows of 3 values fit in 32,766 parameters; 1,078 rows are left for the second statement.
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0].1.len(), 32_766);
        assert!(
            statements[1]
                .0
                .starts_with("INSERT INTO t (a, b, c) VALUES ($1, $2, $3), ($4")
        );
        assert!(statements[1].0.ends_with("($3232, $3233, $3234)"));
        // A row wider than the limit still gets a statement of its own.
        assert_eq!(rows.statements(2, "").count(), 12_000);
    }
}
