//! The façade: a [`Trail`] is one opened atom store (`$ATOM_HOME`), owning its
//! git repository and keys. Commands talk only to it.
//!
//! The one rule a reader must know: ids are allocated and refs moved only
//! while holding the store lock, and an atom is acknowledged only after its
//! objects and ref are fsynced.
//!
//! ```no_run
//! use atom::{Draft, Trail};
//! let home = std::path::Path::new("/tmp/atom-example");
//! Trail::init(home, None).unwrap();
//! let trail = Trail::open(home).unwrap();
//! let view = trail.record(Draft::new("CFG", "modify_file")).unwrap();
//! println!("{}", view.record.atom_id);
//! ```

use std::cell::{OnceCell, RefCell};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use gix::ObjectId;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::append::{Onto, Transaction};
use crate::canonical;
use crate::index::{self, Filter, Index, IndexError, Scope};
use crate::model::{self, Atom, AtomId, Attachment, InvalidField};
use crate::signing::{AllowedSigners, SignatureCheck, SignatureStatus, SigningError, SshSigner};
use crate::store::lock::StoreLock;
use crate::store::{io_context, GitStore, Identity, StoreError, StoredAtom, HEADS_PREFIX};

/// Name of the bare repository inside a store.
pub const GIT_DIR: &str = "trail.git";
/// Directory of keys inside a store.
pub const KEYS_DIR: &str = "keys";
/// The store's own key file name: its signing key unless `atom.signingKey`
/// names another; when that other key is ECDSA or RSA, this Ed25519 key
/// signs the transparency log (C2SP signed notes are Ed25519 only).
pub const KEY_FILE: &str = "atom_ed25519";
/// The only namespace a log key made beside an ECDSA or RSA signing key is
/// trusted for: it signs checkpoints, never atoms (git refuses a commit
/// signed by it).
pub const LOG_KEY_NAMESPACE: &str = "atom-checkpoint";
/// The trusted keys file name.
pub const ALLOWED_SIGNERS: &str = "allowed_signers";
/// The index file inside a store.
pub const INDEX_FILE: &str = "index.sqlite";
/// Git config key naming a user-chosen signing key.
pub const SIGNING_KEY_CONFIG: &str = "atom.signingKey";

/// How many times an append is retried when its ref moved underneath it.
const APPEND_ATTEMPTS: usize = 8;

/// Errors of store operations, each carrying what the user needs to act.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    /// There is no store at the path.
    #[error("no atom store at {home}")]
    NotInitialized {
        /// The store directory.
        home: PathBuf,
    },
    /// An input field is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    /// An input file could not be read.
    #[error("cannot read {path}: {source}")]
    Input {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Nothing matches the given id or revision.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// No atom, trail or commit is named so; `similar` are trail names
    /// close to it (another case, a typo).
    #[error("{rev:?} not found: neither an atom id, a trail, nor a commit")]
    NoSuchRevision {
        /// What was looked for.
        rev: String,
        /// Trails named almost so.
        similar: Vec<String>,
    },
    /// No atom has this id; `similar` are the atoms of its day and number
    /// (another TYPE): what it most likely meant.
    #[error("atom {id} not found")]
    NoSuchAtom {
        /// The id looked for.
        id: AtomId,
        /// Atoms with the same day and sequence number.
        similar: Vec<AtomId>,
    },
    /// An id names several atoms (after a merge of two devices' trails).
    #[error("{id} is ambiguous: it names commits {}", commits.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", "))]
    Ambiguous {
        /// The id.
        id: String,
        /// The commits it names.
        commits: Vec<ObjectId>,
    },
    /// A link names an id that several atoms have, without saying which.
    #[error("{id} names {} atoms: {}", candidates.len(), candidates.join("; "))]
    AmbiguousLink {
        /// The id.
        id: String,
        /// Each atom as a handle, with its agent and time.
        candidates: Vec<String>,
    },
    /// Another writer held the store lock longer than the caller would wait.
    #[error("the store is locked by another writer (waited {} ms)", waited.as_millis())]
    Locked {
        /// How long the caller waited.
        waited: std::time::Duration,
    },
    /// Every sequence number of the day is taken (an atom numbered
    /// [`model::MAX_SEQ`] came in); ids never wrap.
    #[error("no atom id is left for {day}: an atom of that day already has the highest sequence number, {max}", max = model::MAX_SEQ)]
    DayFull {
        /// The UTC day.
        day: chrono::NaiveDate,
    },
    /// The command writes, and this process may not write to the store (a
    /// read-only mount, another user's store).
    #[error("the store is read-only for this user: {}: {source}", path.display())]
    NotWritable {
        /// The file that could not be written.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Concurrent writers kept moving the trail.
    #[error("trail {trail} kept moving; gave up after {APPEND_ATTEMPTS} attempts")]
    Contention {
        /// The trail.
        trail: String,
    },
    /// The git layer failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The index failed in a way a rebuild did not cure.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The signing key could not be used.
    #[error(transparent)]
    Signing(#[from] crate::signing::SigningError),
    /// The input holds a secret (a private key, a token); nothing was
    /// written. The message names the field and the kind, never the secret.
    #[error("refusing to record a secret: {located}")]
    Secret {
        /// Where it is and what it is.
        located: crate::secrets::Located,
        /// Whether a mask could take its place (`record --redact`): not in
        /// an attachment, the TYPE or the operation.
        maskable: bool,
    },
}

impl TrailError {
    /// Whether this error is the user's input (exit code 2) rather than a
    /// problem found while running (exit code 1).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            TrailError::Invalid(_) | TrailError::Input { .. } | TrailError::Secret { .. }
        )
    }
}

