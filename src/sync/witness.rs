//! Devices witness each other's transparency logs (SPEC §10).
//!
//! Push publishes this store's log as `refs/atom/logs/<id>` (never forced,
//! so a rewritten log is refused by the remote) and the cosignatures this
//! store made of other logs, `refs/atom/cosigs/<log id>/<witness id>`. Pull
//! checks every log it fetched whose key this store trusts against the last
//! checkpoint it saw from that origin: the log commit it saw must be in the
//! new chain, and every later checkpoint must match the leaves before it.
//! Then it cosigns the newest checkpoint (C2SP tlog-cosignature) and keeps
//! cosignatures others made of its own checkpoints. An inconsistent log (a
//! rewrite, a fork shown to two devices) refuses the whole pull, naming the
//! origin and both sizes.
//!
//! The design decision a reader must know: what a witness remembers of a
//! log is its own cosignature commit (`refs/atom/cosigs/<id>/<own id>`),
//! whose one file holds the log commit seen, the tree size and the roots of
//! the complete subtrees (a resumable Merkle frontier, O(log n)), then the
//! cosigned note; checking the next pull costs the new leaves only.

use base64::Engine as _;
use gix::ObjectId;
use serde::Serialize;

use super::SyncError;
use crate::store::log::LOG_REF;
use crate::tlog::checkpoint::Checkpoint;
use crate::tlog::note::{Note, VerifierKey, ALG_COSIGNATURE_V1, ALG_ED25519};
use crate::tlog::{self, Frontier, Hash};
use crate::trail::Trail;
use crate::transparency::origin_for;

/// Each store's log, on a remote.
pub const LOGS_PREFIX: &str = "refs/atom/logs/";
/// Cosignatures: `<log id>/<witness id>`, a witness's latest of a log.
pub const COSIGS_PREFIX: &str = "refs/atom/cosigs/";
/// Here: the latest cosignature each witness made of this store's log.
pub const COSIGNED_PREFIX: &str = "refs/atom/cosigned/";
/// The file of a cosignature commit.
const WITNESS_FILE: &str = "witness";

/// What witnessing did during a pull.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WitnessReport {
    /// Logs of other stores checked and cosigned: origin and tree size.
    pub cosigned: Vec<(String, u64)>,
    /// Logs fetched but not checked, and why (no trusted key for them).
    pub skipped: Vec<(String, String)>,
    /// Cosignatures of this store's log collected: witness and tree size.
    pub collected: Vec<(String, u64)>,
}

/// A log checked and ready to cosign.
pub(crate) struct Checked {
    id: String,
    tip: ObjectId,
    checkpoint: String,
    frontier: Frontier,
}

/// Where a store keeps the log commit `remote` last showed of log `id`.
fn shown_ref(remote: &str, id: &str) -> String {
    format!("{}{remote}/logs/{id}", super::SEEN_PREFIX)
}

