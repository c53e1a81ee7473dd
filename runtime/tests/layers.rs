//! The runtime is built in levels, each importing only from the levels
//! below it (ARCHITECTURE.md, "Levels"), and nothing below `http` names
//! axum. This test reads every source file's tokens and fails on the first
//! reference that points upwards, naming the file and the item.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// The level of each top-level module (`src/<name>.rs` or `src/<name>/`).
const LEVELS: &[(&str, u8)] = &[
    ("model", 0),
    ("app_spec", 0),
    ("config", 0),
    ("naming", 0),
    ("patch", 0),
    ("metrics", 0),
    ("db", 1),
    ("report", 1),
    ("shared", 1),
    ("repo", 2),
    ("audit", 2),
    ("tenant", 2),
    ("rbac", 2),
    ("ratelimit", 2),
    ("jobs", 2),
    ("webhooks", 2),
    ("usage", 2),
    ("quota", 2),
    ("erasure", 2),
    ("auth", 3),
    ("mail", 3),
    ("operator", 3),
    ("http", 4),
    ("cli", 5),
];

/// The first level that may name axum.
const AXUM_FROM: u8 = 4;

fn level(module: &str) -> Option<u8> {
    LEVELS.iter().find(|(name, _)| *name == module).map(|(_, level)| *level)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules `tokens` names as `crate::<module>` (also inside
/// `use crate::{a, b::c}` groups), and whether it names `axum`.
fn references(tokens: TokenStream, modules: &mut Vec<String>, axum: &mut bool) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, token) in tokens.iter().enumerate() {
        match token {
            TokenTree::Group(group) => references(group.stream(), modules, axum),
            TokenTree::Ident(ident) if ident == "axum" => *axum = true,
            TokenTree::Ident(ident) if ident == "crate" => {
                let colons = matches!(
                    (tokens.get(i + 1), tokens.get(i + 2)),
                    (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) if a.as_char() == ':' && b.as_char() == ':'
                );
                match tokens.get(i + 3) {
                    Some(TokenTree::Ident(next)) if colons => modules.push(next.to_string()),
                    Some(TokenTree::Group(group)) if colons && group.delimiter() == Delimiter::Brace => {
                        // `crate::{a, b::c}`: the first ident after each comma.
                        let mut first = true;
                        for inner in group.stream() {
                            match inner {
                                TokenTree::Ident(ident) if first => {
                                    modules.push(ident.to_string());
                                    first = false;
                                }
                                TokenTree::Punct(p) if p.as_char() == ',' => first = true,
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

#[test]
fn no_module_imports_from_a_higher_level() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    assert!(
        files.len() > 20,
        "found only {} source files under {}",
        files.len(),
        src.display()
    );
    let mut violations = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy();
        let top = top.trim_end_matches(".rs");
        if top == "lib" {
            // The facade re-exports from every level.
            continue;
        }
        let own = level(top).unwrap_or_else(|| panic!("{}: module `{top}` has no level in LEVELS", rel.display()));
        let text = std::fs::read_to_string(file).unwrap();
        let tokens = TokenStream::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        let (mut modules, mut axum) = (Vec::new(), false);
        references(tokens, &mut modules, &mut axum);
        // Doc comments are string tokens: an intra-doc link upwards
        // (`[x](crate::http::X)`) is a dependency of the docs all the same.
        modules.extend(doc_links(&text));
        for module in modules {
            // Items of the crate root (`crate::TenantId`) are the facade's
            // re-exports of level-0 items.
            let Some(theirs) = level(&module) else {
                continue;
            };
            if theirs > own {
                violations.push(format!(
                    "{} (level {own}) imports crate::{module} (level {theirs})",
                    rel.display()
                ));
            }
        }
        if axum && own < AXUM_FROM {
            violations.push(format!(
                "{} (level {own}) names axum, which only levels {AXUM_FROM}+ may",
                rel.display()
            ));
        }
    }
    violations.dedup();
    assert!(violations.is_empty(), "upward imports:\n  {}", violations.join("\n  "));
}

/// The modules `crate::<module>` named in `text`'s doc comments.
fn doc_links(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("///") || l.starts_with("//!"))
        .flat_map(|l| l.match_indices("crate::").map(move |(i, _)| &l[i + 7..]))
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn the_scanner_sees_doc_links() {
    assert_eq!(
        doc_links("/// see [`record`](crate::audit::record)\nlet x = 1; // crate::http"),
        ["audit"]
    );
}

#[test]
fn the_scanner_sees_grouped_and_nested_references() {
    let tokens = TokenStream::from_str(
        "use crate::{db::Db, http::{self, AppState}}; fn f() { crate::cli::run(); axum::serve(); }",
    )
    .unwrap();
    let (mut modules, mut axum) = (Vec::new(), false);
    references(tokens, &mut modules, &mut axum);
    assert_eq!(modules, ["db", "http", "cli"]);
    assert!(axum);
}
