//! Sync that runs by itself (`atom sync auto git|d1|both`): after each
//! append, a background worker pushes to the git remote and/or the D1
//! mirror, debounced, retried with backoff, visible in `atom status`.
//!
//! The design decision a reader must know: nothing the worker keeps is the
//! truth about what is pending. What a remote lacks is computed from refs
//! (the trails and archives against the tracking refs a push or pull leaves,
//! `refs/atom/remotes/<remote>/...`; the mirror against its own marks), and
//! both pushes are safe to repeat (git moves each ref atomically, D1 takes
//! idempotent upserts and the mirror marks move last). The files under
//! `sync/` only say *when* to work:
//!
//! - `pending`: touched after every append while auto sync is on (no fsync:
//!   a lost touch is recovered by the next append or `atom status`, which
//!   recompute pending from refs);
//! - `syncing`: `pending` renamed by the worker when a round starts, removed
//!   when the round succeeded; a worker killed mid-round leaves it, and the
//!   next atom command starts a worker that finishes the job;
//! - `worker.lock`: an OS file lock (`flock`) the worker holds for its life,
//!   so at most one runs and a killed one releases it; the command that
//!   starts a worker takes it and hands the open file to the worker, so it
//!   never lapses in between;
//! - `state.json`: last attempt, success, error and next retry, for status.
//!
//! The appending command never waits: it touches `pending` and, when no
//! worker holds the lock, starts one detached (its own session, no terminal,
//! null stdio) through the program the binary registered with
//! [`set_worker_program`].

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use gix::ObjectId;
use serde::{Deserialize, Serialize};

use super::{SyncError, ARCHIVE_PREFIX, HEADS_PREFIX, SEEN_PREFIX};
use crate::mirror::d1::D1Client;
use crate::mirror::MirrorError;
use crate::trail::{set_git_config, Trail, TrailError};

const KEY_MODE: &str = "atom.sync.auto";
const KEY_REMOTE: &str = "atom.sync.remote";
const KEY_DEBOUNCE: &str = "atom.sync.debounce";
/// The quiet time after the last append before a round starts.
pub const DEFAULT_DEBOUNCE: u64 = 2;
/// The longest debounce accepted.
pub const MAX_DEBOUNCE: u64 = 3600;
/// A steady stream of appends still syncs after this many debounce periods.
const MAX_DEBOUNCE_ROUNDS: u32 = 10;
/// The first retry waits this long; each failure doubles it.
const BACKOFF_BASE: Duration = Duration::from_secs(2);
/// Retries never wait longer than this.
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);
/// How often a sleeping worker checks that it is still wanted.
const TICK: Duration = Duration::from_millis(250);

/// The directory of the files above, inside the store.
pub fn dir(home: &Path) -> PathBuf {
    home.join("sync")
}

fn pending_file(home: &Path) -> PathBuf {
    dir(home).join("pending")
}

fn syncing_file(home: &Path) -> PathBuf {
    dir(home).join("syncing")
}

fn state_file(home: &Path) -> PathBuf {
    dir(home).join("state.json")
}

fn lock_file(home: &Path) -> PathBuf {
    dir(home).join("worker.lock")
}

/// Where appends go by themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoMode {
    /// Nowhere: `atom push` and `atom mirror push` by hand.
    #[default]
    Off,
    /// The git remote.
    Git,
    /// The D1 mirror.
    D1,
    /// Both.
    Both,
}

impl AutoMode {
    /// Parse `off`, `git`, `d1` or `both`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(AutoMode::Off),
            "git" => Some(AutoMode::Git),
            "d1" => Some(AutoMode::D1),
            "both" => Some(AutoMode::Both),
            _ => None,
        }
    }

    /// The word [`AutoMode::parse`] reads.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoMode::Off => "off",
            AutoMode::Git => "git",
            AutoMode::D1 => "d1",
            AutoMode::Both => "both",
        }
    }

    /// Whether appends go to the git remote.
    pub fn git(self) -> bool {
        matches!(self, AutoMode::Git | AutoMode::Both)
    }

    /// Whether appends go to the D1 mirror.
    pub fn d1(self) -> bool {
        matches!(self, AutoMode::D1 | AutoMode::Both)
    }
}

