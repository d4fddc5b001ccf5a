//! The import plan: what each row of a table would become, decided before anything is written.
//!
//! A row names its collectivity by code (INSEE or SIREN) or by name (with a département when the name is
//! shared); the embedded referential turns it into an official entry, so the club never records a misspelt
//! or non-existent collectivity. Values are validated with the domain parsers, and every problem becomes a
//! French message naming the line and the column, so staff can fix their spreadsheet and try again.

use std::collections::HashMap;

use super::columns::{Columns, Field, RowCells, contact, target_fields};
use super::read::Table;
use super::thousands;
use crate::domain::{Scale, Stage, fold};
use crate::referential::{CollectivityKind, Entry, Referential, normalize};
use crate::store::import::{ImportLine, ImportLineKind, ImportSource, ProvidedFields};
use crate::store::organisations::NewOrganisation;
use crate::store::targets::NewTarget;
use crate::store::{Store, StoreResult};

/// What applying a row would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// A collectivity not yet followed: a target will be created.
    New,
    /// Already a target (in the database or on an earlier line): skipped or updated, as chosen.
    Duplicate,
    /// Several collectivities match; the candidates are listed.
    Ambiguous,
    /// No collectivity of the referential matches; suggestions are listed.
    Unknown,
    /// A value is wrong; the errors say which.
    Invalid,
    /// Nothing in the recognised columns: ignored.
    Empty,
}

/// A collectivity of the referential, as listed to help a person choose.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Candidate {
    pub kind: CollectivityKind,
    pub code: String,
    pub name: String,
    pub departement: Option<String>,
    pub population: Option<i64>,
}

impl Candidate {
    fn of(entry: &Entry) -> Candidate {
        Candidate {
            kind: entry.kind,
            code: entry.code.clone(),
            name: entry.name.clone(),
            departement: entry.departement.clone(),
            population: entry.population,
        }
    }

    /// "Saint-Denis — commune, code 93066, département 93, 113 942 habitants".
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} — {}, code {}",
            self.name,
            self.kind.label_fr().to_lowercase(),
            self.code
        );
        if let Some(d) = &self.departement {
            text.push_str(&format!(", département {d}"));
        }
        if let Some(p) = self.population {
            text.push_str(&format!(", {} habitants", thousands(p)));
        }
        text
    }
}

/// One row of the table and what would become of it.
#[derive(Debug, Clone)]
pub struct PlannedRow {
    /// Line in the file (1-based, as the spreadsheet program shows it).
    pub line: usize,
    pub status: RowStatus,
    /// What the row names: the official name and code once matched, else the text as typed.
    pub label: String,
    /// French messages naming the line and column of each problem.
    pub errors: Vec<String>,
    /// Candidates (ambiguous row) or suggestions (unknown row).
    pub candidates: Vec<Candidate>,
    /// The target to create, for new and duplicate rows (for a duplicate, the values that may update it).
    pub new_target: Option<NewTarget>,
    /// The existing target, for a row duplicating one already in the database.
    pub existing_target_id: Option<i64>,
    /// The earlier line naming the same collectivity, for a row duplicating one of the same file.
    pub duplicate_of_line: Option<usize>,
    /// Fields the row gives a value for: only these replace existing values when a duplicate updates.
    pub provided: Vec<Field>,
}

impl PlannedRow {
    /// The `(collectivity_kind, official_code)` the row resolved to, when it did.
    pub fn key(&self) -> Option<(String, String)> {
        let org = &self.new_target.as_ref()?.organisation;
        Some((org.collectivity_kind.clone()?, org.official_code.clone()?))
    }
}

/// How many rows have each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatusCounts {
    pub new: usize,
    pub duplicate: usize,
    pub ambiguous: usize,
    pub unknown: usize,
    pub invalid: usize,
    pub empty: usize,
}

impl StatusCounts {
    fn add(&mut self, status: RowStatus) {
        *match status {
            RowStatus::New => &mut self.new,
            RowStatus::Duplicate => &mut self.duplicate,
            RowStatus::Ambiguous => &mut self.ambiguous,
            RowStatus::Unknown => &mut self.unknown,
            RowStatus::Invalid => &mut self.invalid,
            RowStatus::Empty => &mut self.empty,
        } += 1;
    }
}

