//! Trails as git branches: fork, switch, list, and a rollback that loses
//! nothing.
//!
//! The design decision a reader must know: rollback never makes an atom
//! unreachable. Under the store lock it first keeps the discarded tip under
//! `refs/atom/archive/<trail>/<tip>`, then moves the trail with
//! compare-and-swap to a new ROLLBACK atom whose parent is the target and
//! whose metadata names what was discarded and where it is kept. A crash in
//! between leaves an extra archive ref, never a lost atom.

use gix::ObjectId;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::append::{Onto, Transaction};
use crate::store::{StoreError, HEADS_PREFIX};
use crate::trail::{AtomView, Draft, Trail, TrailError};

/// Where rollback keeps discarded tips: `refs/atom/archive/<trail>/<tip>`.
pub const ARCHIVE_PREFIX: &str = "refs/atom/archive/";

/// Errors of trail operations.
#[derive(Debug, thiserror::Error)]
pub enum BranchError {
    /// The name cannot be a trail name.
    #[error("invalid trail name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A trail of that name exists.
    #[error("trail {name} already exists (its head is {head})")]
    Exists {
        /// The trail.
        name: String,
        /// Its head atom.
        head: String,
    },
    /// No trail of that name.
    #[error("no trail named {name} (trails: {})", known.join(", "))]
    NoSuchTrail {
        /// The name given.
        name: String,
        /// The trails there are.
        known: Vec<String>,
    },
    /// The current trail has no atom to fork from.
    #[error("trail {trail} has no atoms yet, so there is nothing to fork from")]
    EmptyTrail {
        /// The trail.
        trail: String,
    },
    /// The rollback target is not an ancestor of the current trail's tip.
    #[error("{rev} is not on the current trail {trail}")]
    NotOnTrail {
        /// What the user named.
        rev: String,
        /// The current trail.
        trail: String,
    },
    /// The rollback target is the tip already.
    #[error("{rev} is the tip of trail {trail}: there is nothing to roll back")]
    NothingToRollBack {
        /// What the user named.
        rev: String,
        /// The current trail.
        trail: String,
    },
    /// The trail moved between planning and doing a rollback.
    #[error("trail {trail} moved while the rollback was being prepared")]
    Moved {
        /// The trail.
        trail: String,
    },
    /// The trail to delete is the current one.
    #[error("trail {name} is the current trail; atom does not delete the trail HEAD names")]
    CurrentTrail {
        /// The trail.
        name: String,
    },
    /// Plain git moved a trail while atom deleted or renamed it.
    #[error("trail {trail} moved while it was being {doing}; it was left as it is")]
    MovedMeanwhile {
        /// The trail.
        trail: String,
        /// `deleted` or `renamed`.
        doing: &'static str,
    },
    /// A lower layer failed.
    #[error(transparent)]
    Trail(#[from] TrailError),
}

impl From<StoreError> for BranchError {
    fn from(e: StoreError) -> Self {
        BranchError::Trail(e.into())
    }
}

/// One trail as `atom trails` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct TrailInfo {
    /// The trail name.
    pub name: String,
    /// Whether HEAD names it.
    pub current: bool,
    /// The atom id of its head, `None` while it has no atoms.
    pub head: Option<String>,
    /// The head commit (hex).
    pub commit: Option<String>,
    /// How many atoms are reachable from its head.
    pub atoms: usize,
}

/// What `fork` did.
#[derive(Debug, Clone, Serialize)]
pub struct ForkReport {
    /// The new trail.
    pub name: String,
    /// The atom it starts from.
    pub from: String,
    /// That atom's commit (hex).
    pub commit: String,
    /// Whether HEAD now names the new trail.
    pub switched: bool,
}

/// What a rollback will do (and, once done, did).
#[derive(Debug, Clone, Serialize)]
pub struct RollbackPlan {
    /// The current trail.
    pub trail: String,
    /// The atom the trail is reset to.
    pub target: String,
    /// Its commit (hex).
    #[serde(serialize_with = "hex")]
    pub target_commit: ObjectId,
    /// The trail's tip before the rollback (hex).
    #[serde(serialize_with = "hex")]
    pub tip: ObjectId,
    /// The atoms no longer on the trail, newest first.
    pub discarded: Vec<String>,
}

