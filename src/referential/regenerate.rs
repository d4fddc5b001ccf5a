//! Builds the embedded data file from the npm package `@etalab/decoupage-administratif` v6.
//!
//! Maintenance tool, never used at run time: obtain the package (`npm pack
//! @etalab/decoupage-administratif@6`), then run
//! `RELAIS_DECOUPAGE_DIR=<package or its data folder> cargo test --lib
//! regenerate_embedded_data -- --ignored` and commit `src/referential/data/collectivities.tsv.gz`.
//!
//! Choices made here: only current communes (`commune-actuelle`) are kept; an EPCI gets the
//! département holding most of its member communes; populations of EPCIs, départements and
//! régions are sums of their communes, so every level uses the same census vintage; overseas
//! collectivities (COM, e.g. Polynésie française) are kept as département rows but not as
//! régions, since their région code merely repeats their own code.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::{CollectivityKind, TSV_HEADER};

/// Number of rows written, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegenerateSummary {
    pub communes: usize,
    pub cc: usize,
    pub ca: usize,
    pub cu: usize,
    pub metropoles: usize,
    pub departements: usize,
    pub regions: usize,
    /// Size of the written file.
    pub bytes: u64,
}

#[derive(Deserialize)]
struct Commune {
    code: String,
    nom: String,
    #[serde(rename = "type")]
    kind: String,
    departement: Option<String>,
    region: Option<String>,
    population: Option<i64>,
}

#[derive(Deserialize)]
struct Epci {
    code: String,
    nom: String,
    #[serde(rename = "type")]
    kind: String,
    membres: Vec<Member>,
}

#[derive(Deserialize)]
struct Member {
    code: String,
}

#[derive(Deserialize)]
struct Area {
    code: String,
    nom: String,
    region: Option<String>,
    zone: Option<String>,
}

struct Row {
    kind: CollectivityKind,
    code: String,
    name: String,
    departement: Option<String>,
    region: Option<String>,
    population: Option<i64>,
}

/// Reads the package's JSON files from `source_dir` (the package root or its `data/` folder)
/// and writes the gzip-compressed TSV to `out_file`.
pub fn regenerate(source_dir: &Path, out_file: &Path) -> anyhow::Result<RegenerateSummary> {
    let dir = data_dir(source_dir)?;
    let communes: Vec<Commune> = read_json(&dir, "communes.json")?;
    let epcis: Vec<Epci> = read_json(&dir, "epci.json")?;
    let departements: Vec<Area> = read_json(&dir, "departements.json")?;
    let regions: Vec<Area> = read_json(&dir, "regions.json")?;

    let regions: Vec<Area> = regions
        .into_iter()
        .filter(|r| r.zone.as_deref() != Some("com"))
        .collect();
    let known_region = |code: Option<String>| code.filter(|c| regions.iter().any(|r| &r.code == c));
    let communes: Vec<Commune> = communes
        .into_iter()
        .filter(|c| c.kind == "commune-actuelle")
        .collect();
    let commune_by_code: HashMap<&str, &Commune> =
        communes.iter().map(|c| (c.code.as_str(), c)).collect();

    let mut rows = Vec::with_capacity(communes.len() + epcis.len() + 150);
    for c in &communes {
        rows.push(Row {
            kind: CollectivityKind::Commune,
            code: c.code.clone(),
            name: c.nom.clone(),
            departement: c.departement.clone(),
            region: known_region(c.region.clone()),
            population: c.population,
        });
    }

    let departement_region: HashMap<&str, Option<String>> = departements
        .iter()
        .map(|d| (d.code.as_str(), known_region(d.region.clone())))
        .collect();
    for e in &epcis {
        let kind = match e.kind.as_str() {
            "CC" => CollectivityKind::Cc,
            "CA" => CollectivityKind::Ca,
            "CU" => CollectivityKind::Cu,
            "METRO" | "MET69" => CollectivityKind::Metropole,
            other => bail!("EPCI {}: unknown type {other:?}", e.code),
        };
        let members: Vec<&Commune> = e
            .membres
            .iter()
            .filter_map(|m| commune_by_code.get(m.code.as_str()).copied())
            .collect();
        if members.len() < e.membres.len() {
            tracing::warn!(epci = %e.code, "some member communes are unknown");
        }
        let departement = majority_departement(&members);
        let region = departement
            .as_deref()
            .and_then(|d| departement_region.get(d).cloned().flatten());
        rows.push(Row {
            kind,
            code: e.code.clone(),
            name: e.nom.clone(),
            departement,
            region,
            population: sum_population(members.iter().copied()),
        });
    }

    for d in &departements {
        let members = communes
            .iter()
            .filter(|c| c.departement.as_deref() == Some(&d.code));
        rows.push(Row {
            kind: CollectivityKind::Departement,
            code: d.code.clone(),
            name: d.nom.clone(),
            departement: Some(d.code.clone()),
            region: known_region(d.region.clone()),
            population: sum_population(members),
        });
    }
    for r in &regions {
        let members = communes
            .iter()
            .filter(|c| c.region.as_deref() == Some(&r.code));
        rows.push(Row {
            kind: CollectivityKind::Region,
            code: r.code.clone(),
            name: r.nom.clone(),
            departement: None,
            region: Some(r.code.clone()),
            population: sum_population(members),
        });
    }

    rows.sort_by(|a, b| (a.kind, &a.code).cmp(&(b.kind, &b.code)));
    let mut summary = write_tsv(&rows, out_file)?;
    summary.bytes = std::fs::metadata(out_file)?.len();
    Ok(summary)
}

