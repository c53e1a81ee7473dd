//! The runtime's public surface, listed from the sources and compared with
//! `runtime/public-api.txt`, so that every change of the surface shows in
//! review. After a deliberate change, rewrite the listing:
//!
//! ```sh
//! ROOKERY_BLESS=1 cargo nextest run -p rookery --features testing --test public_api
//! ```
//!
//! Listed: every `pub` item of every `pub` module reachable from `lib.rs`
//! (re-exports as `name = path`), and the `pub` methods of inherent
//! `impl` blocks. Items behind `cfg(feature = "testing")` are marked
//! `[testing]`, `#[doc(hidden)]` ones `[hidden]`; `cfg(test)` code is left out.

use std::path::{Path, PathBuf};

use syn::{Attribute, ImplItem, Item, UseTree, Visibility};

fn is_pub(vis: &Visibility) -> bool {
    matches!(vis, Visibility::Public(_))
}

fn has_cfg(attrs: &[Attribute], needle: &str) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string().contains(needle))
    })
}

fn doc_hidden(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("doc") && a.meta.require_list().is_ok_and(|l| l.tokens.to_string() == "hidden"))
}

fn path_attr(attrs: &[Attribute]) -> Option<String> {
    attrs
        .iter()
        .find(|a| a.path().is_ident("path"))
        .and_then(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
}

struct Lister {
    lines: Vec<String>,
    /// Inherent `pub fn`s of every module, public or not: `(type, method, marks)`.
    methods: Vec<(String, String, String)>,
}

impl Lister {
    fn push(&mut self, path: &str, what: &str, marks: &str) {
        self.lines.push(format!("{what} {path}{marks}"));
    }

    fn uses(&mut self, prefix: &str, tree: &UseTree, from: String, marks: &str) {
        match tree {
            UseTree::Path(p) => {
                let from = if from.is_empty() {
                    p.ident.to_string()
                } else {
                    format!("{from}::{}", p.ident)
                };
                self.uses(prefix, &p.tree, from, marks);
            }
            UseTree::Name(n) => {
                let name = n.ident.to_string();
                let target = if from.is_empty() {
                    name.clone()
                } else {
                    format!("{from}::{name}")
                };
                self.push(&format!("{prefix}::{name} = {target}"), "use", marks);
            }
            UseTree::Rename(r) => {
                let target = format!("{from}::{}", r.ident);
                self.push(&format!("{prefix}::{} = {target}", r.rename), "use", marks);
            }
            UseTree::Glob(_) => self.push(&format!("{prefix}::* = {from}::*"), "use", marks),
            UseTree::Group(g) => {
                for t in &g.items {
                    self.uses(prefix, t, from.clone(), marks);
                }
            }
        }
    }

    /// The items of module `prefix`, whose file is `file` (children of a
    /// file module live in `dir`).
    fn items(&mut self, prefix: &str, items: &[Item], dir: &Path, inherited: &str) {
        for item in items {
            let attrs: &[Attribute] = match item {
                Item::Const(i) => &i.attrs,
                Item::Enum(i) => &i.attrs,
                Item::Fn(i) => &i.attrs,
                Item::Impl(i) => &i.attrs,
                Item::Mod(i) => &i.attrs,
                Item::Static(i) => &i.attrs,
                Item::Struct(i) => &i.attrs,
                Item::Trait(i) => &i.attrs,
                Item::Type(i) => &i.attrs,
                Item::Use(i) => &i.attrs,
                Item::Macro(i) => &i.attrs,
                _ => continue,
            };
            if has_cfg(attrs, "test") && !has_cfg(attrs, "feature") {
                continue;
            }
            let mut marks = inherited.to_owned();
            if has_cfg(attrs, "\"testing\"") && !marks.contains("[testing]") {
                marks.push_str(" [testing]");
            }
            if doc_hidden(attrs) && !marks.contains("[hidden]") {
                marks.push_str(" [hidden]");
            }
            let named = |kind: &str, vis: &Visibility, ident: &syn::Ident| {
                is_pub(vis).then(|| (kind.to_owned(), format!("{prefix}::{ident}")))
            };
            let entry = match item {
                Item::Const(i) => named("const", &i.vis, &i.ident),
                Item::Enum(i) => named("enum", &i.vis, &i.ident),
                Item::Fn(i) => named("fn", &i.vis, &i.sig.ident),
                Item::Static(i) => named("static", &i.vis, &i.ident),
                Item::Struct(i) => named("struct", &i.vis, &i.ident),
                Item::Trait(i) => named("trait", &i.vis, &i.ident),
                Item::Type(i) => named("type", &i.vis, &i.ident),
                Item::Macro(i) if i.attrs.iter().any(|a| a.path().is_ident("macro_export")) => i
                    .ident
                    .as_ref()
                    .map(|id| ("macro".to_owned(), format!("rookery::{id}"))),
                _ => None,
            };
            if let Some((kind, path)) = entry {
                self.push(&path, &kind, &marks);
            }
            match item {
                Item::Use(u) if is_pub(&u.vis) => self.uses(prefix, &u.tree, String::new(), &marks),
                Item::Mod(m) if is_pub(&m.vis) => {
                    let path = format!("{prefix}::{}", m.ident);
                    self.push(&path, "mod", &marks);
                    match &m.content {
                        Some((_, inner)) => self.items(&path, inner, &dir.join(m.ident.to_string()), &marks),
                        None => {
                            let (file, child_dir) = module_file(dir, &m.ident.to_string(), path_attr(&m.attrs));
                            let ast = syn::parse_file(&std::fs::read_to_string(&file).unwrap())
                                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                            self.items(&path, &ast.items, &child_dir, &marks);
                        }
                    }
                }
                Item::Mod(m) if m.content.is_none() && !has_cfg(&m.attrs, "test") => {
                    // A private module: only its inherent methods matter,
                    // for the types re-exported from it.
                    let (file, child_dir) = module_file(dir, &m.ident.to_string(), path_attr(&m.attrs));
                    if let Ok(text) = std::fs::read_to_string(&file) {
                        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                        let mut inner = Lister {
                            lines: Vec::new(),
                            methods: Vec::new(),
                        };
                        inner.items(&format!("{prefix}::{}", m.ident), &ast.items, &child_dir, &marks);
                        self.methods.append(&mut inner.methods);
                    }
                }
                Item::Impl(i) if i.trait_.is_none() => {
                    let syn::Type::Path(ty) = &*i.self_ty else { continue };
                    let Some(last) = ty.path.segments.last() else { continue };
                    for member in &i.items {
                        if let ImplItem::Fn(f) = member
                            && is_pub(&f.vis)
                        {
                            let mut marks = marks.clone();
                            if has_cfg(&f.attrs, "\"testing\"") && !marks.contains("[testing]") {
                                marks.push_str(" [testing]");
                            }
                            self.methods
                                .push((last.ident.to_string(), f.sig.ident.to_string(), marks));
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// The file of module `name` declared in a file whose children live in
/// `dir`, and the folder of its own children.
fn module_file(dir: &Path, name: &str, path: Option<String>) -> (PathBuf, PathBuf) {
    if let Some(path) = path {
        let file = dir.parent().unwrap_or(dir).join(path);
        return (file.clone(), file.with_extension(""));
    }
    let flat = dir.join(format!("{name}.rs"));
    if flat.exists() {
        (flat, dir.join(name))
    } else {
        (dir.join(name).join("mod.rs"), dir.join(name))
    }
}

fn listing() -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = syn::parse_file(&std::fs::read_to_string(src.join("lib.rs")).unwrap()).unwrap();
    let mut lister = Lister {
        lines: Vec::new(),
        methods: Vec::new(),
    };
    lister.items("rookery", &lib.items, &src, "");
    lister.attach_methods();
    lister.lines.sort();
    lister.lines.dedup();
    lister.lines.join("\n") + "\n"
}

impl Lister {
    /// Lists each collected method under every public path of its type
    /// (the type itself, or a re-export of it).
    fn attach_methods(&mut self) {
        let mut types: Vec<(String, String)> = Vec::new();
        for line in &self.lines {
            let mut words = line.split_whitespace();
            let (Some(kind), Some(path)) = (words.next(), words.next()) else {
                continue;
            };
            let name = path.rsplit("::").next().unwrap_or(path).to_owned();
            match kind {
                "struct" | "enum" => types.push((name, path.to_owned())),
                "use" => {
                    // `use <path> = <target>`: the name it is known by.
                    let target = line.split(" = ").nth(1).unwrap_or("");
                    let target = target.split_whitespace().next().unwrap_or("");
                    let original = target.rsplit("::").next().unwrap_or(target).to_owned();
                    if original.starts_with(char::is_uppercase) {
                        types.push((original, path.to_owned()));
                    }
                }
                _ => {}
            }
        }
        for (ty, method, marks) in std::mem::take(&mut self.methods) {
            for (name, path) in &types {
                if *name == ty {
                    self.lines.push(format!("fn {path}::{method}{marks}"));
                }
            }
        }
    }
}

#[test]
fn the_public_api_is_the_listed_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("public-api.txt");
    let now = listing();
    if std::env::var_os("ROOKERY_BLESS").is_some() {
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let listed = std::fs::read_to_string(&path).unwrap_or_default();
    if listed != now {
        let old: Vec<&str> = listed.lines().collect();
        let new: Vec<&str> = now.lines().collect();
        let gone: Vec<&&str> = old.iter().filter(|l| !new.contains(l)).collect();
        let added: Vec<&&str> = new.iter().filter(|l| !old.contains(l)).collect();
        panic!(
            "the public API changed; if that is meant, run\n  ROOKERY_BLESS=1 cargo nextest run -p rookery --features testing --test public_api\n\
             and commit runtime/public-api.txt.\nremoved:\n  {}\nadded:\n  {}",
            gone.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n  "),
            added.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n  ")
        );
    }
}

#[test]
fn the_lister_sees_modules_reexports_and_methods() {
    let file: syn::File = syn::parse_str(
        "pub mod a { pub struct S; impl S { pub fn f(&self) {} fn g() {} } pub(crate) fn h() {} }
         pub use a::{S, S as T}; #[cfg(feature = \"testing\")] pub fn t() {} #[cfg(test)] mod tests {}",
    )
    .unwrap();
    let mut lister = Lister {
        lines: Vec::new(),
        methods: Vec::new(),
    };
    lister.items("rookery", &file.items, Path::new("/nonexistent"), "");
    lister.attach_methods();
    lister.lines.sort();
    assert_eq!(
        lister.lines,
        [
            "fn rookery::S::f",
            "fn rookery::T::f",
            "fn rookery::a::S::f",
            "fn rookery::t [testing]",
            "mod rookery::a",
            "struct rookery::a::S",
            "use rookery::S = a::S",
            "use rookery::T = a::S",
        ]
    );
}
