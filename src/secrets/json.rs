//! Secrets in JSON (a record's metadata, an agent's tool input): every key
//! and every string at any depth, each string judged with the name of the
//! key it is under, and located by a path such as `metadata.aws.key` or
//! `metadata.tokens[2]`, so that a message can say where a secret is
//! without showing it.

use std::fmt;

use serde_json::{Map, Value};

use super::{apply_masks, Finding, Kind, Scanner};

/// Where in a record a secret is, and what it is. Its `Display` is the
/// message atom prints ("metadata.aws.key holds an AWS access key id"),
/// which never includes the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The field: `summary`, `metadata.aws.key`, `a key of metadata.aws`,
    /// `attachment keys.pem`.
    pub field: String,
    /// What it is.
    pub kind: Kind,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} holds {}", self.field, self.kind)
    }
}

impl Scanner {
    /// The first secret in the text field `field`, if any.
    pub fn locate(&self, field: &str, text: &str) -> Option<Located> {
        self.scan(text).first().map(|f| Located {
            field: field.to_owned(),
            kind: f.kind,
        })
    }

    /// The first secret in the keys and strings of `map`, whose path is
    /// `path` (`metadata`; empty for a whole record, whose fields are then
    /// named alone: `summary`), if any.
    pub fn locate_json(&self, path: &str, map: &Map<String, Value>) -> Option<Located> {
        let mut found = None;
        self.walk_map(&mut path.to_owned(), map, &mut |located| {
            found = Some(located);
            false
        });
        found
    }

    /// Mask every secret in the keys and strings of `map` (path `path`);
    /// returns where they were. A masked key that another key already has
    /// gets ` (2)`, ` (3)`, ... so that nothing is lost.
    pub fn redact_json(&self, path: &str, map: &mut Map<String, Value>) -> Vec<Located> {
        let mut masked = Vec::new();
        if self.locate_json(path, map).is_some() {
            self.redact_map(&mut path.to_owned(), map, &mut masked);
        }
        masked
    }

    /// Call `found` for each secret; stop when it returns false.
    fn walk_map(
        &self,
        path: &mut String,
        map: &Map<String, Value>,
        found: &mut dyn FnMut(Located) -> bool,
    ) -> bool {
        for (key, value) in map {
            if let Some(f) = self.scan(key).first() {
                if !found(key_located(path, f)) {
                    return false;
                }
            }
            let len = push_key(path, key);
            let go_on = self.walk_value(path, key, value, found);
            path.truncate(len);
            if !go_on {
                return false;
            }
        }
        true
    }

    fn walk_value(
        &self,
        path: &mut String,
        name: &str,
        value: &Value,
        found: &mut dyn FnMut(Located) -> bool,
    ) -> bool {
        match value {
            Value::String(s) => match self.scan_named(name, s).first() {
                Some(f) => found(Located {
                    field: path.clone(),
                    kind: f.kind,
                }),
                None => true,
            },
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    let go_on = self.walk_value(path, name, item, found);
                    path.truncate(len);
                    if !go_on {
                        return false;
                    }
                }
                true
            }
            Value::Object(map) => self.walk_map(path, map, found),
            _ => true,
        }
    }

    fn redact_map(
        &self,
        path: &mut String,
        map: &mut Map<String, Value>,
        masked: &mut Vec<Located>,
    ) {
        let entries = std::mem::take(map);
        for (key, mut value) in entries {
            let redacted = self.redact(&key);
            if let Some(f) = redacted.findings.first() {
                masked.push(key_located(path, f));
            }
            let len = push_key(path, &redacted.text);
            self.redact_value(path, &key, &mut value, masked);
            path.truncate(len);
            let mut new_key = redacted.text.clone();
            let mut n = 1;
            while map.contains_key(&new_key) {
                n += 1;
                new_key = format!("{} ({n})", redacted.text);
            }
            map.insert(new_key, value);
        }
    }

    fn redact_value(
        &self,
        path: &mut String,
        name: &str,
        value: &mut Value,
        masked: &mut Vec<Located>,
    ) {
        match value {
            Value::String(s) => {
                let findings = self.scan_named(name, s);
                if let Some(first) = findings.first() {
                    masked.push(Located {
                        field: path.clone(),
                        kind: first.kind,
                    });
                    *s = apply_masks(s, &findings);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    self.redact_value(path, name, item, masked);
                    path.truncate(len);
                }
            }
            Value::Object(map) => self.redact_map(path, map, masked),
            _ => {}
        }
    }
}

fn key_located(path: &str, f: &Finding) -> Located {
    Located {
        field: match path {
            "" => "a field name of the record".to_owned(),
            _ => format!("a key of {path}"),
        },
        kind: f.kind,
    }
}

/// Append `.key` to `path` (just `key` at the top); returns the length
/// to truncate back to.
fn push_key(path: &mut String, key: &str) -> usize {
    let len = path.len();
    if len > 0 {
        path.push('.');
    }
    path.push_str(key);
    len
}
