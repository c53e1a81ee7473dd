//! Writing a generation: compare the files produced in memory with the
//! project, then stage the changed ones in a temporary folder inside the
//! project and rename them into place. Files under `src/generated/` that carry
//! the `@generated` header and are no longer produced are deleted; a file
//! without the header is never touched.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::render::HEADER_PREFIX;

/// The folder the generator owns.
pub const GENERATED_DIR: &str = "src/generated";

/// What happens to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new file.
    Create,
    /// An existing file gets new contents.
    Update,
    /// A generated file no longer produced.
    Delete,
}

impl Change {
    /// `+`, `~` or `-`.
    pub fn sign(self) -> char {
        match self {
            Self::Create => '+',
            Self::Update => '~',
            Self::Delete => '-',
        }
    }
}

/// One file to write or delete.
#[derive(Debug, Clone)]
pub struct FileChange {
    /// Path relative to the project, with `/`.
    pub path: String,
    /// What happens.
    pub change: Change,
    /// New contents (`None` for deletions).
    pub contents: Option<String>,
}

fn is_generated(text: &str) -> bool {
    text.starts_with(HEADER_PREFIX)
}

/// Compares the produced files with the project. `files` are (relative
/// path, contents); `.rs` files under `src/generated/` must carry the header.
pub fn changes(project: &Path, files: &[(String, String)]) -> Result<Vec<FileChange>> {
    let mut out = Vec::new();
    let mut conflicts = Vec::new();
    for (path, contents) in files {
        let full = project.join(path);
        match std::fs::read(&full) {
            Ok(existing) => {
                if existing == contents.as_bytes() {
                    continue;
                }
                let owned = !path.starts_with(GENERATED_DIR) || is_generated(&String::from_utf8_lossy(&existing));
                if !owned {
                    conflicts.push(path.clone());
                    continue;
                }
                if path.starts_with("migrations/") && path.ends_with(".sql") {
                    bail!("{path} already exists with other contents; migrations are never rewritten");
                }
                out.push(FileChange {
                    path: path.clone(),
                    change: Change::Update,
                    contents: Some(contents.clone()),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.push(FileChange {
                    path: path.clone(),
                    change: Change::Create,
                    contents: Some(contents.clone()),
                });
            }
            Err(e) => return Err(e).with_context(|| format!("reading {path}")),
        }
    }
    if !conflicts.is_empty() {
        bail!(
            "refusing to overwrite hand-written files (they lack the `{HEADER_PREFIX}` header): {}\nmove them out of {GENERATED_DIR}/ and run again",
            conflicts.join(", ")
        );
    }
    // Stale generated files.
    let dir = project.join(GENERATED_DIR);
    let mut existing = Vec::new();
    if dir.is_dir() {
        walk(&dir, &mut existing)?;
    }
    existing.sort();
    for full in existing {
        let rel = rel_path(project, &full);
        if files.iter().any(|(p, _)| *p == rel) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&full) else {
            continue;
        };
        if is_generated(&text) {
            out.push(FileChange {
                path: rel,
                change: Change::Delete,
                contents: None,
            });
        }
    }
    Ok(out)
}

fn rel_path(project: &Path, full: &Path) -> String {
    full.strip_prefix(project)
        .unwrap_or(full)
        .to_string_lossy()
        .replace('\\', "/")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Applies the changes: every new file is first written to a staging folder
/// inside the project, then renamed into place, so a failure while writing
/// leaves the project as it was.
pub fn apply(project: &Path, changes: &[FileChange]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let staging = project.join(format!(".rookery-staging-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    }
    let result = stage_and_move(project, &staging, changes);
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn stage_and_move(project: &Path, staging: &Path, changes: &[FileChange]) -> Result<()> {
    for c in changes {
        if let Some(contents) = &c.contents {
            let tmp = staging.join(&c.path);
            std::fs::create_dir_all(tmp.parent().expect("a file has a parent"))
                .with_context(|| format!("creating {}", staging.display()))?;
            std::fs::write(&tmp, contents).with_context(|| format!("writing {}", tmp.display()))?;
        }
    }
    for c in changes {
        let dest = project.join(&c.path);
        match c.change {
            Change::Create | Change::Update => {
                std::fs::create_dir_all(dest.parent().expect("a file has a parent"))
                    .with_context(|| format!("creating the folder of {}", c.path))?;
                std::fs::rename(staging.join(&c.path), &dest)
                    .with_context(|| format!("moving {} into place", c.path))?;
            }
            Change::Delete => {
                std::fs::remove_file(&dest).with_context(|| format!("deleting {}", c.path))?;
                // Drop folders left empty inside src/generated.
                let root = project.join(GENERATED_DIR);
                let mut dir = dest.parent().map(Path::to_path_buf);
                while let Some(d) = dir {
                    if d == root || !d.starts_with(&root) || std::fs::remove_dir(&d).is_err() {
                        break;
                    }
                    dir = d.parent().map(Path::to_path_buf);
                }
            }
        }
    }
    Ok(())
}
