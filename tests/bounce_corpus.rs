//! The bounce corpus relais ships (`tests/bounces/<format>/<name>.eml`, messages written for it): every
//! message is read as `tests/bounces/expected.tsv` says, and relais attributes at least as many permanent
//! failures as GNU Mailman's flufl.bounce, with none that flufl.bounce calls temporary.
//!
//! `cargo test --test bounce_corpus -- --nocapture` prints a table per format and the comparison.
//! `BOUNCE_CORPUS=/some/dir` reads another directory instead (e.g. flufl.bounce's own `tests/data`): every
//! file there is read with recipient None, the table and the comparison are printed, and expected.tsv is
//! not checked. The comparison needs `python3 -c 'import flufl.bounce'` (`.ci/run` installs it); without
//! it that test says it is skipped.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use relais::inbound::bounce_report::{BounceVerdict, Severity, read_bounce};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bounces")
}

/// The directory read: `BOUNCE_CORPUS` when set, else the shipped corpus.
fn corpus_dir() -> (PathBuf, bool) {
    match std::env::var_os("BOUNCE_CORPUS") {
        Some(dir) if !dir.is_empty() => (PathBuf::from(dir), true),
        _ => (shipped(), false),
    }
}

/// Every file under `dir` but the scripts and notes, relative with "/", sorted (as compare_flufl.py does).
fn corpus_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if name != "__pycache__" {
                    walk(root, &path, out);
                }
            } else if ![".py", ".pyc", ".tsv", ".md"]
                .iter()
                .any(|s| name.ends_with(s))
            {
                let relative = path.strip_prefix(root).unwrap_or(&path);
                out.push(
                    relative
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().to_string())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The format a file stands for: its directory, or for a flat corpus (flufl.bounce's `dsn_01.txt`) its
/// name up to "_".
fn format_of(path: &str) -> String {
    match path.split_once('/') {
        Some((dir, _)) => dir.to_string(),
        None => path.split(['_', '.']).next().unwrap_or(path).to_string(),
    }
}

struct Expected {
    severity: Severity,
    recipient: Option<String>,
}

fn expected() -> BTreeMap<String, Expected> {
    let text = std::fs::read_to_string(shipped().join("expected.tsv"))
        .expect("tests/bounces/expected.tsv");
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            fields.len(),
            3,
            "expected.tsv line {}: path<TAB>severity<TAB>recipient",
            n + 1
        );
        let severity = match fields[1] {
            "permanent" => Severity::Permanent,
            "temporary" => Severity::Temporary,
            "ignore" => Severity::Ignore,
            other => panic!("expected.tsv line {}: unknown severity {other}", n + 1),
        };
        let recipient = (fields[2] != "-").then(|| fields[2].to_string());
        assert!(
            out.insert(
                fields[0].to_string(),
                Expected {
                    severity,
                    recipient
                }
            )
            .is_none(),
            "expected.tsv lists {} twice",
            fields[0]
        );
    }
    out
}

fn read(dir: &Path, path: &str, recipient: Option<&str>) -> BounceVerdict {
    let raw = std::fs::read(dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    read_bounce(&raw, recipient)
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Permanent => "permanent",
        Severity::Temporary => "temporary",
        Severity::Ignore => "ignore",
    }
}

#[derive(Default)]
struct Row {
    files: usize,
    permanent: usize,
    temporary: usize,
    ignored: usize,
}