/// `atom/<16 hex>` -> the 16 hex digits, the log's id in ref names.
pub fn log_id(origin: &str) -> Option<&str> {
    origin
        .strip_prefix("atom/")
        .filter(|h| h.len() == 16 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// A cosignature commit's file: what the witness saw, then the note.
struct WitnessFile {
    log: ObjectId,
    frontier: Frontier,
    note: String,
}

impl WitnessFile {
    fn to_text(&self) -> String {
        let b64 = |h: &Hash| base64::engine::general_purpose::STANDARD.encode(h);
        let mut text = format!("log {}\nsize {}\n", self.log, self.frontier.size());
        for h in self.frontier.subtrees() {
            text.push_str(&format!("subtree {}\n", b64(h)));
        }
        text.push('\n');
        text.push_str(&self.note);
        text
    }

    fn parse(text: &str) -> Option<Self> {
        let (head, note) = text.split_once("\n\n")?;
        let mut lines = head.lines();
        let log = ObjectId::from_hex(lines.next()?.strip_prefix("log ")?.as_bytes()).ok()?;
        let size: u64 = lines.next()?.strip_prefix("size ")?.parse().ok()?;
        let mut subtrees = Vec::new();
        for l in lines {
            let h = base64::engine::general_purpose::STANDARD
                .decode(l.strip_prefix("subtree ")?)
                .ok()?;
            subtrees.push(Hash::try_from(h.as_slice()).ok()?);
        }
        Some(WitnessFile {
            log,
            frontier: Frontier::resume(size, subtrees)?,
            note: note.to_owned(),
        })
    }
}

impl Trail {
    /// This store's log id, once it has a log.
    fn own_log_id(&self) -> Result<Option<String>, SyncError> {
        Ok(self
            .checkpoint()?
            .and_then(|c| log_id(&c.origin).map(str::to_owned)))
    }

    /// The id this store witnesses under: its log's, or the one its first
    /// checkpoint will have.
    fn witness_id(&self) -> Result<String, SyncError> {
        if let Some(id) = self.own_log_id()? {
            return Ok(id);
        }
        let public = self.log_key()?.verifying_key().to_bytes();
        Ok(log_id(&origin_for(&public))
            .expect("origin_for makes a log id")
            .to_owned())
    }

    /// Verifiers of `alg` under the name `atom/<id>` for every Ed25519 key
    /// this store trusts: a log keeps its name when its owner rotates keys,
    /// so any trusted key may sign for it. `None` when it is not the name of
    /// a key this store trusts (a log of a store it does not know).
    fn log_verifiers(&self, id: &str, alg: u8) -> Option<Vec<VerifierKey>> {
        let origin = format!("atom/{id}");
        let keys = self.trusted_verifiers(&origin, alg);
        keys.iter()
            .any(|k| origin_for(&k.public) == origin)
            .then_some(keys)
    }

    /// The refspecs push adds: this store's log and its cosignatures.
    pub(crate) fn witness_refspecs(&self) -> Result<Vec<String>, SyncError> {
        let mut specs = Vec::new();
        if let (Some(id), Some(_)) = (self.own_log_id()?, self.git().ref_target(LOG_REF)?) {
            specs.push(format!("{LOG_REF}:{LOGS_PREFIX}{id}"));
        }
        for (name, _) in self.git().refs_under(COSIGS_PREFIX)? {
            specs.push(format!("{name}:{name}"));
        }
        Ok(specs)
    }

    /// Check the logs fetched under `ns` (`logs/<id>`), before anything
    /// changes here: each one this store has a key for must extend what it
    /// saw of it. Returns the logs to cosign once the pull went through.
    pub(crate) fn check_logs(
        &self,
        remote: &str,
        ns: &str,
        report: &mut WitnessReport,
    ) -> Result<Vec<Checked>, SyncError> {
        let own = self.witness_id()?;
        let mut checked = Vec::new();
        for (name, tip) in self.git().refs_under(&format!("{ns}logs/"))? {
            let id = name[ns.len() + "logs/".len()..].to_owned();
            if own == id {
                continue;
            }
            if log_id(&format!("atom/{id}")).is_none() {
                report
                    .skipped
                    .push((id, "not the name of an atom log".into()));
                continue;
            }
            let Some(keys) = self.log_verifiers(&id, ALG_ED25519) else {
                report
                    .skipped
                    .push((format!("atom/{id}"), "no trusted key signs it".into()));
                continue;
            };
            if let Some(c) = self.check_one_log(remote, &id, tip, &keys, &own)? {
                checked.push(c);
            }
        }
        Ok(checked)
    }

    fn check_one_log(
        &self,
        remote: &str,
        id: &str,
        tip: ObjectId,
        keys: &[VerifierKey],
        own: &str,
    ) -> Result<Option<Checked>, SyncError> {
        let origin = format!("atom/{id}");
        let refuse = |reason: String| {
            SyncError::Refused {
            remote: remote.to_owned(),
            reason: format!("the transparency log {origin}: {reason}"),
            hint: "a log that contradicts what this store saw of it was rewritten or shown differently to different devices; ask its owner to run `atom verify --all`".into(),
        }
        };
        let seen = self.witnessed(id, own)?;
        if seen.as_ref().is_some_and(|s| s.log == tip) {
            // Witnessed and cosigned already.
            return Ok(None);
        }
        let (chain, met) = self
            .git()
            .log_chain(tip, seen.as_ref().map(|s| s.log))
            .map_err(|e| refuse(format!("it does not read: {e}")))?;
        let mut frontier = seen
            .as_ref()
            .map(|s| s.frontier.clone())
            .unwrap_or_default();
        if let (Some(s), false) = (&seen, met) {
            // A remote that lags (pushed to less often than another) shows
            // an older checkpoint of the same log: the log commit this store
            // saw contains it. Consistent, and nothing new to cosign, unless
            // this very remote showed a newer one before (its log ref is
            // only ever fast-forwarded: going back is a rewind).
            let contains = |newer: ObjectId, older: ObjectId| {
                newer == older || matches!(self.git().log_chain(newer, Some(older)), Ok((_, true)))
            };
            let shown_here = self.git().ref_target(&shown_ref(remote, id))?;
            if contains(s.log, tip) && shown_here.is_none_or(|r| contains(tip, r)) {
                return Ok(None);
            }
            return Err(refuse(format!(
                "its log commit {} does not contain {}, the one of {} leaves this store saw: it was rewritten",
                tip.to_hex_with_len(12),
                s.log.to_hex_with_len(12),
                s.frontier.size()
            )));
        }
        let mut note = None;
        for c in chain {
            let lc = self
                .git()
                .read_log_commit(c)
                .map_err(|e| refuse(format!("log commit {c}: {e}")))?;
            for line in &lc.leaves {
                frontier.push(tlog::record_hash(line.as_bytes()));
            }
            let parsed = Note::parse(&lc.checkpoint)
                .ok()
                .and_then(|n| Checkpoint::parse(&n.text).ok().map(|cp| (n, cp)));
            let Some((n, cp)) = parsed else {
                return Err(refuse(format!(
                    "log commit {c}'s checkpoint does not parse"
                )));
            };
            if cp.origin != origin || cp.size != frontier.size() || cp.root != frontier.root() {
                let before = seen.as_ref().map_or(0, |s| s.frontier.size());
                return Err(refuse(format!(
                    "its checkpoint of {} leaves (log commit {}) is not consistent with its leaves and the checkpoint of {before} leaves this store saw",
                    cp.size,
                    c.to_hex_with_len(12)
                )));
            }
            note = Some((n, lc.checkpoint));
        }
        // The tip's own checkpoint (read again when nothing is new).
        let n = match note {
            Some((n, _)) => n,
            None => {
                let lc = self
                    .git()
                    .read_log_commit(tip)
                    .map_err(|e| refuse(format!("log commit {tip}: {e}")))?;
                Note::parse(&lc.checkpoint).map_err(|e| refuse(format!("{e}")))?
            }
        };
        if !keys.iter().any(|k| n.verify(k).is_ok()) {
            return Err(refuse(format!(
                "its latest checkpoint is not signed by the key of {origin}"
            )));
        }
        Ok(Some(Checked {
            id: id.to_owned(),
            tip,
            checkpoint: n.text,
            frontier,
        }))
    }

    /// Remember the log commit `remote` showed of each log fetched under
    /// `ns` (once the pull went through): a later pull from it that shows
    /// an older one is a rewind.
    pub(crate) fn remember_logs(&self, remote: &str, ns: &str) -> Result<(), SyncError> {
        for (name, tip) in self.git().refs_under(&format!("{ns}logs/"))? {
            let id = &name[ns.len() + "logs/".len()..];
            if log_id(&format!("atom/{id}")).is_some() {
                self.git().force_ref(&shown_ref(remote, id), tip)?;
            }
        }
        Ok(())
    }

    /// What this store's own cosignature of log `id` says it saw.
    fn witnessed(&self, id: &str, own: &str) -> Result<Option<WitnessFile>, SyncError> {
        let Some(c) = self
            .git()
            .ref_target(&format!("{COSIGS_PREFIX}{id}/{own}"))?
        else {
            return Ok(None);
        };
        let fc = self.git().read_file_commit(c, WITNESS_FILE, 1 << 20)?;
        Ok(WitnessFile::parse(&String::from_utf8_lossy(&fc.file)))
    }

    /// Cosign the logs checked (after the pull went through), one commit
    /// each on top of this store's previous cosignature of that log.
    pub(crate) fn cosign_logs(
        &self,
        checked: Vec<Checked>,
        report: &mut WitnessReport,
    ) -> Result<(), SyncError> {
        if checked.is_empty() {
            return Ok(());
        }
        let signer = self.signer()?;
        let log_key = self.log_key_of(&signer)?;
        let own_id = self.witness_id()?;
        let own_origin = format!("atom/{own_id}");
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        for c in checked {
            let mut note = Note {
                text: c.checkpoint.clone(),
                signatures: Vec::new(),
            };
            note.cosign(&own_origin, &log_key, now).map_err(|e| {
                SyncError::Trail(crate::trail::TrailError::from(
                    crate::index::IndexError::Unusable(format!("cannot cosign: {e}")),
                ))
            })?;
            let file = WitnessFile {
                log: c.tip,
                frontier: c.frontier,
                note: note.format(),
            };
            let name = format!("{COSIGS_PREFIX}{}/{own_id}", c.id);
            let parent = self.git().ref_target(&name)?;
            let size = file.frontier.size();
            let commit = self.git().write_file_commit(
                WITNESS_FILE,
                file.to_text().as_bytes(),
                &parent.into_iter().collect::<Vec<_>>(),
                &self.committer(),
                &format!("atom witness: atom/{} at {size} leaves\n", c.id),
                &signer,
            )?;
            self.git().compare_and_swap(&name, parent, commit)?;
            report.cosigned.push((format!("atom/{}", c.id), size));
        }
        Ok(())
    }

    /// Keep the cosignatures of this store's checkpoints fetched under
    /// `ns` (`cosigs/<own id>/<witness id>`) that verify: a checkpoint of
    /// this log, cosigned by a key this store trusts.
    pub(crate) fn collect_cosignatures(
        &self,
        ns: &str,
        report: &mut WitnessReport,
    ) -> Result<(), SyncError> {
        let Some(own) = self.own_log_id()? else {
            return Ok(());
        };
        let prefix = format!("{ns}cosigs/{own}/");
        for (name, commit) in self.git().refs_under(&prefix)? {
            let witness = name[prefix.len()..].to_owned();
            if witness == own || log_id(&format!("atom/{witness}")).is_none() {
                continue;
            }
            let Some(keys) = self.log_verifiers(&witness, ALG_COSIGNATURE_V1) else {
                continue;
            };
            let Ok(fc) = self.git().read_file_commit(commit, WITNESS_FILE, 1 << 20) else {
                continue;
            };
            let Some(file) = WitnessFile::parse(&String::from_utf8_lossy(&fc.file)) else {
                continue;
            };
            let Some((_, cp, _)) = keys.iter().find_map(|k| cosigned_checkpoint(&file.note, k))
            else {
                continue;
            };
            if cp.origin != format!("atom/{own}")
                || cp.size == 0
                || cp.size > self.with_index(|ix| ix.log_size())?
                || self.log_root(cp.size)? != cp.root
            {
                continue;
            }
            let local = format!("{COSIGNED_PREFIX}{witness}");
            let kept = self.git().ref_target(&local)?;
            // A lagging remote's older cosignature never replaces a newer one.
            let kept_size = kept
                .and_then(|c| self.git().read_file_commit(c, WITNESS_FILE, 1 << 20).ok())
                .and_then(|fc| WitnessFile::parse(&String::from_utf8_lossy(&fc.file)))
                .and_then(|f| keys.iter().find_map(|k| cosigned_checkpoint(&f.note, k)))
                .map_or(0, |(_, cp, _)| cp.size);
            if kept != Some(commit) && cp.size >= kept_size {
                self.git().force_ref(&local, commit)?;
                report.collected.push((format!("atom/{witness}"), cp.size));
            }
        }
        Ok(())
    }

    /// Cosignatures others made of this store's checkpoints: witness,
    /// checkpoint, and the cosignature's time.
    pub fn cosignatures(&self) -> Result<Vec<Cosignature>, SyncError> {
        let mut out = Vec::new();
        for (name, commit) in self.git().refs_under(COSIGNED_PREFIX)? {
            let witness = &name[COSIGNED_PREFIX.len()..];
            let Some(keys) = self.log_verifiers(witness, ALG_COSIGNATURE_V1) else {
                continue;
            };
            let Ok(fc) = self.git().read_file_commit(commit, WITNESS_FILE, 1 << 20) else {
                continue;
            };
            let Some(file) = WitnessFile::parse(&String::from_utf8_lossy(&fc.file)) else {
                continue;
            };
            if let Some((time, cp, key)) =
                keys.iter().find_map(|k| cosigned_checkpoint(&file.note, k))
            {
                let line = Note::parse(&file.note)
                    .ok()
                    .and_then(|n| {
                        n.signatures
                            .iter()
                            .find(|s| s.name == key.name && s.key_id == key.key_id)
                            .map(|s| {
                                let mut bytes = s.key_id.to_vec();
                                bytes.extend_from_slice(&s.bytes);
                                format!(
                                    "— {} {}\n",
                                    s.name,
                                    base64::engine::general_purpose::STANDARD.encode(bytes)
                                )
                            })
                    })
                    .unwrap_or_default();
                out.push(Cosignature {
                    witness: format!("atom/{witness}"),
                    size: cp.size,
                    time,
                    line,
                });
            }
        }
        Ok(out)
    }
}

/// A cosignature of this store's log by another store.
#[derive(Debug, Clone, Serialize)]
pub struct Cosignature {
    /// The witness (its log's origin, which names its cosigning key).
    pub witness: String,
    /// The tree size it cosigned.
    pub size: u64,
    /// When (Unix seconds, as the cosignature says).
    pub time: u64,
    /// The note signature line, as a checkpoint carries it.
    pub line: String,
}

/// The checkpoint of a note cosigned by `key`, with the cosignature's time
/// and the key.
fn cosigned_checkpoint(note: &str, key: &VerifierKey) -> Option<(u64, Checkpoint, VerifierKey)> {
    let n = Note::parse(note).ok()?;
    let time = n.verify(key).ok()??;
    Some((time, Checkpoint::parse(&n.text).ok()?, key.clone()))
}
