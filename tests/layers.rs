//! The layers of `src/` point one way: the domain and settings know nothing above them, the store knows
//! only them, mail builds on the store, inbound mail, federation and the import on mail and the store, the
//! web on all of these, and the command line on everything. A `crate::…` path that points up is a failure
//! naming the file and the line, so a circle cannot come back unnoticed.

use std::path::{Path, PathBuf};

/// The layer of a top-level module of `src/`, lowest first.
fn layer_of(module: &str) -> Option<u8> {
    Some(match module {
        "clock" | "french" | "security" | "referential" | "domain" | "config" => 0,
        "store" => 1,
        "export" | "demo" | "mail" => 2,
        // federation turns received activities into records of the store, as inbound does with mail.
        "inbound" | "import" | "scheduler" | "federation" => 3,
        "web" => 4,
        "app" | "cli" | "lib" | "main" | "build" => 5,
        _ => return None,
    })
}

fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The top-level modules a line of code names through `crate::` (comments left out).
fn named_modules(line: &str) -> Vec<String> {
    let code = line.trim_start();
    if code.starts_with("//") {
        return Vec::new();
    }
    let mut named = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::c}`: every first segment of the group.
            let inside = group.split('}').next().unwrap_or_default();
            named.extend(inside.split(',').map(|part| {
                part.trim()
                    .split("::")
                    .next()
                    .unwrap_or_default()
                    .to_string()
            }));
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            named.push(name);
        }
    }
    named
}

#[test]
fn no_module_names_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 50, "the sources were found: {}", files.len());
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let own =
            layer_of(&top).unwrap_or_else(|| panic!("{top} has no layer: add it to layer_of"));
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for module in named_modules(line) {
                if let Some(layer) = layer_of(&module)
                    && layer > own
                {
                    upward.push(format!(
                        "src/{}:{}: `{top}` names `crate::{module}`",
                        relative.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "paths pointing up a layer:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_scan_sees_paths_in_groups_and_skips_comments() {
    assert_eq!(
        named_modules("use crate::{mail, store::Store};"),
        ["mail", "store"]
    );
    assert_eq!(
        named_modules("    let x = crate::web::view::f(crate::french::g());"),
        ["web", "french"]
    );
    assert!(named_modules("/// See [`crate::web::x`].").is_empty());
}