fn print_table(title: &str, verdicts: &[(String, BounceVerdict)]) {
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for (path, verdict) in verdicts {
        let row = rows.entry(format_of(path)).or_default();
        row.files += 1;
        match verdict.severity {
            Severity::Permanent => row.permanent += 1,
            Severity::Temporary => row.temporary += 1,
            Severity::Ignore => row.ignored += 1,
        }
    }
    println!("\n{title}\n");
    println!("| format | files | permanent | temporary | ignored |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut total = Row::default();
    for (format, row) in &rows {
        println!(
            "| {format} | {} | {} | {} | {} |",
            row.files, row.permanent, row.temporary, row.ignored
        );
        total.files += row.files;
        total.permanent += row.permanent;
        total.temporary += row.temporary;
        total.ignored += row.ignored;
    }
    println!(
        "| **total** | {} | {} | {} | {} |",
        total.files, total.permanent, total.temporary, total.ignored
    );
}

#[test]
fn corpus_reads_as_expected() {
    let (dir, external) = corpus_dir();
    let files = corpus_files(&dir);
    assert!(!files.is_empty(), "no file in {}", dir.display());
    if external {
        let verdicts: Vec<(String, BounceVerdict)> = files
            .iter()
            .map(|p| (p.clone(), read(&dir, p, None)))
            .collect();
        for (path, v) in &verdicts {
            println!(
                "{path}\t{}\t{}\t{}\t{}",
                severity_name(v.severity),
                v.format,
                v.status,
                v.recipients.join(",")
            );
        }
        print_table(
            &format!("relais on {} (recipient None)", dir.display()),
            &verdicts,
        );
        return;
    }
    let expected = expected();
    let mut failures = Vec::new();
    for path in &files {
        if !expected.contains_key(path) {
            failures.push(format!("{path}: not in expected.tsv"));
        }
    }
    for path in expected.keys() {
        if !files.contains(path) {
            failures.push(format!("{path}: listed in expected.tsv, no such file"));
        }
    }
    let mut verdicts = Vec::new();
    for (path, want) in &expected {
        if !files.contains(path) {
            continue;
        }
        let verdict = read(&dir, path, want.recipient.as_deref());
        if verdict.severity != want.severity {
            failures.push(format!(
                "{path}: {} expected, read {} ({verdict:?})",
                severity_name(want.severity),
                severity_name(verdict.severity)
            ));
        } else if want.severity == Severity::Permanent
            && let Some(recipient) = &want.recipient
            && !verdict.recipients.contains(&recipient.to_lowercase())
        {
            failures.push(format!(
                "{path}: permanent, but {recipient} is not among {:?}",
                verdict.recipients
            ));
        }
        verdicts.push((path.clone(), verdict));
    }
    print_table(
        "relais on tests/bounces (with the VERP recipient of expected.tsv)",
        &verdicts,
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

struct Flufl {
    permanent: Vec<String>,
    temporary: Vec<String>,
}

/// flufl.bounce's reading of every file of `dir`, or why it cannot be had.
fn flufl(dir: &Path) -> Result<HashMap<String, Flufl>, String> {
    let import = Command::new("python3")
        .args(["-c", "import flufl.bounce"])
        .output()
        .map_err(|e| format!("python3 does not run: {e}"))?;
    if !import.status.success() {
        return Err(format!(
            "python3 cannot import flufl.bounce ({}); `pip install flufl.bounce==6.0.0` (.ci/run does)",
            String::from_utf8_lossy(&import.stderr)
                .trim()
                .lines()
                .last()
                .unwrap_or_default()
        ));
    }
    let out = Command::new("python3")
        .arg(shipped().join("compare_flufl.py"))
        .arg(dir)
        .output()
        .map_err(|e| format!("compare_flufl.py does not run: {e}"))?;
    assert!(
        out.status.success(),
        "compare_flufl.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut result = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let list = |key: &str| -> Vec<String> {
            value[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_lowercase))
                        .collect()
                })
                .unwrap_or_default()
        };
        let path = value["path"].as_str().expect("path").to_string();
        if let Some(error) = value["error"].as_str() {
            println!("flufl.bounce failed on {path} (counted as finding nothing): {error}");
        }
        result.insert(
            path,
            Flufl {
                permanent: list("permanent"),
                temporary: list("temporary"),
            },
        );
    }
    Ok(result)
}

