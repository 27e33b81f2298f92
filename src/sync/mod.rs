//! Sharing trails through any git remote (SPEC §5, §6): `remote`, `push`,
//! `pull`, `clone`.
//!
//! The design decision a reader must know: the transport is the `git`
//! binary (gix cannot push, and the user's ssh settings, credential helpers
//! and `insteadOf` rules must apply), but nothing a remote sends is trusted
//! until atom has checked it. Pull fetches into `refs/atom/incoming/<remote>/`,
//! a namespace the index and `verify` ignore; verifies every atom that no
//! local ref reaches yet (digest, links, signature by a trusted key); and
//! only then, under the store lock, creates, fast-forwards or joins each
//! trail (with a signed MERGE atom) by compare-and-swap. The incoming refs
//! are deleted at the end, so a refused pull leaves nothing reachable.
//!
//! The trusted public keys travel as `refs/atom/signers`: a chain of signed
//! commits whose tree holds `allowed_signers`, each signed by a key of the
//! list before it ([`crate::custody`]). Push publishes exactly the keys this
//! store trusts, when the remote's list trusts this store's key; clone
//! trusts the newest list in custody; pull never trusts a key by itself. The
//! commit of the chain a store last checked is kept as
//! `refs/atom/remotes/<remote>/signers`, so that a rewritten chain is seen.

pub mod auto;
pub(crate) mod git_cli;
mod rollback;
pub mod witness;

use std::path::{Path, PathBuf};

use gix::ObjectId;
use serde::Serialize;
use serde_json::{json, Map};

use crate::append::{Onto, Transaction};
use crate::branches::{validate_trail_name, BranchError, ARCHIVE_PREFIX};
use crate::custody::{self, KeyChain, NextList};
use crate::shell;
use crate::signing::{key_line, signature_key, AllowedSigners};
use crate::store::{StoreError, HEADS_PREFIX};
use crate::trail::{set_git_config, Draft, Trail, TrailError};
use crate::verify::AtomProblem;
use git_cli::{GitCli, GitFailure};
use witness::WitnessReport;
use witness::{COSIGS_PREFIX, LOGS_PREFIX};

/// Where a pull keeps what it fetched until it is verified.
pub const INCOMING_PREFIX: &str = "refs/atom/incoming/";
/// The published trusted keys (SPEC §6).
pub const SIGNERS_REF: &str = "refs/atom/signers";
/// The file holding them in each commit of [`SIGNERS_REF`].
pub use crate::custody::SIGNERS_FILE;
/// Where a store keeps, per remote, the commit of the remote's key list it
/// checked last: `refs/atom/remotes/<remote>/signers`.
pub const SEEN_PREFIX: &str = "refs/atom/remotes/";
/// The lock file that serializes pushes and pulls, in the git dir.
const SYNC_LOCK: &str = "atom-sync.lock";
/// The remote `clone` makes, and the default of `push` and `pull`.
pub const DEFAULT_REMOTE: &str = "origin";

/// Why a sync command failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The store has no remote of that name.
    #[error("no remote named {name:?}")]
    NoSuchRemote {
        /// The name given.
        name: String,
    },
    /// `remote add` of a name already in use.
    #[error("remote {name:?} already exists ({url})")]
    RemoteExists {
        /// The name.
        name: String,
        /// Its URL.
        url: String,
    },
    /// Not usable as a git remote name.
    #[error("{name:?} is not a valid remote name")]
    InvalidRemoteName {
        /// The name given.
        name: String,
    },
    /// git could not reach or talk to the remote.
    #[error("{what} {remote} failed: {message}")]
    Transport {
        /// `fetch` or `push`.
        what: String,
        /// The remote.
        remote: String,
        /// git's own words.
        message: String,
    },
    /// The remote has atoms this store lacks on the refs pushed.
    #[error("{remote} refused {}: it has atoms this store lacks", refs.join(", "))]
    Rejected {
        /// The remote.
        remote: String,
        /// The refused refs.
        refs: Vec<String>,
    },
    /// Something fetched did not verify; nothing was changed.
    #[error("{remote}: {reason}; nothing was changed")]
    Refused {
        /// The remote.
        remote: String,
        /// The first problem, naming the atom or key.
        reason: String,
        /// What to do about it (the `atom signers add` command when a key is unknown).
        hint: String,
    },
    /// `pull REMOTE TRAIL` of a trail the remote does not have.
    #[error("{remote} has no trail {trail:?}")]
    NoRemoteTrail {
        /// The remote.
        remote: String,
        /// The trail.
        trail: String,
    },
    /// `clone` into a directory that holds something.
    #[error("{} already exists and is not empty", dir.display())]
    DirExists {
        /// The directory.
        dir: PathBuf,
    },
    /// A trail name that git or atom cannot use, or a trail that is not here.
    #[error(transparent)]
    Branch(#[from] BranchError),
    /// The store failed.
    #[error(transparent)]
    Trail(#[from] TrailError),
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        SyncError::Trail(e.into())
    }
}

impl SyncError {
    fn transport(remote: &str) -> impl FnOnce(GitFailure) -> SyncError + '_ {
        move |f| SyncError::Transport {
            what: f.what,
            remote: remote.to_owned(),
            message: f.message,
        }
    }
}

