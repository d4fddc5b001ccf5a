//! Embedded referential of French collectivities (communes, EPCIs, départements, régions).
//!
//! The data is a gzip-compressed TSV compiled into the binary with `include_bytes!`, derived once
//! from the npm package `@etalab/decoupage-administratif` v6 by [`regenerate()`]. The product never
//! reads that package at run time: to refresh the data, run the ignored test
//! `referential::regenerate::tests::regenerate_embedded_data` and commit the new file.
//!
//! [`get()`] parses the embedded file lazily, once per process. Code lookups, name matching
//! (spreadsheet import) and type-ahead search (UI completion, see [`Referential::search`]) work
//! on it.

pub mod regenerate;
mod search;

use std::io::Read;
use std::ops::Range;
use std::sync::OnceLock;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

pub use regenerate::{RegenerateSummary, regenerate};
pub use search::normalize;

/// The embedded data: `kind code name departement region population`, one header line.
static EMBEDDED: &[u8] = include_bytes!("data/collectivities.tsv.gz");

/// Header line of the TSV; shared with [`regenerate()`] so writer and reader cannot drift apart.
pub(crate) const TSV_HEADER: &str = "kind\tcode\tname\tdepartement\tregion\tpopulation";

/// The level of a collectivity. The declaration order is the order of the TSV and the
/// preference order of [`Referential::by_code`] when no kind is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectivityKind {
    Commune,
    Cc,
    Ca,
    Cu,
    Metropole,
    Departement,
    Region,
}

impl CollectivityKind {
    /// Every kind, in declaration order.
    pub const ALL: [CollectivityKind; 7] = [
        Self::Commune,
        Self::Cc,
        Self::Ca,
        Self::Cu,
        Self::Metropole,
        Self::Departement,
        Self::Region,
    ];

    /// The word used in the TSV file (and in serde).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Commune => "commune",
            Self::Cc => "cc",
            Self::Ca => "ca",
            Self::Cu => "cu",
            Self::Metropole => "metropole",
            Self::Departement => "departement",
            Self::Region => "region",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            Self::Commune => "Commune",
            Self::Cc => "Communauté de communes",
            Self::Ca => "Communauté d'agglomération",
            Self::Cu => "Communauté urbaine",
            Self::Metropole => "Métropole",
            Self::Departement => "Département",
            Self::Region => "Région",
        }
    }

    /// True for the intercommunal levels, whose code is a SIREN rather than an INSEE code.
    pub fn is_epci(self) -> bool {
        matches!(self, Self::Cc | Self::Ca | Self::Cu | Self::Metropole)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One collectivity of the referential.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub kind: CollectivityKind,
    /// INSEE code (communes, départements, régions) or SIREN (EPCIs).
    pub code: String,
    pub name: String,
    /// Code of the département (its own code for a département row; `None` for a région).
    pub departement: Option<String>,
    /// Code of the région (`None` for overseas collectivities outside any région).
    pub region: Option<String>,
    pub population: Option<i64>,
}

/// The parsed referential. Build it with [`get()`] (embedded data) or [`decode`].
pub struct Referential {
    /// Sorted by kind, then code: each kind is a contiguous, code-sorted range.
    entries: Vec<Entry>,
    /// `normalize(name)` of each entry, same index; precomputed so searching allocates nothing.
    names: search::Names,
    /// Range of `entries` holding each kind, indexed by `CollectivityKind::index`.
    kind_ranges: [Range<usize>; 7],
    /// Entry indices sorted by normalized name, for exact-name lookups by binary search.
    by_name: Vec<u32>,
}

impl std::fmt::Debug for Referential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Referential")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// The embedded referential, parsed on first use.
pub fn get() -> &'static Referential {
    Referential::get()
}

/// Parses a gzip-compressed TSV as written by [`regenerate()`].
pub fn decode(bytes: &[u8]) -> anyhow::Result<Referential> {
    let mut text = String::with_capacity(bytes.len() * 4);
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .context("referential: cannot gunzip the data")?;
    let mut lines = text.lines();
    if lines.next() != Some(TSV_HEADER) {
        bail!("referential: unexpected header line");
    }
    let mut entries = Vec::with_capacity(text.len() / 36);
    for (i, line) in lines.enumerate() {
        let entry = parse_line(line).with_context(|| format!("referential: line {}", i + 2))?;
        entries.push(entry);
    }
    // The file is written sorted, but lookups rely on it: check, and sort if needed.
    fn key(e: &Entry) -> (CollectivityKind, &str) {
        (e.kind, &e.code)
    }
    if !entries.is_sorted_by(|a, b| key(a) <= key(b)) {
        entries.sort_by(|a, b| key(a).cmp(&key(b)));
    }
    let kind_ranges = CollectivityKind::ALL.map(|kind| {
        let start = entries.partition_point(|e| e.kind < kind);
        let end = entries.partition_point(|e| e.kind <= kind);
        start..end
    });
    let names = search::Names::build(&entries);
    let mut by_name: Vec<u32> = (0..entries.len() as u32).collect();
    // Equal names stay in entry order (kind, then code), so results are deterministic.
    by_name.sort_unstable_by(|&a, &b| (names.get(a as usize), a).cmp(&(names.get(b as usize), b)));
    Ok(Referential {
        entries,
        names,
        kind_ranges,
        by_name,
    })
}