/// The whole plan, for the preview and for [`Store::apply_import`](crate::store::Store::apply_import).
#[derive(Debug, Clone)]
pub struct ImportPlan {
    pub headers: Vec<String>,
    pub mapping: Vec<Option<Field>>,
    pub rows: Vec<PlannedRow>,
    pub counts: StatusCounts,
    /// Problems of the whole file (no column naming the collectivity), in French.
    pub problems: Vec<String>,
    /// Headers of non-empty columns no field was assigned to: their content will not be imported.
    pub ignored_columns: Vec<String>,
}

/// What the store writes of a plan: each row as a line, its fields given as flags.
impl ImportSource for ImportPlan {
    fn is_clean(&self) -> bool {
        ImportPlan::is_clean(self)
    }

    fn lines_to_correct(&self) -> usize {
        self.counts.ambiguous + self.counts.unknown + self.counts.invalid
    }

    fn lines(&self) -> Vec<ImportLine<'_>> {
        self.rows
            .iter()
            .map(|row| {
                let given = |field: Field| row.provided.contains(&field);
                ImportLine {
                    kind: match row.status {
                        RowStatus::New => ImportLineKind::New,
                        RowStatus::Duplicate => ImportLineKind::Duplicate,
                        _ => ImportLineKind::Ignored,
                    },
                    target: row.new_target.as_ref(),
                    existing_target_id: row.existing_target_id,
                    provided: ProvidedFields {
                        owner: given(Field::Owner),
                        political: given(Field::PoliticalColour) || given(Field::PoliticalNuance),
                        lead_source: given(Field::LeadSource),
                        priority: given(Field::Priority),
                        next_action: given(Field::NextAction),
                        next_action_date: given(Field::NextActionDate),
                        has_squats: given(Field::HasSquats),
                        notes: given(Field::Notes),
                    },
                }
            })
            .collect()
    }
}

impl ImportPlan {
    /// True when it can be applied: no whole-file problem and no ambiguous, unknown or invalid row.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
            && self.counts.ambiguous + self.counts.unknown + self.counts.invalid == 0
    }

    /// One French sentence with the counts.
    pub fn summary(&self) -> String {
        let c = &self.counts;
        let mut text = format!(
            "Lignes lues : {} — nouvelles cibles : {}, doublons : {}, ambiguës : {}, inconnues : {}, à corriger : {}, \
             vides : {}.",
            self.rows.len(),
            c.new,
            c.duplicate,
            c.ambiguous,
            c.unknown,
            c.invalid,
            c.empty
        );
        if !self.ignored_columns.is_empty() {
            text.push_str(&format!(
                " Colonnes ignorées : {}.",
                self.ignored_columns.join(", ")
            ));
        }
        if !self.is_clean() {
            text.push_str(" Rien ne sera enregistré tant que ces lignes ne sont pas corrigées.");
        }
        text
    }
}

/// Plans the import of `table`, whose columns hold the fields of `mapping`. `owners` are the staff who may
/// own targets, as `(id, name, email)`. Only the list of existing targets is read; nothing is written.
pub async fn plan_import(
    store: &Store,
    table: &Table,
    mapping: &[Option<Field>],
    owners: &[(i64, String, String)],
) -> StoreResult<ImportPlan> {
    plan_import_with_progress(store, table, mapping, owners, |_| {}).await
}

/// [`plan_import`], calling `progress(rows_done)` as it goes.
pub async fn plan_import_with_progress(
    store: &Store,
    table: &Table,
    mapping: &[Option<Field>],
    owners: &[(i64, String, String)],
    progress: impl Fn(usize),
) -> StoreResult<ImportPlan> {
    let mut plan = ImportPlan {
        headers: table.headers.clone(),
        mapping: mapping.to_vec(),
        rows: Vec::with_capacity(table.rows.len()),
        counts: StatusCounts::default(),
        problems: Vec::new(),
        ignored_columns: table
            .headers
            .iter()
            .enumerate()
            .filter(|&(i, h)| mapping.get(i).copied().flatten().is_none() && !h.is_empty())
            .filter(|&(i, _)| {
                table
                    .rows
                    .iter()
                    .any(|(_, cells)| cells.get(i).is_some_and(|c| !c.is_empty()))
            })
            .map(|(_, h)| format!("« {h} »"))
            .collect(),
    };
    if !mapping
        .iter()
        .any(|f| matches!(f, Some(Field::Name | Field::OfficialCode)))
    {
        plan.problems.push("aucune colonne ne désigne la collectivité (il faut « Collectivité » ou « Code INSEE »)".into());
        return Ok(plan);
    }
    // One query for every existing target, so duplicates cost no query per row.
    let existing = store.target_keys().await?;
    let referential = Referential::get();
    let columns = Columns::new(&table.headers, mapping);
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (done, (line, cells)) in table.rows.iter().enumerate() {
        let cells = RowCells::new(&columns, cells, *line);
        let row = plan_row(cells, referential, owners, &existing, &mut seen);
        plan.counts.add(row.status);
        plan.rows.push(row);
        progress(done + 1);
    }
    Ok(plan)
}

