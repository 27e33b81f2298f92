//! The optional Cloudflare D1 mirror (SPEC §7): push a store's atoms, refs
//! and trusted keys to D1, and rebuild a store from D1 alone.
//!
//! The design decision a reader must know: what has been mirrored is kept in
//! git, as refs `refs/atom/mirror/<ref>` pointing at the tip each ref had when
//! a push completed. An atom is pending when no such ref reaches it, so
//! `status` needs no network and the index (derived, deletable) holds no
//! mirror state. A push uploads objects before the atom rows that name them
//! and moves the mirror refs only after D1 acknowledged everything.
//!
//! Trusted keys travel as on a git remote: the commits of a key list chain
//! ([`crate::custody`]) go into `objects`, its tip into `heads` as
//! `refs/atom/signers`, and restore trusts only the list in custody. The
//! `signers` table is a readable copy for queries; restore ignores it, since
//! whoever holds the D1 token could write it.
//!
//! The transparency log travels the same way: the commits of `refs/atom/log`
//! go into `objects`, its tip into `heads`, and the checkpoint of each push
//! into `checkpoints`. Restore rebuilds the log from those objects, checks
//! the whole chain, and checks the store it made against the latest
//! mirrored checkpoint, signed by a key in custody: a log head moved back in
//! D1, or a log that does not hold every restored atom, fails the restore.

pub mod d1;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use gix::ObjectId;
use serde::Serialize;
use serde_json::Value;

use crate::custody::{self, NextList};
use crate::signers::SignersError;
use crate::store::log::LOG_REF;
use crate::store::{StoreError, HEADS_PREFIX};
use crate::trail::{set_git_config, Trail, TrailError};
use crate::transparency::LogReport;
use crate::verify::{VerifyReport, VerifyScope};
use d1::{insert_rows, D1Client, D1Error, D1Target, Statement};

/// Where the mirror refs live.
pub const MIRROR_PREFIX: &str = "refs/atom/mirror/";
/// The key list commit last mirrored (or restored from the mirror).
pub const MIRROR_SIGNERS_REF: &str = "refs/atom/mirror-signers";
/// The log commit last mirrored (or restored from the mirror).
pub const MIRROR_LOG_REF: &str = "refs/atom/mirror-log";
/// The key list chain's tip in `heads`.
const SIGNERS_HEAD: &str = "refs/atom/signers";
/// Archived tips (mirrored like trails).
const ARCHIVE_PREFIX: &str = "refs/atom/archive/";
/// The D1 schema.
pub const D1_SCHEMA: &str = include_str!("../../schema/d1.sql");
/// Bytes of an object per `objects` row (60,000 base64 characters).
const PART_BYTES: usize = 45_000;
/// A record longer than this is not copied into `atoms.record`.
const MAX_RECORD_COLUMN: usize = 60_000;
/// Statements gathered before they are sent.
const FLUSH_BYTES: usize = 900_000;

const KEY_ACCOUNT: &str = "atom.mirror.account";
const KEY_DATABASE: &str = "atom.mirror.database";
const KEY_API_BASE: &str = "atom.mirror.apiBase";
const KEY_LAST_PUSH: &str = "atom.mirror.lastPush";
const KEY_LAST_PUSH_ATOMS: &str = "atom.mirror.lastPushAtoms";

