//! The one place where errors become exit codes and `error:` / `hint:` lines
//! (SPEC §5): 0 success, 1 the operation ran and found a problem, 2 bad usage
//! or bad input.

use atom::shell::quote;
use atom::signing::SigningError;
use atom::TrailError;

use crate::cli::output::safe;

/// Exit code: the operation ran and found a problem.
pub const EXIT_PROBLEM: u8 = 1;
/// Exit code: bad usage or bad input.
pub const EXIT_USAGE: u8 = 2;

/// An error on its way to the user.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

impl CliError {
    /// The reader of our output went away (`atom log | head`): not a
    /// failure; nothing to print, exit 0.
    pub fn output_closed() -> Self {
        CliError {
            code: 0,
            message: String::new(),
            hint: None,
        }
    }

    /// Bad usage or input (exit 2).
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError {
            code: EXIT_USAGE,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// The operation found a problem (exit 1).
    pub fn problem(message: impl Into<String>, hint: Option<String>) -> Self {
        CliError {
            code: EXIT_PROBLEM,
            message: message.into(),
            hint,
        }
    }

    /// Print to stderr as one `error:` line and an optional `hint:` line
    /// (text from storage or a remote in them made [`safe`]).
    pub fn print(&self) {
        if self.code == 0 {
            return;
        }
        eprintln!("error: {}", safe(&one_line(&self.message)));
        if let Some(h) = &self.hint {
            eprintln!("hint: {}", safe(&one_line(h)));
        }
    }
}

/// `A`, `A or B`, `A, B or C`: the ids a mistyped id most likely meant.
pub fn did_you_mean(ids: &[atom::AtomId]) -> Option<String> {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    match ids.split_last()? {
        (last, []) => Some(last.clone()),
        (last, rest) => Some(format!("{} or {last}", rest.join(", "))),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl From<TrailError> for CliError {
    fn from(e: TrailError) -> Self {
        let message = e.to_string();
        let (code, hint) = match &e {
            TrailError::NotInitialized { home } => (
                EXIT_USAGE,
                Some(format!(
                    "run `atom init` to create it there, or point --store / ATOM_HOME at an existing store (looked in {})",
                    home.display()
                )),
            ),
            TrailError::Invalid(f) if f.field() == "influenced_by" => (
                EXIT_USAGE,
                Some("`atom log --all` lists the atoms of every trail".into()),
            ),
            TrailError::Invalid(_) => (
                EXIT_USAGE,
                Some("see `atom record --help` for the format of each field".into()),
            ),
            TrailError::Input { .. } => (EXIT_USAGE, Some("check the file name and its permissions".into())),
            TrailError::Secret { located, .. } if located.field == "an attachment name" => (
                EXIT_USAGE,
                Some("the name of an attachment is stored in the record: rename the file".into()),
            ),
            TrailError::Secret { located, .. } if located.field.starts_with("attachment ") => (
                EXIT_USAGE,
                Some("an attachment is stored byte for byte, so --redact cannot mask it: remove the secret from the file, or leave the file out".into()),
            ),
            TrailError::Secret { located, maskable: true } => (
                EXIT_USAGE,
                Some(format!(
                    "a trail keeps everything for good: remove it, or add --redact to record it masked as {}",
                    atom::secrets::mask(located.kind)
                )),
            ),
            TrailError::Secret { .. } => (EXIT_USAGE, Some("a trail keeps everything for good: remove it".into())),
            TrailError::NotFound { .. } => (
                EXIT_PROBLEM,
                Some("`atom log --all` lists the atoms of every trail".into()),
            ),
            TrailError::NoSuchRevision { similar, .. } => (
                EXIT_PROBLEM,
                Some(match similar.split_last() {
                    Some((last, [])) => format!("did you mean trail {last}?"),
                    Some((last, rest)) => format!("did you mean trail {} or {last}?", rest.join(", ")),
                    None => "a revision is an atom id, a trail, a commit sha prefix or @, each with an optional ~N; `atom trails` lists the trails".into(),
                }),
            ),
            TrailError::NoSuchAtom { similar, .. } => (
                EXIT_PROBLEM,
                Some(match did_you_mean(similar) {
                    Some(ids) => format!("did you mean {ids}?"),
                    None => "`atom log --all` lists the atoms of every trail".into(),
                }),
            ),
            TrailError::AmbiguousLink { candidates, .. } => (
                EXIT_PROBLEM,
                Some(format!(
                    "name one by its handle, e.g. --influenced-by {}",
                    candidates[0].split(' ').next().unwrap_or_default()
                )),
            ),
            TrailError::Ambiguous { .. } => (
                EXIT_PROBLEM,
                Some("name the atom as ID@<commit sha prefix>, or by the sha prefix alone".into()),
            ),
            TrailError::DayFull { .. } => (
                EXIT_PROBLEM,
                Some("an atom with that number came in through import or pull; record on another day with --at".into()),
            ),
            TrailError::Contention { .. } => (EXIT_PROBLEM, Some("retry the command".into())),
            TrailError::Locked { .. } => (
                EXIT_PROBLEM,
                Some("another atom command is writing to the store; retry when it is done".into()),
            ),
            TrailError::Signing(SigningError::Encrypted { .. }) => (
                EXIT_USAGE,
                Some("use an unencrypted key (ssh-keygen -t ed25519 -N '' -f FILE, or -t ecdsa / -t rsa) with `atom init --key FILE`".into()),
            ),
            TrailError::Signing(SigningError::LogKey { .. }) => (
                EXIT_PROBLEM,
                Some("keys/atom_ed25519 must be an unencrypted Ed25519 key: move a wrong one aside, then `atom init --key FILE` with the store's signing key makes it and trusts it for checkpoints".into()),
            ),
            TrailError::Signing(_) => (
                EXIT_PROBLEM,
                Some("check the key named by `atom.signingKey` in trail.git/config, or keys/atom_ed25519".into()),
            ),
            TrailError::Store(atom::store::StoreError::RefLocked { .. }) => (
                EXIT_PROBLEM,
                Some("wait for the git command using the store to finish; if none is running, one that crashed left the file: delete it and retry".into()),
            ),
            TrailError::Store(_) => (EXIT_PROBLEM, None),
            TrailError::NotWritable { .. } => (
                EXIT_PROBLEM,
                Some("this command writes to the store: run it as a user who may write to the store's files and directories, or on a writable copy (cp -r the store and point ATOM_HOME at the copy); reading works as it is".into()),
            ),
            TrailError::Index(atom::index::IndexError::ReadOnly { .. }) => (
                EXIT_PROBLEM,
                Some("a user who may write to the store brings the index up to date with `atom reindex` (or any atom command); or cp -r the store and point ATOM_HOME at the copy".into()),
            ),
            TrailError::Index(e) if atom::index::is_access(e) => (
                EXIT_PROBLEM,
                Some("check that this user may read index.sqlite and its -wal and -shm files in the store".into()),
            ),
            TrailError::Index(atom::index::IndexError::Foreign { .. }) => (
                EXIT_PROBLEM,
                Some("the index is only a cache: move index.sqlite out of the store and atom rebuilds its own".into()),
            ),
            TrailError::Index(_) => (
                EXIT_PROBLEM,
                Some("the index is a cache: delete index.sqlite in the store, or run `atom reindex`".into()),
            ),
        };
        CliError {
            code,
            message,
            hint,
        }
    }
}

impl From<atom::branches::BranchError> for CliError {
    fn from(e: atom::branches::BranchError) -> Self {
        use atom::branches::BranchError as E;
        let e = match e {
            E::Trail(inner) => return inner.into(),
            e => e,
        };
        let message = e.to_string();
        let (code, hint) = match &e {
            E::Trail(_) => unreachable!("handled above"),
            E::InvalidName { .. } => (
                EXIT_USAGE,
                "trail names use letters, digits, '.', '_' and '-', e.g. `experiment-2`".to_owned(),
            ),
            E::Exists { name, .. } => (
                EXIT_PROBLEM,
                format!(
                    "pick another name, or `atom switch {}` to use the existing trail",
                    quote(name)
                ),
            ),
            E::NoSuchTrail { name, .. } => (
                EXIT_PROBLEM,
                format!(
                    "`atom trails` lists the trails; `atom fork {}` creates one",
                    quote(name)
                ),
            ),
            E::EmptyTrail { .. } => (
                EXIT_PROBLEM,
                "record an atom first, or fork from another trail with --from".to_owned(),
            ),
            E::NotOnTrail { .. } | E::NothingToRollBack { .. } => (
                EXIT_USAGE,
                "`atom log` lists the atoms of the current trail; `atom switch` changes trail"
                    .to_owned(),
            ),
            E::Moved { .. } => (
                EXIT_PROBLEM,
                "another command changed the trail meanwhile; check `atom log` and retry"
                    .to_owned(),
            ),
            E::CurrentTrail { .. } => (
                EXIT_PROBLEM,
                "switch to another trail first (`atom switch main`), then delete it".to_owned(),
            ),
            E::MovedMeanwhile { .. } => (
                EXIT_PROBLEM,
                "a git command moved it; check `atom trails` and retry".to_owned(),
            ),
        };
        CliError {
            code,
            message,
            hint: Some(hint),
        }
    }
}

impl From<atom::signers::SignersError> for CliError {
    fn from(e: atom::signers::SignersError) -> Self {
        use atom::signers::SignersError as E;
        let e = match e {
            E::Trail(inner) => return inner.into(),
            e => e,
        };
        let message = e.to_string();
        let (code, hint) = match &e {
            E::Trail(_) => unreachable!("handled above"),
            E::InvalidName { .. } => (
                EXIT_USAGE,
                "a signer name is one word, usually an email address".to_owned(),
            ),
            E::InvalidKey { .. } => (
                EXIT_USAGE,
                "give an `ssh-ed25519 AAAA...` (or `ecdsa-sha2-nistp256 ...`, `ssh-rsa ...`) line or the path of its .pub file (ssh-keygen -t ed25519 makes one)".to_owned(),
            ),
            E::NotFound { .. } => (EXIT_PROBLEM, "`atom signers list` shows the trusted keys".to_owned()),
            E::NameTaken { free, .. } => (
                EXIT_USAGE,
                format!("a signer name belongs to one key; give this key another, e.g. {} (`atom signers list` shows the names)", quote(free)),
            ),
            E::OwnKey { name } => (
                EXIT_USAGE,
                format!("if you really mean it: `atom signers remove {} --force`", quote(name)),
            ),
            E::RetireOwnKey { name, .. } => (
                EXIT_USAGE,
                format!("sign with another key first (atom.signingKey), or if you really mean it: `atom signers retire {} --force`", quote(name)),
            ),
            E::RetireBeforeStart { name, .. } => (
                EXIT_USAGE,
                format!("retire it later, or stop trusting it altogether with `atom signers remove {}`", quote(name)),
            ),
        };
        CliError {
            code,
            message,
            hint: Some(hint),
        }
    }
}

impl From<atom::sync::SyncError> for CliError {
    fn from(e: atom::sync::SyncError) -> Self {
        use atom::sync::SyncError as E;
        let e = match e {
            E::Trail(inner) => return inner.into(),
            E::Branch(inner) => return inner.into(),
            e => e,
        };
        let message = e.to_string();
        let (code, hint) = match &e {
            E::Trail(_) | E::Branch(_) => unreachable!("handled above"),
            E::NoSuchRemote { name } => (
                EXIT_USAGE,
                format!("`atom remote list` shows the remotes; `atom remote add {} URL` adds one", quote(name)),
            ),
            E::RemoteExists { name, .. } => (
                EXIT_USAGE,
                format!("pick another name, or `atom remote remove {}` first", quote(name)),
            ),
            E::InvalidRemoteName { .. } => (
                EXIT_USAGE,
                "remote names use letters, digits, '.', '_' and '-', e.g. `origin` or `desktop`".to_owned(),
            ),
            E::Transport { .. } => (
                EXIT_PROBLEM,
                "check the URL (`atom remote list`) and that you can reach it with plain `git ls-remote URL`; nothing was changed".to_owned(),
            ),
            E::Rejected { remote, .. } => (
                EXIT_PROBLEM,
                format!("pull first (`atom pull {}`), then push again", quote(remote)),
            ),
            E::Refused { hint, .. } => (EXIT_PROBLEM, hint.clone()),
            E::NoRemoteTrail { remote, .. } => (
                EXIT_PROBLEM,
                format!("`atom pull {}` without a trail fetches every trail it has", quote(remote)),
            ),
            E::DirExists { .. } => (
                EXIT_USAGE,
                "give an empty or new directory: `atom clone URL DIR`".to_owned(),
            ),
        };
        CliError {
            code,
            message,
            hint: Some(hint),
        }
    }
}

impl From<atom::hooks::HookError> for CliError {
    fn from(e: atom::hooks::HookError) -> Self {
        use atom::hooks::HookError as E;
        let e = match e {
            E::Trail(inner) => return inner.into(),
            e => e,
        };
        let message = e.to_string();
        let code = if e.is_bad_input() {
            EXIT_USAGE
        } else {
            EXIT_PROBLEM
        };
        let hint = match &e {
            E::NotARepo { .. } => Some("run it inside a git work tree, or name one with --repo PATH".to_owned()),
            E::ChainTaken { chained, .. } => Some(format!(
                "move {} out of the way (it is a hook atom kept from an earlier install), then retry",
                chained.display()
            )),
            E::Git { .. } => Some("check that `git` runs in that repository".to_owned()),
            _ => None,
        };
        CliError {
            code,
            message,
            hint,
        }
    }
}

impl From<atom::attachments::AttachmentError> for CliError {
    fn from(e: atom::attachments::AttachmentError) -> Self {
        use atom::attachments::AttachmentError as E;
        let e = match e {
            E::Trail(inner) => return inner.into(),
            e => e,
        };
        let message = e.to_string();
        let names = |atom: &atom::AtomId, names: &[String]| {
            let listed: Vec<String> = names.iter().map(|n| quote(n).into_owned()).collect();
            format!(
                "its attachments: {}; e.g. `atom cat {atom} {}`",
                listed.join(", "),
                listed.first().map_or("NAME", String::as_str)
            )
        };
        let (code, hint) = match &e {
            E::Trail(_) => unreachable!("handled above"),
            E::None { atom } => (
                EXIT_PROBLEM,
                format!("`atom show {atom}` shows what the atom holds; `atom log --path NAME` finds atoms with an attachment NAME"),
            ),
            E::NameNeeded { atom, names: n } => (EXIT_USAGE, names(atom, n)),
            E::NoSuchName { atom, names: n, .. } => (EXIT_PROBLEM, names(atom, n)),
            E::Damaged { .. } => (
                EXIT_PROBLEM,
                "the atom was changed outside atom: `atom verify --all` names every such atom".to_owned(),
            ),
        };
        CliError {
            code,
            message,
            hint: Some(hint),
        }
    }
}

impl From<atom::agents::AgentError> for CliError {
    fn from(e: atom::agents::AgentError) -> Self {
        use atom::agents::AgentError as E;
        let e = match e {
            E::Trail(inner) => return inner.into(),
            e => e,
        };
        let hint = match &e {
            E::UnknownAgent(_) => {
                "the agents: claude-code, codex, gemini, cursor (`atom agents list`)".to_owned()
            }
            E::Settings { .. } => {
                "fix the file (or move it away), then run the command again; atom changed nothing"
                    .to_owned()
            }
            E::Payload { .. } => "agents send their documented event JSON on stdin".to_owned(),
            E::Io { .. } => "check that the file can be read and written".to_owned(),
            E::Trail(_) => unreachable!("handled above"),
        };
        let code = if e.is_bad_input() {
            EXIT_USAGE
        } else {
            EXIT_PROBLEM
        };
        CliError {
            code,
            message: e.to_string(),
            hint: Some(hint),
        }
    }
}