/// The settings, from the store's git config (`atom.sync.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutoSettings {
    /// Where appends go.
    pub auto: AutoMode,
    /// The git remote pushed to (default `origin`).
    pub remote: String,
    /// Seconds without an append before a round starts.
    pub debounce_seconds: u64,
}

/// Why a sync (or setting it up) failed.
#[derive(Debug, thiserror::Error)]
pub enum AutoSyncError {
    /// `atom sync` while `sync auto` is off.
    #[error("automatic sync is off, so `atom sync` has nowhere to send atoms")]
    Off,
    /// A setting out of range.
    #[error("{0}")]
    Invalid(String),
    /// The remote named does not exist, or the like.
    #[error(transparent)]
    Git(#[from] SyncError),
    /// No mirror is configured, or the like.
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    /// A round ran and a target refused or could not be reached (already
    /// recorded as the last error, with the next retry).
    #[error("{message}")]
    Failed {
        /// What went wrong, per target.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Trail(#[from] TrailError),
}

/// What the worker last did (`sync/state.json`). Informational: pending
/// work is computed from refs, never read from here.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncState {
    /// When the last round started.
    pub last_attempt: Option<DateTime<Utc>>,
    /// When a round last succeeded.
    pub last_success: Option<DateTime<Utc>>,
    /// What the last round that failed said (cleared by a success).
    pub last_error: Option<String>,
    /// Rounds failed in a row.
    pub failures: u32,
    /// Not before this, the next round (after a failure).
    pub next_retry: Option<DateTime<Utc>>,
}

impl SyncState {
    /// The state of the store at `home` (default when never written or unreadable).
    pub fn load(home: &Path) -> Self {
        std::fs::read(state_file(home))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Replace it (a temporary file renamed into place: readers see the old
    /// state or the new one).
    fn save(&self, home: &Path) -> io::Result<()> {
        let dir = dir(home);
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".state-{}.json", std::process::id()));
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(io::Error::other)?,
        )?;
        std::fs::rename(&tmp, state_file(home))
    }
}

/// The wait after `failures` failed rounds in a row: 2 s, doubling, at most
/// [`BACKOFF_CAP`].
pub fn backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(16);
    (BACKOFF_BASE * (1u32 << shift)).min(BACKOFF_CAP)
}

/// What one round did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncOutcome {
    /// The remote pushed to (git mode).
    pub remote: Option<String>,
    /// Refs the push created or moved.
    pub refs_updated: usize,
    /// Whether the remote had atoms this store lacked, so it pulled (and
    /// merged) before pushing again.
    pub pulled: bool,
    /// Atoms sent to the D1 mirror (d1 mode).
    pub mirrored: Option<usize>,
}

/// `atom status`'s view of automatic sync.
#[derive(Debug, Clone, Serialize)]
pub struct AutoStatus {
    /// `off`, `git`, `d1` or `both`.
    pub auto: AutoMode,
    /// The git remote (git and both).
    pub remote: Option<String>,
    /// The debounce.
    pub debounce_seconds: u64,
    /// Whether a worker is running.
    pub running: bool,
    /// Atoms each target lacks, from local state: `git` (what the remote
    /// did not have when last met) and `d1` (not yet mirrored).
    pub pending: BTreeMap<String, usize>,
    /// When the last round started (RFC 3339).
    pub last_attempt: Option<String>,
    /// When a round last succeeded.
    pub last_success: Option<String>,
    /// The last failure, until a round succeeds.
    pub last_error: Option<String>,
    /// Rounds failed in a row.
    pub failures: u32,
    /// When the worker tries again (after a failure).
    pub next_retry: Option<String>,
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

static WORKER_PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Register the program that runs `PROGRAM --store HOME -q sync --background`
/// (the `atom` binary registers itself). Without it, appends only mark work
/// pending and no worker is started.
pub fn set_worker_program(program: PathBuf) {
    let _ = WORKER_PROGRAM.set(program);
}

/// The worker's lock: held for the worker's life, released by the kernel
/// when it dies.
#[derive(Debug)]
pub struct WorkerLock {
    _file: File,
}

impl WorkerLock {
    fn open(home: &Path) -> io::Result<File> {
        // Only inside a store that exists.
        if !home.join(crate::trail::GIT_DIR).is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "the store is gone"));
        }
        std::fs::create_dir_all(dir(home))?;
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(lock_file(home))
    }

    /// The lock, if it becomes free within `max_wait` (a status check holds
    /// it for an instant).
    pub fn acquire_within(home: &Path, max_wait: Duration) -> io::Result<Option<Self>> {
        let file = Self::open(home)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(WorkerLock { _file: file })),
                Err(TryLockError::WouldBlock) if start.elapsed() < max_wait => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
    }

    /// Whether a worker runs now (creates nothing).
    pub fn busy(home: &Path) -> bool {
        match File::open(lock_file(home)) {
            Ok(file) => matches!(file.try_lock(), Err(TryLockError::WouldBlock)),
            Err(_) => false,
        }
    }
}

