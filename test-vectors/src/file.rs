//! Parsing a vector file into cases, strictly.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// What a case says the operation must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The operation succeeds and gives the stated outputs.
    Valid,
    /// The operation fails with the named typed error.
    Invalid {
        /// The error variant's name, e.g. `BadSignature`.
        error: String,
    },
}

/// One case: its id, what it expects, and its kind-specific fields (checked by the kind).
#[derive(Debug, Clone)]
pub struct Case {
    /// Unique within the file.
    pub id: String,
    /// Valid or invalid (with the error).
    pub expect: Expect,
    /// The remaining fields; each kind deserializes them with unknown fields refused.
    pub fields: Map<String, Value>,
}

/// A parsed vector file.
#[derive(Debug, Clone)]
pub struct VectorFile {
    /// The case layout, e.g. `hkdf-sha256`.
    pub kind: String,
    /// Where the numbers come from.
    pub source: String,
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

/// Why a file could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON of the wrong shape.
    #[error("{0}")]
    Shape(String),
}

fn shape<T>(msg: impl Into<String>) -> Result<T, FileError> {
    Err(FileError::Shape(msg.into()))
}

fn take_string(map: &mut Map<String, Value>, key: &str) -> Result<Option<String>, FileError> {
    match map.remove(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => shape(format!("`{key}` must be a string")),
    }
}

impl VectorFile {
    /// Parses and shape-checks a file. Kind-specific fields are checked later, per case.
    pub fn parse(text: &str) -> Result<Self, FileError> {
        let Value::Object(mut top) = serde_json::from_str::<Value>(text)? else {
            return shape("top level must be an object");
        };
        let Some(kind) = take_string(&mut top, "kind")? else {
            return shape("missing `kind`");
        };
        if !crate::kinds::KINDS.contains(&kind.as_str()) {
            return shape(format!("unknown kind `{kind}`"));
        }
        let Some(source) = take_string(&mut top, "source")? else {
            return shape("missing `source`");
        };
        take_string(&mut top, "description")?;
        let Some(Value::Array(raw_cases)) = top.remove("cases") else {
            return shape("missing `cases` array");
        };
        if let Some(extra) = top.keys().next() {
            return shape(format!("unknown top-level field `{extra}`"));
        }
        if raw_cases.is_empty() {
            return shape("`cases` is empty");
        }
        let mut ids = BTreeSet::new();
        let mut cases = Vec::with_capacity(raw_cases.len());
        for (n, raw) in raw_cases.into_iter().enumerate() {
            let Value::Object(mut fields) = raw else {
                return shape(format!("case {n} is not an object"));
            };
            let Some(id) = take_string(&mut fields, "id")? else {
                return shape(format!("case {n} has no `id`"));
            };
            if !ids.insert(id.clone()) {
                return shape(format!("duplicate case id `{id}`"));
            }
            take_string(&mut fields, "comment")?;
            let expect = take_string(&mut fields, "expect")?;
            let error = take_string(&mut fields, "error")?;
            let expect = match (expect.as_deref(), error) {
                (Some("valid"), None) => Expect::Valid,
                (Some("invalid"), Some(error)) => Expect::Invalid { error },
                (Some("valid"), Some(_)) => {
                    return shape(format!("case `{id}`: a valid case has no `error`"));
                }
                (Some("invalid"), None) => {
                    return shape(format!("case `{id}`: an invalid case needs `error`"));
                }
                _ => return shape(format!("case `{id}`: `expect` must be \"valid\" or \"invalid\"")),
            };
            cases.push(Case { id, expect, fields });
        }
        Ok(Self { kind, source, cases })
    }
}