/// Errors of the mirror.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// `atom mirror configure` was not run.
    #[error("no D1 mirror is configured for this store")]
    NotConfigured,
    /// A setting or argument is invalid.
    #[error("{0}")]
    Invalid(String),
    /// D1 does not hold a mirrored store.
    #[error("the D1 database holds no mirrored store: {0}")]
    NotMirrored(String),
    /// What D1 returned does not rebuild the store.
    #[error("the mirror is incomplete or damaged: {0}")]
    Damaged(String),
    /// Talking to D1 failed.
    #[error(transparent)]
    D1(#[from] D1Error),
    /// The store failed.
    #[error(transparent)]
    Trail(#[from] TrailError),
    /// Trusting a mirrored key failed.
    #[error(transparent)]
    Signers(#[from] SignersError),
}

impl From<StoreError> for MirrorError {
    fn from(e: StoreError) -> Self {
        MirrorError::Trail(e.into())
    }
}

/// The mirror settings of a store.
#[derive(Debug, Clone, Serialize)]
pub struct MirrorSettings {
    /// Cloudflare account id.
    pub account: String,
    /// D1 database id.
    pub database: String,
    /// API base URL.
    pub api_base: String,
}

impl MirrorSettings {
    /// Check the ids and the URL; `api_base` defaults to Cloudflare's.
    pub fn new(account: &str, database: &str, api_base: Option<&str>) -> Result<Self, MirrorError> {
        for (what, v) in [("account", account), ("database", database)] {
            if v.is_empty()
                || v.len() > 128
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(MirrorError::Invalid(format!(
                    "invalid {what} id {v:?}: use the id Cloudflare's dashboard shows (letters, digits, '-')"
                )));
            }
        }
        let api_base = api_base
            .unwrap_or(d1::DEFAULT_API_BASE)
            .trim_end_matches('/');
        let ok = ureq::http::Uri::try_from(api_base)
            .map(|u| {
                matches!(u.scheme_str(), Some("http" | "https"))
                    && u.host().is_some_and(|h| !h.is_empty())
            })
            .unwrap_or(false);
        if !ok {
            return Err(MirrorError::Invalid(format!(
                "invalid API base {api_base:?}: give an http(s) URL such as {}",
                d1::DEFAULT_API_BASE
            )));
        }
        Ok(MirrorSettings {
            account: account.to_owned(),
            database: database.to_owned(),
            api_base: api_base.to_owned(),
        })
    }

    /// The D1 database these settings name.
    pub fn target(&self) -> D1Target {
        D1Target {
            api_base: self.api_base.clone(),
            account: self.account.clone(),
            database: self.database.clone(),
        }
    }
}

/// `atom mirror status`.
#[derive(Debug, Clone, Serialize)]
pub struct MirrorStatus {
    /// Whether a mirror is configured.
    pub configured: bool,
    /// The settings, when configured.
    pub settings: Option<MirrorSettings>,
    /// Atoms not yet mirrored.
    pub pending: usize,
    /// When the last push completed (RFC 3339), if ever.
    pub last_push: Option<String>,
    /// How many atoms that push sent.
    pub last_push_atoms: Option<u64>,
}

/// What a push did.
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    /// Atoms sent.
    pub atoms_sent: usize,
    /// Pending atoms D1 already had.
    pub atoms_present: usize,
    /// Git objects sent.
    pub objects_sent: usize,
    /// Commits of the transparency log sent.
    pub log_commits: usize,
    /// Leaves of the log as mirrored (its latest checkpoint's size).
    pub log_size: u64,
    /// Refs recorded in D1.
    pub refs: usize,
    /// Trusted keys recorded in D1.
    pub signers: usize,
    /// What happened to the mirrored key list: `up to date`, `updated`, or
    /// `not listed` (the mirrored list does not trust this store's key, so
    /// it was left as it is).
    pub signers_action: String,
    /// HTTP requests made.
    pub requests: usize,
    /// Requests answered with HTTP 429 and retried.
    pub retries: usize,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The new store.
    pub home: PathBuf,
    /// Atoms restored.
    pub atoms: usize,
    /// Git objects restored.
    pub objects: usize,
    /// Refs restored (trails and archives).
    pub refs: Vec<String>,
    /// Mirrored keys now trusted.
    pub signers: usize,
    /// Those keys (from the key list chain in custody).
    pub trusted: Vec<crate::signers::SignerInfo>,
    /// What is wrong with the mirrored key list chain, when something is.
    pub signers_problem: Option<String>,
    /// `atom verify --all` on the new store.
    pub verify: VerifyReport,
    /// The restored transparency log: its whole chain checked, and checked
    /// against the latest mirrored checkpoint. Problems fail the restore.
    pub log: LogReport,
}