fn parse_line(line: &str) -> anyhow::Result<Entry> {
    let mut cols = line.split('\t');
    let [
        Some(kind),
        Some(code),
        Some(name),
        Some(departement),
        Some(region),
        Some(population),
        None,
    ] = [(); 7].map(|_| cols.next())
    else {
        bail!("expected 6 tab-separated columns");
    };
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Ok(Entry {
        kind: CollectivityKind::parse(kind).with_context(|| format!("unknown kind {kind:?}"))?,
        code: code.to_owned(),
        name: name.to_owned(),
        departement: opt(departement),
        region: opt(region),
        population: match population {
            "" => None,
            p => Some(p.parse().with_context(|| format!("bad population {p:?}"))?),
        },
    })
}

/// Spreadsheets often drop the leading zero of département codes ("1" for Ain) and use
/// lower case for Corsica ("2a").
fn canonical_departement_code(text: &str) -> String {
    let code = text.trim().to_ascii_uppercase();
    if code.len() == 1 && code.as_bytes()[0].is_ascii_digit() {
        format!("0{code}")
    } else {
        code
    }
}

impl Referential {
    /// The embedded referential, parsed on first use (the embedded data is checked by tests).
    pub fn get() -> &'static Referential {
        static REFERENTIAL: OnceLock<Referential> = OnceLock::new();
        REFERENTIAL.get_or_init(|| {
            let started = std::time::Instant::now();
            let referential = decode(EMBEDDED).expect("the embedded referential is valid");
            tracing::debug!(
                entries = referential.entries.len(),
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "referential loaded"
            );
            referential
        })
    }

    /// Every entry, sorted by kind then code.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entries of one kind, sorted by code.
    pub fn of_kind(&self, kind: CollectivityKind) -> &[Entry] {
        &self.entries[self.kind_ranges[kind.index()].clone()]
    }

    /// Lookup by INSEE code (communes, départements, régions) or SIREN (EPCIs). Without a kind,
    /// kinds are tried in declaration order, so a commune wins and département "11" (Aude)
    /// wins over région "11" (Île-de-France).
    pub fn by_code(&self, kind: Option<CollectivityKind>, code: &str) -> Option<&Entry> {
        let code = code.trim();
        let find = |kind: CollectivityKind| {
            let slice = self.of_kind(kind);
            slice
                .binary_search_by(|e| e.code.as_str().cmp(code))
                .ok()
                .map(|i| &slice[i])
        };
        match kind {
            Some(kind) => find(kind),
            None => CollectivityKind::ALL.into_iter().find_map(find),
        }
    }

    fn departement(&self, code: &str) -> Option<&Entry> {
        let code = canonical_departement_code(code);
        self.by_code(Some(CollectivityKind::Departement), &code)
    }

    pub fn departement_name(&self, code: &str) -> Option<&str> {
        self.departement(code).map(|e| e.name.as_str())
    }

    pub fn region_name(&self, code: &str) -> Option<&str> {
        let code = canonical_departement_code(code);
        self.by_code(Some(CollectivityKind::Region), &code)
            .map(|e| e.name.as_str())
    }

    pub fn region_of_departement(&self, code: &str) -> Option<&str> {
        self.departement(code)?.region.as_deref()
    }

    /// Départements (and overseas collectivities with a département-like code), sorted by code.
    pub fn departements(&self) -> impl Iterator<Item = &Entry> {
        self.of_kind(CollectivityKind::Departement).iter()
    }

    /// Régions, sorted by code.
    pub fn regions(&self) -> impl Iterator<Item = &Entry> {
        self.of_kind(CollectivityKind::Region).iter()
    }

    /// Turns a département as typed in a spreadsheet into its code: a code ("69", "2a", "1"),
    /// a name with or without accents and article ("Rhône", "reunion"), or both ("69 - Rhône").
    pub fn resolve_departement(&self, text: &str) -> Option<&str> {
        if let Some(e) = self.departement(text) {
            return Some(&e.code);
        }
        let wanted = normalize(text);
        if wanted.is_empty() {
            return None;
        }
        let range = self.kind_ranges[CollectivityKind::Departement.index()].clone();
        let by_name = range.into_iter().find(|&i| {
            let name = self.names.get(i);
            name == wanted || strip_article(name) == wanted
        });
        if let Some(i) = by_name {
            return Some(&self.entries[i].code);
        }
        // "69 rhone" or "rhone 69": accept a leading or trailing code.
        let words: Vec<&str> = wanted.split(' ').collect();
        [words.first(), words.last()]
            .into_iter()
            .flatten()
            .filter(|w| w.len() <= 3 && w.bytes().any(|b| b.is_ascii_digit()))
            .find_map(|w| self.departement(w))
            .map(|e| e.code.as_str())
    }
}