fn plan_row(
    mut cells: RowCells,
    referential: &Referential,
    owners: &[(i64, String, String)],
    existing: &HashMap<(String, String), i64>,
    seen: &mut HashMap<(String, String), usize>,
) -> PlannedRow {
    let mut row = PlannedRow {
        line: cells.line,
        status: RowStatus::Empty,
        label: typed_label(&cells),
        errors: Vec::new(),
        candidates: Vec::new(),
        new_target: None,
        existing_target_id: None,
        duplicate_of_line: None,
        provided: cells.provided(),
    };
    if row.provided.is_empty() {
        return row;
    }
    let identified = identify(&mut cells, referential);
    let stage = cells
        .choice(
            Field::Stage,
            Stage::parse,
            Stage::ALL,
            Stage::label,
            "une étape",
        )
        .unwrap_or(Stage::Identified);
    let fields = target_fields(&mut cells, owners);
    let contacts = contact(&mut cells).into_iter().collect();
    row.errors = std::mem::take(&mut cells.errors);
    let entry = match identified {
        Identified::Found(entry) => entry,
        Identified::Ambiguous(entries) => {
            row.status = RowStatus::Ambiguous;
            row.candidates = entries.into_iter().map(Candidate::of).collect();
            return row;
        }
        Identified::Unknown(suggestions) => {
            row.status = RowStatus::Unknown;
            row.candidates = suggestions.into_iter().map(Candidate::of).collect();
            return row;
        }
        Identified::Invalid => {
            row.status = RowStatus::Invalid;
            return row;
        }
    };
    row.label = match entry.kind {
        CollectivityKind::Commune => format!("{} ({})", entry.name, entry.code),
        kind => format!(
            "{} ({} {})",
            entry.name,
            kind.label_fr().to_lowercase(),
            entry.code
        ),
    };
    let key = (entry.kind.as_str().to_string(), entry.code.clone());
    row.existing_target_id = existing.get(&key).copied();
    row.duplicate_of_line = seen.get(&key).copied();
    seen.entry(key).or_insert(row.line);
    row.status = if !row.errors.is_empty() {
        RowStatus::Invalid
    } else if row.existing_target_id.is_some() || row.duplicate_of_line.is_some() {
        RowStatus::Duplicate
    } else {
        RowStatus::New
    };
    if row.errors.is_empty() {
        row.new_target = Some(NewTarget {
            organisation: organisation_of(entry),
            stage,
            fields,
            contacts,
        });
    }
    row
}

/// The organisation recorded for a referential entry, with the scale derived from kind and population.
fn organisation_of(entry: &Entry) -> NewOrganisation {
    NewOrganisation {
        kind: "collectivity".into(),
        name: entry.name.clone(),
        collectivity_kind: Some(entry.kind.as_str().into()),
        official_code: Some(entry.code.clone()),
        departement_code: entry.departement.clone(),
        region_code: entry.region.clone(),
        population: entry.population,
        scale: Some(Scale::of(entry.kind, entry.population)),
        ..NewOrganisation::default()
    }
}