/// Whether a round is wanted: an append marked one, or a round was cut
/// short (killed, failed).
pub fn marked(home: &Path) -> bool {
    pending_file(home).exists() || syncing_file(home).exists()
}

/// Mark a round wanted (updates the mark's time: the debounce counts from it).
fn touch(home: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir(home))?;
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::fs::write(pending_file(home), format!("{nanos}\n"))
}

/// Start a worker for the store at `home` unless one runs (or no program
/// was registered). Never waits for it.
pub fn start_worker(home: &Path) {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::process::CommandExt as _;
    use std::process::{Command, Stdio};
    let Some(program) = WORKER_PROGRAM.get() else {
        return;
    };
    // Take the worker's lock here and hand it to the worker (the same open
    // file, so the lock never lapses between the two): two appends at once
    // never start two workers.
    let Ok(lock) = WorkerLock::open(home) else {
        return;
    };
    if lock.try_lock().is_err() {
        return;
    }
    let Ok(home) = std::path::absolute(home) else {
        return;
    };
    let fd = lock.as_raw_fd();
    let mut cmd = Command::new(program);
    cmd.arg("--store")
        .arg(&home)
        .args(["-q", "sync", "--background"])
        .current_dir(&home)
        .env_remove("ATOM_TRAIL")
        .env(LOCK_FD_VAR, INHERITED_FD.to_string())
        // A background push never prompts for a password.
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: dup2, fcntl and setsid are async-signal-safe; nothing else
    // runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // The lock as fd 3, kept open across exec.
            if fd == INHERITED_FD {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(fd, INHERITED_FD) == -1 {
                return Err(io::Error::last_os_error());
            }
            // Its own session: no controlling terminal (ssh cannot prompt),
            // and no signal meant for the caller's process group.
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    // The worker holds the lock now (or, when it could not start, nobody).
    drop(lock);
    if let Ok(mut child) = spawned {
        // Reaped by a thread, so a long-lived caller (`atom mcp`) keeps no zombie.
        std::thread::spawn(move || child.wait());
    }
}

/// The environment variable naming the descriptor of the lock a worker
/// inherits from the process that started it.
const LOCK_FD_VAR: &str = "ATOM_SYNC_LOCK_FD";
/// That descriptor.
const INHERITED_FD: i32 = 3;

/// The worker lock this process inherited (see [`start_worker`]), when it
/// is the lock file of `home`; not passed on to this process's children.
fn inherited_lock(home: &Path) -> Option<WorkerLock> {
    use std::os::fd::FromRawFd as _;
    use std::os::unix::fs::MetadataExt as _;
    let fd: i32 = std::env::var(LOCK_FD_VAR).ok()?.parse().ok()?;
    std::env::remove_var(LOCK_FD_VAR);
    if fd != INHERITED_FD {
        return None;
    }
    // SAFETY: fstat on a descriptor number only reads; an unused number fails.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } == -1 {
        return None;
    }
    let path = std::fs::metadata(lock_file(home)).ok()?;
    if st.st_dev != path.dev() || st.st_ino != path.ino() {
        return None;
    }
    // SAFETY: fd is open (fstat succeeded), is the lock file, and nothing
    // else in this process owns it.
    let file = unsafe { File::from_raw_fd(fd) };
    // SAFETY: fcntl on an open descriptor.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // Already ours (the same open file); this only confirms it.
    file.try_lock().ok()?;
    Some(WorkerLock { _file: file })
}