/// "la reunion" → "reunion": people rarely type the article of a département's name.
fn strip_article(name: &str) -> &str {
    ["la ", "le ", "les ", "l "]
        .iter()
        .find_map(|a| name.strip_prefix(a))
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use CollectivityKind as K;

    #[test]
    fn kinds_round_trip() {
        for kind in K::ALL {
            assert_eq!(K::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(K::Ca.label_fr(), "Communauté d'agglomération");
        assert_eq!(K::parse("epci"), None);
    }

    #[test]
    fn counts_are_plausible() {
        let r = get();
        let count = |k| r.of_kind(k).len();
        assert!((34_500..35_500).contains(&count(K::Commune)));
        let epcis: usize = [K::Cc, K::Ca, K::Cu, K::Metropole].map(count).iter().sum();
        assert!((1_200..1_300).contains(&epcis), "{epcis} EPCIs");
        assert!(count(K::Departement) >= 101);
        assert_eq!(count(K::Region), 18);
    }

    #[test]
    fn lookups_by_code() {
        let r = get();
        let lyon = r.by_code(None, "69123").unwrap();
        assert_eq!((lyon.kind, lyon.name.as_str()), (K::Commune, "Lyon"));
        assert_eq!(lyon.departement.as_deref(), Some("69"));
        assert_eq!(lyon.region.as_deref(), Some("84"));
        let metro = r.by_code(Some(K::Metropole), "200046977").unwrap();
        assert_eq!(metro.name, "Métropole de Lyon");
        assert_eq!(metro.departement.as_deref(), Some("69"));
        assert!(metro.population.unwrap() > 1_300_000);
        assert_eq!(r.by_code(None, "200046977").unwrap().code, metro.code);
        assert!(r.by_code(Some(K::Commune), "200046977").is_none());
        // "11" is both Aude and Île-de-France: without a kind the département wins.
        assert_eq!(r.by_code(None, "11").unwrap().name, "Aude");
        assert_eq!(
            r.by_code(Some(K::Region), "11").unwrap().name,
            "Île-de-France"
        );
    }

    #[test]
    fn departements_and_regions() {
        let r = get();
        assert_eq!(r.departement_name("2A"), Some("Corse-du-Sud"));
        assert_eq!(r.departement_name("1"), Some("Ain"));
        assert_eq!(r.region_of_departement("69"), Some("84"));
        assert_eq!(r.region_name("84"), Some("Auvergne-Rhône-Alpes"));
        let paris = r.by_code(Some(K::Departement), "75").unwrap();
        assert!(paris.population.unwrap() > 2_000_000);
        let codes: Vec<&str> = r.departements().map(|d| d.code.as_str()).collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(&codes[..2], ["01", "02"]);
        assert!(
            r.regions()
                .all(|e| e.departement.is_none() && e.population.is_some())
        );
    }

    #[test]
    fn resolve_departement_accepts_codes_and_names() {
        let r = get();
        assert_eq!(r.resolve_departement("rhone"), Some("69"));
        assert_eq!(r.resolve_departement(" Rhône "), Some("69"));
        assert_eq!(r.resolve_departement("2a"), Some("2A"));
        assert_eq!(r.resolve_departement("1"), Some("01"));
        assert_eq!(r.resolve_departement("974"), Some("974"));
        assert_eq!(r.resolve_departement("Réunion"), Some("974"));
        assert_eq!(r.resolve_departement("69 - Rhône"), Some("69"));
        assert_eq!(r.resolve_departement("Corse du sud"), Some("2A"));
        assert_eq!(r.resolve_departement("Atlantis"), None);
        assert_eq!(r.resolve_departement(""), None);
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(decode(b"not gzip").is_err());
    }

    #[test]
    #[ignore = "timing only; run with --release --ignored --nocapture"]
    fn decode_timing() {
        let started = std::time::Instant::now();
        let r = decode(EMBEDDED).unwrap();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        println!("decode: {ms:.1} ms for {} entries", r.entries().len());
    }
}