/// How a row's collectivity was looked up in the referential.
enum Identified<'r> {
    Found(&'r Entry),
    Ambiguous(Vec<&'r Entry>),
    /// With suggestions.
    Unknown(Vec<&'r Entry>),
    /// The name or code itself is unusable; the error is recorded.
    Invalid,
}

/// The text a row names its collectivity by, before matching.
fn typed_label(cells: &RowCells) -> String {
    match (cells.get(Field::Name), cells.get(Field::OfficialCode)) {
        ("", "") => "(sans collectivité)".into(),
        (name, "") => format!("« {name} »"),
        ("", code) => format!("code « {code} »"),
        (name, code) => format!("« {name} » (code « {code} »)"),
    }
}

/// Finds the collectivity of a row: by code first, else by name (and département, and région), else by
/// name alone when it is unique.
fn identify<'r>(cells: &mut RowCells, referential: &'r Referential) -> Identified<'r> {
    let name = cells.get(Field::Name);
    let code_text = cells.get(Field::OfficialCode);
    if !code_text.is_empty() {
        return identify_by_code(cells, referential, code_text, name);
    }
    if name.is_empty() {
        cells.row_error("la collectivité n'est indiquée ni par son nom ni par son code");
        return Identified::Invalid;
    }
    let departement_text = cells.get(Field::Departement);
    let departement = match referential.resolve_departement(departement_text) {
        _ if departement_text.is_empty() => None,
        Some(code) => Some(code),
        None => {
            cells.error(
                Field::Departement,
                format!("« {departement_text} » n'est pas un département connu"),
            );
            return Identified::Invalid;
        }
    };
    let mut found = referential.find_by_name(name, departement);
    // "Ville de Lyon", "Département du Rhône", "Région Bretagne": the referential knows them without prefix.
    if found.is_empty()
        && let Some((kind, bare)) = kind_prefix(name)
    {
        found = referential
            .find_by_name(&bare, departement)
            .into_iter()
            .filter(|e| e.kind == kind)
            .collect();
    }
    let region = cells.get(Field::Region);
    if found.len() > 1 && departement.is_none() && !region.is_empty() {
        let in_region: Vec<&Entry> = found
            .iter()
            .copied()
            .filter(|e| region_matches(referential, e, region))
            .collect();
        if !in_region.is_empty() {
            found = in_region;
        }
    }
    // Paris is both a commune and a département: the name alone means the city.
    if let [a, b] = found[..]
        && let Some(commune) = [a, b]
            .into_iter()
            .find(|e| e.kind == CollectivityKind::Commune)
        && [a, b].iter().all(|e| {
            e.kind == CollectivityKind::Commune
                || (e.kind == CollectivityKind::Departement
                    && commune.departement.as_ref() == Some(&e.code))
        })
    {
        found = vec![commune];
    }
    match found.len() {
        0 => {
            let place = departement.map_or(String::new(), |d| format!(" dans le département {d}"));
            cells.row_error(format!("« {name} » ne correspond à aucune collectivité du référentiel{place} : vérifiez l'orthographe ou donnez le code INSEE"));
            Identified::Unknown(suggestions(referential, name, departement))
        }
        1 => Identified::Found(found[0]),
        _ => {
            let hint = if departement.is_none() {
                "indiquez le département ou le code INSEE"
            } else {
                "indiquez le code INSEE"
            };
            cells.row_error(format!(
                "« {name} » désigne {} collectivités : {hint}",
                found.len()
            ));
            found.sort_by_key(|e| std::cmp::Reverse(e.population));
            Identified::Ambiguous(found)
        }
    }
}

fn identify_by_code<'r>(
    cells: &mut RowCells,
    referential: &'r Referential,
    text: &str,
    name: &str,
) -> Identified<'r> {
    // SIRENs are often typed in groups ("200 046 977"); Excel drops the leading zero of "01001".
    let mut code: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.')
        .collect::<String>()
        .to_uppercase();
    if code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()) {
        code.insert(0, '0');
    }
    let found = match code.len() {
        5 => referential.by_code(Some(CollectivityKind::Commune), &code),
        9 if code.bytes().all(|b| b.is_ascii_digit()) => referential.by_code(None, &code),
        1..=3 => match short_code(referential, &code, name) {
            Ok(found) => found,
            Err(message) => {
                cells.error(Field::OfficialCode, message);
                return Identified::Invalid;
            }
        },
        _ => {
            cells.error(
                Field::OfficialCode,
                format!(
                    "« {text} » n'est ni un code INSEE (5 caractères) ni un SIREN (9 chiffres)"
                ),
            );
            return Identified::Invalid;
        }
    };
    match found {
        Some(entry) => Identified::Found(entry),
        None => {
            cells.error(
                Field::OfficialCode,
                format!("aucune collectivité du référentiel n'a le code « {code} »"),
            );
            let query = if name.is_empty() { code.as_str() } else { name };
            Identified::Unknown(suggestions(referential, query, None))
        }
    }
}