/// Why `atom query` did not answer.
#[derive(Debug, thiserror::Error)]
pub enum QuerySqlError {
    /// The statement was refused or failed: the user's input.
    #[error(transparent)]
    Query(#[from] index::QueryError),
    /// The store or its index failed.
    #[error(transparent)]
    Trail(#[from] TrailError),
}

/// What a caller wants recorded; the store fills in id, time, links and digest.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// TYPE (`CFG`, `DECISION`, ...).
    pub atom_type: String,
    /// Operation (`modify_file`, ...).
    pub operation: String,
    /// Who did it; defaults to `$ATOM_AGENT`, git's `user.name`, `$USER`.
    pub agent: Option<String>,
    /// One line for humans.
    pub summary: String,
    /// Free JSON object.
    pub metadata: Map<String, Value>,
    /// Atoms this one built on.
    pub influenced_by: Vec<AtomId>,
    /// The project.
    pub project: Option<String>,
    /// Tokens spent.
    pub token_cost: Option<u64>,
    /// Files to store with the atom: (name, content).
    pub attachments: Vec<(String, Vec<u8>)>,
    /// The time of the atom; now when `None`.
    pub at: Option<DateTime<Utc>>,
}

impl Draft {
    /// A draft with only type and operation set.
    pub fn new(atom_type: &str, operation: &str) -> Self {
        Draft {
            atom_type: atom_type.to_owned(),
            operation: operation.to_owned(),
            ..Default::default()
        }
    }
}

/// One atom as shown to users: the `--json` shape of `record` and `show`.
#[derive(Debug, Clone, Serialize)]
pub struct AtomView {
    /// The commit id (hex).
    #[serde(serialize_with = "serialize_oid")]
    pub commit: ObjectId,
    /// The record.
    pub record: Atom,
    /// The signature check.
    pub signature: SignatureCheck,
    /// The commit's parents, first parent first (not part of the `--json` shape).
    #[serde(skip)]
    pub parents: Vec<ObjectId>,
}

fn serialize_oid<S: serde::Serializer>(id: &ObjectId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

/// A validated draft, ready to append.
pub(crate) struct Prepared {
    pub(crate) draft: Draft,
    pub(crate) agent: String,
    pub(crate) attachments: Vec<Attachment>,
}

/// What `init` did.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    /// The store directory.
    pub home: PathBuf,
    /// False when the store already existed.
    pub created: bool,
    /// The signing key in use.
    pub signing_key: PathBuf,
    /// Its fingerprint.
    pub fingerprint: String,
    /// The name the key is trusted (and published) under.
    pub name: String,
    /// When the signing key is ECDSA or RSA, the Ed25519 key that signs the
    /// transparency log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_key: Option<LogKeyReport>,
}

/// The Ed25519 key that signs the log of a store whose signing key is
/// ECDSA or RSA.
#[derive(Debug, Clone, Serialize)]
pub struct LogKeyReport {
    /// Its file.
    pub path: PathBuf,
    /// Its fingerprint.
    pub fingerprint: String,
    /// The name it is trusted (and published) under.
    pub name: String,
}

/// An opened atom store.
pub struct Trail {
    home: PathBuf,
    git: GitStore,
    allowed: OnceCell<AllowedSigners>,
    pub(crate) index: RefCell<Option<Index>>,
    notices: RefCell<Vec<String>>,
    /// What the last catch-up found wrong with the transparency log.
    log_problem: RefCell<Option<String>>,
    /// Whether a catch-up left a ref out of the index (not a history of
    /// atoms, or damaged).
    skipped_refs: std::cell::Cell<bool>,
    pub(crate) scanner: OnceCell<crate::secrets::Scanner>,
    /// The trail commands act on when it is not the one HEAD names
    /// (`--trail`, `ATOM_TRAIL`): see [`Trail::select_trail`].
    pub(crate) selected: Option<String>,
}

/// What [`Trail::reindex_check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReindexCheck {
    /// Atoms in git (every trail and archive), as a rebuild indexes them.
    pub atoms: usize,
    /// Rows that differ: `- row` only on disk, `+ row` only in the rebuild.
    pub differences: Vec<String>,
}

