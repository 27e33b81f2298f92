//! Where things stand (`atom status`) and what is wrong with it and how to
//! fix it (`atom doctor`), SPEC §5.
//!
//! Both work offline: remotes are compared through the tracking refs a
//! push or pull leaves (`refs/atom/remotes/<remote>/heads/<trail>`, the
//! remote's tip when they last met), the mirror through its local marks.
//! `status` answers from the index in O(log n + k); `doctor` is a check and
//! reads everything once (an index rebuilt in memory, every signature).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::store::HEADS_PREFIX;
use crate::sync::tracking_ref;
use crate::trail::{Trail, TrailError};
use crate::verify::VerifyScope;

/// What `atom status` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The store directory.
    pub store: PathBuf,
    /// The trail commands act on (`--trail`, `ATOM_TRAIL`, else HEAD's).
    pub trail: String,
    /// The trail HEAD names (what `atom switch` set).
    pub current: String,
    /// The head atom of `trail`, `None` while it has none.
    pub head: Option<Head>,
    /// Atoms on `trail`.
    pub atoms: usize,
    /// Trails in the store.
    pub trails: usize,
    /// Each remote, and how `trail` compares with what it had when they last met.
    pub remotes: Vec<RemoteState>,
    /// The D1 mirror.
    pub mirror: MirrorState,
    /// The git hooks in the project repository around the current directory.
    pub hooks: Option<HooksState>,
    /// Coding agents' hooks (`atom agents`): where they are installed.
    pub agents: AgentsState,
    /// The transparency log's latest checkpoint: its size, `None` while empty.
    pub checkpoint: Option<u64>,
    /// Automatic sync (`atom sync auto`): mode, pending, last success and error.
    pub sync: crate::sync::auto::AutoStatus,
}

/// A trail's head atom.
#[derive(Debug, Clone, Serialize)]
pub struct Head {
    /// Its id.
    pub atom_id: String,
    /// Its commit.
    pub commit: String,
    /// Its time.
    pub timestamp: String,
}

/// One remote, seen through its tracking ref for the trail.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteState {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Atoms on the trail here that the remote did not have when last met;
    /// `None` when the trail never met this remote.
    pub ahead: Option<usize>,
    /// Atoms the remote had that the trail here lacks.
    pub behind: Option<usize>,
}

/// The mirror's local state.
#[derive(Debug, Clone, Serialize)]
pub struct MirrorState {
    /// Whether one is configured.
    pub configured: bool,
    /// Atoms not yet mirrored (when configured).
    pub pending: Option<usize>,
}

/// The hooks of one project repository.
#[derive(Debug, Clone, Serialize)]
pub struct HooksState {
    /// The repository's top directory.
    pub repo: PathBuf,
    /// The hooks of atom installed there.
    pub installed: Vec<String>,
    /// Whether they record into this store.
    pub this_store: bool,
}

/// Coding agents' hooks and their spool.
#[derive(Debug, Clone, Serialize)]
pub struct AgentsState {
    /// The agents whose hooks are installed (or outdated), in the project
    /// around the current directory or the user's home.
    pub installed: Vec<crate::agents::install::AgentStatus>,
    /// Events spooled by hooks, not yet recorded.
    pub spooled: usize,
    /// Warnings of recording spooled events, not yet shown (`atom agents
    /// drain` shows them).
    pub warnings: usize,
}

/// One thing `atom doctor` checked.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked: `git`, `index`, `log`, `signing key`, `mirror`,
    /// `remote <name>`, `hooks`.
    pub check: String,
    /// `ok`, `warning` (works, but something waits) or `problem`.
    pub status: &'static str,
    /// What was found.
    pub detail: String,
    /// The command that fixes it, when something is to be done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(check: &str, detail: String) -> Self {
        Check {
            check: check.to_owned(),
            status: "ok",
            detail,
            fix: None,
        }
    }

    fn warning(check: &str, detail: String, fix: String) -> Self {
        Check {
            check: check.to_owned(),
            status: "warning",
            detail,
            fix: Some(fix),
        }
    }

    fn problem(check: &str, detail: String, fix: String) -> Self {
        Check {
            check: check.to_owned(),
            status: "problem",
            detail,
            fix: Some(fix),
        }
    }
}