/// What `rollback` did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    /// The plan carried out.
    #[serde(flatten)]
    pub plan: RollbackPlan,
    /// The ref that keeps the discarded tip.
    pub archive_ref: String,
    /// The ROLLBACK atom now at the trail's tip.
    pub rollback: AtomView,
}

/// What `trails delete` did.
#[derive(Debug, Clone, Serialize)]
pub struct DeleteReport {
    /// The trail deleted.
    pub name: String,
    /// The atom id of its head.
    pub head: Option<String>,
    /// Its head commit (hex), kept under `archive_ref`.
    #[serde(serialize_with = "hex")]
    pub commit: ObjectId,
    /// The ref that keeps it.
    pub archive_ref: String,
}

/// What `trails rename` did.
#[derive(Debug, Clone, Serialize)]
pub struct RenameReport {
    /// The old name.
    pub from: String,
    /// The new name.
    pub to: String,
    /// Its head commit (hex), `None` for a current trail with no atoms yet.
    pub commit: Option<String>,
    /// Whether it is the current trail (HEAD now names `to`).
    pub current: bool,
}

fn hex<S: serde::Serializer>(id: &ObjectId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

/// Refuse names git or atom could not use as a trail (`refs/heads/<name>`,
/// `refs/atom/archive/<name>/<tip>`).
pub fn validate_trail_name(name: &str) -> Result<(), BranchError> {
    let bad = |reason| {
        Err(BranchError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 100 {
        return bad("a trail name has 1 to 100 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("use letters, digits, '.', '_' and '-' only");
    }
    if name.starts_with(['-', '.']) || name.ends_with('.') || name.contains("..") {
        return bad("a trail name cannot start with '-' or '.', end with '.', or contain '..'");
    }
    if name.ends_with(".lock") || name == "HEAD" {
        return bad("git reserves this name");
    }
    Ok(())
}

impl Trail {
    /// Every trail with its head and size; the current one even before its
    /// first atom.
    pub fn trails(&self) -> Result<Vec<TrailInfo>, BranchError> {
        let current = self.head_trail()?;
        let mut out = Vec::new();
        let mut seen_current = false;
        let heads = self.git().refs_under(HEADS_PREFIX)?;
        let sizes = self.with_index(|ix| {
            heads
                .iter()
                .map(|(full, tip)| {
                    let atoms = ix.trail_len(crate::index::trail_name(full))?;
                    let head = ix.row(tip)?.map(|r| r.record.atom_id.to_string());
                    Ok((atoms, head))
                })
                .collect::<Result<Vec<_>, crate::index::IndexError>>()
        })?;
        for ((full, tip), (atoms, head)) in heads.into_iter().zip(sizes) {
            let name = full.strip_prefix(HEADS_PREFIX).unwrap_or(&full).to_owned();
            seen_current |= name == current;
            out.push(TrailInfo {
                current: name == current,
                name,
                head,
                commit: Some(tip.to_string()),
                atoms: atoms as usize,
            });
        }
        if !seen_current {
            out.push(TrailInfo {
                name: current,
                current: true,
                head: None,
                commit: None,
                atoms: 0,
            });
            out.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Ok(out)
    }

    /// The archived tips (rollbacks, deleted trails): each ref's name as
    /// `log` takes it (`archive/<trail>/<tip>`) and its commit, by name.
    pub fn archives(&self) -> Result<Vec<(String, ObjectId)>, BranchError> {
        Ok(self
            .git()
            .refs_under(ARCHIVE_PREFIX)?
            .into_iter()
            .map(|(full, tip)| (crate::index::trail_name(&full).to_owned(), tip))
            .collect())
    }

    /// Start trail `name` at `from` (an atom id, trail or commit; default:
    /// the current trail's tip); with `switch`, make it the current trail.
    pub fn fork(
        &self,
        name: &str,
        from: Option<&str>,
        switch: bool,
    ) -> Result<ForkReport, BranchError> {
        validate_trail_name(name)?;
        let commit = match from {
            Some(rev) => self.resolve(rev)?,
            None => {
                let trail = self.current_trail()?;
                self.git()
                    .ref_target(&format!("{HEADS_PREFIX}{trail}"))?
                    .ok_or(BranchError::EmptyTrail { trail })?
            }
        };
        let atom = self.git().read_atom(commit)?.record.atom_id;
        let full = format!("{HEADS_PREFIX}{name}");
        let _lock = self.lock()?;
        if let Some(existing) = self.git().ref_target(&full)? {
            return Err(BranchError::Exists {
                name: name.to_owned(),
                head: self.git().read_atom(existing)?.record.atom_id.to_string(),
            });
        }
        self.git().compare_and_swap(&full, None, commit)?;
        if switch {
            self.git().set_head(name)?;
        }
        // Leave the index up to date, so that a reader who may not write
        // the store (another user, a read-only mount) can use it. The fork
        // is done either way: a failure here is the next command's to heal.
        let _ = self.catch_up();
        Ok(ForkReport {
            name: name.to_owned(),
            from: atom.to_string(),
            commit: commit.to_string(),
            switched: switch,
        })
    }

    /// Act on the trail `name` instead of the one HEAD names (`--trail`,
    /// `ATOM_TRAIL`), without moving HEAD: appends, logs, verify, rollback,
    /// export and import then use it. It must exist, or be HEAD's trail
    /// before its first atom.
    pub fn select_trail(&mut self, name: &str) -> Result<(), BranchError> {
        validate_trail_name(name)?;
        self.require_trail(name)?;
        self.selected = Some(name.to_owned());
        Ok(())
    }

    /// Refuse `name` unless it is a trail, or HEAD's trail before its first
    /// atom.
    fn require_trail(&self, name: &str) -> Result<(), BranchError> {
        let exists = self
            .git()
            .ref_target(&format!("{HEADS_PREFIX}{name}"))?
            .is_some();
        if !exists && name != self.head_trail()? {
            return Err(self.no_such_trail(name));
        }
        Ok(())
    }

    /// [`BranchError::NoSuchTrail`] for `name`, listing the trails there are.
    fn no_such_trail(&self, name: &str) -> BranchError {
        let known = match self.git().refs_under(HEADS_PREFIX) {
            Ok(refs) => refs
                .into_iter()
                .map(|(n, _)| n.strip_prefix(HEADS_PREFIX).unwrap_or(&n).to_owned())
                .collect(),
            Err(e) => return e.into(),
        };
        BranchError::NoSuchTrail {
            name: name.to_owned(),
            known,
        }
    }

    /// Make `name` the current trail.
    pub fn switch(&self, name: &str) -> Result<TrailInfo, BranchError> {
        validate_trail_name(name)?;
        let _lock = self.lock()?;
        self.require_trail(name)?;
        self.git().set_head(name)?;
        self.trails()?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| BranchError::Moved {
                trail: name.to_owned(),
            })
    }

    /// Delete the trail `name`, losing nothing: its tip is first kept under
    /// `refs/atom/archive/<name>/<first 12 hex digits>` as a rollback keeps
    /// what it discards, then the branch is deleted with compare-and-swap.
    /// The current trail is refused.
    pub fn delete_trail(&self, name: &str) -> Result<DeleteReport, BranchError> {
        validate_trail_name(name)?;
        let _lock = self.lock()?;
        if name == self.head_trail()? || name == self.current_trail()? {
            return Err(BranchError::CurrentTrail {
                name: name.to_owned(),
            });
        }
        let full = format!("{HEADS_PREFIX}{name}");
        let tip = self
            .git()
            .ref_target(&full)?
            .ok_or_else(|| self.no_such_trail(name))?;
        let head = self.view(tip).ok().map(|v| v.record.atom_id.to_string());
        let archive_ref = self.keep_tip(name, tip)?;
        self.git()
            .compare_and_delete(&full, tip)
            .map_err(|e| moved_meanwhile(e, name, "deleted"))?;
        // As fork does: leave the index up to date for readers who may not write.
        let _ = self.catch_up();
        Ok(DeleteReport {
            name: name.to_owned(),
            head,
            commit: tip,
            archive_ref,
        })
    }

    /// Rename the trail `from` to `to` (a name [`fork`](Trail::fork) would
    /// take): the new ref is made with compare-and-swap (it must not exist),
    /// HEAD follows when `from` is the current trail, then the old ref is
    /// deleted if it still points where it did. Archived tips keep their
    /// names (ROLLBACK atoms name them).
    pub fn rename_trail(&self, from: &str, to: &str) -> Result<RenameReport, BranchError> {
        validate_trail_name(from)?;
        validate_trail_name(to)?;
        let _lock = self.lock()?;
        let current = self.head_trail()? == from;
        let (old_full, new_full) = (
            format!("{HEADS_PREFIX}{from}"),
            format!("{HEADS_PREFIX}{to}"),
        );
        if let Some(existing) = self.git().ref_target(&new_full)? {
            return Err(BranchError::Exists {
                name: to.to_owned(),
                head: self
                    .view(existing)
                    .map_or_else(|_| existing.to_string(), |v| v.record.atom_id.to_string()),
            });
        }
        let tip = self.git().ref_target(&old_full)?;
        match tip {
            // The current trail before its first atom is only HEAD's name.
            None if current => self.git().set_head(to)?,
            None => return Err(self.no_such_trail(from)),
            Some(tip) => {
                self.git()
                    .compare_and_swap(&new_full, None, tip)
                    .map_err(|e| moved_meanwhile(e, to, "renamed"))?;
                if current {
                    self.git().set_head(to)?;
                }
                self.git()
                    .compare_and_delete(&old_full, tip)
                    .map_err(|e| moved_meanwhile(e, from, "renamed"))?;
            }
        }
        let _ = self.catch_up();
        Ok(RenameReport {
            from: from.to_owned(),
            to: to.to_owned(),
            commit: tip.map(|t| t.to_string()),
            current,
        })
    }

    /// What rolling the current trail back to `rev` would discard. Refuses a
    /// `rev` that is not on the current trail, or is its tip.
    pub fn rollback_plan(&self, rev: &str) -> Result<RollbackPlan, BranchError> {
        let target_commit = self.resolve(rev)?;
        let trail = self.current_trail()?;
        let not_on_trail = || BranchError::NotOnTrail {
            rev: rev.to_owned(),
            trail: trail.clone(),
        };
        let tip = self
            .git()
            .ref_target(&format!("{HEADS_PREFIX}{trail}"))?
            .ok_or_else(not_on_trail)?;
        let target = self.view(target_commit)?.record.atom_id;
        if tip == target_commit {
            return Err(BranchError::NothingToRollBack {
                rev: rev.to_owned(),
                trail,
            });
        }
        let discarded = self.with_index(|ix| {
            if !ix.is_ancestor(&target_commit, &tip)? {
                return Ok(None);
            }
            let gone = ix.only_in(&target_commit, &tip)?;
            Ok(Some(
                gone.into_iter()
                    .map(|r| r.record.atom_id.to_string())
                    .collect::<Vec<_>>(),
            ))
        })?;
        let discarded = discarded.ok_or_else(not_on_trail)?;
        Ok(RollbackPlan {
            trail,
            target: target.to_string(),
            target_commit,
            tip,
            discarded,
        })
    }

    /// Carry out `plan`: keep the tip under an archive ref, then move the
    /// trail to a ROLLBACK atom on top of the target. Fails with
    /// [`BranchError::Moved`] if the trail changed since the plan was made.
    ///
    /// When other writers move the trail meanwhile, the rollback is planned
    /// again and retried (as appends are), as long as the target is still
    /// on the trail; the report names what was finally discarded.
    pub fn rollback(&self, plan: RollbackPlan) -> Result<RollbackReport, BranchError> {
        let target = plan.target_commit.to_string();
        let mut plan = plan;
        for attempt in 0.. {
            match self.rollback_once(plan) {
                Err(BranchError::Moved { .. }) if attempt < 32 => {
                    std::thread::sleep(std::time::Duration::from_millis(2 << attempt.min(6)));
                    plan = self.rollback_plan(&target)?;
                }
                other => return other,
            }
        }
        unreachable!("the loop returns")
    }

    fn rollback_once(&self, plan: RollbackPlan) -> Result<RollbackReport, BranchError> {
        let moved = || BranchError::Moved {
            trail: plan.trail.clone(),
        };
        let as_moved = |e: TrailError| match e {
            TrailError::Contention { .. } => moved(),
            e => e.into(),
        };
        let mut tx = Transaction::begin(self)?;
        if self.current_trail()? != plan.trail
            || tx.tip(&format!("{HEADS_PREFIX}{}", plan.trail))? != Some(plan.tip)
        {
            return Err(moved());
        }
        let archive_ref = archive_name(&|r| tx.tip(r), &plan.trail, plan.tip)?;
        if tx.tip(&archive_ref)?.is_none() {
            tx.move_ref(&archive_ref, None, plan.tip);
        }
        let mut metadata = Map::new();
        metadata.insert("rolled_back_to".into(), json!(plan.target));
        metadata.insert(
            "discarded".into(),
            Value::Array(plan.discarded.iter().map(|d| json!(d)).collect()),
        );
        metadata.insert("archive_ref".into(), json!(archive_ref));
        metadata.insert("archived_tip".into(), json!(plan.tip.to_string()));
        let n = plan.discarded.len();
        let draft = Draft {
            summary: format!(
                "rolled back to {}; {n} atom{} kept under {archive_ref}",
                plan.target,
                if n == 1 { "" } else { "s" }
            ),
            metadata,
            ..Draft::new("ROLLBACK", "rollback")
        };
        let prepared = self.prepare(draft)?;
        let rollback = tx
            .append(
                &prepared,
                Onto::Reset {
                    expected: plan.tip,
                    parent: plan.target_commit,
                },
            )
            .map_err(as_moved)?;
        tx.commit().map_err(as_moved)?;
        Ok(RollbackReport {
            plan,
            archive_ref,
            rollback,
        })
    }
}

impl Trail {
    /// Keep `tip` of `trail` under its archive ref (see [`archive_name`]),
    /// creating the ref unless it holds `tip` already; returns its name.
    /// The caller holds the store lock.
    pub(crate) fn keep_tip(&self, trail: &str, tip: ObjectId) -> Result<String, BranchError> {
        let archive_ref = archive_name(
            &|r| self.git().ref_target(r).map_err(Into::into),
            trail,
            tip,
        )?;
        if self.git().ref_target(&archive_ref)?.is_none() {
            self.git().compare_and_swap(&archive_ref, None, tip)?;
        }
        Ok(archive_ref)
    }
}

/// The ref that keeps `tip`: `refs/atom/archive/<trail>/<first 12 hex digits
/// of tip>`. The name comes from the content, so two devices that archive
/// different tips never claim the same ref, and archiving a tip twice keeps
/// one ref. Should the 12 digits collide, the full id is used.
fn archive_name(
    tip_of: &dyn Fn(&str) -> Result<Option<ObjectId>, TrailError>,
    trail: &str,
    tip: ObjectId,
) -> Result<String, BranchError> {
    let hex = tip.to_string();
    for name in [
        format!("{ARCHIVE_PREFIX}{trail}/{}", &hex[..12]),
        format!("{ARCHIVE_PREFIX}{trail}/{hex}"),
    ] {
        match tip_of(&name)? {
            Some(t) if t != tip => continue,
            _ => return Ok(name),
        }
    }
    Err(BranchError::Moved {
        trail: trail.to_owned(),
    })
}

/// A ref that moved under a delete or rename (plain git; atom writers wait
/// for the store lock) as [`BranchError::MovedMeanwhile`].
fn moved_meanwhile(e: StoreError, trail: &str, doing: &'static str) -> BranchError {
    match e {
        StoreError::Conflict { .. } => BranchError::MovedMeanwhile {
            trail: trail.to_owned(),
            doing,
        },
        e => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trail_names() {
        for ok in ["main", "experiment-2", "v1.2_x"] {
            assert!(validate_trail_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", ".x", "a..b", "a/b", "x.lock", "a b", "HEAD", "x."] {
            assert!(validate_trail_name(bad).is_err(), "{bad:?}");
        }
    }
}