fn data_dir(source_dir: &Path) -> anyhow::Result<PathBuf> {
    for dir in [source_dir.join("data"), source_dir.to_path_buf()] {
        if dir.join("communes.json").is_file() {
            return Ok(dir);
        }
    }
    bail!(
        "no communes.json in {} nor in its data/ folder",
        source_dir.display()
    )
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, file: &str) -> anyhow::Result<T> {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

/// The département with the most member communes; ties go to the larger population, then to
/// the smaller code, so the result does not depend on the order of the members.
fn majority_departement(members: &[&Commune]) -> Option<String> {
    let mut tally: BTreeMap<&str, (usize, i64)> = BTreeMap::new();
    for c in members {
        if let Some(d) = c.departement.as_deref() {
            let t = tally.entry(d).or_default();
            t.0 += 1;
            t.1 += c.population.unwrap_or(0);
        }
    }
    // max_by_key keeps the last maximum; iterate codes in reverse to prefer the smallest code.
    tally
        .into_iter()
        .rev()
        .max_by_key(|&(_, tally)| tally)
        .map(|(code, _)| code.to_owned())
}

fn sum_population<'a>(communes: impl Iterator<Item = &'a Commune>) -> Option<i64> {
    communes.filter_map(|c| c.population).reduce(|a, b| a + b)
}

fn write_tsv(rows: &[Row], out_file: &Path) -> anyhow::Result<RegenerateSummary> {
    let mut text = String::with_capacity(rows.len() * 64);
    text.push_str(TSV_HEADER);
    text.push('\n');
    let mut summary = RegenerateSummary::default();
    for row in rows {
        let population = row.population.map(|p| p.to_string()).unwrap_or_default();
        let fields = [
            row.kind.as_str(),
            &row.code,
            &row.name,
            row.departement.as_deref().unwrap_or_default(),
            row.region.as_deref().unwrap_or_default(),
            &population,
        ];
        if fields.iter().any(|f| f.contains(['\t', '\n', '\r'])) {
            bail!(
                "{} {}: a field contains a tab or a newline",
                row.kind.as_str(),
                row.code
            );
        }
        let line = fields.join("\t");
        text.push_str(&line);
        text.push('\n');
        *match row.kind {
            CollectivityKind::Commune => &mut summary.communes,
            CollectivityKind::Cc => &mut summary.cc,
            CollectivityKind::Ca => &mut summary.ca,
            CollectivityKind::Cu => &mut summary.cu,
            CollectivityKind::Metropole => &mut summary.metropoles,
            CollectivityKind::Departement => &mut summary.departements,
            CollectivityKind::Region => &mut summary.regions,
        } += 1;
    }
    if let Some(parent) = out_file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // GzBuilder leaves the header's mtime at 0, so identical data gives an identical file.
    let file = std::fs::File::create(out_file)
        .with_context(|| format!("creating {}", out_file.display()))?;
    let mut gz = flate2::GzBuilder::new().write(file, flate2::Compression::best());
    gz.write_all(text.as_bytes())?;
    gz.finish()?.sync_all()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rewrites the embedded data file. Ignored so that tests never read outside the crate.
    #[test]
    #[ignore = "maintenance: reads the npm package, rewrites src/referential/data"]
    fn regenerate_embedded_data() {
        let source = std::env::var("RELAIS_DECOUPAGE_DIR")
            .unwrap_or_else(|_| "/work/shared/reference/decoupage-administratif".to_owned());
        let out = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/referential/data/collectivities.tsv.gz");
        let summary = regenerate(Path::new(&source), &out).unwrap();
        println!("{summary:#?}");
        let decoded = crate::referential::decode(&std::fs::read(&out).unwrap()).unwrap();
        assert!(summary.communes > 34_000 && decoded.entries().len() > 36_000);
    }
}
