//! `atom import --from entire [REPO]`: the checkpoints Entire (entire.io,
//! `entireio/cli`) keeps in a project repository, as atoms linked to the
//! commits they annotate.
//!
//! Each checkpoint becomes a CHECKPOINT atom (`metadata.source` =
//! `{"tool": "entire", "table": "checkpoints", "id": <checkpoint id>}`) and
//! each of its sessions a SESSION atom (`table` `sessions`, `id`
//! `<checkpoint id>/<session id>`) with the session's agent, model, token
//! cost, files (as `metadata.paths`), prompts and Entire's own summary; a
//! session names its checkpoint's atom in `influenced_by`. The commits
//! whose `Entire-Checkpoint:` trailer names the checkpoint are listed in its
//! `metadata.commits`, and their COMMIT atoms (recorded by `atom hooks`) in
//! its `influenced_by`. Importing again adds only what is new: a new
//! checkpoint, or a session added to an old one.
//!
//! Two passes over the repository, both object by object: the first lists
//! the checkpoints with the time of their first session (a small entry each)
//! and the commits carrying the trailer, and finds their COMMIT atoms in
//! the index; the second reads each checkpoint in time order as the import
//! asks for its records, so no more than one checkpoint is held at a time.
//! A malformed checkpoint stops the import having written nothing.

mod checkpoint;
mod convert;
mod repo;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;

use super::{ImportError, ImportOptions, ImportProgress, ImportReport, Origin};
use crate::trail::Trail;

pub use repo::{parse_ref, trailer_ids, REF_PREFIX, TRAILER, V1_BRANCH};

/// The tool name in `metadata.source`.
pub const TOOL: &str = "entire";

/// Whether `id` is an Entire checkpoint id: 12 lowercase hex digits, or a
/// ULID in its canonical form (26 Crockford base32 characters in upper case,
/// the first 0-7), as `checkpoint/id/id.go` (`Validate`) accepts.
pub fn checkpoint_id_is_valid(id: &str) -> bool {
    let b = id.as_bytes();
    match b.len() {
        12 => b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
        26 => {
            matches!(b[0], b'0'..=b'7')
                && b.iter().all(|c| {
                    c.is_ascii_digit()
                        || (c.is_ascii_uppercase() && !matches!(c, b'I' | b'L' | b'O' | b'U'))
                })
        }
        _ => false,
    }
}

impl Trail {
    /// Import the Entire checkpoints of the repository at or above `repo`
    /// onto the current trail, all or nothing (see the module documentation).
    pub fn import_entire(
        &self,
        repo: &Path,
        options: &ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport, ImportError> {
        let source = repo::EntireRepo::open(repo)?;
        let mut order = Vec::new();
        for at in source.checkpoints()? {
            let time = checkpoint::first_time(&source, &at)
                .map_err(|reason| origin(&at.id).error(reason))?;
            order.push((time, at));
        }
        order.sort_by(|(ta, a), (tb, b)| (ta, &a.id).cmp(&(tb, &b.id)));
        let wanted: HashSet<&str> = order.iter().map(|(_, at)| at.id.as_str()).collect();
        let annotated = source.annotated(&wanted)?;
        let shas: HashSet<String> = annotated
            .values()
            .flatten()
            .map(|c| c.sha.clone())
            .collect();
        let commit_atoms = self.commit_atoms(&shas)?;
        let project = source.project();
        let links = convert::Links {
            annotated: &annotated,
            commit_atoms: &commit_atoms,
            project: project.as_deref(),
        };
        let scanner = self.secret_scanner();
        let mut pending: VecDeque<(Origin, String)> = VecDeque::new();
        let mut checkpoints = order.into_iter().map(|(_, at)| at);
        let mut next = || loop {
            if let Some(record) = pending.pop_front() {
                return Ok(Some(record));
            }
            let Some(at) = checkpoints.next() else {
                return Ok(None);
            };
            let cp = checkpoint::read(&source, &at).map_err(|r| origin(&at.id).error(r))?;
            for (i, record) in convert::records(&cp, &links, scanner)
                .into_iter()
                .enumerate()
            {
                let origin = match i.checked_sub(1).and_then(|s| cp.sessions.get(s)) {
                    Some(s) => {
                        Origin::Row(format!("entire checkpoint {} session {}", at.id, s.dir))
                    }
                    None => origin(&at.id),
                };
                pending.push_back((origin, serde_json::Value::Object(record).to_string()));
            }
        };
        self.import_records(&mut next, options, progress)
    }

    /// The COMMIT atoms of this store whose `metadata.commit` is one of
    /// `shas`, by commit: one pass over the COMMIT atoms of the index.
    fn commit_atoms(
        &self,
        shas: &HashSet<String>,
    ) -> Result<HashMap<String, Vec<String>>, ImportError> {
        if shas.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self.with_index(|ix| ix.commit_atoms(shas))?)
    }
}

/// The origin of a checkpoint's records in error messages.
fn origin(id: &str) -> Origin {
    Origin::Row(format!("entire checkpoint {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_ids_are_hex_or_canonical_ulids() {
        assert!(checkpoint_id_is_valid("a3b2c4d5e6f7"));
        assert!(checkpoint_id_is_valid("01KXGTTNGCEACC83QZEJ5YAF0D"));
        assert!(!checkpoint_id_is_valid("A3B2C4D5E6F7"));
        assert!(!checkpoint_id_is_valid("81KXGTTNGCEACC83QZEJ5YAF0D"));
        assert!(!checkpoint_id_is_valid("01KXGTTNGCEACC83QZEJ5YAF0I"));
        assert!(!checkpoint_id_is_valid("../../etc/pa"));
    }

    #[test]
    fn per_checkpoint_refs_are_read_by_their_shard() {
        let ulid = "01KXGTTNGCEACC83QZEJ5YAF0D";
        assert_eq!(
            parse_ref(&format!("refs/entire/checkpoints/0D/{ulid}")).as_deref(),
            Some(ulid)
        );
        assert_eq!(
            parse_ref(&format!("refs/entire/checkpoints/0d/{ulid}")).as_deref(),
            Some(ulid)
        );
        assert_eq!(
            parse_ref("refs/entire/checkpoints/f7/a3b2c4d5e6f7").as_deref(),
            Some("a3b2c4d5e6f7")
        );
        assert_eq!(
            parse_ref(&format!("refs/entire/checkpoints/AB/{ulid}")),
            None
        );
        assert_eq!(parse_ref("refs/entire/checkpoints/v2/main"), None);
        assert_eq!(parse_ref("refs/entire/checkpoints/v2/full/current"), None);
    }

    #[test]
    fn trailers_name_checkpoints() {
        let message = "Add login\n\nBody text\n\nEntire-Checkpoint: a3b2c4d5e6f7\nEntire-Checkpoint: nothex\n";
        assert_eq!(trailer_ids(message).collect::<Vec<_>>(), ["a3b2c4d5e6f7"]);
    }
}
