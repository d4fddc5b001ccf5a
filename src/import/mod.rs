//! Spreadsheet import of targets: the list staff kept in Excel or CSV before relais existed.
//!
//! The flow has five steps, each usable on its own so the web layer can stop between them:
//!
//! 1. **read** ([`read_table`]): XLSX or CSV bytes become a [`Table`] of text cells with the line number of
//!    each row in the file, whatever the encoding (UTF-8, with or without BOM, or Windows-1252) and delimiter.
//! 2. **map columns** ([`guess_mapping`], then [`apply_overrides`] when a person corrects it): each column is
//!    given the [`Field`] it holds, recognised from French or English headers.
//! 3. **plan** ([`plan_import`]): every row is matched against the embedded referential and the existing
//!    targets, and its values are validated. Nothing is written; each [`PlannedRow`] says what would happen
//!    (new target, duplicate, ambiguous, unknown, invalid, empty) with French messages naming line and column.
//! 4. **preview**: the plan is shown ([`report_lines`] for the command line); a plan with any ambiguous,
//!    unknown or invalid row is not [clean](ImportPlan::is_clean) and cannot be applied.
//! 5. **apply** ([`Store::apply_import`](crate::store::Store::apply_import), through [`crate::store::import::ImportSource`]): all rows in one transaction,
//!    all or nothing, with one audit entry for the import.
//!
//! [`import_file`] chains the five steps for the command line.

mod columns;
mod plan;
mod read;

use crate::store::audit::Actor;
use crate::store::{Store, StoreError};

pub use crate::store::import::{DuplicatePolicy, ImportOutcome};
pub use columns::{Field, apply_overrides, guess_mapping, overrides_from_names};
pub use plan::{
    Candidate, ImportPlan, PlannedRow, RowStatus, StatusCounts, plan_import,
    plan_import_with_progress,
};
pub use read::{Table, limits, read_table};

/// Why a file cannot be imported at all (as opposed to a row that cannot, which the plan reports).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("le fichier « {0} » est vide")]
    EmptyFile(String),
    #[error(
        "le fichier « {0} » n'est pas un tableur : il contient des données binaires (envoyez un CSV ou un XLSX)"
    )]
    NotASpreadsheet(String),
    #[error(
        "le fichier « {0} » n'a pas de ligne d'en-tête (la première ligne doit nommer les colonnes)"
    )]
    NoHeader(String),
    #[error(
        "le fichier « {file} » est au format {format}, que l'import ne lit pas : enregistrez-le au format XLSX \
         (classeur Excel) ou CSV, puis envoyez-le à nouveau"
    )]
    UnsupportedFormat { file: String, format: String },
    #[error(
        "le fichier « {file} » est trop grand pour l'import : {limit}. Découpez-le, ou retirez les lignes et \
         colonnes inutiles"
    )]
    TooLarge { file: String, limit: String },
    #[error("le fichier « {file} » ne peut pas être lu comme un classeur Excel : {reason}")]
    UnreadableSpreadsheet { file: String, reason: String },
    #[error("le fichier « {file} » ne peut pas être lu comme un CSV (ligne {line}) : {reason}")]
    UnreadableCsv {
        file: String,
        line: usize,
        reason: String,
    },
    #[error(
        "aucune colonne ne désigne la collectivité : il faut une colonne « Collectivité » ou « Code INSEE » \
         (colonnes trouvées : {0})"
    )]
    NoIdentifyingColumn(String),
    #[error("erreur de la base de données : {0}")]
    Store(#[from] StoreError),
}

/// "163684" → "163 684", as French writes numbers.
pub(crate) fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut text = String::from(if n < 0 { "-" } else { "" });
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(' ');
        }
        text.push(digit);
    }
    text
}

/// Spreadsheets read at once: each may hold up to the [`limits`](read::limits) in memory, so a burst of
/// uploads waits its turn instead of multiplying that.
static READING_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// [`read_table`] on a blocking thread, not on the async workers that answer requests and mail, and never more
/// than two at a time.
pub async fn read_table_in_background(
    bytes: std::sync::Arc<[u8]>,
    file_name: String,
) -> Result<Table, ImportError> {
    let _slot = READING_SLOTS
        .acquire()
        .await
        .expect("the reading semaphore is never closed");
    let file = file_name.clone();
    tokio::task::spawn_blocking(move || read_table(&bytes, &file_name))
        .await
        .map_err(|e| ImportError::UnreadableSpreadsheet {
            file,
            reason: format!("la lecture s'est interrompue ({e})"),
        })?
}

