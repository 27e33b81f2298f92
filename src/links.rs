//! Links that are never silently ambiguous (SPEC §6). Two devices number
//! their atoms independently, so after a pull one id can name two atoms.
//!
//! The design decision a reader must know: ids keep their per-store
//! numbering (a single-device user sees `ATOM-TYPE-YYYYMMDD-NNN` as always),
//! and a reference to an id that names several atoms is refused until it is
//! made precise with a handle, `ID@<commit sha prefix>` or the sha prefix
//! alone. The commit a link chose is recorded in the atom's metadata under
//! [`LINK_COMMITS`] (`{"ID": "<full sha>"}`), so the link stays unambiguous
//! forever; `influenced_by` itself keeps the SPEC's plain ids.

use gix::ObjectId;
use serde_json::{Map, Value};

use crate::index::Linked;
use crate::model::AtomId;
use crate::trail::{Draft, Trail, TrailError};

/// Whether `handle` has the shape of a reference to an atom: an atom id,
/// `ID@<commit sha prefix>` or a commit sha prefix (4 to 40 hex digits).
pub fn is_handle(handle: &str) -> bool {
    let hex = |s: &str| (4..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit());
    let handle = handle.trim();
    match handle.split_once('@') {
        Some((id, prefix)) => hex(prefix) && AtomId::parse_any_case(id).is_ok(),
        None => hex(handle) || AtomId::parse_any_case(handle).is_ok(),
    }
}

/// The metadata key holding the commit each ambiguous link chose.
pub const LINK_COMMITS: &str = "influenced_by_commits";

/// An atom's links both ways ([`Trail::links`]), each end one atom named by
/// a unique handle: its id, or `ID@<short sha>` when the id names several.
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// The atoms it lists in `influenced_by`; an ambiguous link (an id
    /// several atoms share, no commit recorded) lists each candidate.
    pub built_on: Vec<Linked>,
    /// The atoms whose links resolve to it.
    pub used_by: Vec<Linked>,
}

impl Links {
    /// The handles of `list`.
    pub fn handles(list: &[Linked]) -> Vec<String> {
        list.iter().map(|l| l.node.handle.clone()).collect()
    }

    /// The handles reached through an ambiguous link, both ways.
    pub fn ambiguous(&self) -> Vec<String> {
        self.built_on
            .iter()
            .chain(&self.used_by)
            .filter(|l| l.ambiguous)
            .map(|l| l.node.handle.clone())
            .collect()
    }

    /// `list` for a person: handles joined by `, `, each reached through an
    /// ambiguous link followed by ` (ambiguous)`.
    pub fn text(list: &[Linked]) -> String {
        list.iter()
            .map(|l| {
                if l.ambiguous {
                    format!("{} (ambiguous)", l.node.handle)
                } else {
                    l.node.handle.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Trail {
    /// Add the atom `handle` names to `draft.influenced_by`: an atom id, or
    /// `ID@<sha prefix>`, or a commit sha prefix alone. A handle that names
    /// a commit records it under [`LINK_COMMITS`] when its id names several
    /// atoms. A plain id that names several atoms is refused at record time
    /// ([`TrailError::AmbiguousLink`]).
    pub fn link(&self, draft: &mut Draft, handle: &str) -> Result<(), TrailError> {
        let (id, commit) = self.resolve_handle(handle)?;
        let Some(commit) = commit else {
            if !draft.influenced_by.contains(&id) {
                draft.influenced_by.push(id);
            }
            return Ok(());
        };
        if self.find_atom_id(&id)?.len() > 1 {
            let chosen = draft
                .metadata
                .entry(LINK_COMMITS)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = chosen {
                m.insert(id.to_string(), Value::String(commit.to_string()));
            }
        }
        if !draft.influenced_by.contains(&id) {
            draft.influenced_by.push(id);
        }
        Ok(())
    }

    /// The atom id a handle names and, for `ID@<sha prefix>` or a sha
    /// prefix, the commit: that commit must hold an atom of that id.
    pub(crate) fn resolve_handle(
        &self,
        handle: &str,
    ) -> Result<(AtomId, Option<ObjectId>), TrailError> {
        let handle = handle.trim();
        let (id_part, prefix) = match handle.split_once('@') {
            Some((id, prefix)) => (Some(id), Some(prefix)),
            None if handle.len() >= 4 && handle.bytes().all(|b| b.is_ascii_hexdigit()) => {
                (None, Some(handle))
            }
            None => (Some(handle), None),
        };
        let named = id_part
            .map(|id| {
                AtomId::parse_any_case(id).map_err(|e| TrailError::NotFound {
                    what: format!("{handle:?}: {e}"),
                })
            })
            .transpose()?;
        let Some(prefix) = prefix else {
            return Ok((named.expect("an id when there is no prefix"), None));
        };
        let prefix = prefix.to_ascii_lowercase();
        let commit = (prefix.len() >= 4 && prefix.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| self.git().resolve_prefix(&prefix))
            .transpose()?
            .flatten()
            .ok_or_else(|| TrailError::NotFound {
                what: format!("{handle:?} (no commit of this store starts with {prefix})"),
            })?;
        let id = self.view(commit)?.record.atom_id;
        if let Some(named) = named.filter(|n| *n != id) {
            return Err(TrailError::NotFound {
                what: format!("{handle:?} (commit {prefix} holds {id}, not {named})"),
            });
        }
        Ok((id, Some(commit)))
    }

    /// Refuse a link of `draft` that names several atoms without a commit
    /// under [`LINK_COMMITS`] that is one of them.
    pub(crate) fn check_link(
        &self,
        draft: &Draft,
        id: &AtomId,
        commits: &[ObjectId],
    ) -> Result<(), TrailError> {
        if commits.len() < 2 {
            return Ok(());
        }
        let chosen = draft
            .metadata
            .get(LINK_COMMITS)
            .and_then(|m| m.get(id.to_string()))
            .and_then(Value::as_str)
            .and_then(|c| ObjectId::from_hex(c.as_bytes()).ok());
        if chosen.is_some_and(|c| commits.contains(&c)) {
            return Ok(());
        }
        let mut candidates = Vec::new();
        for c in commits {
            let view = self.view(*c)?;
            candidates.push(format!(
                "{id}@{} (agent {}, {})",
                &c.to_string()[..12],
                view.record.agent,
                view.record.timestamp
            ));
        }
        Err(TrailError::AmbiguousLink {
            id: id.to_string(),
            candidates,
        })
    }
}
