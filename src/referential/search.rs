//! Name normalization, type-ahead search and exact-name matching over the referential.
//!
//! Everything compares normalized names (see [`normalize`]): ASCII lower case, accents removed,
//! hyphens/apostrophes/spaces folded into single spaces, "st"/"ste" expanded to "saint"/"sainte".
//! The names of all entries are normalized once when the referential is decoded, so a search is a
//! plain scan of ~37,000 short strings without allocation.

use std::cmp::Reverse;

use super::{Entry, Referential};

/// Normalizes a name for comparison: "Sainte-Foy-lès-Lyon" and "ste foy les lyon" both give
/// "sainte foy les lyon"; "L'Haÿ-les-Roses" gives "l hay les roses".
pub fn normalize(s: &str) -> String {
    normalize_with(s, true)
}

/// `expand_saint` is false only to recover what the user literally typed (see [`Query::new`]).
fn normalize_with(s: &str, expand_saint: bool) -> String {
    // Transliterate first so that "œ" becomes "oe" and "’" becomes a separator.
    let mut flat = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_ascii() {
            flat.push(c);
        } else if let Some(ascii) = deunicode::deunicode_char(c) {
            flat.push_str(ascii);
        }
    }
    let mut out = String::with_capacity(flat.len());
    for word in flat
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        if expand_saint && word.eq_ignore_ascii_case("st") {
            out.push_str("saint");
        } else if expand_saint && word.eq_ignore_ascii_case("ste") {
            out.push_str("sainte");
        } else {
            out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        }
    }
    out
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
            let literal = normalize_with(raw, false);
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

    fn is_empty(&self) -> bool {
        self.variants.is_empty() && self.code.is_none()
    }

    fn rank(&self, entry: &Entry, normalized: &str) -> Option<u8> {
        let by_code = self.code.as_deref().and_then(|code| {
            if entry.code == code {
                Some(0)
            } else {
                entry.code.starts_with(code).then_some(1)
            }
        });
        let by_name = self
            .variants
            .iter()
            .filter_map(|q| rank_name(normalized, q))
            .min();
        by_code.into_iter().chain(by_name).min()
    }
}

fn rank_name(name: &str, query: &str) -> Option<u8> {
    let mut words = query.split(' ');
    let first = words.next().unwrap_or_default();
    // Every rank requires the first query word somewhere in the name: cheap early rejection.
    if !name.contains(first) {
        return None;
    }
    if name == query {
        return Some(0);
    }
    if name.starts_with(query) {
        return Some(1);
    }
    let at_word_start = |(pos, _): (usize, &str)| pos == 0 || name.as_bytes()[pos - 1] == b' ';
    if name.match_indices(query).any(at_word_start) {
        return Some(2);
    }
    let starts_a_word = |w: &str| name.split(' ').any(|n| n.starts_with(w));
    if query.contains(' ') && query.split(' ').all(starts_a_word) {
        return Some(3);
    }
    name.contains(query).then_some(4)
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
        if limit == 0 || query.is_empty() {
            return Vec::new();
        }
        // Sort key: rank, then population descending, then index (kind, then code).
        let mut hits: Vec<(u8, Reverse<i64>, u32)> = Vec::new();
        for (i, (entry, normalized)) in self.entries.iter().zip(&self.normalized).enumerate() {
            if let Some(rank) = query.rank(entry, normalized)
                && filter(entry)
            {
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
        let key = |&i: &u32| self.normalized[i as usize].as_str();
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
        assert!(hits.iter().any(|e| e.name == "Strasbourg"), "{:?}", codes(&hits));
        assert!(r.search("st ", 5).iter().all(|e| e.name.starts_with("Saint")));
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
        assert_eq!(codes(&r.find_by_name("saint denis", Some("Seine-Saint-Denis"))), ["93066"]);
        assert!(r.find_by_name("Saint-Denis", None).len() > 2);
        assert!(r.find_by_name("Saint-Denis", Some("nowhere")).is_empty());
        assert_eq!(codes(&r.find_by_name("ste foy les lyon", Some("rhone"))), ["69202"]);
    }

    #[test]
    #[ignore = "timing only; run with --release --ignored --nocapture"]
    fn search_timing() {
        let r = get();
        let queries = ["st etienne", "lyon", "a", "ste foy", "69123", "communaute", "mar"];
        let started = std::time::Instant::now();
        for q in queries.iter().cycle().take(700) {
            std::hint::black_box(r.search(q, 10));
        }
        let per_query = started.elapsed().as_secs_f64() * 1000.0 / 700.0;
        println!("search: {per_query:.3} ms per query");
    }
}