/// How [`Trail::pull_with`] pulls.
#[derive(Debug, Clone, Copy, Default)]
pub struct PullOptions {
    /// Show git's progress.
    pub progress: bool,
    /// First move damaged objects aside (into `trail.git/atom-damaged/`,
    /// see [`crate::store::GitStore::quarantine_damaged_objects`]) and
    /// fetch every object again, so that good copies replace them.
    pub repair: bool,
    /// Join a remote trail that shares no history with the local trail of
    /// that name (refused otherwise).
    pub allow_unrelated: bool,
}

/// A configured remote.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteInfo {
    /// Its name (`origin`).
    pub name: String,
    /// Where it is.
    pub url: String,
}

/// One ref's outcome in a push.
#[derive(Debug, Clone, Serialize)]
pub struct PushedRef {
    /// The ref on the remote (`refs/heads/main`).
    pub name: String,
    /// `new`, `updated`, `up to date` or `rejected`.
    pub status: String,
    /// git's words for it.
    pub detail: String,
}

/// What `atom push` did.
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    /// The remote.
    pub remote: String,
    /// Its URL.
    pub url: String,
    /// Every ref git reported on.
    pub refs: Vec<PushedRef>,
    /// The published keys' commit now on the remote (empty when it has none).
    pub signers: String,
    /// How many keys it lists.
    pub keys: usize,
    /// What happened to the published keys: `up to date`, `updated` (this
    /// store's list now), `replaced` (commits not in custody were dropped),
    /// or `not listed` (the remote's list does not trust this store's key,
    /// so it was left as it is).
    pub signers_action: String,
    /// Keys the remote listed that this store does not trust, and so no
    /// longer publishes.
    pub keys_dropped: Vec<UntrustedKey>,
    /// What is wrong with the remote's key list, when something is.
    pub signers_problem: Option<String>,
}

/// What a pull did to one trail.
#[derive(Debug, Clone, Serialize)]
pub struct TrailUpdate {
    /// The trail (or `archive/...`).
    pub trail: String,
    /// `created`, `fast-forward`, `merged`, `up to date` or `ahead` (this
    /// store has everything the remote has, and more).
    pub action: String,
    /// Atoms that arrived on it.
    pub atoms: usize,
    /// The MERGE atom's id, when one was made.
    pub merge: Option<String>,
    /// The trail's tip afterwards.
    pub commit: String,
}

/// A key the remote publishes that this store does not trust.
#[derive(Debug, Clone, Serialize)]
pub struct UntrustedKey {
    /// The principal the remote lists it under.
    pub name: String,
    /// `SHA256:...`.
    pub fingerprint: String,
    /// `ssh-ed25519 AAAA...`.
    pub key: String,
}

/// What `atom pull` did.
#[derive(Debug, Clone, Serialize)]
pub struct PullReport {
    /// The remote.
    pub remote: String,
    /// Its URL.
    pub url: String,
    /// Atoms fetched and verified.
    pub verified: usize,
    /// Per trail and archive ref.
    pub trails: Vec<TrailUpdate>,
    /// Keys the remote publishes that this store does not trust (never
    /// trusted by a pull; `atom signers add` does that).
    pub untrusted_keys: Vec<UntrustedKey>,
    /// Damaged objects replaced by good copies (`--repair`).
    pub repaired: Vec<String>,
    /// What is wrong with the remote's published key list, when something
    /// is (its keys past the problem are not even offered for trust).
    pub signers_problem: Option<String>,
    /// Transparency logs checked and cosigned, cosignatures collected.
    pub witness: WitnessReport,
}

/// What `atom clone` did.
#[derive(Debug, Clone, Serialize)]
pub struct CloneReport {
    /// The new store.
    pub home: PathBuf,
    /// The new store's own key.
    pub fingerprint: String,
    /// The keys trusted on first use, from the remote's published list.
    pub trusted: Vec<UntrustedKey>,
    /// The trails fetched.
    pub pull: PullReport,
    /// The current trail.
    pub current: String,
}

