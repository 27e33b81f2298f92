//! Rollbacks travel (issue: several devices): a trail rolled back here is
//! pushed over the remote's tip it discarded (with a lease on exactly that
//! tip, never a blind force), and a device whose tip a remote ROLLBACK atom
//! discarded follows it on pull, keeping its own tip under an archive ref,
//! instead of merging the discarded atoms back.

use gix::ObjectId;

use super::SyncError;
use crate::trail::Trail;

impl Trail {
    /// A ROLLBACK atom on `history`'s first-parent chain, after where it
    /// meets `discarded`, whose archived tip contains `discarded`: the
    /// rollback commit and its archived tip. `discarded` must be here.
    pub(crate) fn rollback_covering(
        &self,
        history: ObjectId,
        discarded: ObjectId,
    ) -> Result<Option<(ObjectId, ObjectId)>, SyncError> {
        let cli = self.cli();
        let range = format!("{discarded}..{history}");
        let Ok(out) = cli.output(&["rev-list", "--first-parent", &range]) else {
            return Ok(None);
        };
        for line in out.lines() {
            let Ok(c) = ObjectId::from_hex(line.trim().as_bytes()) else {
                continue;
            };
            if self.git().trailer(c, "Atom-Type").as_deref() != Some("ROLLBACK") {
                continue;
            }
            let Ok(stored) = self.git().read_atom(c) else {
                continue;
            };
            let archived = stored
                .record
                .metadata
                .get("archived_tip")
                .and_then(|v| v.as_str())
                .and_then(|h| ObjectId::from_hex(h.as_bytes()).ok());
            if let Some(archived) = archived {
                let contains = cli
                    .is_ancestor(discarded, archived)
                    .map_err(SyncError::transport("here"))?;
                if contains {
                    return Ok(Some((c, archived)));
                }
            }
        }
        Ok(None)
    }

    /// Push trail refs the remote refused because this store rolled them
    /// back past the remote's tip: each over exactly that tip. Returns the
    /// refs pushed so.
    pub(crate) fn push_rollbacks(
        &self,
        remote: &str,
        rejected: &[String],
        progress: bool,
    ) -> Result<Vec<String>, SyncError> {
        let cli = self.cli();
        let mut pushed = Vec::new();
        for name in rejected.iter().filter(|n| n.starts_with("refs/heads/")) {
            let Some(theirs) = cli
                .ls_remote(remote, name)
                .map_err(SyncError::transport(remote))?
            else {
                continue;
            };
            let Some(ours) = self.git().ref_target(name)? else {
                continue;
            };
            if !self.git().has_object(theirs) {
                continue;
            }
            if self.rollback_covering(ours, theirs)?.is_none() {
                continue;
            }
            let result = cli
                .push(
                    remote,
                    &[format!("{ours}:{name}")],
                    Some((name.as_str(), Some(theirs))),
                    progress,
                )
                .map_err(SyncError::transport(remote))?;
            if result.iter().all(|r| r.flag != '!') {
                pushed.push(name.clone());
            }
        }
        Ok(pushed)
    }

    /// Follow a remote trail `theirs` whose ROLLBACK discarded the local
    /// tip `ours`: keep `ours` under an archive ref, then move the trail.
    /// `None` when no rollback of `theirs` covers `ours`.
    pub(crate) fn follow_rollback(
        &self,
        name: &str,
        ours: ObjectId,
        theirs: ObjectId,
    ) -> Result<Option<String>, SyncError> {
        if self.rollback_covering(theirs, ours)?.is_none() {
            return Ok(None);
        }
        let archive = self.keep_tip(name, ours)?;
        self.git()
            .compare_and_swap(&format!("refs/heads/{name}"), Some(ours), theirs)?;
        Ok(Some(archive))
    }
}
