//! What may enter the trail: no secrets. Every atom a caller hands in
//! (`record`, the MCP `atom_record` tool, the git hooks) passes
//! [`Trail::prepare`], which refuses a draft holding one; `import` checks
//! each line's record the same way. A caller that would rather mask than
//! refuse (`record --redact`, the hooks, which never fail a commit) calls
//! [`Trail::redact_draft`] first.
//!
//! Masks go only where text stays text: summary, project, agent and
//! metadata. An attachment is stored byte for byte, and TYPE and operation
//! have a fixed format, so a secret there is always refused.

use crate::model::Atom;
use crate::secrets::{Located, Scanner};
use crate::trail::{Draft, Trail, TrailError};

impl Trail {
    /// The scanner for this store: the well-known formats, plus its
    /// signing key (and `keys/atom_ed25519`, when that is another key).
    pub fn secret_scanner(&self) -> &Scanner {
        self.scanner.get_or_init(|| {
            let mut scanner = Scanner::new();
            let mut paths = vec![self.signing_key_path()];
            let own = self
                .home()
                .join(crate::trail::KEYS_DIR)
                .join(crate::trail::KEY_FILE);
            if !paths.contains(&own) {
                paths.push(own);
            }
            for path in paths {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    let public = ssh_key::PrivateKey::from_openssh(&text)
                        .ok()
                        .and_then(|k| k.public_key().to_openssh().ok());
                    scanner = scanner.with_private_key(&text, public.as_deref());
                }
            }
            scanner
        })
    }

    /// Mask the secrets in `draft`'s summary, project, agent and metadata
    /// (keys and strings at any depth) as `[REDACTED:<kind>]`, and say
    /// where they were. A secret in the TYPE, the operation or an
    /// attachment cannot be masked: [`TrailError::Secret`].
    pub fn redact_draft(&self, draft: &mut Draft) -> Result<Vec<Located>, TrailError> {
        let scanner = self.secret_scanner();
        refuse_unmaskable(scanner, draft)?;
        let mut masked = Vec::new();
        let mut text = |field: &str, value: &mut String| {
            let redacted = scanner.redact(value);
            if let Some(f) = redacted.findings.first() {
                masked.push(Located {
                    field: field.to_owned(),
                    kind: f.kind,
                });
                *value = redacted.text;
            }
        };
        text("summary", &mut draft.summary);
        if let Some(project) = draft.project.as_mut() {
            text("project", project);
        }
        if let Some(agent) = draft.agent.as_mut() {
            text("agent", agent);
        }
        masked.extend(scanner.redact_json("metadata", &mut draft.metadata));
        Ok(masked)
    }

    /// Refuse a draft (whose agent is `agent`) that holds a secret anywhere.
    pub(crate) fn refuse_secrets(&self, draft: &Draft, agent: &str) -> Result<(), TrailError> {
        let scanner = self.secret_scanner();
        refuse_unmaskable(scanner, draft)?;
        let found = scanner
            .locate("summary", &draft.summary)
            .or_else(|| {
                draft
                    .project
                    .as_deref()
                    .and_then(|p| scanner.locate("project", p))
            })
            .or_else(|| scanner.locate("agent", agent))
            .or_else(|| scanner.locate_json("metadata", &draft.metadata));
        match found {
            Some(located) => Err(TrailError::Secret {
                located,
                maskable: true,
            }),
            None => Ok(()),
        }
    }
}

/// A secret where no mask can go: TYPE, operation, attachment names and
/// contents.
fn refuse_unmaskable(scanner: &Scanner, draft: &Draft) -> Result<(), TrailError> {
    let mut found = scanner
        .locate("type", &draft.atom_type)
        .or_else(|| scanner.locate("operation", &draft.operation));
    for (name, bytes) in &draft.attachments {
        if found.is_some() {
            break;
        }
        found = scanner.locate("an attachment name", name).or_else(|| {
            scanner.locate(
                &format!("attachment {name}"),
                &String::from_utf8_lossy(bytes),
            )
        });
    }
    match found {
        Some(located) => Err(TrailError::Secret {
            located,
            maskable: false,
        }),
        None => Ok(()),
    }
}

/// The first secret in a complete record's text (TYPE, operation, agent,
/// summary, project, metadata, attachment names), for `import`.
pub(crate) fn find_in_record(scanner: &Scanner, record: &Atom) -> Option<Located> {
    scanner
        .locate("type", &record.atom_type)
        .or_else(|| scanner.locate("operation", &record.operation))
        .or_else(|| scanner.locate("agent", &record.agent))
        .or_else(|| scanner.locate("summary", &record.summary))
        .or_else(|| {
            record
                .project
                .as_deref()
                .and_then(|p| scanner.locate("project", p))
        })
        .or_else(|| scanner.locate_json("metadata", &record.metadata))
        .or_else(|| {
            record
                .attachments
                .iter()
                .find_map(|a| scanner.locate("an attachment name", &a.name))
        })
}
