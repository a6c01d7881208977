//! The vector checker: reads tandem's known-answer files and checks every case against the
//! `tandem` crate.
//!
//! # File format (restated from `test-vectors/README.md`)
//!
//! A file is one JSON object `{ "kind", "source", "description"?, "cases": [...] }`. Each case
//! has a unique `id`, optional `comment`, `expect` (`"valid"` or `"invalid"`), for invalid cases
//! an `error` naming the typed error tandem must return, and the fields of its kind, with byte
//! strings in hex. Unknown fields and unknown kinds are parse failures. The kinds and their
//! fields are documented in [`kinds`].

pub mod file;
pub mod generate;
pub mod generate_app_state;
pub mod kinds;
mod recorder;

use std::path::{Path, PathBuf};

pub use file::{Case, Expect, VectorFile};

/// The outcome of checking one or more vector files.
#[derive(Debug, Default)]
pub struct Report {
    /// Cases that behaved as the file says.
    pub passed: usize,
    /// Cases that did not, plus files that could not be read or parsed.
    pub failed: usize,
    /// One line per failure: `path: case id: what went wrong`.
    pub failures: Vec<String>,
}

impl Report {
    fn fail(&mut self, line: String) {
        self.failed += 1;
        self.failures.push(line);
    }

    /// True when nothing failed.
    pub fn is_success(&self) -> bool {
        self.failed == 0
    }
}

/// Checks every `*.json` vector file at each path (files, or folders searched recursively).
pub fn verify_paths<P: AsRef<Path>>(paths: &[P]) -> Report {
    let mut report = Report::default();
    for path in paths {
        let path = path.as_ref();
        match collect_files(path) {
            Ok(files) if files.is_empty() => {
                report.fail(format!("{}: no vector files found", path.display()))
            }
            Ok(files) => {
                for f in files {
                    verify_file(&f, &mut report);
                }
            }
            Err(e) => report.fail(format!("{}: cannot read: {e}", path.display())),
        }
    }
    report
}

/// Checks one file, adding its outcome to `report`.
pub fn verify_file(path: &Path, report: &mut Report) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return report.fail(format!("{}: cannot read: {e}", path.display())),
    };
    let file = match VectorFile::parse(&text) {
        Ok(f) => f,
        Err(e) => return report.fail(format!("{}: cannot parse: {e}", path.display())),
    };
    for case in &file.cases {
        match kinds::check(&file.kind, case) {
            Ok(()) => report.passed += 1,
            Err(why) => report.fail(format!("{}: {}: {why}", path.display(), case.id)),
        }
    }
}

fn collect_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if p.is_dir() {
                // Node packages installed by the interop scripts are not vector files.
                if name != "node_modules" && !name.starts_with('.') {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|e| e == "json") && !is_package_metadata(name) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_package_metadata(name: &str) -> bool {
    matches!(name, "package.json" | "package-lock.json")
}