impl Trail {
    /// The automatic sync settings.
    pub fn auto_settings(&self) -> AutoSettings {
        let git = self.git();
        AutoSettings {
            auto: git
                .config_string(KEY_MODE)
                .and_then(|m| AutoMode::parse(m.trim()))
                .unwrap_or_default(),
            remote: git
                .config_string(KEY_REMOTE)
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| super::DEFAULT_REMOTE.to_owned()),
            debounce_seconds: git
                .config_string(KEY_DEBOUNCE)
                .and_then(|d| d.trim().parse().ok())
                .unwrap_or(DEFAULT_DEBOUNCE)
                .min(MAX_DEBOUNCE),
        }
    }

    /// Turn automatic sync to `mode` (with the remote and debounce given,
    /// the others kept). The remote must exist for `git`/`both`, and the
    /// mirror be configured for `d1`/`both`. Anything pending is scheduled
    /// at once.
    pub fn set_auto_sync(
        &self,
        mode: AutoMode,
        remote: Option<&str>,
        debounce_seconds: Option<u64>,
    ) -> Result<AutoSettings, AutoSyncError> {
        let mut settings = self.auto_settings();
        settings.auto = mode;
        if let Some(r) = remote {
            settings.remote = r.to_owned();
        }
        if let Some(d) = debounce_seconds {
            if d > MAX_DEBOUNCE {
                return Err(AutoSyncError::Invalid(format!(
                    "--debounce {d} is too long: at most {MAX_DEBOUNCE} seconds"
                )));
            }
            settings.debounce_seconds = d;
        }
        if mode.git() {
            self.remote_url(&settings.remote)?;
        }
        if mode.d1() && self.mirror_settings().is_none() {
            return Err(MirrorError::NotConfigured.into());
        }
        let git_dir = self.git_dir().to_owned();
        set_git_config(&git_dir, KEY_REMOTE, &settings.remote)?;
        set_git_config(
            &git_dir,
            KEY_DEBOUNCE,
            &settings.debounce_seconds.to_string(),
        )?;
        set_git_config(&git_dir, KEY_MODE, mode.as_str())?;
        if mode != AutoMode::Off {
            self.schedule_sync();
        }
        Ok(settings)
    }

    /// Mark a round wanted and start a worker (used after appends, and when
    /// something pending has no round scheduled).
    pub fn schedule_sync(&self) {
        if touch(self.home()).is_ok() {
            start_worker(self.home());
        }
    }

    /// After an append: schedule a round when automatic sync is on. Cheap
    /// (a config lookup, a file write, a lock probe) and never waits.
    pub(crate) fn note_appended(&self) {
        if self.auto_settings().auto != AutoMode::Off {
            self.schedule_sync();
        }
    }

    /// Start a worker when a round is wanted and none runs (a killed
    /// worker's job is finished so by the next atom command). A worker this process would start for D1 alone without
    /// `CLOUDFLARE_API_TOKEN` could only fail: the job waits for a command
    /// that has the token.
    pub fn resume_sync(&self) {
        let auto = self.auto_settings().auto;
        let hopeless =
            auto.d1() && !auto.git() && std::env::var_os(crate::mirror::d1::TOKEN_VAR).is_none();
        if auto != AutoMode::Off
            && !hopeless
            && marked(self.home())
            && !WorkerLock::busy(self.home())
        {
            start_worker(self.home());
        }
    }

    /// Atoms on trails and archives that `remote` did not have when this
    /// store last met it (a push or pull): what a push would send.
    pub fn remote_pending(&self, remote: &str) -> Result<usize, TrailError> {
        let mut known: Vec<ObjectId> = Vec::new();
        for kind in ["heads", "archive"] {
            let prefix = format!("{SEEN_PREFIX}{remote}/{kind}/");
            known.extend(
                self.git()
                    .refs_under(&prefix)?
                    .into_iter()
                    .map(|(_, id)| id),
            );
        }
        let mut tips: Vec<ObjectId> = self
            .git()
            .refs_under(HEADS_PREFIX)?
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        tips.extend(
            self.git()
                .refs_under(ARCHIVE_PREFIX)?
                .into_iter()
                .map(|(_, id)| id),
        );
        Ok(self
            .with_index(|ix| ix.reached_beyond(&known, &tips))?
            .len())
    }

    /// Where automatic sync stands, from local state (no network).
    pub fn auto_status(&self) -> Result<AutoStatus, TrailError> {
        let settings = self.auto_settings();
        let state = SyncState::load(self.home());
        let mut pending = BTreeMap::new();
        if settings.auto.git() {
            pending.insert("git".to_owned(), self.remote_pending(&settings.remote)?);
        }
        if settings.auto.d1() {
            if let Ok(m) = self.mirror_status() {
                pending.insert("d1".to_owned(), m.pending);
            }
        }
        Ok(AutoStatus {
            auto: settings.auto,
            remote: settings.auto.git().then_some(settings.remote),
            debounce_seconds: settings.debounce_seconds,
            running: WorkerLock::busy(self.home()),
            pending,
            last_attempt: state.last_attempt.as_ref().map(rfc3339),
            last_success: state.last_success.as_ref().map(rfc3339),
            last_error: state.last_error,
            failures: state.failures,
            next_retry: state.next_retry.as_ref().map(rfc3339),
        })
    }

    /// One round now, in this process: push to the remote (pulling first
    /// when it has atoms this store lacks) and/or to the mirror, as the
    /// settings say; the outcome is recorded for `atom status`.
    pub fn sync_now(&self) -> Result<SyncOutcome, AutoSyncError> {
        let settings = self.auto_settings();
        if settings.auto == AutoMode::Off {
            return Err(AutoSyncError::Off);
        }
        let home = self.home().to_owned();
        let mut state = SyncState::load(&home);
        state.last_attempt = Some(Utc::now());
        let _ = state.save(&home);
        let mut outcome = SyncOutcome::default();
        let mut errors = Vec::new();
        if settings.auto.git() {
            outcome.remote = Some(settings.remote.clone());
            match self.sync_git(&settings.remote) {
                Ok((refs, pulled)) => {
                    outcome.refs_updated = refs;
                    outcome.pulled = pulled;
                }
                Err(e) => errors.push(format!("git: {e}")),
            }
        }
        if settings.auto.d1() {
            match self.sync_d1() {
                Ok(n) => outcome.mirrored = Some(n),
                Err(e) => errors.push(format!("d1: {e}")),
            }
        }
        // Another round may have run meanwhile: start from what is on disk.
        let mut state = SyncState::load(&home);
        if errors.is_empty() {
            state.last_success = Some(Utc::now());
            state.last_error = None;
            state.failures = 0;
            state.next_retry = None;
            let _ = state.save(&home);
            return Ok(outcome);
        }
        let message = redact_urls(&errors.join("; ").replace(['\n', '\r'], " "));
        state.failures = state.failures.saturating_add(1);
        state.last_error = Some(message.clone());
        state.next_retry = chrono::Duration::from_std(backoff(state.failures))
            .ok()
            .map(|d| Utc::now() + d);
        let _ = state.save(&home);
        Err(AutoSyncError::Failed { message })
    }

    /// Push every trail, archive and the keys; when the remote has atoms
    /// this store lacks, pull (verified, merged) and push again. Returns the
    /// refs moved and whether it pulled.
    fn sync_git(&self, remote: &str) -> Result<(usize, bool), SyncError> {
        let moved =
            |r: &super::PushReport| r.refs.iter().filter(|r| r.status != "up to date").count();
        match self.push(remote, None, false) {
            Ok(report) => Ok((moved(&report), false)),
            Err(SyncError::Rejected { .. }) => {
                self.pull(remote, None, false)?;
                let report = self.push(remote, None, false)?;
                Ok((moved(&report), true))
            }
            Err(e) => Err(e),
        }
    }

    /// Send the mirror what it lacks; returns the atoms sent.
    fn sync_d1(&self) -> Result<usize, MirrorError> {
        let settings = self.mirror_settings().ok_or(MirrorError::NotConfigured)?;
        let client = D1Client::from_env(&settings.target())?;
        Ok(self.mirror_push(&client, &mut |_, _| {})?.atoms_sent)
    }
}

