//! Name normalization, type-ahead search and exact-name matching over the referential.
//!
//! Everything compares normalized names (see [`normalize`]): ASCII lower case, accents removed,
//! hyphens/apostrophes/spaces folded into single spaces, "st"/"ste" expanded to "saint"/"sainte".
//! The names of all entries are normalized once, when the referential is decoded, into a single
//! buffer: a search is then one substring scan of ~750 kB (well under 2 ms in release builds).

use std::cmp::Reverse;

use super::{CollectivityKind, Entry, Referential};

/// Normalizes a name for comparison: "Sainte-Foy-lès-Lyon" and "ste foy les lyon" both give
/// "sainte foy les lyon"; "L'Haÿ-les-Roses" gives "l hay les roses".
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    normalize_into(s, true, &mut out);
    out
}

/// Appends the normalized form of `s` to `out` in one pass. `expand_saint` is false only to
/// recover what the user literally typed (see [`Query::new`]).
fn normalize_into(s: &str, expand_saint: bool, out: &mut String) {
    let base = out.len();
    let mut word_start = None;
    let mut buf = [0u8; 4];
    let end_word = |out: &mut String, start: usize| {
        let expanded = match &out[start..] {
            "st" if expand_saint => "saint",
            "ste" if expand_saint => "sainte",
            _ => return,
        };
        out.truncate(start);
        out.push_str(expanded);
    };
    for c in s.chars() {
        // Transliterate first, so that "œ" becomes "oe" and "’" a separator.
        let ascii: &str = if c.is_ascii() {
            c.encode_utf8(&mut buf)
        } else {
            deunicode::deunicode_char(c).unwrap_or_default()
        };
        for b in ascii.bytes() {
            if b.is_ascii_alphanumeric() {
                if word_start.is_none() {
                    if out.len() > base {
                        out.push(' ');
                    }
                    word_start = Some(out.len());
                }
                out.push(char::from(b.to_ascii_lowercase()));
            } else if let Some(start) = word_start.take() {
                end_word(out, start);
            }
        }
    }
    if let Some(start) = word_start {
        end_word(out, start);
    }
}

/// The normalized names of all entries in one buffer, each followed by a newline, so that a
/// search is a single substring scan instead of ~37,000 small ones.
pub(super) struct Names {
    text: String,
    /// `starts[i]..starts[i + 1] - 1` is the name of entry `i`.
    starts: Vec<u32>,
}

impl Names {
    pub(super) fn build(entries: &[Entry]) -> Names {
        let mut text = String::with_capacity(entries.len() * 24);
        let mut starts = Vec::with_capacity(entries.len() + 1);
        for entry in entries {
            starts.push(text.len() as u32);
            normalize_into(&entry.name, true, &mut text);
            text.push('\n');
        }
        starts.push(text.len() as u32);
        Names { text, starts }
    }

    pub(super) fn get(&self, i: usize) -> &str {
        &self.text[self.starts[i] as usize..self.starts[i + 1] as usize - 1]
    }

    /// Calls `f(entry, offset)` for each occurrence of `needle` (which holds no newline) in the
    /// names, in ascending entry order; `offset` is the position within that entry's name.
    fn occurrences(&self, needle: &str, mut f: impl FnMut(usize, usize)) {
        let mut entry = 0;
        for (pos, _) in self.text.match_indices(needle) {
            // Positions only grow, so the owning entry is found by moving a cursor forward.
            while self.starts[entry + 1] as usize <= pos {
                entry += 1;
            }
            f(entry, pos - self.starts[entry] as usize);
        }
    }
}

/// A prepared query. Ranks, best first: 0 exact, 1 prefix, 2 word-prefix (the query starts at a
/// word boundary), 3 every query word starts some word of the name (any order), 4 substring.
struct Query {
    /// Normalized forms to try; the best rank over them counts.
    variants: Vec<String>,
    /// Upper-cased query when it looks like a code (INSEE, SIREN or a prefix of one).
    code: Option<String>,
}

