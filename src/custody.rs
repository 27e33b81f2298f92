//! A chain of custody for the trusted keys a store publishes (SPEC §6):
//! `refs/atom/signers` on a git remote, and the same commits in the D1
//! mirror.
//!
//! The design decision a reader must know: a published key list is a chain
//! of commits, and a list counts only when the key that signed its commit is
//! trusted by the list before it (the first list by a key it lists itself).
//! So a key enters a chain only when somebody already trusted signs it in;
//! anyone who can merely write to the remote (or holds the D1 token) can add
//! commits, but never a key anybody will trust. The chain is checked from
//! the commit this store saw last (or from the root, on first contact), and
//! ends at the first commit that fails: what follows is reported, never
//! trusted. A chain that no longer contains the commit this store saw last
//! was rewritten, and is reported as such.

use gix::ObjectId;

use crate::signing::{committer_time, signature_key, AllowedSigners, SignatureStatus};
use crate::store::{GitStore, StoreError};
use crate::trail::{Trail, TrailError};

/// The file holding the list in each commit of the chain.
pub const SIGNERS_FILE: &str = "allowed_signers";
/// The longest chain checked; one commit is added per change of the list.
pub const MAX_CHAIN: usize = 10_000;
/// The largest list read (a line is about 100 bytes).
pub const MAX_LIST_BYTES: u64 = 1 << 20;

/// A published chain of key lists, as far as it checks out.
#[derive(Debug, Clone, Default)]
pub struct KeyChain {
    /// The newest commit in custody (see the module documentation).
    pub valid: Option<ObjectId>,
    /// The list at `valid` (empty when there is none).
    pub keys: AllowedSigners,
    /// What is wrong past `valid`, naming the commit; `None` when the whole
    /// chain checks out.
    pub problem: Option<String>,
}

/// Check the chain ending at `tip`. `seen` is the commit of this chain the
/// store checked before (it is trusted as it is and the walk stops there);
/// a chain that does not contain it was rewritten, and then `seen` stays the
/// valid commit.
pub fn check(
    git: &GitStore,
    tip: ObjectId,
    seen: Option<ObjectId>,
) -> Result<KeyChain, StoreError> {
    let short = |c: &ObjectId| c.to_hex_with_len(12).to_string();
    // What this store checked before, trusted as it is.
    let at_seen = || -> Result<KeyChain, StoreError> {
        Ok(KeyChain {
            valid: seen,
            keys: match seen {
                Some(s) => read_list(git, s)?.0,
                None => AllowedSigners::default(),
            },
            problem: None,
        })
    };
    let from_seen = |problem: String| -> Result<KeyChain, StoreError> {
        Ok(KeyChain {
            problem: Some(problem),
            ..at_seen()?
        })
    };
    // Down the chain to `seen` or the root, ids only.
    let mut above = Vec::new();
    let mut at = tip;
    let met_seen = loop {
        if Some(at) == seen {
            break true;
        }
        if above.len() == MAX_CHAIN {
            return from_seen(format!(
                "the key list chain at {} is longer than {MAX_CHAIN} commits",
                short(&tip)
            ));
        }
        let parents = match git.read_file_commit(at, SIGNERS_FILE, MAX_LIST_BYTES) {
            Ok(c) => c.parents,
            Err(e) => return from_seen(format!("key list commit {}: {e}", short(&at))),
        };
        above.push(at);
        match parents.as_slice() {
            [] => break false,
            [p] => at = *p,
            _ => {
                return from_seen(format!(
                    "key list commit {} has {} parents; a chain has one",
                    short(&at),
                    parents.len()
                ))
            }
        }
    };
    if let (Some(s), false) = (seen, met_seen) {
        return from_seen(format!(
            "the key list at {} does not contain {}, the list this store checked before: it was rewritten",
            short(&tip),
            short(&s)
        ));
    }
    // Up again, each list judged by the one before it.
    let mut chain = at_seen()?;
    for &commit in above.iter().rev() {
        let (keys, signature) = read_list(git, commit)?;
        let judge = if chain.valid.is_some() {
            &chain.keys
        } else {
            &keys
        };
        let verdict = match &signature {
            None => Err("it is not signed".to_owned()),
            Some((armored, payload)) => {
                let time = committer_time(payload).unwrap_or(0);
                match judge.check(armored, payload, time).status {
                    SignatureStatus::Good => Ok(()),
                    _ => Err(format!(
                        "it is signed by {}, which the list before it does not trust",
                        signature_key(armored)
                            .map(|k| k.fingerprint(ssh_key::HashAlg::Sha256).to_string())
                            .unwrap_or_else(|| "an unreadable key".into())
                    )),
                }
            }
        };
        if let Err(why) = verdict {
            chain.problem = Some(format!(
                "key list commit {} is not in custody: {why}; it and what follows were not trusted",
                short(&commit)
            ));
            return Ok(chain);
        }
        chain.valid = Some(commit);
        chain.keys = keys;
    }
    Ok(chain)
}