impl Trail {
    /// Where things stand; `cwd` is where to look for a project repository's hooks.
    pub fn status(&self, cwd: &Path) -> Result<Status, TrailError> {
        let trail = self.current_trail()?;
        let trails = self.trails().map_err(branch_error)?;
        let info = trails.iter().find(|t| t.name == trail);
        let tip = self.git().ref_target(&format!("{HEADS_PREFIX}{trail}"))?;
        let head = match tip {
            Some(c) => {
                let v = self.view(c)?;
                Some(Head {
                    atom_id: v.record.atom_id.to_string(),
                    commit: c.to_string(),
                    timestamp: v.record.timestamp,
                })
            }
            None => None,
        };
        let mut remotes = Vec::new();
        for r in self.remotes().unwrap_or_default() {
            let theirs = self.git().ref_target(&tracking_ref(&r.name, &trail))?;
            let (ahead, behind) = match (theirs, tip) {
                (Some(theirs), Some(ours)) => (
                    Some(self.with_index(|ix| ix.only_in(&theirs, &ours))?.len()),
                    Some(self.with_index(|ix| ix.only_in(&ours, &theirs))?.len()),
                ),
                (Some(_), None) => (Some(0), None),
                (None, _) => (None, None),
            };
            remotes.push(RemoteState {
                name: r.name,
                url: r.url,
                ahead,
                behind,
            });
        }
        let mirror = match self.mirror_status() {
            Ok(m) => MirrorState {
                configured: m.configured,
                pending: m.configured.then_some(m.pending),
            },
            Err(_) => MirrorState {
                configured: self.mirror_settings().is_some(),
                pending: None,
            },
        };
        let hooks = crate::hooks::locate(cwd).ok().map(|dir| {
            let found = crate::hooks::installed(&dir);
            let home = std::fs::canonicalize(self.home()).ok();
            HooksState {
                repo: dir.repo,
                this_store: found.iter().any(|(_, store)| store.is_some())
                    && found
                        .iter()
                        .filter_map(|(_, store)| store.as_deref())
                        .all(|s| std::fs::canonicalize(s).ok() == home),
                installed: found.into_iter().map(|(n, _)| n.to_owned()).collect(),
            }
        });
        let agents = AgentsState {
            installed: match (std::env::current_exe(), std::path::absolute(self.home())) {
                (Ok(exe), Ok(store)) => crate::agents::install::statuses(cwd, &exe, &store)
                    .into_iter()
                    .filter(|a| a.state != "not installed")
                    .collect(),
                _ => Vec::new(),
            },
            spooled: crate::agents::spool::pending(self.home()).map_or(0, |p| p.len()),
            warnings: crate::agents::warnings_waiting(self.home()),
        };
        Ok(Status {
            store: self.home().to_owned(),
            current: self.head_trail()?,
            head,
            atoms: info.map_or(0, |t| t.atoms),
            trails: trails.len(),
            trail,
            remotes,
            mirror,
            hooks,
            agents,
            checkpoint: self.checkpoint()?.map(|c| c.size),
            sync: self.auto_status()?,
        })
    }