/// Reads, maps, plans and (unless `dry_run`) applies a file, for the command line.
///
/// The outcome is `None` when nothing was written: on a dry run, or when the plan is not clean (the plan says
/// why, see [`report_lines`]). `progress(done, total)` is called as rows are planned and then written.
#[allow(clippy::too_many_arguments)] // The command line passes each of its options straight through.
pub async fn import_file(
    store: &Store,
    bytes: &[u8],
    file_name: &str,
    dry_run: bool,
    on_duplicate: DuplicatePolicy,
    actor: &Actor,
    now: i64,
    progress: impl Fn(usize, usize),
) -> Result<(ImportPlan, Option<ImportOutcome>), ImportError> {
    let table = read_table_in_background(bytes.into(), file_name.to_string()).await?;
    let mapping = guess_mapping(&table.headers);
    if !mapping
        .iter()
        .any(|f| matches!(f, Some(Field::Name | Field::OfficialCode)))
    {
        let found = table
            .headers
            .iter()
            .map(|h| format!("« {h} »"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ImportError::NoIdentifyingColumn(found));
    }
    let owners = store.import_owners().await?;
    // Planning is the first half of the bar and writing the second, so the bar never moves backwards.
    let total = if dry_run {
        table.rows.len()
    } else {
        table.rows.len() * 2
    };
    let plan = plan_import_with_progress(store, &table, &mapping, &owners, |done| {
        progress(done, total)
    })
    .await?;
    if dry_run || !plan.is_clean() {
        return Ok((plan, None));
    }
    let offset = table.rows.len();
    let outcome = store
        .apply_import_with_progress(&plan, on_duplicate, actor, now, |done| {
            progress(offset + done, total)
        })
        .await?;
    progress(total, total);
    Ok((plan, Some(outcome)))
}

/// The French line-by-line report of a plan: one line per non-empty row (with its errors and candidates
/// indented below), then a summary.
pub fn report_lines(plan: &ImportPlan) -> Vec<String> {
    let mut lines: Vec<String> = plan
        .problems
        .iter()
        .map(|p| format!("Fichier : {p}"))
        .collect();
    for row in &plan.rows {
        let headline = match row.status {
            RowStatus::Empty => continue,
            RowStatus::New => format!("ligne {} : {} — nouvelle cible", row.line, row.label),
            RowStatus::Duplicate => match row.duplicate_of_line {
                Some(first) => format!(
                    "ligne {} : {} — doublon de la ligne {first}",
                    row.line, row.label
                ),
                None => format!(
                    "ligne {} : {} — déjà suivie (cible existante)",
                    row.line, row.label
                ),
            },
            RowStatus::Ambiguous => format!(
                "ligne {} : {} — AMBIGUË, plusieurs collectivités possibles",
                row.line, row.label
            ),
            RowStatus::Unknown => format!(
                "ligne {} : {} — INCONNUE du référentiel",
                row.line, row.label
            ),
            RowStatus::Invalid => format!("ligne {} : {} — À CORRIGER", row.line, row.label),
        };
        lines.push(headline);
        lines.extend(row.errors.iter().map(|e| format!("    – {e}")));
        if !row.candidates.is_empty() {
            let title = if row.status == RowStatus::Unknown {
                "suggestions"
            } else {
                "candidates"
            };
            lines.push(format!("    {title} :"));
            lines.extend(
                row.candidates
                    .iter()
                    .map(|c| format!("      · {}", c.describe())),
            );
        }
    }
    lines.push(plan.summary());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_errors_speak_french() {
        assert_eq!(
            ImportError::EmptyFile("a.csv".into()).to_string(),
            "le fichier « a.csv » est vide"
        );
        let error = ImportError::UnreadableCsv {
            file: "a.csv".into(),
            line: 3,
            reason: "x".into(),
        };
        assert!(error.to_string().contains("ligne 3"));
    }
}