impl Trail {
    fn cli(&self) -> GitCli<'_> {
        GitCli::new(self.git_dir())
    }

    /// One push or pull at a time in a store (a command and the automatic
    /// sync worker, say): they share the incoming namespace and the
    /// tracking refs. Blocks; the kernel drops it with its holder.
    fn sync_lock(&self) -> Result<crate::store::lock::StoreLock, SyncError> {
        let path = self.git_dir().join(SYNC_LOCK);
        crate::store::lock::StoreLock::acquire(&path).map_err(|source| {
            SyncError::from(StoreError::Io {
                context: format!("locking {}", path.display()),
                source,
            })
        })
    }

    /// The configured remotes, by name.
    pub fn remotes(&self) -> Result<Vec<RemoteInfo>, SyncError> {
        let out = self
            .cli()
            .output(&["config", "--get-regexp", r"^remote\..*\.url$"])
            .unwrap_or_default();
        let mut remotes: Vec<RemoteInfo> = out
            .lines()
            .filter_map(|l| {
                let (key, url) = l.split_once(' ')?;
                let name = key.strip_prefix("remote.")?.strip_suffix(".url")?;
                Some(RemoteInfo {
                    name: name.to_owned(),
                    url: url.to_owned(),
                })
            })
            .collect();
        remotes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(remotes)
    }

    /// The URL of remote `name`.
    pub fn remote_url(&self, name: &str) -> Result<String, SyncError> {
        self.remotes()?
            .into_iter()
            .find(|r| r.name == name)
            .map(|r| r.url)
            .ok_or_else(|| SyncError::NoSuchRemote {
                name: name.to_owned(),
            })
    }

    /// Add remote `name` at `url`. A local path is made absolute, so the
    /// remote works from any directory.
    pub fn remote_add(&self, name: &str, url: &str) -> Result<RemoteInfo, SyncError> {
        validate_remote_name(name)?;
        if let Ok(existing) = self.remote_url(name) {
            return Err(SyncError::RemoteExists {
                name: name.to_owned(),
                url: existing,
            });
        }
        let url = absolute_if_local(url);
        set_git_config(self.git_dir(), &format!("remote.{name}.url"), &url)?;
        Ok(RemoteInfo {
            name: name.to_owned(),
            url,
        })
    }

    /// Forget remote `name` (the trails it brought stay).
    pub fn remote_remove(&self, name: &str) -> Result<RemoteInfo, SyncError> {
        let url = self.remote_url(name)?;
        let cli = self.cli();
        cli.output(&["config", "--remove-section", &format!("remote.{name}")])
            .map_err(SyncError::transport(name))?;
        cli.delete_refs_under(&format!("{INCOMING_PREFIX}{name}/"))
            .map_err(SyncError::transport(name))?;
        cli.delete_refs_under(&format!("{SEEN_PREFIX}{name}/"))
            .map_err(SyncError::transport(name))?;
        Ok(RemoteInfo {
            name: name.to_owned(),
            url,
        })
    }

    /// Publish trails on `remote`: every trail, the archive refs and the
    /// trusted keys, or only `trail` and the keys. Refs the remote refused
    /// (it has atoms this store lacks) are [`SyncError::Rejected`], after
    /// the others were pushed.
    pub fn push(
        &self,
        remote: &str,
        trail: Option<&str>,
        progress: bool,
    ) -> Result<PushReport, SyncError> {
        let url = self.remote_url(remote)?;
        let _one_at_a_time = self.sync_lock()?;
        let mut specs = match trail {
            Some(t) => {
                validate_trail_name(t)?;
                if self
                    .git()
                    .ref_target(&format!("{HEADS_PREFIX}{t}"))?
                    .is_none()
                {
                    let known = self.trails()?.into_iter().map(|t| t.name).collect();
                    return Err(BranchError::NoSuchTrail {
                        name: t.to_owned(),
                        known,
                    }
                    .into());
                }
                vec![format!("{HEADS_PREFIX}{t}:{HEADS_PREFIX}{t}")]
            }
            None => vec![
                format!("{HEADS_PREFIX}*:{HEADS_PREFIX}*"),
                format!("{ARCHIVE_PREFIX}*:{ARCHIVE_PREFIX}*"),
            ],
        };
        let ns = format!("{INCOMING_PREFIX}{remote}/");
        let cli = self.cli();
        let theirs = (|| {
            cli.delete_refs_under(&ns)?;
            cli.fetch(remote, &[format!("+{SIGNERS_REF}*:{ns}signers*")], false)?;
            Ok(())
        })()
        .map_err(SyncError::transport(remote));
        let theirs = theirs.and_then(|()| Ok(self.git().ref_target(&format!("{ns}signers"))?));
        let plan = theirs.and_then(|theirs| self.plan_key_list(remote, theirs));
        let _ = cli.delete_refs_under(&ns);
        let plan = plan?;
        specs.extend(self.witness_refspecs()?);
        // What is pushed, read before the push: a tracking ref never claims
        // the remote has an atom recorded while the push ran.
        let mut pushed_tips = self.git().refs_under(HEADS_PREFIX)?;
        pushed_tips.extend(self.git().refs_under(ARCHIVE_PREFIX)?);
        let mut lease = None;
        if let Some(target) = plan.target {
            specs.push(format!("{target}:{SIGNERS_REF}"));
            if plan.replaces {
                lease = Some((SIGNERS_REF, plan.theirs));
            }
        }
        let pushed = cli
            .push(remote, &specs, lease, progress)
            .map_err(SyncError::transport(remote))?;
        let refs: Vec<PushedRef> = pushed
            .into_iter()
            .map(|p| PushedRef {
                status: match p.flag {
                    '*' => "new",
                    '=' => "up to date",
                    '!' => "rejected",
                    _ => "updated",
                }
                .to_owned(),
                name: p.name,
                detail: p.summary,
            })
            .collect();
        let mut refs = refs;
        let rejected: Vec<String> = refs
            .iter()
            .filter(|r| r.status == "rejected")
            .map(|r| r.name.clone())
            .collect();
        // A trail rolled back here goes over the remote tip it discarded.
        for name in self.push_rollbacks(remote, &rejected, progress)? {
            if let Some(r) = refs.iter_mut().find(|r| r.name == name) {
                r.status = "rolled back".into();
                r.detail = "over the tip this store's rollback discarded".into();
            }
        }
        let rejected: Vec<String> = refs
            .iter()
            .filter(|r| r.status == "rejected")
            .map(|r| r.name.clone())
            .collect();
        if !rejected.contains(&SIGNERS_REF.to_owned()) {
            if let Some(seen) = plan.target.or(plan.chain.valid) {
                self.git().force_ref(&seen_ref(remote), seen)?;
            }
        }
        for r in refs.iter().filter(|r| r.status != "rejected") {
            let Some((_, tip)) = pushed_tips.iter().find(|(name, _)| *name == r.name) else {
                continue;
            };
            if let Some(trail) = r.name.strip_prefix(HEADS_PREFIX) {
                self.git().force_ref(&tracking_ref(remote, trail), *tip)?;
            } else if let Some(rest) = r.name.strip_prefix(ARCHIVE_PREFIX) {
                self.git()
                    .force_ref(&tracking_archive_ref(remote, rest), *tip)?;
            }
        }
        if !rejected.is_empty() {
            return Err(SyncError::Rejected {
                remote: remote.to_owned(),
                refs: rejected,
            });
        }
        let now_there = plan.target.or(plan.theirs);
        Ok(PushReport {
            remote: remote.to_owned(),
            url,
            refs,
            signers: now_there.map(|c| c.to_string()).unwrap_or_default(),
            keys: match plan.target {
                Some(_) => self.allowed_signers().entries().len(),
                None => plan.chain.keys.entries().len(),
            },
            signers_action: plan.action.to_owned(),
            keys_dropped: plan.keys_dropped,
            signers_problem: plan.chain.problem,
        })
    }

    /// Check the remote's key list (`theirs`, fetched) against the commit
    /// of it this store checked last, and decide what to publish.
    fn plan_key_list(&self, remote: &str, theirs: Option<ObjectId>) -> Result<KeyPlan, SyncError> {
        let seen = self.git().ref_target(&seen_ref(remote))?;
        let chain = match (theirs, seen) {
            (Some(t), _) => custody::check(self.git(), t, seen)?,
            (None, Some(s)) => KeyChain {
                problem: Some(format!(
                    "{remote} no longer publishes {SIGNERS_REF}, which held {}",
                    s.to_hex_with_len(12)
                )),
                ..custody::check(self.git(), s, Some(s))?
            },
            (None, None) => KeyChain::default(),
        };
        let next = self.next_key_list(chain.valid.is_some().then_some(&chain))?;
        let replaces = chain.valid != theirs;
        let (target, action) = match next {
            NextList::Same => (
                chain.valid,
                if replaces { "replaced" } else { "up to date" },
            ),
            NextList::Commit(c) => (Some(c), if replaces { "replaced" } else { "updated" }),
            NextList::NotListed => (None, "not listed"),
        };
        let dropped = match next {
            NextList::Commit(_) => untrusted(&chain.keys, self.allowed_signers()),
            _ => Vec::new(),
        };
        Ok(KeyPlan {
            theirs,
            chain,
            target,
            replaces,
            action,
            keys_dropped: dropped,
        })
    }

    /// The remote's published keys (`theirs`, fetched) as far as they are
    /// in custody, checked from the commit this store saw last.
    fn published_keys(
        &self,
        remote: &str,
        theirs: Option<ObjectId>,
    ) -> Result<KeyChain, SyncError> {
        let seen = self.git().ref_target(&seen_ref(remote))?;
        let Some(theirs) = theirs else {
            return Ok(KeyChain::default());
        };
        Ok(custody::check(self.git(), theirs, seen)?)
    }

    /// Remember the commit of `remote`'s key list checked, when the chain
    /// grew from the one seen before (once the pull went through).
    fn remember_keys(&self, remote: &str, chain: &KeyChain) -> Result<(), SyncError> {
        let seen_ref = seen_ref(remote);
        let seen = self.git().ref_target(&seen_ref)?;
        if let Some(valid) = chain.valid.filter(|v| Some(*v) != seen) {
            self.git().force_ref(&seen_ref, valid)?;
        }
        Ok(())
    }

    /// Fetch from `remote` (every trail, archive and the published keys, or
    /// only `trail`), verify every atom that is new here, and bring the
    /// trails up to date; see the module documentation.
    pub fn pull(
        &self,
        remote: &str,
        trail: Option<&str>,
        progress: bool,
    ) -> Result<PullReport, SyncError> {
        let options = PullOptions {
            progress,
            ..PullOptions::default()
        };
        self.pull_with(remote, trail, &options)
    }

    /// [`Trail::pull`] with [`PullOptions`].
    pub fn pull_with(
        &self,
        remote: &str,
        trail: Option<&str>,
        options: &PullOptions,
    ) -> Result<PullReport, SyncError> {
        let PullOptions {
            progress,
            repair,
            allow_unrelated,
        } = *options;
        let url = self.remote_url(remote)?;
        if let Some(t) = trail {
            validate_trail_name(t)?;
        }
        let _one_at_a_time = self.sync_lock()?;
        let ns = format!("{INCOMING_PREFIX}{remote}/");
        let mut specs = vec![
            format!("+{SIGNERS_REF}*:{ns}signers*"),
            format!("+{LOGS_PREFIX}*:{ns}logs/*"),
            format!("+{COSIGS_PREFIX}*:{ns}cosigs/*"),
        ];
        match trail {
            Some(t) => specs.push(format!("+{HEADS_PREFIX}{t}:{ns}heads/{t}")),
            None => {
                specs.push(format!("+{HEADS_PREFIX}*:{ns}heads/*"));
                specs.push(format!("+{ARCHIVE_PREFIX}*:{ns}archive/*"));
            }
        }
        let repaired = if repair {
            let _lock = self.lock()?;
            self.git().quarantine_damaged_objects()?
        } else {
            Vec::new()
        };
        let cli = self.cli();
        let result = cli
            .delete_refs_under(&ns)
            .and_then(|()| cli.fetch_with(remote, &specs, progress, repair))
            .map_err(SyncError::transport(remote))
            .and_then(|()| self.accept_incoming(remote, &ns, trail, allow_unrelated));
        let cleaned = cli
            .delete_refs_under(&ns)
            .map_err(SyncError::transport(remote));
        let mut report = result?;
        cleaned?;
        report.url = url;
        report.repaired = repaired.iter().map(ToString::to_string).collect();
        Ok(report)
    }

    /// Verify what sits under the incoming namespace `ns`, then move the
    /// trails and archive refs (under the store lock).
    fn accept_incoming(
        &self,
        remote: &str,
        ns: &str,
        only: Option<&str>,
        allow_unrelated: bool,
    ) -> Result<PullReport, SyncError> {
        let heads = self.git().refs_under(&format!("{ns}heads/"))?;
        let archives = self.git().refs_under(&format!("{ns}archive/"))?;
        self.check_incoming_refs(remote, ns, &heads, &archives)?;
        if let Some(t) = only {
            if heads.is_empty() {
                return Err(SyncError::NoRemoteTrail {
                    remote: remote.to_owned(),
                    trail: t.to_owned(),
                });
            }
        }
        let chain = self.published_keys(remote, self.git().ref_target(&format!("{ns}signers"))?)?;
        let published = chain.keys.clone();
        let untrusted_keys = untrusted(&published, self.allowed_signers());

        let tips: Vec<ObjectId> = heads.iter().chain(&archives).map(|(_, id)| *id).collect();
        let cli = self.cli();
        let new = cli
            .new_commits(&tips)
            .map_err(SyncError::transport(remote))?;
        let problems = self.verify_commits(&new, &tips)?;
        if let Some(first) = problems.first() {
            return Err(self.refusal(remote, first, problems.len(), &published));
        }
        self.refuse_resigned(remote, &new)?;
        let mut witness = WitnessReport::default();
        let logs = self.check_logs(remote, ns, &mut witness)?;

        let _lock = self.lock()?;
        if !allow_unrelated {
            self.refuse_unrelated(remote, ns, &heads)?;
        }
        let mut updates = Vec::new();
        for (name, theirs) in &heads {
            let trail = &name[ns.len() + "heads/".len()..];
            updates.push(self.join_trail(remote, trail, *theirs)?);
        }
        for (name, theirs) in &archives {
            let rest = &name[ns.len() + "archive/".len()..];
            if let Some(update) = self.keep_archive(rest, *theirs)? {
                updates.push(update);
            }
        }
        // Index and log what arrived now: the store accepted it.
        self.log_queued_locked()?;
        self.remember_keys(remote, &chain)?;
        for (name, theirs) in &heads {
            let trail = &name[ns.len() + "heads/".len()..];
            self.git()
                .force_ref(&tracking_ref(remote, trail), *theirs)?;
        }
        for (name, theirs) in &archives {
            let rest = &name[ns.len() + "archive/".len()..];
            self.git()
                .force_ref(&tracking_archive_ref(remote, rest), *theirs)?;
        }
        self.cosign_logs(logs, &mut witness)?;
        self.remember_logs(remote, ns)?;
        self.collect_cosignatures(ns, &mut witness)?;
        Ok(PullReport {
            remote: remote.to_owned(),
            url: String::new(),
            verified: new.len(),
            trails: updates,
            untrusted_keys,
            repaired: Vec::new(),
            signers_problem: chain.problem,
            witness,
        })
    }

    /// Refuse what a remote sent before anything changes here: refs that
    /// do not point at commits, and names a local trail cannot have. Every
    /// bad ref is named.
    fn check_incoming_refs(
        &self,
        remote: &str,
        ns: &str,
        heads: &[(String, ObjectId)],
        archives: &[(String, ObjectId)],
    ) -> Result<(), SyncError> {
        let all: Vec<&(String, ObjectId)> = heads.iter().chain(archives).collect();
        let ids: Vec<ObjectId> = all.iter().map(|(_, id)| *id).collect();
        let kinds = self
            .cli()
            .kinds(&ids)
            .map_err(SyncError::transport(remote))?;
        let mut bad = Vec::new();
        for ((name, _), kind) in all.iter().zip(&kinds) {
            let shown = format!("refs/{}", &name[ns.len()..]);
            let shown = shown.replacen("refs/archive/", "refs/atom/archive/", 1);
            if kind != "commit" {
                bad.push(format!("{shown:?} points at a {kind}, not a commit"));
                continue;
            }
            let problem = match name[ns.len()..].split_once('/') {
                Some(("heads", trail)) => validate_trail_name(trail).err(),
                Some(("archive", rest)) => match rest.split_once('/') {
                    Some((trail, tip)) => validate_trail_name(trail)
                        .and_then(|()| validate_trail_name(tip))
                        .err(),
                    None => Some(BranchError::InvalidName {
                        name: rest.to_owned(),
                        reason: "an archive is named <trail>/<tip>",
                    }),
                },
                _ => None,
            };
            if let Some(e) = problem {
                bad.push(format!("{shown:?}: {e}"));
            }
        }
        if bad.is_empty() {
            return Ok(());
        }
        let n = bad.len();
        Err(SyncError::Refused {
            remote: remote.to_owned(),
            reason: format!(
                "{n} ref{} cannot be taken: {}",
                if n == 1 { "" } else { "s" },
                bad.join("; ")
            ),
            hint: "pull the trails you want by name (`atom pull REMOTE TRAIL`), and ask the remote's owner to delete those refs".into(),
        })
    }

    /// Refuse remote trails whose history shares nothing with the local
    /// trail of that name (another store's trail that happens to have the
    /// same name): joining them is `--allow-unrelated`'s decision.
    fn refuse_unrelated(
        &self,
        remote: &str,
        ns: &str,
        heads: &[(String, ObjectId)],
    ) -> Result<(), SyncError> {
        let cli = self.cli();
        let mut unrelated = Vec::new();
        for (name, theirs) in heads {
            let trail = &name[ns.len() + "heads/".len()..];
            let Some(ours) = self.git().ref_target(&format!("{HEADS_PREFIX}{trail}"))? else {
                continue;
            };
            if !cli
                .related(ours, *theirs)
                .map_err(SyncError::transport(remote))?
            {
                unrelated.push(trail.to_owned());
            }
        }
        if unrelated.is_empty() {
            return Ok(());
        }
        Err(SyncError::Refused {
            remote: remote.to_owned(),
            reason: format!(
                "trail{} {} there share{} no history with the local one{}",
                if unrelated.len() == 1 { "" } else { "s" },
                unrelated.join(", "),
                if unrelated.len() == 1 { "s" } else { "" },
                if unrelated.len() == 1 { "" } else { "s" },
            ),
            hint: "if they are meant to be one trail, pull with --allow-unrelated (a MERGE atom joins them); else pull the other trails by name".into(),
        })
    }

    /// Refuse re-signed history: an incoming atom with the id of an atom
    /// here, signed by the same key, with other content. Two devices may
    /// mint one id (each with its own key); one key minting it twice means
    /// its history was rewritten and signed again.
    fn refuse_resigned(&self, remote: &str, new: &[ObjectId]) -> Result<(), SyncError> {
        if self.git().refs_under(HEADS_PREFIX)?.is_empty() {
            // Nothing here to contradict (a clone).
            return Ok(());
        }
        for &c in new {
            let Ok(incoming) = self.git().read_atom(c) else {
                continue;
            };
            let id = &incoming.record.atom_id;
            let here = self.with_index(|ix| ix.commits_of(id))?;
            if here.iter().all(|h| *h == c) {
                continue;
            }
            let key_of = |s: &crate::store::StoredAtom| {
                s.signature
                    .as_ref()
                    .and_then(|(armored, _)| signature_key(armored))
            };
            let Some(key) = key_of(&incoming) else {
                continue;
            };
            for h in here.into_iter().filter(|h| *h != c) {
                let Ok(existing) = self.git().read_atom(h) else {
                    continue;
                };
                if key_of(&existing).as_ref() == Some(&key)
                    && existing.record.digest != incoming.record.digest
                {
                    return Err(SyncError::Refused {
                        remote: remote.to_owned(),
                        reason: format!(
                            "{id} (commit {}) is signed by the key that signed {id} here (commit {}) with other content: that history was rewritten and signed again",
                            c.to_hex_with_len(12),
                            h.to_hex_with_len(12)
                        ),
                        hint: "ask the device that pushed it why its history changed; `atom verify --all` there names the atoms its log holds that no trail reaches".into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Bring trail `name` to include `theirs`: create it, fast-forward it,
    /// or join the two tips with a MERGE atom.
    fn join_trail(
        &self,
        remote: &str,
        name: &str,
        theirs: ObjectId,
    ) -> Result<TrailUpdate, SyncError> {
        let full = format!("{HEADS_PREFIX}{name}");
        let cli = self.cli();
        let transport = SyncError::transport;
        let ours = self.git().ref_target(&full)?;
        let update =
            |action: &str, atoms: usize, merge: Option<String>, commit: ObjectId| TrailUpdate {
                trail: name.to_owned(),
                action: action.to_owned(),
                atoms,
                merge,
                commit: commit.to_string(),
            };
        let Some(ours) = ours else {
            let atoms = cli.count_between(None, theirs).map_err(transport(remote))?;
            self.git().compare_and_swap(&full, None, theirs)?;
            return Ok(update("created", atoms, None, theirs));
        };
        if ours == theirs {
            return Ok(update("up to date", 0, None, ours));
        }
        if cli.is_ancestor(theirs, ours).map_err(transport(remote))? {
            return Ok(update("ahead", 0, None, ours));
        }
        let atoms = cli
            .count_between(Some(ours), theirs)
            .map_err(transport(remote))?;
        if cli.is_ancestor(ours, theirs).map_err(transport(remote))? {
            self.git().compare_and_swap(&full, Some(ours), theirs)?;
            return Ok(update("fast-forward", atoms, None, theirs));
        }
        // The other device rolled back past this tip: follow it, keeping
        // this tip under an archive ref (merging would bring back what the
        // rollback took off).
        if let Some(archive) = self.follow_rollback(name, ours, theirs)? {
            return Ok(update(
                &format!("followed a rollback; this tip kept under {archive}"),
                atoms,
                None,
                theirs,
            ));
        }
        let mut draft = Draft::new("MERGE", "merge");
        draft.summary = format!("merge {name} from {remote}");
        let mut metadata = Map::new();
        metadata.insert("remote".into(), json!(remote));
        metadata.insert("trail".into(), json!(name));
        metadata.insert("local_tip".into(), json!(ours.to_string()));
        metadata.insert("remote_tip".into(), json!(theirs.to_string()));
        draft.metadata = metadata;
        let prepared = self.prepare(draft)?;
        // The caller holds the store lock.
        let mut tx = Transaction::begin_locked(self, None)?;
        let merge = tx.append(
            &prepared,
            Onto::Merge {
                trail: name.to_owned(),
                local: ours,
                remote: theirs,
            },
        )?;
        tx.commit()?;
        Ok(update(
            "merged",
            atoms,
            Some(merge.record.atom_id.to_string()),
            merge.commit,
        ))
    }

    /// Keep a fetched archive ref `rest` (`<trail>/<name>`) here; under
    /// another name when that one holds a different tip.
    fn keep_archive(&self, rest: &str, theirs: ObjectId) -> Result<Option<TrailUpdate>, SyncError> {
        let hex = theirs.to_string();
        for name in [
            format!("{ARCHIVE_PREFIX}{rest}"),
            format!("{ARCHIVE_PREFIX}{rest}-{}", &hex[..12]),
        ] {
            match self.git().ref_target(&name)? {
                Some(c) if c == theirs => return Ok(None),
                Some(_) => continue,
                None => {
                    self.git().compare_and_swap(&name, None, theirs)?;
                    return Ok(Some(TrailUpdate {
                        trail: name[ARCHIVE_PREFIX.len()..].to_owned(),
                        action: "created".into(),
                        atoms: 0,
                        merge: None,
                        commit: hex,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// The error for a pull that found atoms that do not verify: the first
    /// one named, with the key to trust when that is all that is wrong.
    fn refusal(
        &self,
        remote: &str,
        first: &AtomProblem,
        count: usize,
        published: &AllowedSigners,
    ) -> SyncError {
        let who = match &first.atom_id {
            Some(id) => format!("{id} (commit {})", &first.commit[..12]),
            None => format!("commit {}", &first.commit[..12]),
        };
        let more = match count {
            1 => String::new(),
            n => format!(" (and {} more atoms)", n - 1),
        };
        let reason = format!("{who} does not verify: {}{more}", first.reasons.join("; "));
        let unknown_key = first.reasons.iter().all(|r| r.contains("a key not in"));
        let key = ObjectId::from_hex(first.commit.as_bytes())
            .ok()
            .and_then(|c| self.git().read_atom(c).ok())
            .and_then(|s| {
                let key = signature_key(&s.signature?.0)?;
                let name = published
                    .principal_of(&key)
                    .filter(|n| crate::signers::validate_name(n).is_ok())
                    .map(str::to_owned)
                    .unwrap_or_else(|| s.record.agent.clone());
                let name = self.allowed_signers().free_name(&name, &key);
                Some((name, key_line(&key)))
            });
        let hint = match (unknown_key, key) {
            (true, Some((name, key))) => format!(
                "if you trust that key, run: atom signers add {} {}   then pull again",
                shell::quote(&name),
                shell::quote(&key)
            ),
            _ => "the remote holds atoms that do not check out; `atom verify` on the device that pushed them names what is wrong".to_owned(),
        };
        SyncError::Refused {
            remote: remote.to_owned(),
            reason,
            hint,
        }
    }

    /// Make a store at `home` from the remote at `url`: a new key (or `key`,
    /// a user's own, as [`Trail::init`] takes it), `origin`
    /// pointing at `url`, the keys the remote publishes trusted on first use
    /// (when one of them signed the list), every atom verified, the index
    /// built. On failure nothing is left behind.
    pub fn clone_from(
        url: &str,
        home: &Path,
        progress: bool,
        name: Option<&str>,
        key: Option<&Path>,
    ) -> Result<CloneReport, SyncError> {
        let existed = home.exists();
        if existed
            && std::fs::read_dir(home)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            return Err(SyncError::DirExists {
                dir: home.to_owned(),
            });
        }
        let result = clone_into(url, home, progress, name, key);
        if result.is_err() {
            if existed {
                if let Ok(entries) = std::fs::read_dir(home) {
                    for e in entries.flatten() {
                        let _ = std::fs::remove_dir_all(e.path())
                            .or_else(|_| std::fs::remove_file(e.path()));
                    }
                }
            } else {
                let _ = std::fs::remove_dir_all(home);
            }
        }
        result
    }
}

fn clone_into(
    url: &str,
    home: &Path,
    progress: bool,
    name: Option<&str>,
    key: Option<&Path>,
) -> Result<CloneReport, SyncError> {
    let init = Trail::init_named(home, key, name)?;
    let trail = Trail::open(home)?;
    let origin = trail.remote_add(DEFAULT_REMOTE, url)?;
    let ns = format!("{INCOMING_PREFIX}{DEFAULT_REMOTE}/");
    let specs = [
        format!("+{SIGNERS_REF}*:{ns}signers*"),
        format!("+{HEADS_PREFIX}*:{ns}heads/*"),
        format!("+{ARCHIVE_PREFIX}*:{ns}archive/*"),
        format!("+{LOGS_PREFIX}*:{ns}logs/*"),
        format!("+{COSIGS_PREFIX}*:{ns}cosigs/*"),
    ];
    trail
        .cli()
        .fetch(DEFAULT_REMOTE, &specs, progress)
        .map_err(SyncError::transport(DEFAULT_REMOTE))?;
    let theirs = trail.git().ref_target(&format!("{ns}signers"))?;
    let chain = trail.published_keys(DEFAULT_REMOTE, theirs)?;
    if theirs.is_some() && chain.valid.is_none() {
        return Err(SyncError::Refused {
            remote: DEFAULT_REMOTE.into(),
            reason: chain.problem.unwrap_or_else(|| {
                format!("the keys published under {SIGNERS_REF} are not signed by one of them")
            }),
            hint: "ask the remote's owner to run `atom push`, or trust keys yourself with `atom init`, `atom signers add` and `atom pull`".into(),
        });
    }
    // The new key's name is unique among the published signers.
    let own = trail.signer()?.public_key();
    if let Some(own_name) = trail.allowed_signers().principal_of(&own) {
        if let Some(other) = chain.keys.name_taken(own_name, &own) {
            return Err(SyncError::Refused {
                remote: DEFAULT_REMOTE.into(),
                reason: format!(
                    "the name {own_name} is taken by a key it publishes ({})",
                    other.key.fingerprint(ssh_key::HashAlg::Sha256)
                ),
                hint: format!(
                    "clone with another --name, e.g. --name {}",
                    chain.keys.free_name(own_name, &own)
                ),
            });
        }
    }
    // Only the list in custody; keys added past it are not trusted.
    let trusted: Vec<UntrustedKey> = trail
        .adopt_key_list(&chain.keys)
        .map_err(|e| SyncError::Refused {
            remote: DEFAULT_REMOTE.into(),
            reason: format!("cannot trust the published keys: {e}"),
            hint: "ask the remote's owner to check their keys/allowed_signers".into(),
        })?
        .into_iter()
        .map(|k| UntrustedKey {
            name: k.name,
            fingerprint: k.fingerprint,
            key: k.key,
        })
        .collect();
    // A fresh handle reads the keys just trusted.
    let trail = Trail::open(home)?;
    let mut pull = trail.accept_incoming(DEFAULT_REMOTE, &ns, None, false)?;
    let _ = trail.cli().delete_refs_under(&ns);
    pull.url = origin.url;
    let names: Vec<&str> = pull
        .trails
        .iter()
        .filter(|t| !t.trail.starts_with("archive/"))
        .map(|t| t.trail.as_str())
        .collect();
    let current = if names.is_empty() || names.contains(&"main") {
        "main"
    } else {
        names[0]
    }
    .to_owned();
    trail.git().set_head(&current)?;
    Ok(CloneReport {
        home: home.to_owned(),
        fingerprint: init.fingerprint,
        trusted,
        pull,
        current,
    })
}

/// Where this store keeps the tip `remote` had of `trail` when they last
/// met (a push or a pull): what `atom status` counts ahead and behind from,
/// without the network.
pub fn tracking_ref(remote: &str, trail: &str) -> String {
    format!("{SEEN_PREFIX}{remote}/heads/{trail}")
}

/// Where this store keeps the tip `remote` had of the archive ref
/// `refs/atom/archive/<rest>` when they last met.
pub fn tracking_archive_ref(remote: &str, rest: &str) -> String {
    format!("{SEEN_PREFIX}{remote}/archive/{rest}")
}

/// Where this store keeps the commit of `remote`'s key list it checked last.
fn seen_ref(remote: &str) -> String {
    format!("{SEEN_PREFIX}{remote}/signers")
}

/// The remote's key list as a push found it, and what to publish.
struct KeyPlan {
    /// The remote's `refs/atom/signers` before the push.
    theirs: Option<ObjectId>,
    /// It, checked.
    chain: KeyChain,
    /// The commit to put there (`None`: leave it).
    target: Option<ObjectId>,
    /// Whether `target` replaces commits (or a deleted ref) rather than
    /// extending `theirs`.
    replaces: bool,
    /// [`PushReport::signers_action`].
    action: &'static str,
    /// [`PushReport::keys_dropped`].
    keys_dropped: Vec<UntrustedKey>,
}

/// The keys of `published` that `ours` does not list, each under a name
/// `ours` has free for it.
fn untrusted(published: &AllowedSigners, ours: &AllowedSigners) -> Vec<UntrustedKey> {
    let mut keys: Vec<UntrustedKey> = Vec::new();
    for e in published.entries() {
        let key = key_line(&e.key);
        if ours.principal_of(&e.key).is_none() && !keys.iter().any(|k| k.key == key) {
            keys.push(UntrustedKey {
                name: ours.free_name(&e.principals, &e.key),
                fingerprint: e.key.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
                key,
            });
        }
    }
    keys
}

/// Remote names as git accepts them in `remote.<name>.url` and in a ref
/// namespace: letters, digits, `.`, `_`, `-`; not starting with `.` or `-`.
fn validate_remote_name(name: &str) -> Result<(), SyncError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with(['.', '-'])
        && !name.ends_with(".lock")
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(SyncError::InvalidRemoteName {
            name: name.to_owned(),
        })
    }
}

/// A URL as given, or an existing local path made absolute.
fn absolute_if_local(url: &str) -> String {
    let path = Path::new(url);
    if url.contains("://") || !path.exists() {
        return url.to_owned();
    }
    std::fs::canonicalize(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| url.to_owned())
}