/// `refs/heads/main` -> `refs/atom/mirror/heads/main`.
fn mirror_ref(full: &str) -> String {
    format!(
        "{MIRROR_PREFIX}{}",
        full.strip_prefix("refs/").unwrap_or(full)
    )
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Trail {
    /// The mirror settings from the store's git config, if configured.
    pub fn mirror_settings(&self) -> Option<MirrorSettings> {
        let account = self.git().config_string(KEY_ACCOUNT)?;
        let database = self.git().config_string(KEY_DATABASE)?;
        let api_base = self.git().config_string(KEY_API_BASE);
        MirrorSettings::new(&account, &database, api_base.as_deref()).ok()
    }

    /// Store the settings in the trail's git config. Pointing the mirror at
    /// another database forgets what was pushed to the old one.
    pub fn mirror_configure(&self, settings: &MirrorSettings) -> Result<(), MirrorError> {
        let old = self.mirror_settings();
        let git_dir = self.git_dir().to_owned();
        set_git_config(&git_dir, KEY_ACCOUNT, &settings.account)?;
        set_git_config(&git_dir, KEY_DATABASE, &settings.database)?;
        set_git_config(&git_dir, KEY_API_BASE, &settings.api_base)?;
        let same = old.is_some_and(|o| o.target() == settings.target());
        if !same {
            let _lock = self.lock()?;
            self.git().delete_refs_under(MIRROR_PREFIX)?;
            for mark in [MIRROR_SIGNERS_REF, MIRROR_LOG_REF] {
                if self.git().ref_target(mark)?.is_some() {
                    self.git().delete_ref(mark)?;
                }
            }
            unset_git_config(&git_dir, KEY_LAST_PUSH)?;
            unset_git_config(&git_dir, KEY_LAST_PUSH_ATOMS)?;
        }
        Ok(())
    }

    /// What is mirrored and what is not, from local state only.
    pub fn mirror_status(&self) -> Result<MirrorStatus, MirrorError> {
        let settings = self.mirror_settings();
        Ok(MirrorStatus {
            configured: settings.is_some(),
            settings,
            pending: self.mirror_pending(&self.mirrored_refs()?)?.len(),
            last_push: self.git().config_string(KEY_LAST_PUSH),
            last_push_atoms: self
                .git()
                .config_string(KEY_LAST_PUSH_ATOMS)
                .and_then(|n| n.parse().ok()),
        })
    }

    /// The refs a mirror copies: every trail and archived tip.
    fn mirrored_refs(&self) -> Result<Vec<(String, ObjectId)>, MirrorError> {
        let mut refs = self.git().refs_under(HEADS_PREFIX)?;
        refs.extend(self.git().refs_under(ARCHIVE_PREFIX)?);
        Ok(refs)
    }

    /// Commits reachable from `refs` that no mirror ref reaches, parents
    /// first: asked of the index, not walked in git.
    fn mirror_pending(&self, refs: &[(String, ObjectId)]) -> Result<Vec<ObjectId>, MirrorError> {
        let marks: Vec<ObjectId> = self
            .git()
            .refs_under(MIRROR_PREFIX)?
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        let tips: Vec<ObjectId> = refs.iter().map(|(_, id)| *id).collect();
        Ok(self.with_index(|ix| ix.reached_beyond(&marks, &tips))?)
    }

    /// Send D1 what it lacks: objects and atom rows of pending atoms, ref
    /// membership, heads and trusted keys; then mark everything mirrored.
    /// `progress` gets (atoms done, atoms to send).
    pub fn mirror_push(
        &self,
        client: &D1Client,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<PushReport, MirrorError> {
        let schema: Vec<Statement> = schema_statements();
        client.batch(&schema, &mut |_| {})?;

        // One snapshot of the refs and the log, taken under the store lock
        // once every atom is logged (atoms that came in by plain git are
        // logged now), so the mirrored log holds every mirrored atom. Atoms
        // recorded during the push wait for the next one.
        let (refs, log_tip) = {
            let _lock = self.lock()?;
            self.log_unlogged_locked()?;
            (self.mirrored_refs()?, self.git().ref_target(LOG_REF)?)
        };
        let pending = self.mirror_pending(&refs)?;
        let mut present: HashSet<String> = HashSet::new();
        for chunk in pending.chunks(d1::MAX_PARAMS) {
            let sql = format!(
                "SELECT commit_sha FROM atoms WHERE commit_sha IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let rows = client.query(
                &sql,
                chunk.iter().map(|c| Value::from(c.to_string())).collect(),
            )?;
            present.extend(
                rows.iter()
                    .filter_map(|r| r.get("commit_sha")?.as_str().map(str::to_owned)),
            );
        }
        let to_send: Vec<ObjectId> = pending
            .iter()
            .copied()
            .filter(|c| !present.contains(&c.to_string()))
            .collect();

        let pushed_at = now();
        let mut sent_objects: HashSet<ObjectId> = HashSet::new();
        let mut queue: Vec<Statement> = Vec::new();
        let mut queued_bytes = 0;
        let mut done = 0;
        progress(0, to_send.len());
        for (i, &commit) in to_send.iter().enumerate() {
            let stored = self.git().read_atom(commit)?;
            let objects = self.git().atom_raw_objects(commit)?;
            let mut stmts = object_rows(&objects, &mut sent_objects);
            let r = &stored.record;
            let record_text = String::from_utf8_lossy(&stored.record_bytes);
            let record = if record_text.len() <= MAX_RECORD_COLUMN {
                Value::from(record_text.into_owned())
            } else {
                Value::Null
            };
            let ids: Vec<String> = objects.iter().map(|o| o.id.to_string()).collect();
            stmts.extend(insert_rows(
                "INSERT INTO atoms (commit_sha, atom_id, type, operation, agent, timestamp, project, digest, parents, record, objects, pushed_at) VALUES",
                "ON CONFLICT (commit_sha) DO NOTHING",
                vec![vec![
                    Value::from(commit.to_string()),
                    Value::from(r.atom_id.to_string()),
                    Value::from(r.atom_type.clone()),
                    Value::from(r.operation.clone()),
                    Value::from(r.agent.clone()),
                    Value::from(r.timestamp.clone()),
                    r.project.clone().map(Value::from).unwrap_or(Value::Null),
                    Value::from(r.digest.clone()),
                    Value::from(stored.parents.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" ")),
                    record,
                    Value::from(serde_json::to_string(&ids).expect("strings serialize")),
                    Value::from(pushed_at.clone()),
                ]],
            ));
            queued_bytes += stmts.iter().map(Statement::size).sum::<usize>();
            queue.extend(stmts);
            if queued_bytes >= FLUSH_BYTES || i + 1 == to_send.len() {
                client.batch(&queue, &mut |_| {})?;
                queue.clear();
                queued_bytes = 0;
                done = i + 1;
                progress(done, to_send.len());
            }
        }
        debug_assert_eq!(done, to_send.len());

        // The log commits not mirrored yet (all of them when the log no
        // longer contains the one mirrored last), before the head naming
        // them.
        let mut log_commits = 0;
        let mut log_checkpoint = None;
        if let Some(tip) = log_tip {
            let mark = self.git().ref_target(MIRROR_LOG_REF)?;
            let (chain, _) = self.git().log_chain(tip, mark)?;
            for c in &chain {
                let objects = self.git().atom_raw_objects(*c)?;
                let stmts = object_rows(&objects, &mut sent_objects);
                queued_bytes += stmts.iter().map(Statement::size).sum::<usize>();
                queue.extend(stmts);
                if queued_bytes >= FLUSH_BYTES {
                    client.batch(&queue, &mut |_| {})?;
                    queue.clear();
                    queued_bytes = 0;
                }
            }
            client.batch(&queue, &mut |_| {})?;
            queue.clear();
            log_commits = chain.len();
            log_checkpoint = Some(self.git().read_log_commit(tip)?.checkpoint);
        }

        // Refs: membership, heads, the current trail; then trusted keys.
        let mut finish = Vec::new();
        let mut membership = Vec::new();
        for (name, tip) in &refs {
            let old = self.git().ref_target(&mirror_ref(name))?;
            let (new, met) = self.git().walk_until_known(*tip, |c| Some(*c) == old)?;
            if old.is_some() && !met.contains(&old.expect("checked")) {
                // The ref was rewound (rollback): list its atoms afresh.
                finish.push(Statement::new(
                    "DELETE FROM ref_atoms WHERE ref = ?",
                    vec![Value::from(name.clone())],
                ));
                let all = self.git().walk(&[*tip], None)?;
                membership.extend(
                    all.into_iter()
                        .map(|c| vec![Value::from(name.clone()), Value::from(c.to_string())]),
                );
            } else {
                membership.extend(
                    new.into_iter()
                        .map(|c| vec![Value::from(name.clone()), Value::from(c.to_string())]),
                );
            }
        }
        finish.extend(insert_rows(
            "INSERT INTO ref_atoms (ref, commit_sha) VALUES",
            "ON CONFLICT (ref, commit_sha) DO NOTHING",
            membership,
        ));
        let mut heads: Vec<Vec<Value>> = refs
            .iter()
            .map(|(name, tip)| {
                vec![
                    Value::from(name.clone()),
                    Value::from(tip.to_string()),
                    Value::from(pushed_at.clone()),
                ]
            })
            .collect();
        heads.push(vec![
            Value::from("HEAD"),
            Value::from(format!("{HEADS_PREFIX}{}", self.head_trail()?)),
            Value::from(pushed_at.clone()),
        ]);
        let mut log_size = 0;
        if let (Some(tip), Some(note)) = (log_tip, &log_checkpoint) {
            heads.push(vec![
                Value::from(LOG_REF),
                Value::from(tip.to_string()),
                Value::from(pushed_at.clone()),
            ]);
            // A readable copy of the checkpoint; restore checks it against
            // the log it rebuilds, and trusts it only when signed.
            if let Ok(c) = crate::transparency::parse_checkpoint(note) {
                log_size = c.size;
                finish.extend(insert_rows(
                    "INSERT INTO checkpoints (size, origin, root, log_commit, note, pushed_at) VALUES",
                    "ON CONFLICT (size) DO NOTHING",
                    vec![vec![
                        Value::from(c.size),
                        Value::from(c.origin),
                        Value::from(base64::engine::general_purpose::STANDARD.encode(c.root)),
                        Value::from(tip.to_string()),
                        Value::from(note.clone()),
                        Value::from(pushed_at.clone()),
                    ]],
                ));
            }
        }
        finish.extend(insert_rows(
            "INSERT INTO heads (name, target, updated_at) VALUES",
            "ON CONFLICT (name) DO UPDATE SET target = excluded.target, updated_at = excluded.updated_at",
            heads,
        ));
        // The key list: this store's, chained onto the one mirrored last.
        let seen = self.git().ref_target(MIRROR_SIGNERS_REF)?;
        let chain = match seen {
            Some(s) => Some(custody::check(self.git(), s, Some(s))?),
            None => None,
        };
        let (key_list, signers_action) = match self.next_key_list(chain.as_ref())? {
            NextList::Same => (seen, "up to date"),
            NextList::Commit(c) => (Some(c), "updated"),
            NextList::NotListed => (seen, "not listed"),
        };
        if let Some(list) = key_list {
            let objects = self.git().atom_raw_objects(list)?;
            finish.extend(object_rows(&objects, &mut sent_objects));
            finish.extend(insert_rows(
                "INSERT INTO heads (name, target, updated_at) VALUES",
                "ON CONFLICT (name) DO UPDATE SET target = excluded.target, updated_at = excluded.updated_at",
                vec![vec![
                    Value::from(SIGNERS_HEAD),
                    Value::from(list.to_string()),
                    Value::from(pushed_at.clone()),
                ]],
            ));
        }
        let signers = self.signers()?;
        finish.extend(insert_rows(
            "INSERT INTO signers (fingerprint, principal, key, updated_at) VALUES",
            "ON CONFLICT (fingerprint) DO UPDATE SET principal = excluded.principal, key = excluded.key, updated_at = excluded.updated_at",
            signers
                .iter()
                .map(|s| vec![Value::from(s.fingerprint.clone()), Value::from(s.name.clone()), Value::from(s.key.clone()), Value::from(pushed_at.clone())])
                .collect(),
        ));
        client.batch(&finish, &mut |_| {})?;

        // D1 has everything: mark it.
        self.mark_mirrored(&refs)?;
        if let Some(list) = key_list.filter(|l| Some(*l) != seen) {
            self.git().force_ref(MIRROR_SIGNERS_REF, list)?;
        }
        if let Some(tip) = log_tip {
            self.git().force_ref(MIRROR_LOG_REF, tip)?;
        }
        let git_dir = self.git_dir().to_owned();
        set_git_config(&git_dir, KEY_LAST_PUSH, &pushed_at)?;
        set_git_config(&git_dir, KEY_LAST_PUSH_ATOMS, &to_send.len().to_string())?;
        Ok(PushReport {
            atoms_sent: to_send.len(),
            atoms_present: present.len(),
            objects_sent: sent_objects.len(),
            log_commits,
            log_size,
            refs: refs.len(),
            signers: signers.len(),
            signers_action: signers_action.to_owned(),
            requests: client.requests.get(),
            retries: client.retries.get(),
        })
    }

    /// Point the mirror refs at `refs`, dropping marks of refs that are gone.
    fn mark_mirrored(&self, refs: &[(String, ObjectId)]) -> Result<(), MirrorError> {
        let _lock = self.lock()?;
        let wanted: HashMap<String, ObjectId> =
            refs.iter().map(|(n, id)| (mirror_ref(n), *id)).collect();
        let marks: HashMap<String, ObjectId> =
            self.git().refs_under(MIRROR_PREFIX)?.into_iter().collect();
        for name in marks.keys().filter(|n| !wanted.contains_key(*n)) {
            self.git().delete_ref(name)?;
        }
        for (name, id) in &wanted {
            if marks.get(name) != Some(id) {
                self.git().force_ref(name, *id)?;
            }
        }
        Ok(())
    }
}

/// The statements of `schema/d1.sql`.
/// Rows of `objects` for the objects not in `sent` yet (which they join).
fn object_rows(
    objects: &[crate::store::raw::RawObject],
    sent: &mut HashSet<ObjectId>,
) -> Vec<Statement> {
    let mut rows = Vec::new();
    for o in objects {
        if !sent.insert(o.id) {
            continue;
        }
        let parts: Vec<&[u8]> = if o.data.is_empty() {
            vec![&[][..]]
        } else {
            o.data.chunks(PART_BYTES).collect()
        };
        for (n, part) in parts.iter().enumerate() {
            rows.push(vec![
                Value::from(o.id.to_string()),
                Value::from(n),
                Value::from(parts.len()),
                Value::from(o.kind),
                Value::from(o.data.len()),
                Value::from(base64::engine::general_purpose::STANDARD.encode(part)),
            ]);
        }
    }
    insert_rows(
        "INSERT INTO objects (sha, part, parts, kind, size, data) VALUES",
        "ON CONFLICT (sha, part) DO NOTHING",
        rows,
    )
}

fn schema_statements() -> Vec<Statement> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in D1_SCHEMA.lines() {
        let code = line.split("--").next().unwrap_or("").trim_end();
        if code.trim().is_empty() {
            continue;
        }
        current.push_str(code);
        current.push('\n');
        if code.ends_with(';') {
            out.push(Statement::new(
                current.trim().trim_end_matches(';'),
                Vec::new(),
            ));
            current.clear();
        }
    }
    out
}