impl Query {
    fn new(raw: &str) -> Query {
        let expanded = normalize(raw);
        let mut variants = Vec::new();
        if !expanded.is_empty() {
            // While the user is still typing "st", they may mean "Strasbourg" rather than
            // "Saint-…": keep the literal word as a second variant unless the word is finished.
            let still_typing = raw.chars().last().is_some_and(char::is_alphanumeric);
            let mut literal = String::new();
            normalize_into(raw, false, &mut literal);
            let last_literal = literal.rsplit(' ').next().unwrap_or_default();
            if still_typing && matches!(last_literal, "st" | "ste") {
                let last_expanded = expanded.rsplit(' ').next().unwrap_or_default();
                let head = &expanded[..expanded.len() - last_expanded.len()];
                variants.push(format!("{head}{last_literal}"));
            }
            variants.push(expanded);
        }
        let trimmed = raw.trim();
        let code = (2..=9).contains(&trimmed.len())
            && trimmed.bytes().all(|b| b.is_ascii_alphanumeric())
            && trimmed.bytes().any(|b| b.is_ascii_digit());
        Query {
            variants,
            code: code.then(|| trimmed.to_ascii_uppercase()),
        }
    }
}

const NO_MATCH: u8 = u8::MAX;

/// `query` occurs in `name` at the start of a word.
fn starts_a_word(name: &str, query: &str) -> bool {
    name.starts_with(query)
        || name
            .match_indices(' ')
            .any(|(p, _)| name[p + 1..].starts_with(query))
}

/// Every word of `query` starts some word of `name`, in any order ("lyon metropole").
fn words_start_words(name: &str, query: &str) -> bool {
    query
        .split(' ')
        .all(|w| name.split(' ').any(|n| n.starts_with(w)))
}

impl Referential {
    /// Type-ahead completion: up to `limit` entries matching `query` (a name, possibly partial,
    /// or a code), best rank first, then larger population first.
    pub fn search(&self, query: &str, limit: usize) -> Vec<&Entry> {
        self.search_with(query, limit, |_| true)
    }

    /// [`Referential::search`] restricted to the entries accepted by `filter`
    /// (e.g. only communes, or only one département).
    pub fn search_with(
        &self,
        query: &str,
        limit: usize,
        filter: impl Fn(&Entry) -> bool,
    ) -> Vec<&Entry> {
        let query = Query::new(query);
        if limit == 0 {
            return Vec::new();
        }
        // Best rank of each entry. A scan of all names for the query yields ranks 0, 1, 2 and 4
        // from the position of each occurrence; rank 3 needs every query word in the name, so
        // its candidates come from a scan for the longest (most selective) word.
        let mut best = vec![NO_MATCH; self.entries.len()];
        for variant in &query.variants {
            // The scan reports non-overlapping occurrences: the first one of each name (hence
            // ranks 0 and 1) is always seen, but a word-start occurrence overlapping an earlier
            // one is not, which only a query whose start repeats at its end ("ana") allows.
            let may_overlap = (1..variant.len()).any(|k| variant.ends_with(&variant[..k]));
            self.names.occurrences(variant, |i, offset| {
                let name = self.names.get(i);
                let rank = if offset == 0 {
                    if name.len() == variant.len() { 0 } else { 1 }
                } else if name.as_bytes()[offset - 1] == b' '
                    || (may_overlap && best[i] > 2 && starts_a_word(name, variant))
                {
                    2
                } else {
                    4
                };
                best[i] = best[i].min(rank);
            });
            if variant.contains(' ') {
                let longest = variant
                    .split(' ')
                    .max_by_key(|w| w.len())
                    .unwrap_or_default();
                self.names.occurrences(longest, |i, _| {
                    if best[i] > 3 && words_start_words(self.names.get(i), variant) {
                        best[i] = 3;
                    }
                });
            }
        }
        // Codes are sorted within each kind: a prefix is a contiguous range.
        if let Some(code) = query.code.as_deref() {
            for kind in CollectivityKind::ALL {
                let range = self.kind_ranges[kind.index()].clone();
                let slice = &self.entries[range.clone()];
                let first = slice.partition_point(|e| e.code.as_str() < code);
                for (i, e) in slice[first..].iter().enumerate() {
                    if !e.code.starts_with(code) {
                        break;
                    }
                    let rank = if e.code == code { 0 } else { 1 };
                    let i = range.start + first + i;
                    best[i] = best[i].min(rank);
                }
            }
        }
        // Sort key: rank, then population descending, then index (kind, then code).
        let mut hits: Vec<(u8, Reverse<i64>, u32)> = Vec::new();
        for (i, (&rank, entry)) in best.iter().zip(&self.entries).enumerate() {
            if rank != NO_MATCH && filter(entry) {
                hits.push((rank, Reverse(entry.population.unwrap_or(-1)), i as u32));
            }
        }
        if hits.len() > limit {
            hits.select_nth_unstable(limit - 1);
            hits.truncate(limit);
        }
        hits.sort_unstable();
        hits.into_iter()
            .map(|(_, _, i)| &self.entries[i as usize])
            .collect()
    }