/// A 2–3 character code is a département or a région, accepted only when the name says which: the same
/// digits are a commune's département in many spreadsheets, and taking them for the département itself
/// would create the wrong target.
fn short_code<'r>(
    referential: &'r Referential,
    code: &str,
    name: &str,
) -> Result<Option<&'r Entry>, String> {
    let departement = referential
        .resolve_departement(code)
        .and_then(|c| referential.by_code(Some(CollectivityKind::Departement), c));
    let region = referential.by_code(Some(CollectivityKind::Region), code);
    let same_name = |e: &&Entry| normalize(&e.name) == normalize(name);
    Ok(match kind_prefix(name).map(|(kind, _)| kind) {
        Some(CollectivityKind::Departement) => departement,
        Some(CollectivityKind::Region) => region,
        _ if departement.filter(same_name).is_some() => departement,
        _ if region.filter(same_name).is_some() => region,
        _ => {
            return Err(format!(
                "« {code} » est un code de département ou de région : écrivez « Département … » ou « Région … » dans la \
             colonne de la collectivité, ou donnez le code INSEE à 5 caractères de la commune"
            ));
        }
    })
}

/// The kind announced by a name's first words ("Ville de …", "Département du …", "Région …") and the rest.
fn kind_prefix(name: &str) -> Option<(CollectivityKind, String)> {
    const LEADS: [(&str, CollectivityKind); 8] = [
        ("ville", CollectivityKind::Commune),
        ("mairie", CollectivityKind::Commune),
        ("commune", CollectivityKind::Commune),
        ("departement", CollectivityKind::Departement),
        ("conseil departemental", CollectivityKind::Departement),
        ("conseil general", CollectivityKind::Departement),
        ("region", CollectivityKind::Region),
        ("conseil regional", CollectivityKind::Region),
    ];
    let name = normalize(name);
    LEADS.iter().find_map(|(lead, kind)| {
        let rest = name.strip_prefix(lead)?.strip_prefix(' ')?;
        let rest = ["de la ", "de l ", "des ", "du ", "de ", "d "]
            .iter()
            .find_map(|c| rest.strip_prefix(c))
            .unwrap_or(rest);
        Some((*kind, rest.to_string()))
    })
}

fn region_matches(referential: &Referential, entry: &Entry, region: &str) -> bool {
    let Some(code) = &entry.region else {
        return false;
    };
    code.eq_ignore_ascii_case(region.trim())
        || referential.region_name(code).is_some_and(|n| {
            fold(n) == fold(region)
                || fold(n)
                    == fold(
                        kind_prefix(region)
                            .map_or(region.into(), |(_, r)| r)
                            .as_str(),
                    )
        })
}

/// Up to five entries close to what was typed, in the département when one was given. A misspelt word
/// empties the search, so words are then tried alone, longest first, losing letters from the end
/// ("Villeurbane" finds Villeurbanne through "villeurban").
fn suggestions<'r>(
    referential: &'r Referential,
    query: &str,
    departement: Option<&str>,
) -> Vec<&'r Entry> {
    let in_departement =
        |e: &Entry| departement.is_none_or(|d| e.departement.as_deref() == Some(d));
    let found = referential.search_with(query, 5, in_departement);
    if !found.is_empty() {
        return found;
    }
    let normalized = normalize(query);
    let mut words: Vec<&str> = normalized.split(' ').filter(|w| w.len() >= 4).collect();
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    words
        .iter()
        .flat_map(|word| (4..=word.len()).rev().map(move |n| &word[..n]))
        .map(|prefix| referential.search_with(prefix, 5, in_departement))
        .find(|found| !found.is_empty())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_candidates_read_the_french_way() {
        assert_eq!(
            (thousands(860), thousands(163_684), thousands(2_103_778)),
            ("860".into(), "163 684".into(), "2 103 778".into())
        );
        let entry = Referential::get()
            .by_code(Some(CollectivityKind::Commune), "93066")
            .unwrap();
        assert!(
            Candidate::of(entry)
                .describe()
                .starts_with("Saint-Denis — commune, code 93066, département 93, ")
        );
    }

    #[test]
    fn name_prefixes_announce_the_kind() {
        assert_eq!(
            kind_prefix("Département de la Loire"),
            Some((CollectivityKind::Departement, "loire".into()))
        );
        assert_eq!(
            kind_prefix("Ville d'Orléans"),
            Some((CollectivityKind::Commune, "orleans".into()))
        );
        assert_eq!(kind_prefix("Villeurbanne"), None);
    }
}