/// The list in a key list commit, and its signature.
fn read_list(
    git: &GitStore,
    commit: ObjectId,
) -> Result<(AllowedSigners, Option<crate::store::SignedPayload>), StoreError> {
    let c = git.read_file_commit(commit, SIGNERS_FILE, MAX_LIST_BYTES)?;
    Ok((
        AllowedSigners::parse(&String::from_utf8_lossy(&c.file)),
        c.signature,
    ))
}

/// What this store publishes on top of a checked chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextList {
    /// The valid list already is this store's.
    Same,
    /// A new commit with this store's list, its parent the valid commit.
    Commit(ObjectId),
    /// The valid list does not trust this store's key, so it cannot extend
    /// the chain.
    NotListed,
}

impl Trail {
    /// The list this store publishes after `chain` (`None`: nothing
    /// published yet): exactly the keys it trusts, options kept, so that a
    /// removed or retired key is removed or retired there too.
    pub(crate) fn next_key_list(&self, chain: Option<&KeyChain>) -> Result<NextList, TrailError> {
        let ours = self.allowed_signers();
        let base = chain.and_then(|c| c.valid.map(|v| (v, &c.keys)));
        if let Some((_, keys)) = base {
            if keys.to_text() == ours.to_text() {
                return Ok(NextList::Same);
            }
        }
        let signer = self.signer()?;
        let now = chrono::Utc::now().timestamp();
        if let Some((_, keys)) = base {
            if keys.judge(&signer.public_key(), now).status != SignatureStatus::Good {
                return Ok(NextList::NotListed);
            }
        }
        let n = ours.entries().len();
        let message = format!(
            "atom signers: {n} trusted key{}\n",
            if n == 1 { "" } else { "s" }
        );
        let commit = self.git().write_file_commit(
            SIGNERS_FILE,
            ours.to_text().as_bytes(),
            &base.map(|(v, _)| v).into_iter().collect::<Vec<_>>(),
            &self.committer(),
            &message,
            &signer,
        )?;
        Ok(NextList::Commit(commit))
    }
}

impl Trail {
    /// Trust every line of a list in custody (clone, mirror restore), each
    /// as it is published (a retired key stays retired) under a name free
    /// here; the keys newly trusted.
    pub(crate) fn adopt_key_list(
        &self,
        keys: &AllowedSigners,
    ) -> Result<Vec<crate::signers::SignerInfo>, crate::signers::SignersError> {
        let mut added: Vec<crate::signers::SignerInfo> = Vec::new();
        for line in keys.entries() {
            if self.allowed_signers().principal_of(&line.key).is_some() {
                continue;
            }
            let a = self.adopt_signer(line)?;
            if a.added && !added.iter().any(|k| k.key == a.signer.key) {
                added.push(a.signer);
            }
        }
        Ok(added)
    }
}