impl Trail {
    /// The store directory when none is given: `$ATOM_HOME`, else
    /// `$XDG_DATA_HOME/atom`, else `~/.local/share/atom`.
    pub fn default_home() -> PathBuf {
        if let Some(h) = std::env::var_os("ATOM_HOME").filter(|h| !h.is_empty()) {
            return PathBuf::from(h);
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|h| !h.is_empty()) {
            return PathBuf::from(x).join("atom");
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
        PathBuf::from(home).join(".local/share/atom")
    }

    /// Create the store at `home` (idempotent): the bare repository, a signing
    /// key (or `key`, a user's own unencrypted Ed25519, ECDSA or RSA key) and
    /// the allowed signers file trusting it. Beside an ECDSA or RSA key, an
    /// Ed25519 key (`keys/atom_ed25519`) signs the transparency log; it is
    /// trusted for the [`LOG_KEY_NAMESPACE`] namespace only.
    ///
    /// All or nothing: `key` is checked before anything is made, and should
    /// a later step fail, what this call made (directories, the repository,
    /// key files, the allowed signers file) is removed again; what was there
    /// before is left as it was.
    pub fn init(home: &Path, key: Option<&Path>) -> Result<InitReport, TrailError> {
        Self::init_named(home, key, None)
    }

    /// [`Trail::init`], trusting the store's own key under `name` (checked
    /// by the caller with [`crate::signers::validate_name`]). Without a
    /// name: the key's comment when it is a usable name, else
    /// `<host>-<first 6 characters of the key's fingerprint>` (the host is
    /// `$ATOM_HOST`, else the machine's host name).
    pub fn init_named(
        home: &Path,
        key: Option<&Path>,
        name: Option<&str>,
    ) -> Result<InitReport, TrailError> {
        let key = match key {
            Some(k) => {
                let k = io_context(std::path::absolute(k), || {
                    format!("resolving {}", k.display())
                })?;
                let signer = SshSigner::load_checked(&k)?;
                if signer.ed25519().is_none() {
                    // The log key beside it, when there is one already,
                    // must be usable too.
                    existing_log_key(home, &signer)?;
                }
                Some(k)
            }
            None => None,
        };
        let mut made = Made::default();
        let result = Self::init_checked(home, key, name, &mut made);
        if result.is_err() {
            made.undo();
        }
        result
    }

    fn init_checked(
        home: &Path,
        key: Option<PathBuf>,
        name: Option<&str>,
        made: &mut Made,
    ) -> Result<InitReport, TrailError> {
        let git_dir = home.join(GIT_DIR);
        let created = !git_dir.join("HEAD").exists();
        let keys = home.join(KEYS_DIR);
        made.create_dir_all(&keys)?;
        let git = if created {
            if !git_dir.exists() {
                made.tree = Some(git_dir.clone());
            }
            GitStore::init(&git_dir)?
        } else {
            GitStore::open(&git_dir)?
        };
        let signer = match &key {
            Some(k) => {
                set_git_config(&git_dir, SIGNING_KEY_CONFIG, &k.to_string_lossy())?;
                SshSigner::load(k)?
            }
            None => {
                let key_path = configured_key(&git, home);
                if key_path.exists() {
                    SshSigner::load(&key_path)?
                } else {
                    let mut public = key_path.clone().into_os_string();
                    public.push(".pub");
                    made.file(&key_path);
                    made.file(Path::new(&public));
                    SshSigner::generate(&key_path, "")?
                }
            }
        };
        let allowed = keys.join(ALLOWED_SIGNERS);
        if !allowed.exists() {
            made.file(&allowed);
        }
        let name = name.map_or_else(|| signer_name(&signer), str::to_owned);
        let name = trust_key(home, &name, &signer.public_key_line(), "git")?;
        let log_key = match signer.ed25519() {
            Some(_) => None,
            None => Some(init_log_key(home, &name, &signer, made)?),
        };
        Ok(InitReport {
            home: home.to_owned(),
            created,
            signing_key: key.unwrap_or_else(|| configured_key(&git, home)),
            fingerprint: signer.fingerprint(),
            name,
            log_key,
        })
    }

    /// Open the store at `home`.
    pub fn open(home: &Path) -> Result<Self, TrailError> {
        let git_dir = home.join(GIT_DIR);
        if !git_dir.join("HEAD").is_file() {
            return Err(TrailError::NotInitialized {
                home: home.to_owned(),
            });
        }
        Ok(Trail {
            home: home.to_owned(),
            git: GitStore::open(&git_dir)?,
            allowed: OnceCell::new(),
            index: RefCell::new(None),
            notices: RefCell::new(Vec::new()),
            log_problem: RefCell::new(None),
            skipped_refs: std::cell::Cell::new(false),
            scanner: OnceCell::new(),
            selected: None,
        })
    }

    /// [`Trail::open`], acting on `trail` when one is given (see
    /// [`Trail::select_trail`]).
    pub fn open_on(home: &Path, trail: Option<&str>) -> Result<Self, crate::branches::BranchError> {
        let mut opened = Self::open(home)?;
        if let Some(name) = trail {
            opened.select_trail(name)?;
        }
        Ok(opened)
    }

    /// Run `f` on the index after bringing it up to date with the refs. A
    /// damaged index is rebuilt from git (with a notice) and `f` retried.
    pub(crate) fn with_index<T>(
        &self,
        f: impl Fn(&Index) -> Result<T, IndexError>,
    ) -> Result<T, TrailError> {
        let mut slot = self.index.borrow_mut();
        for attempt in 0..2 {
            let mut missing = None;
            if slot.is_none() {
                let path = self.home.join(INDEX_FILE);
                if std::fs::symlink_metadata(&path)
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
                {
                    missing = Some(path.clone());
                }
                let (ix, notice) = Index::open(&path)?;
                self.notices.borrow_mut().extend(notice);
                *slot = Some(ix);
            }
            let ix = slot.as_mut().expect("opened above");
            let result = ix.catch_up(&self.git, &mut |_| {}).and_then(|report| {
                // A new store has no index yet and nothing to rebuild: no note.
                if let Some(path) = missing.as_ref().filter(|_| report.added > 0) {
                    self.notices.borrow_mut().push(format!(
                        "index {} was missing; rebuilt it from git ({} atoms)",
                        path.display(),
                        report.added
                    ));
                }
                if !report.skipped.is_empty() {
                    self.skipped_refs.set(true);
                }
                if let Some(problem) = report.log {
                    self.notices
                        .borrow_mut()
                        .push(format!("the transparency log: {problem}"));
                    *self.log_problem.borrow_mut() = Some(problem);
                }
                self.notices
                    .borrow_mut()
                    .extend(report.skipped.into_iter().map(|(name, why)| {
                        format!(
                            "{name} is left out of the index: {why}; if it is not yours, delete it with `git --git-dir {} update-ref -d {}`",
                            crate::shell::quote(&self.git.git_dir().to_string_lossy()),
                            crate::shell::quote(&name)
                        )
                    }));
                f(ix)
            });
            match result {
                Err(e) if attempt == 0 && index::is_corruption(&e) => {
                    ix.reset()?;
                    self.notices
                        .borrow_mut()
                        .push(format!("index was damaged ({e}); rebuilding it from git"));
                }
                other => return Ok(other?),
            }
        }
        unreachable!("the second attempt returns")
    }

    /// What the last catch-up found wrong with the transparency log, once.
    /// (`verify` reports it itself, so it is no longer a note.)
    pub(crate) fn take_log_notice(&self) -> Option<String> {
        let problem = self.log_problem.borrow_mut().take()?;
        let note = format!("the transparency log: {problem}");
        self.notices.borrow_mut().retain(|n| *n != note);
        Some(problem)
    }

    /// Whether a catch-up left a ref out of the index; the notes saying so
    /// are dropped (`verify`, which asks, names the atoms itself).
    pub(crate) fn skipped_refs(&self) -> bool {
        let skipped = self.skipped_refs.get();
        if skipped {
            self.notices
                .borrow_mut()
                .retain(|n| !n.contains(" is left out of the index: "));
        }
        skipped
    }

    /// Notes for the user gathered so far (an index rebuilt, ...), emptied.
    pub fn take_notices(&self) -> Vec<String> {
        std::mem::take(&mut self.notices.borrow_mut())
    }

    /// The git layer, for the other parts of the façade.
    pub(crate) fn git(&self) -> &GitStore {
        &self.git
    }

    /// The store directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The git repository (`trail.git`).
    pub fn git_dir(&self) -> &Path {
        self.git.git_dir()
    }

    /// The trail commands act on: the one [`Trail::select_trail`] chose,
    /// else the one HEAD names.
    pub fn current_trail(&self) -> Result<String, TrailError> {
        match &self.selected {
            Some(name) => Ok(name.clone()),
            None => self.head_trail(),
        }
    }

    /// The trail HEAD names (what `atom switch` sets), whatever trail
    /// this handle acts on.
    pub fn head_trail(&self) -> Result<String, TrailError> {
        Ok(self.git.current_trail()?)
    }

    /// Append one atom to the current trail and return it as stored.
    pub fn record(&self, draft: Draft) -> Result<AtomView, TrailError> {
        let prepared = self.prepare(draft)?;
        self.append_retrying(&prepared, || self.lock())
    }

    /// [`Trail::record`], waiting at most `max_wait` for the store lock:
    /// [`TrailError::Locked`] when another writer keeps it longer.
    pub fn record_within(
        &self,
        draft: Draft,
        max_wait: std::time::Duration,
    ) -> Result<AtomView, TrailError> {
        let prepared = self.prepare(draft)?;
        let path = self.git.git_dir().join("atom.lock");
        self.append_retrying(&prepared, || {
            lock_error(StoreLock::acquire_within(&path, max_wait), &path)?
                .ok_or(TrailError::Locked { waited: max_wait })
        })
    }

    /// Append `prepared` on the current trail's tip in a transaction of its
    /// own; when something other than atom (plain git) moved the trail
    /// between reading and moving it, start over.
    fn append_retrying(
        &self,
        prepared: &Prepared,
        lock: impl Fn() -> Result<StoreLock, TrailError>,
    ) -> Result<AtomView, TrailError> {
        for _ in 0..APPEND_ATTEMPTS {
            let mut tx = Transaction::begin_locked(self, Some(lock()?))?;
            let view = tx.append(prepared, Onto::Tip(None))?;
            match tx.commit() {
                Ok(()) => return Ok(view),
                Err(TrailError::Contention { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(TrailError::Contention {
            trail: self.current_trail()?,
        })
    }

    /// Validate a draft. Nothing is written.
    pub(crate) fn prepare(&self, draft: Draft) -> Result<Prepared, TrailError> {
        let agent = match &draft.agent {
            Some(a) => a.clone(),
            None => self.default_agent(),
        };
        // First, so that no other message can echo a secret.
        self.refuse_secrets(&draft, &agent)?;
        model::validate_type(&draft.atom_type)?;
        model::validate_operation(&draft.operation)?;
        model::validate_agent(&agent)?;
        model::validate_line("summary", &draft.summary)?;
        if let Some(p) = &draft.project {
            model::validate_line("project", p)?;
        }
        model::validate_metadata(&draft.metadata)?;
        model::validate_token_cost(draft.token_cost)?;
        if let Some(at) = draft.at {
            model::validate_new_time(at, Utc::now())?;
        }
        for id in &draft.influenced_by {
            let commits = self.find_atom_id(id)?;
            self.check_link(&draft, id, &commits)?;
            if commits.is_empty() {
                let similar = self.with_index(|ix| ix.same_number(id))?;
                let mut reason = format!("{id} is not an atom of this store");
                if !similar.is_empty() {
                    let ids: Vec<String> = similar.iter().map(ToString::to_string).collect();
                    reason.push_str(&format!("; did you mean {}?", ids.join(" or ")));
                }
                return Err(InvalidField::new("influenced_by", reason).into());
            }
        }
        let mut attachments = Vec::with_capacity(draft.attachments.len());
        for (name, bytes) in &draft.attachments {
            model::validate_attachment_name(name)?;
            attachments.push(Attachment {
                name: name.clone(),
                sha256: canonical::sha256_hex(bytes),
                size: bytes.len() as u64,
            });
        }
        attachments.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Prepared {
            draft,
            agent,
            attachments,
        })
    }

    /// Atoms matching `filter`, newest first: those of `rev` (a trail, the
    /// ancestors of any revision, or a range `A..B`), of every trail and archive with
    /// `all`, else of the current trail. Answered from the index alone.
    pub fn log(
        &self,
        rev: Option<&str>,
        all: bool,
        filter: &Filter,
    ) -> Result<Vec<AtomView>, TrailError> {
        let scope = match rev {
            _ if all => Scope::All,
            None => Scope::Trail(self.current_trail()?),
            Some(rev) => self.scope_of(rev)?,
        };
        let rows = self.with_index(|ix| ix.log(&scope, filter))?;
        Ok(rows.into_iter().map(|r| self.view_row(r)).collect())
    }

    /// An indexed atom as shown to users, its signature judged now.
    pub(crate) fn view_row(&self, row: index::IndexRow) -> AtomView {
        AtomView {
            commit: row.commit,
            signature: self.judge(&row.signature, row.time),
            record: row.record,
            parents: row.parents,
        }
    }

    /// Full-text search (FTS5, summary and metadata) for `text`, each word
    /// required and matched as written: the best `limit` atoms first, each
    /// with a snippet of where it matched. Empty text finds nothing.
    pub fn search(
        &self,
        text: &str,
        limit: Option<usize>,
    ) -> Result<Vec<(AtomView, String)>, TrailError> {
        let Some(fts) = index::fts_query(text) else {
            return Ok(Vec::new());
        };
        let hits = self.with_index(|ix| ix.search(&fts, limit))?;
        Ok(hits
            .into_iter()
            .map(|(row, snippet)| (self.view_row(row), snippet))
            .collect())
    }

    /// Run one read-only SQL statement over the index (SPEC §4), after
    /// bringing the index up to date, on a connection that cannot write.
    pub fn query_sql(&self, sql: &str) -> Result<index::SqlRows, QuerySqlError> {
        self.with_index(|_| Ok(()))?;
        let slot = self.index.borrow();
        let ix = slot.as_ref().expect("with_index opened the index");
        Ok(ix.read_only_query(sql)?)
    }

    /// Provenance of the atom `rev` names: what it built on through
    /// `influenced_by`, recursively, or with `down` what built on it.
    /// A node is one atom (one commit), named by a unique handle; see
    /// [`index::Trace`].
    pub fn trace(&self, rev: &str, down: bool) -> Result<index::Trace, TrailError> {
        let root = self.show(rev)?;
        let mut trace = self.with_index(|ix| ix.trace(&root.record.atom_id, root.commit, down))?;
        if let Some(first) = trace.nodes.first_mut().filter(|n| n.agent.is_none()) {
            // An atom no ref reaches: the index does not hold it, git does.
            first.agent = Some(root.record.agent.clone());
            first.summary = Some(root.record.summary.clone());
            first.timestamp = Some(root.record.timestamp.clone());
        }
        Ok(trace)
    }

    /// The atoms `atom` built on and the atoms that built on it, one link
    /// away, each resolved to its commit as `trace` resolves them.
    pub fn links(&self, atom: &AtomView) -> Result<crate::links::Links, TrailError> {
        self.with_index(|ix| {
            let node = ix.node_of(&atom.record.atom_id, atom.commit)?;
            Ok(crate::links::Links {
                built_on: ix.linked(&node, false)?,
                used_by: ix.linked(&node, true)?,
            })
        })
    }

    /// Atom counts and summed token cost of the whole store, grouped.
    pub fn stats(&self, by: index::StatsBy) -> Result<Vec<index::StatsRow>, TrailError> {
        self.with_index(|ix| ix.stats(by))
    }

    /// [`Trail::stats`] of the atoms of `trail` (every trail and archive
    /// when `None`) whose time is in `[since, until)` (record timestamps).
    pub fn stats_of(
        &self,
        by: index::StatsBy,
        trail: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Vec<index::StatsRow>, TrailError> {
        let scope = match trail {
            Some(t) => self.scope_of(t)?,
            None => Scope::All,
        };
        let secs = |t: Option<&str>| -> Result<Option<i64>, TrailError> {
            t.map(|t| Ok(model::parse_timestamp(t)?.timestamp()))
                .transpose()
        };
        let (since, until) = (secs(since)?, secs(until)?);
        self.with_index(|ix| ix.stats_in(by, &scope, since, until))
    }

    /// Rebuild the index from git. `progress` gets the number of atoms indexed.
    pub fn reindex(&self, progress: &mut dyn FnMut(usize)) -> Result<usize, TrailError> {
        let path = self.home.join(INDEX_FILE);
        let mut slot = self.index.borrow_mut();
        *slot = None;
        // Never delete what is not ours to delete (a newer atom's index,
        // another program's database), nor what this user cannot write.
        match Index::open(&path) {
            Err(e @ (IndexError::Foreign { .. } | IndexError::ReadOnly { .. })) => {
                return Err(e.into())
            }
            Ok((ix, _)) if ix.is_read_only() => {
                return Err(ix.read_only_error("cannot be rebuilt by this user").into())
            }
            _ => {}
        }
        index::remove_index_files(&path);
        let (mut ix, _) = Index::open(&path)?;
        let report = ix.catch_up(&self.git, progress)?;
        *slot = Some(ix);
        Ok(report.added)
    }

    /// Bring the index up to date with the refs now (every query does it
    /// anyway), e.g. while waiting for something else.
    pub fn catch_up(&self) -> Result<(), TrailError> {
        self.with_index(|_| Ok(()))
    }

    /// Rebuild the index in memory and compare it with the one on disk:
    /// how many atoms git holds, and the differing rows (`-` only on disk,
    /// `+` only in the rebuild).
    pub fn reindex_check(&self) -> Result<ReindexCheck, TrailError> {
        let on_disk = self.with_index(|ix| ix.dump())?;
        let mut fresh = Index::in_memory()?;
        let report = fresh.catch_up(&self.git, &mut |_| {})?;
        let rebuilt = fresh.dump()?;
        let a: std::collections::BTreeSet<_> = on_disk.iter().collect();
        let b: std::collections::BTreeSet<_> = rebuilt.iter().collect();
        let mut differences: Vec<String> = a.difference(&b).map(|l| format!("- {l}")).collect();
        differences.extend(b.difference(&a).map(|l| format!("+ {l}")));
        Ok(ReindexCheck {
            atoms: report.added,
            differences,
        })
    }

    /// One atom, by any revision ([`Trail::resolve`]).
    pub fn show(&self, rev: &str) -> Result<AtomView, TrailError> {
        let commit = self.resolve(rev)?;
        self.view(commit)
    }

    pub(crate) fn find_atom_id(&self, id: &AtomId) -> Result<Vec<ObjectId>, TrailError> {
        self.with_index(|ix| ix.commits_of(id))
    }

    /// Tips of every trail and archive ref.
    pub(crate) fn all_tips(&self) -> Result<Vec<ObjectId>, TrailError> {
        let mut tips: Vec<ObjectId> = self
            .git
            .refs_under(HEADS_PREFIX)?
            .into_iter()
            .chain(self.git.refs_under("refs/atom/archive/")?)
            .map(|(_, id)| id)
            .collect();
        tips.sort();
        tips.dedup();
        Ok(tips)
    }

    /// The atom in `commit` with its signature checked: from the index,
    /// or from git for a commit no ref reaches.
    pub(crate) fn view(&self, commit: ObjectId) -> Result<AtomView, TrailError> {
        if let Some(row) = self.with_index(|ix| ix.row(&commit))? {
            return Ok(self.view_row(row));
        }
        let stored = self.git.read_atom(commit)?;
        let signature = self.check_signature(&stored);
        Ok(AtomView {
            commit,
            record: stored.record,
            signature,
            parents: stored.parents,
        })
    }

    /// Check a stored atom's signature against the allowed signers.
    pub(crate) fn check_signature(&self, stored: &StoredAtom) -> SignatureCheck {
        match &stored.signature {
            None => SignatureCheck {
                status: SignatureStatus::None,
                signer: None,
            },
            Some((armored, payload)) => {
                self.allowed_signers()
                    .check(armored, payload, stored.signature_time())
            }
        }
    }

    /// The keys this store trusts.
    pub fn allowed_signers(&self) -> &AllowedSigners {
        self.allowed.get_or_init(|| {
            AllowedSigners::load(&self.home.join(KEYS_DIR).join(ALLOWED_SIGNERS))
                .unwrap_or_default()
        })
    }

    /// The key that signs new atoms.
    pub(crate) fn signer(&self) -> Result<SshSigner, TrailError> {
        Ok(SshSigner::load(&self.signing_key_path())?)
    }

    /// The Ed25519 key that signs this store's transparency log (SPEC §10):
    /// `signer` itself when it is Ed25519, else `keys/atom_ed25519`.
    pub(crate) fn log_key_of(
        &self,
        signer: &SshSigner,
    ) -> Result<ed25519_dalek::SigningKey, TrailError> {
        if let Some(k) = signer.ed25519() {
            return Ok(k.clone());
        }
        match existing_log_key(&self.home, signer)? {
            Some(log) => Ok(log.ed25519().expect("existing_log_key checked").clone()),
            None => Err(SigningError::LogKey {
                path: self.home.join(KEYS_DIR).join(KEY_FILE),
                algorithm: signer.algorithm().to_string(),
                problem: "is missing".into(),
            }
            .into()),
        }
    }

    /// The Ed25519 key that signs this store's transparency log.
    pub(crate) fn log_key(&self) -> Result<ed25519_dalek::SigningKey, TrailError> {
        self.log_key_of(&self.signer()?)
    }

    /// The fingerprints of this store's own keys: the signing key, and the
    /// log key when that is another.
    pub(crate) fn own_fingerprints(&self) -> Vec<String> {
        let Ok(signer) = self.signer() else {
            return Vec::new();
        };
        let mut own = vec![signer.fingerprint()];
        if signer.ed25519().is_none() {
            if let Ok(log) = self.log_key_of(&signer) {
                let public = ssh_key::PublicKey::from(ssh_key::public::Ed25519PublicKey(
                    log.verifying_key().to_bytes(),
                ));
                own.push(public.fingerprint(ssh_key::HashAlg::Sha256).to_string());
            }
        }
        own
    }

    /// The file of the key that signs new atoms.
    pub(crate) fn signing_key_path(&self) -> PathBuf {
        configured_key(&self.git, &self.home)
    }

    /// Take the store-wide write lock (blocks).
    pub(crate) fn lock(&self) -> Result<StoreLock, TrailError> {
        let path = self.git.git_dir().join("atom.lock");
        lock_error(StoreLock::acquire(&path), &path)
    }

    /// `$ATOM_AGENT`, else git's `user.name`, else `$USER`, else `unknown`.
    pub fn default_agent(&self) -> String {
        std::env::var("ATOM_AGENT")
            .ok()
            .filter(|a| !a.trim().is_empty())
            .or_else(|| self.git.config_string("user.name"))
            .or_else(|| std::env::var("USER").ok())
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| "unknown".into())
    }

    /// The committer identity for new atoms.
    pub(crate) fn committer(&self) -> Identity {
        match (
            self.git.config_string("user.name"),
            self.git.config_string("user.email"),
        ) {
            (Some(name), Some(email))
                if model::validate_agent(&name).is_ok() && !email.contains(['<', '>', '\n']) =>
            {
                Identity { name, email }
            }
            _ => Identity {
                name: "atom".into(),
                email: "atom@localhost".into(),
            },
        }
    }
}

/// The store lock's outcome, a store this user may not write named as such.
fn lock_error<T>(result: std::io::Result<T>, path: &Path) -> Result<T, TrailError> {
    result.map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            TrailError::NotWritable {
                path: path.to_owned(),
                source: e,
            }
        }
        _ => StoreError::Io {
            context: format!("locking {}", path.display()),
            source: e,
        }
        .into(),
    })
}

/// The signing key: `atom.signingKey` from the store's git config, else `keys/atom_ed25519`.
fn configured_key(git: &GitStore, home: &Path) -> PathBuf {
    match git.config_string(SIGNING_KEY_CONFIG) {
        Some(k) if !k.is_empty() => home.join(k),
        _ => home.join(KEYS_DIR).join(KEY_FILE),
    }
}

/// What `init` made, to be removed again should it fail: only what was not
/// there before.
#[derive(Default)]
struct Made {
    /// Directories made, outermost first.
    dirs: Vec<PathBuf>,
    /// A directory tree made whole (the bare repository).
    tree: Option<PathBuf>,
    /// Files that did not exist (made, or about to be).
    files: Vec<PathBuf>,
}

impl Made {
    /// `create_dir_all`, noting each directory it makes.
    fn create_dir_all(&mut self, dir: &Path) -> Result<(), TrailError> {
        let missing: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
            .map(Path::to_owned)
            .collect();
        self.dirs.extend(missing.into_iter().rev());
        io_context(std::fs::create_dir_all(dir), || {
            format!("creating {}", dir.display())
        })?;
        Ok(())
    }