fn unset_git_config(git_dir: &Path, key: &str) -> Result<(), MirrorError> {
    let out = std::process::Command::new("git")
        .arg("config")
        .arg("--file")
        .arg(git_dir.join("config"))
        .arg("--unset-all")
        .arg(key)
        .output();
    match out {
        // 5: the key was not set.
        Ok(o) if o.status.success() || o.status.code() == Some(5) => Ok(()),
        Ok(o) => Err(MirrorError::Invalid(format!(
            "cannot update the git config: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ))),
        Err(e) => Err(MirrorError::Invalid(format!("cannot run git config: {e}"))),
    }
}

fn text(row: &serde_json::Map<String, Value>, col: &str) -> Result<String, MirrorError> {
    row.get(col)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| MirrorError::Damaged(format!("a row lacks the text column {col}")))
}

fn number(row: &serde_json::Map<String, Value>, col: &str) -> Result<u64, MirrorError> {
    row.get(col)
        .and_then(Value::as_u64)
        .ok_or_else(|| MirrorError::Damaged(format!("a row lacks the number column {col}")))
}

fn no_table(e: D1Error) -> MirrorError {
    match &e {
        D1Error::Api { message, .. } if message.contains("no such table") => {
            MirrorError::NotMirrored(message.clone())
        }
        _ => e.into(),
    }
}

/// Rebuild a store at `home` (a new or empty directory) from D1 alone:
/// objects byte for byte, refs, HEAD, and the mirrored keys trusted beside
/// the new store's own key; then verify it. `progress` gets objects restored.
/// On failure nothing is left behind: the directory is removed again (or
/// emptied, when it existed before).
pub fn restore(
    home: &Path,
    client: &D1Client,
    settings: &MirrorSettings,
    progress: &mut dyn FnMut(usize),
) -> Result<RestoreReport, MirrorError> {
    let existed = home.exists();
    if existed {
        let empty = std::fs::read_dir(home)
            .map(|mut d| d.next().is_none())
            .map_err(|e| MirrorError::Invalid(format!("cannot read {}: {e}", home.display())))?;
        if !empty {
            return Err(MirrorError::Invalid(format!(
                "{} is not empty",
                home.display()
            )));
        }
    }
    let result = restore_into(home, client, settings, progress);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(home);
        if existed {
            let _ = std::fs::create_dir(home);
        }
    }
    result
}

fn restore_into(
    home: &Path,
    client: &D1Client,
    settings: &MirrorSettings,
    progress: &mut dyn FnMut(usize),
) -> Result<RestoreReport, MirrorError> {
    let heads = client
        .query("SELECT name, target FROM heads ORDER BY name", Vec::new())
        .map_err(no_table)?;
    if heads.is_empty() {
        return Err(MirrorError::NotMirrored("it has no trail heads".into()));
    }
    // The latest mirrored checkpoint (none from a mirror older than the log).
    let checkpoint = match client.query(
        "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1",
        Vec::new(),
    ) {
        Ok(rows) => rows.first().map(|r| text(r, "note")).transpose()?,
        Err(D1Error::Api { message, .. }) if message.contains("no such table") => None,
        Err(e) => return Err(e.into()),
    };

    Trail::init(home, None)?;
    let trail = Trail::open(home)?;
    let git = trail.git();
    // Writers of packs and refs hold the store lock.
    let lock = trail.lock()?;

    // Objects, in (sha, part) order, a page at a time, into one pack.
    let mut pack = git.new_pack()?;
    let mut written: HashSet<ObjectId> = HashSet::new();
    let mut commits: HashSet<ObjectId> = HashSet::new();
    let (mut after_sha, mut after_part) = (String::new(), -1i64);
    let mut current: Option<(String, String, u64, u64, Vec<u8>)> = None; // sha, kind, parts, size, bytes
    let mut next_part = 0u64;
    loop {
        let rows = client.query(
            "SELECT sha, part, parts, kind, size, data FROM objects \
             WHERE (sha, part) > (?, ?) ORDER BY sha, part LIMIT 200",
            vec![Value::from(after_sha.clone()), Value::from(after_part)],
        )?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let (sha, part, parts, kind) = (
                text(row, "sha")?,
                number(row, "part")?,
                number(row, "parts")?,
                text(row, "kind")?,
            );
            let size = number(row, "size")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text(row, "data")?)
                .map_err(|e| {
                    MirrorError::Damaged(format!("object {sha} part {part} is not base64: {e}"))
                })?;
            if part == 0 {
                if let Some((prev, ..)) = &current {
                    return Err(MirrorError::Damaged(format!("object {prev} lacks parts")));
                }
                current = Some((
                    sha.clone(),
                    kind,
                    parts,
                    size,
                    Vec::with_capacity(size as usize),
                ));
                next_part = 0;
            }
            let Some(obj) = current.as_mut().filter(|o| o.0 == sha && part == next_part) else {
                return Err(MirrorError::Damaged(format!(
                    "object {sha} part {part} is out of order or orphaned"
                )));
            };
            obj.4.extend_from_slice(&bytes);
            next_part += 1;
            if next_part == obj.2 {
                let (sha, kind, _, size, data) = current.take().expect("just matched");
                if data.len() as u64 != size {
                    return Err(MirrorError::Damaged(format!(
                        "object {sha} has {} bytes, not {size}",
                        data.len()
                    )));
                }
                let kind = gix::object::Kind::from_bytes(kind.as_bytes()).map_err(|_| {
                    MirrorError::Damaged(format!("object {sha} has the unknown kind {kind:?}"))
                })?;
                let id = crate::store::io_context(pack.add(kind, &data), || {
                    format!("packing the restored object {sha}")
                })
                .map_err(TrailError::from)?;
                if id != ObjectId::from_hex(sha.as_bytes()).unwrap_or(ObjectId::null(id.kind())) {
                    return Err(MirrorError::Damaged(format!("object {sha} hashes to {id}")));
                }
                written.insert(id);
                if kind == gix::object::Kind::Commit {
                    commits.insert(id);
                }
                progress(written.len());
            }
            after_sha = sha;
            after_part = part as i64;
        }
    }
    if let Some((sha, ..)) = current {
        return Err(MirrorError::Damaged(format!("object {sha} lacks parts")));
    }
    // The pack and its index are fsynced, then moved into place.
    git.finish_pack(pack).map_err(TrailError::from)?;

    // Every atom's objects must be there.
    let mut atoms = 0;
    let mut after = String::new();
    loop {
        let rows = client.query(
            "SELECT commit_sha, objects FROM atoms WHERE commit_sha > ? ORDER BY commit_sha LIMIT 500",
            vec![Value::from(after.clone())],
        )?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let commit = text(row, "commit_sha")?;
            let objects: Vec<String> = serde_json::from_str(&text(row, "objects")?)
                .map_err(|e| MirrorError::Damaged(format!("atom {commit}: objects list: {e}")))?;
            for o in objects {
                let present =
                    ObjectId::from_hex(o.as_bytes()).is_ok_and(|id| written.contains(&id));
                if !present {
                    return Err(MirrorError::Damaged(format!(
                        "atom {commit} lacks its object {o}"
                    )));
                }
            }
            atoms += 1;
            after = commit;
        }
    }

    // Refs, then HEAD.
    let mut refs = Vec::new();
    let mut head_target = None;
    let mut key_list = None;
    let mut log_tip = None;
    let mut marks = Vec::new();
    for row in &heads {
        let (name, target) = (text(row, "name")?, text(row, "target")?);
        if name == "HEAD" {
            head_target = Some(target);
            continue;
        }
        if name == SIGNERS_HEAD {
            key_list = Some(
                ObjectId::from_hex(target.as_bytes())
                    .ok()
                    .filter(|id| written.contains(id))
                    .ok_or_else(|| {
                        MirrorError::Damaged(format!(
                            "{name} points to {target}, which the mirror lacks"
                        ))
                    })?,
            );
            continue;
        }
        if name == LOG_REF {
            let id = ObjectId::from_hex(target.as_bytes())
                .ok()
                .filter(|id| commits.contains(id))
                .ok_or_else(|| {
                    MirrorError::Damaged(format!(
                        "{name} points to {target}, which is not a commit the mirror holds"
                    ))
                })?;
            git.compare_and_swap(&name, None, id)?;
            log_tip = Some(id);
            continue;
        }
        if !(name.starts_with(HEADS_PREFIX) || name.starts_with(ARCHIVE_PREFIX)) {
            return Err(MirrorError::Damaged(format!("unexpected ref {name}")));
        }
        let id = ObjectId::from_hex(target.as_bytes())
            .ok()
            .filter(|id| written.contains(id))
            .ok_or_else(|| {
                MirrorError::Damaged(format!("{name} points to {target}, which the mirror lacks"))
            })?;
        git.compare_and_swap(&name, None, id)?;
        marks.push((name.clone(), id));
        refs.push(name);
    }
    if let Some(trail_name) = head_target
        .as_deref()
        .and_then(|t| t.strip_prefix(HEADS_PREFIX))
        .filter(|t| refs.iter().any(|r| r == &format!("{HEADS_PREFIX}{t}")))
    {
        git.set_head(trail_name)?;
    }
    drop(lock);

    // Only the key list in custody is trusted (never the `signers` rows).
    let chain = match key_list {
        Some(tip) => custody::check(git, tip, None)?,
        None => custody::KeyChain {
            problem: Some(format!(
                "the mirror holds no key list ({SIGNERS_HEAD}): push it again with this version of atom"
            )),
            ..Default::default()
        },
    };
    if let Some(valid) = chain.valid {
        git.force_ref(MIRROR_SIGNERS_REF, valid)?;
    }
    let trusted = trail.adopt_key_list(&chain.keys)?;
    // The new store mirrors to the same database, which has all of it
    // (configuring a new database forgets the marks: the log's is set
    // after it).
    trail.mirror_configure(settings)?;
    trail.mark_mirrored(&marks)?;
    if let Some(tip) = log_tip {
        git.force_ref(MIRROR_LOG_REF, tip)?;
    }

    // Open afresh: the trusted keys changed.
    let trail = Trail::open(home)?;
    let verify = trail.verify(VerifyScope::All)?;
    let log = check_restored_log(&trail, &verify, log_tip, checkpoint.as_deref())?;
    Ok(RestoreReport {
        home: home.to_owned(),
        atoms,
        objects: written.len(),
        refs,
        signers: trusted.len(),
        trusted,
        signers_problem: chain.problem,
        verify,
        log,
    })
}

/// The restored log: the whole chain checked (`verify --all` did, with
/// [`Trail::check_log`]), holding every restored atom (a push logs every
/// atom it mirrors), and checked against the latest mirrored checkpoint.
fn check_restored_log(
    trail: &Trail,
    verify: &VerifyReport,
    tip: Option<ObjectId>,
    checkpoint: Option<&str>,
) -> Result<LogReport, MirrorError> {
    let mut log = verify.log.clone();
    if tip.is_none() {
        log.problems.push(format!(
            "the mirror holds no transparency log ({LOG_REF}): push it again from the store with this version of atom"
        ));
        return Ok(log);
    }
    if log.unlogged > 0 {
        log.problems.push(format!(
            "{} restored atom(s) are not in the restored log: a push logs every atom it mirrors, so the log's head in the mirror ({LOG_REF} in `heads`) is behind its trails",
            log.unlogged
        ));
    }
    match checkpoint {
        Some(note) => {
            for problem in trail.check_checkpoint(note)? {
                log.problems
                    .push(format!("the mirror's latest checkpoint: {problem}"));
            }
        }
        None => log.problems.push(
            "the mirror holds a log but no checkpoint (table `checkpoints`): push it again".into(),
        ),
    }
    Ok(log)
}