    /// Entries whose normalized name equals `normalize(name)`, optionally restricted to a
    /// département (code or name, see [`Referential::resolve_departement`]). Several results
    /// mean the name is ambiguous; an unknown département gives no result.
    pub fn find_by_name(&self, name: &str, departement: Option<&str>) -> Vec<&Entry> {
        let wanted = normalize(name);
        if wanted.is_empty() {
            return Vec::new();
        }
        let departement = match departement.map(|d| self.resolve_departement(d)) {
            Some(None) => return Vec::new(),
            Some(Some(code)) => Some(code),
            None => None,
        };
        let key = |&i: &u32| self.names.get(i as usize);
        let start = self.by_name.partition_point(|i| key(i) < wanted.as_str());
        self.by_name[start..]
            .iter()
            .take_while(|i| key(i) == wanted)
            .map(|&i| &self.entries[i as usize])
            .filter(|e| departement.is_none() || e.departement.as_deref() == departement)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::referential::{CollectivityKind, get};

    fn codes(entries: &[&Entry]) -> Vec<String> {
        entries.iter().map(|e| e.code.clone()).collect()
    }

    #[test]
    fn normalize_folds_accents_case_separators_and_saint() {
        assert_eq!(normalize("Sainte-Foy-lès-Lyon"), "sainte foy les lyon");
        assert_eq!(normalize("  ste   FOY "), "sainte foy");
        assert_eq!(normalize("St-Étienne"), "saint etienne");
        assert_eq!(normalize("L’Haÿ-les-Roses"), "l hay les roses");
        assert_eq!(normalize("Œuilly"), "oeuilly");
        assert_eq!(normalize("Strasbourg"), "strasbourg");
    }

    #[test]
    fn search_saint_abbreviations() {
        let r = get();
        let hits = r.search("st etienne", 5);
        assert_eq!(hits[0].code, "42218", "{:?}", codes(&hits));
        let hits = r.search("ste foy", 10);
        assert!(hits.iter().any(|e| e.code == "69202"), "{:?}", codes(&hits));
        // A word still being typed keeps its literal meaning too.
        let hits = r.search("st", 5);
        assert!(
            hits.iter().any(|e| e.name == "Strasbourg"),
            "{:?}",
            codes(&hits)
        );
        assert!(
            r.search("st ", 5)
                .iter()
                .all(|e| e.name.starts_with("Saint"))
        );
    }

    #[test]
    fn search_ranks_exact_then_population() {
        let r = get();
        let hits = r.search("lyon", 10);
        assert_eq!(hits[0].code, "69123");
        assert!(hits.iter().any(|e| e.kind == CollectivityKind::Metropole));
        let hits = r.search("metropole de lyon", 3);
        assert_eq!(hits[0].name, "Métropole de Lyon");
        assert_eq!(r.search("SAINT-DENIS", 1)[0].code, "97411");
        assert!(r.search("", 10).is_empty());
        assert!(r.search("lyon", 0).is_empty());
    }

    #[test]
    fn search_by_code() {
        let r = get();
        assert_eq!(r.search("69123", 5)[0].name, "Lyon");
        assert_eq!(r.search("2a004", 5)[0].name, "Ajaccio");
        assert_eq!(r.search("200046977", 5)[0].name, "Métropole de Lyon");
        assert_eq!(r.search("691", 1)[0].name, "Lyon");
    }

    /// A referential of communes built from `(code, name, population)` rows.
    fn tiny(rows: &[(&str, &str, i64)]) -> Referential {
        use std::io::Write;
        let mut tsv = format!("{}\n", crate::referential::TSV_HEADER);
        for (code, name, population) in rows {
            tsv.push_str(&format!("commune\t{code}\t{name}\t01\t84\t{population}\n"));
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(tsv.as_bytes()).unwrap();
        crate::referential::decode(&gz.finish().unwrap()).unwrap()
    }

    #[test]
    fn search_ranks_and_sees_overlapping_word_starts() {
        // In "Xab-ab-ab" the scan first matches "ab ab" inside "xab ab", hiding the word-start
        // match that overlaps it; the word-start rank must still beat a larger population.
        let r = tiny(&[
            ("01001", "Zab ab", 900),
            ("01002", "Xab-ab-ab", 1),
            ("01003", "Ab Ab", 5),
        ]);
        let names: Vec<&str> = r
            .search("ab ab", 5)
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["Ab Ab", "Xab-ab-ab", "Zab ab"]);
        let r = tiny(&[
            ("01001", "Bourg", 10),
            ("01002", "Le Bourget", 5),
            ("01003", "Bourg", 20),
        ]);
        let codes: Vec<&str> = r
            .search("bourg", 5)
            .iter()
            .map(|e| e.code.as_str())
            .collect();
        assert_eq!(codes, ["01003", "01001", "01002"]);
    }

    #[test]
    fn search_with_filter() {
        let r = get();
        let hits = r.search_with("lyon", 5, |e| e.kind.is_epci());
        assert!(!hits.is_empty() && hits.iter().all(|e| e.kind.is_epci()));
    }

    #[test]
    fn find_by_name_with_and_without_departement() {
        let r = get();
        let in_93 = r.find_by_name("Saint-Denis", Some("93"));
        assert_eq!(codes(&in_93), ["93066"]);
        assert_eq!(
            codes(&r.find_by_name("saint denis", Some("Seine-Saint-Denis"))),
            ["93066"]
        );
        assert!(r.find_by_name("Saint-Denis", None).len() > 2);
        assert!(r.find_by_name("Saint-Denis", Some("nowhere")).is_empty());
        assert_eq!(
            codes(&r.find_by_name("ste foy les lyon", Some("rhone"))),
            ["69202"]
        );
    }

    #[test]
    #[ignore = "timing only; run with --release --ignored --nocapture"]
    fn search_timing() {
        let r = get();
        let queries = [
            "a",
            "st",
            "ste foy",
            "st etienne",
            "lyon",
            "communaute de",
            "69123",
            "ana",
        ];
        let mut worst: f64 = 0.0;
        for q in queries {
            let started = std::time::Instant::now();
            for _ in 0..100 {
                std::hint::black_box(r.search(q, 10));
            }
            let ms = started.elapsed().as_secs_f64() * 1000.0 / 100.0;
            worst = worst.max(ms);
            println!("search {q:?}: {ms:.3} ms");
        }
        println!("search: worst {worst:.3} ms per query");
    }
}