#[test]
fn at_least_as_many_permanent_failures_as_flufl_bounce() {
    let (dir, external) = corpus_dir();
    let flufl = match flufl(&dir) {
        Ok(flufl) => flufl,
        Err(why) => {
            println!("comparison with flufl.bounce skipped: {why}");
            return;
        }
    };
    let recipients: BTreeMap<String, Option<String>> = if external {
        BTreeMap::new()
    } else {
        expected()
            .into_iter()
            .map(|(p, e)| (p, e.recipient))
            .collect()
    };
    let files = corpus_files(&dir);
    let mut flufl_permanent = 0;
    let mut flufl_temporary_only = 0;
    let mut relais_permanent = 0;
    let mut relais_temporary = 0;
    let mut same_addresses = 0;
    let mut only_flufl = Vec::new();
    let mut other_addresses = Vec::new();
    let mut only_relais = Vec::new();
    let mut temporary_made_permanent = Vec::new();
    for path in &files {
        let Some(theirs) = flufl.get(path) else {
            panic!("compare_flufl.py did not read {path}");
        };
        let recipient = recipients.get(path).cloned().flatten();
        let ours = read(&dir, path, recipient.as_deref());
        let flufl_says_permanent = !theirs.permanent.is_empty();
        let flufl_says_temporary_only = theirs.permanent.is_empty() && !theirs.temporary.is_empty();
        let relais_says_permanent = ours.severity == Severity::Permanent;
        flufl_permanent += usize::from(flufl_says_permanent);
        flufl_temporary_only += usize::from(flufl_says_temporary_only);
        relais_permanent += usize::from(relais_says_permanent);
        relais_temporary += usize::from(ours.severity == Severity::Temporary);
        if flufl_says_permanent && relais_says_permanent {
            if theirs.permanent.iter().all(|a| ours.recipients.contains(a)) {
                same_addresses += 1;
            } else {
                other_addresses.push(format!(
                    "{path}: flufl.bounce {:?}, relais {:?}",
                    theirs.permanent, ours.recipients
                ));
            }
        } else if flufl_says_permanent {
            only_flufl.push(format!(
                "{path}: flufl.bounce {:?}, relais {} ({}) {:?}",
                theirs.permanent,
                severity_name(ours.severity),
                ours.format,
                ours.recipients
            ));
        } else if relais_says_permanent {
            only_relais.push(format!(
                "{path}: relais {} {} {:?}, flufl.bounce temporary {:?}",
                ours.format, ours.status, ours.recipients, theirs.temporary
            ));
        }
        if flufl_says_temporary_only && relais_says_permanent {
            temporary_made_permanent.push(format!("{path}: {ours:?}"));
        }
    }
    println!("\nflufl.bounce and relais on {}\n", dir.display());
    println!("| | flufl.bounce | relais |");
    println!("| --- | ---: | ---: |");
    println!("| files | {} | {} |", files.len(), files.len());
    println!("| files with a permanent failure | {flufl_permanent} | {relais_permanent} |");
    println!(
        "| files with only temporary failures (flufl) / read Temporary (relais) | {flufl_temporary_only} | {relais_temporary} |"
    );
    println!(
        "| flufl's temporary-only files read Permanent by relais | | {} |",
        temporary_made_permanent.len()
    );
    println!(
        "| permanent for both, relais naming every address flufl names | | {same_addresses} |"
    );
    for line in &only_flufl {
        println!("only flufl.bounce: {line}");
    }
    for line in &other_addresses {
        println!("other addresses: {line}");
    }
    for line in &only_relais {
        println!("only relais: {line}");
    }
    assert!(
        temporary_made_permanent.is_empty(),
        "relais reads as permanent what flufl.bounce calls temporary:\n{}",
        temporary_made_permanent.join("\n")
    );
    assert!(
        relais_permanent >= flufl_permanent,
        "relais finds permanent failures in {relais_permanent} files, flufl.bounce in {flufl_permanent}"
    );
}