    /// `path` did not exist before.
    fn file(&mut self, path: &Path) {
        if !path.exists() {
            self.files.push(path.to_owned());
        }
    }

    /// Remove what was made, innermost first; a directory only when empty.
    fn undo(self) {
        for f in self.files.iter().rev() {
            let _ = std::fs::remove_file(f);
        }
        if let Some(tree) = &self.tree {
            let _ = std::fs::remove_dir_all(tree);
        }
        for d in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// The log key beside the ECDSA or RSA key `signer`, trusted as `<name>-log`
/// for checkpoints only: `keys/atom_ed25519`, made when missing.
fn init_log_key(
    home: &Path,
    name: &str,
    signer: &SshSigner,
    made: &mut Made,
) -> Result<LogKeyReport, TrailError> {
    let path = home.join(KEYS_DIR).join(KEY_FILE);
    let log = if let Some(log) = existing_log_key(home, signer)? {
        log
    } else {
        let mut public = path.clone().into_os_string();
        public.push(".pub");
        made.file(&path);
        made.file(Path::new(&public));
        SshSigner::generate(&path, "")?
    };
    let name = trust_key(
        home,
        &format!("{name}-log"),
        &log.public_key_line(),
        LOG_KEY_NAMESPACE,
    )?;
    Ok(LogKeyReport {
        path,
        fingerprint: log.fingerprint(),
        name,
    })
}

/// The Ed25519 key at `keys/atom_ed25519` that signs the log beside the
/// ECDSA or RSA key `signer`; `None` when there is no such file.
fn existing_log_key(home: &Path, signer: &SshSigner) -> Result<Option<SshSigner>, SigningError> {
    let path = home.join(KEYS_DIR).join(KEY_FILE);
    let problem = |problem: String| SigningError::LogKey {
        path: path.clone(),
        algorithm: signer.algorithm().to_string(),
        problem,
    };
    if !path.exists() {
        return Ok(None);
    }
    let log = SshSigner::load(&path).map_err(|e| problem(format!("does not load: {e}")))?;
    match log.ed25519() {
        Some(_) => Ok(Some(log)),
        None => Err(problem(format!("is {}, not Ed25519", log.algorithm()))),
    }
}

/// The default name of the store's own key: its comment when that is a
/// usable signer name, else `<host>-<first 6 characters of the fingerprint>`,
/// so that two machines with the same host name still differ.
fn signer_name(signer: &SshSigner) -> String {
    let line = signer.public_key_line();
    let comment = line.split_whitespace().nth(2).unwrap_or_default();
    if !comment.is_empty() && crate::signers::validate_name(comment).is_ok() {
        return comment.to_owned();
    }
    let host = std::env::var("ATOM_HOST")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(64)
        .collect();
    let host = if host.is_empty() { "atom".into() } else { host };
    let fingerprint = signer.fingerprint();
    let short: String = fingerprint
        .strip_prefix("SHA256:")
        .unwrap_or(&fingerprint)
        .chars()
        .take(6)
        .collect();
    format!("{host}-{short}")
}

/// Add `principal namespaces="NAMESPACE" key` to the allowed signers
/// (`git` for a signing key) unless the key is there (as `principal-2`, ... when another key has that name).
/// Returns the name the key is trusted under.
fn trust_key(
    home: &Path,
    principal: &str,
    key_line: &str,
    namespace: &str,
) -> Result<String, TrailError> {
    let path = home.join(KEYS_DIR).join(ALLOWED_SIGNERS);
    let existing = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(StoreError::Io {
                context: format!("reading {}", path.display()),
                source: e,
            }
            .into())
        }
    };
    let key_part: String = key_line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(line) = existing.lines().find(|l| l.contains(&key_part)) {
        return Ok(line
            .split_whitespace()
            .next()
            .unwrap_or(principal)
            .to_owned());
    }
    // Signer names are unique: another key may have the principal already.
    let principal = match ssh_key::PublicKey::from_openssh(&key_part) {
        Ok(key) => AllowedSigners::parse(&existing).free_name(principal, &key),
        Err(_) => principal.to_owned(),
    };
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "{principal} namespaces=\"{namespace}\" {key_part}\n"
    ));
    io_context(std::fs::write(&path, text), || {
        format!("writing {}", path.display())
    })?;
    Ok(principal)
}

pub(crate) fn set_git_config(git_dir: &Path, key: &str, value: &str) -> Result<(), TrailError> {
    let out = std::process::Command::new("git")
        .arg("config")
        .arg("--file")
        .arg(git_dir.join("config"))
        .arg(key)
        .arg(value)
        .output();
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(StoreError::Git {
            context: "writing git config",
            message: String::from_utf8_lossy(&o.stderr).trim().to_owned(),
        }
        .into()),
        Err(e) => Err(StoreError::Io {
            context: "running git config".into(),
            source: e,
        }
        .into()),
    }
}