    /// Check git against the index, the transparency log, the signatures,
    /// the signing key, the mirror and the remotes; each finding names the
    /// command that fixes it.
    pub fn doctor(&self, cwd: &Path) -> Result<Vec<Check>, TrailError> {
        let mut checks = Vec::new();
        let verify = self.verify(VerifyScope::All)?;
        checks.push(if verify.failures.is_empty() {
            Check::ok("git", format!("{} atoms verify", verify.atoms))
        } else {
            Check::problem(
                "git",
                format!(
                    "{} of {} atoms fail verification (first: {}: {})",
                    verify.failures.len(),
                    verify.atoms,
                    verify.failures[0]
                        .atom_id
                        .as_deref()
                        .unwrap_or(&verify.failures[0].commit),
                    verify.failures[0].reasons.join("; ")
                ),
                "atom verify --all names each; `atom rollback ID` drops them from a trail (archived, nothing is lost)".into(),
            )
        });
        checks.push(if verify.log.problems.is_empty() {
            Check::ok(
                "log",
                format!("transparency log of {} leaves checks out", verify.log.size),
            )
        } else {
            Check::problem(
                "log",
                verify.log.problems.join("; "),
                "atom verify --all shows the log; `atom pull` from a device that has the atoms brings them back".into(),
            )
        });
        let index = self.reindex_check()?;
        checks.push(if index.differences.is_empty() {
            Check::ok(
                "index",
                format!("the index matches git ({} atoms)", index.atoms),
            )
        } else {
            Check::problem(
                "index",
                format!(
                    "the index differs from git in {} rows",
                    index.differences.len()
                ),
                "atom reindex".into(),
            )
        });
        let signer = self.signer();
        checks.push(match &signer {
            Ok(s) => Check::ok("signing key", format!("signs as {}", s.fingerprint())),
            Err(e) => Check::problem(
                "signing key",
                e.to_string(),
                "atom init --key FILE (an unencrypted key of yours), or restore keys/ from a backup".into(),
            ),
        });
        // Beside an ECDSA or RSA signing key, an Ed25519 key signs the log.
        if let Some(s) = signer.ok().filter(|s| s.ed25519().is_none()) {
            checks.push(match self.log_key_of(&s) {
                Ok(_) => Check::ok(
                    "log key",
                    format!("keys/atom_ed25519 signs the checkpoints ({} signs atoms)", s.algorithm()),
                ),
                Err(e) => Check::problem(
                    "log key",
                    e.to_string(),
                    "move a wrong keys/atom_ed25519 aside, then atom init --key FILE with the signing key".into(),
                ),
            });
        }
        let status = self.status(cwd)?;
        if status.mirror.configured {
            checks.push(match status.mirror.pending {
                Some(0) => Check::ok("mirror", "every atom is mirrored".into()),
                Some(n) => Check::warning(
                    "mirror",
                    format!("{} not mirrored yet", atoms(n)),
                    "atom mirror push".into(),
                ),
                None => Check::problem(
                    "mirror",
                    "the mirror's state cannot be read".into(),
                    "atom mirror status".into(),
                ),
            });
        }
        if let Some(e) = &status.sync.last_error {
            checks.push(Check::warning(
                "sync",
                format!(
                    "automatic sync failed {} time(s) in a row: {e}",
                    status.sync.failures
                ),
                "atom sync (one round now, saying what is wrong)".into(),
            ));
        }
        for r in &status.remotes {
            let check = format!("remote {}", r.name);
            checks.push(match (r.ahead, r.behind) {
                (None, _) => Check::warning(
                    &check,
                    format!(
                        "trail {} never met {} (no push or pull yet)",
                        status.trail, r.name
                    ),
                    format!("atom push {}", crate::shell::quote(&r.name)),
                ),
                (Some(a), Some(b)) if a > 0 && b > 0 => Check::warning(
                    &check,
                    format!("{} ahead and {b} behind, as last seen", atoms(a)),
                    format!(
                        "atom pull {0} && atom push {0}",
                        crate::shell::quote(&r.name)
                    ),
                ),
                (Some(a), _) if a > 0 => Check::warning(
                    &check,
                    format!("{} not pushed", atoms(a)),
                    format!("atom push {}", crate::shell::quote(&r.name)),
                ),
                (_, Some(b)) if b > 0 => Check::warning(
                    &check,
                    format!("{} behind, as last seen", atoms(b)),
                    format!("atom pull {}", crate::shell::quote(&r.name)),
                ),
                _ => Check::ok(&check, "up to date, as last seen".into()),
            });
        }
        if let Some(h) = &status.hooks {
            if !h.installed.is_empty() && !h.this_store {
                checks.push(Check::warning(
                    "hooks",
                    format!(
                        "the hooks in {} record into another store",
                        h.repo.display()
                    ),
                    format!(
                        "atom --store {} hooks install --repo {}",
                        crate::shell::quote(&self.home().to_string_lossy()),
                        crate::shell::quote(&h.repo.to_string_lossy())
                    ),
                ));
            }
        }
        Ok(checks)
    }
}

/// `1 atom`, `2 atoms`.
fn atoms(n: usize) -> String {
    format!("{n} atom{}", if n == 1 { "" } else { "s" })
}

fn branch_error(e: crate::branches::BranchError) -> TrailError {
    match e {
        crate::branches::BranchError::Trail(e) => e,
        other => TrailError::NotFound {
            what: other.to_string(),
        },
    }
}