/// `scheme://user:secret@host` → `scheme://***@host`: git's messages may
/// quote a URL with credentials in it.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c == '\'' || c == '"' || c.is_whitespace())
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(user) => {
                out.push_str("***");
                rest = &tail[user..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Whether the worker for `home` is still wanted: the store exists and
/// automatic sync is on.
fn wanted(home: &Path) -> Option<AutoSettings> {
    let trail = Trail::open(home).ok()?;
    let settings = trail.auto_settings();
    (settings.auto != AutoMode::Off).then_some(settings)
}

/// Sleep until `until` (or as long as the worker is wanted); `false` when
/// it no longer is.
fn sleep_until(home: &Path, until: Instant) -> bool {
    loop {
        let now = Instant::now();
        if now >= until {
            return true;
        }
        std::thread::sleep((until - now).min(TICK));
        if wanted(home).is_none() {
            return false;
        }
    }
}

/// The background worker (`atom sync --background`): rounds until nothing
/// is marked, each after the debounce and any backoff; exits at once when
/// another worker runs, and when the store or the setting goes away.
pub fn run_worker(home: &Path) -> io::Result<()> {
    let lock = match inherited_lock(home) {
        Some(lock) => Some(lock),
        None => WorkerLock::acquire_within(home, Duration::from_secs(1))?,
    };
    let Some(_lock) = lock else {
        return Ok(());
    };
    let _ = std::fs::write(lock_file(home), format!("{}\n", std::process::id()));
    loop {
        let Some(settings) = wanted(home) else {
            return Ok(());
        };
        if !marked(home) {
            return Ok(());
        }
        // Backoff after a failure (a foreground `atom sync` that succeeded
        // clears it).
        let state = SyncState::load(home);
        if let Some(retry) = state.next_retry {
            let wait = (retry - Utc::now()).to_std().unwrap_or_default();
            if !wait.is_zero() {
                if !sleep_until(home, Instant::now() + wait.min(TICK)) {
                    return Ok(());
                }
                continue;
            }
        }
        // Debounce: wait until no append came for the debounce, or for at
        // most MAX_DEBOUNCE_ROUNDS debounces.
        let debounce = Duration::from_secs(settings.debounce_seconds);
        let started = Instant::now();
        loop {
            let age = std::fs::metadata(pending_file(home))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            let Some(age) = age else { break };
            if age >= debounce || started.elapsed() >= debounce * MAX_DEBOUNCE_ROUNDS {
                break;
            }
            if !sleep_until(home, Instant::now() + (debounce - age)) {
                return Ok(());
            }
        }
        // Claim the marked work: appends from now on mark a new round.
        if pending_file(home).exists() {
            std::fs::rename(pending_file(home), syncing_file(home))?;
        }
        let trail = match Trail::open(home) {
            Ok(t) => t,
            Err(_) => return Ok(()),
        };
        if trail.sync_now().is_ok() {
            let _ = std::fs::remove_file(syncing_file(home));
        } else if settings.auto.d1() && std::env::var_os(crate::mirror::d1::TOKEN_VAR).is_none() {
            // This process can never reach D1: leave the job (marked) to a
            // worker started by a command that has the token.
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact_urls("fatal: unable to access 'https://me:s3cret@host/x.git/': 403"),
            "fatal: unable to access 'https://***@host/x.git/': 403"
        );
        assert_eq!(
            redact_urls("git://host/x and ssh://git@h"),
            "git://host/x and ssh://***@h"
        );
        assert_eq!(redact_urls("no url here"), "no url here");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(5), Duration::from_secs(32));
        assert_eq!(backoff(40), BACKOFF_CAP);
    }
}
