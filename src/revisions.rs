//! Revisions (SPEC §5): what any REV or ID argument may be, resolved in one
//! place for every command.
//!
//! A revision is an atom id (any case), a trail name (or `archive/...`), a
//! commit sha prefix (4 hex digits or more), a handle `ID@<sha prefix>`
//! (an id that names several atoms, disambiguated), `@` (the head of the trail the
//! command acts on), or any of these followed by `~N` (N first parents back;
//! `~` alone is `~1`, and they chain: `@~2~1`). `log` and `export` also take
//! a range `A..B`: what B reaches and A does not, an empty side being `@`.
//! A miss names what was most likely meant: the atoms of the id's day and
//! number, or the trails named almost so.

use gix::ObjectId;

use crate::canonical;
use crate::index::Scope;
use crate::model::{AtomId, InvalidField};
use crate::store::HEADS_PREFIX;
use crate::trail::{Trail, TrailError};

/// A revision given on its own or as one side of a range.
const HEAD_REV: &str = "@";

impl Trail {
    /// The commit a revision names (see the module documentation). An id
    /// no atom has is [`TrailError::NoSuchAtom`], naming the atoms of its
    /// day and number; anything else that names nothing is
    /// [`TrailError::NoSuchRevision`], naming the trails spelled almost so.
    pub fn resolve(&self, rev: &str) -> Result<ObjectId, TrailError> {
        if rev.contains("..") {
            return Err(InvalidField::new(
                "revision",
                format!("{rev:?} is a range; only `atom log` and `atom export` take one"),
            )
            .into());
        }
        if let Some((base, steps)) = split_ancestry(rev)? {
            let commit = self.resolve(base)?;
            let (indexed, found) = self.with_index(|ix| {
                Ok((
                    ix.number_of(&commit)?.is_some(),
                    ix.first_parent_back(&commit, steps)?,
                ))
            })?;
            match (indexed, found) {
                (_, Some(found)) => return Ok(found),
                (true, None) => {
                    return Err(TrailError::NotFound {
                        what: format!("{rev} ({base} has fewer than {steps} atoms before it)"),
                    })
                }
                // No ref reaches it: walk git.
                (false, None) => {}
            }
            let mut commit = commit;
            for step in 0..steps {
                let parents = self.view(commit)?.parents;
                commit = *parents.first().ok_or_else(|| TrailError::NotFound {
                    what: format!("{rev} ({base} has only {step} atoms before it, so)"),
                })?;
            }
            return Ok(commit);
        }
        if rev == HEAD_REV {
            let trail = self.current_trail()?;
            return self
                .git()
                .ref_target(&format!("{HEADS_PREFIX}{trail}"))?
                .ok_or_else(|| TrailError::NotFound {
                    what: format!("@ (trail {trail} has no atoms yet, so its head)"),
                });
        }
        self.resolve_name(rev)
    }

    /// An atom id, a trail name or a sha prefix, without `@` or `~N`.
    fn resolve_name(&self, rev: &str) -> Result<ObjectId, TrailError> {
        // `ID@<sha prefix>`: the atom of that id in that commit.
        if rev.contains('@') && crate::links::is_handle(rev) {
            let (_, commit) = self.resolve_handle(rev)?;
            return Ok(commit.expect("ID@<prefix> names a commit"));
        }
        let id = AtomId::parse_any_case(rev).ok();
        if let Some(id) = &id {
            let mut found = self.find_atom_id(id)?;
            match found.len() {
                0 => {}
                1 => return Ok(found.remove(0)),
                _ => {
                    return Err(TrailError::Ambiguous {
                        id: id.to_string(),
                        commits: found,
                    })
                }
            }
        }
        // A trail may be named like an id no atom has.
        if let Some(tip) = self.trail_ref(rev)? {
            return Ok(tip);
        }
        if let Some(id) = id {
            let similar = self.with_index(|ix| ix.same_number(&id))?;
            return Err(TrailError::NoSuchAtom { id, similar });
        }
        let lower = rev.to_ascii_lowercase();
        if rev.len() >= 4 && canonical::is_lower_hex(&lower) {
            if let Some(id) = self.git().resolve_prefix(&lower)? {
                return Ok(id);
            }
        }
        Err(TrailError::NoSuchRevision {
            rev: rev.to_owned(),
            similar: self.trails_like(rev)?,
        })
    }

    /// Which atoms `atom log REV` lists: a trail's (as its ref reaches
    /// them), a range's, or a revision's ancestors.
    pub(crate) fn scope_of(&self, rev: &str) -> Result<Scope, TrailError> {
        if let Some((exclude, include)) = self.range(rev)? {
            return Ok(Scope::Range { exclude, include });
        }
        if self.trail_ref(rev)?.is_some() {
            return Ok(Scope::Trail(
                crate::index::trail_name(&full_trail_ref(rev)).to_owned(),
            ));
        }
        Ok(Scope::Ancestors(self.resolve(rev)?))
    }

    /// `A..B` as (what is left out, where it ends), an empty side being
    /// `@`; `None` when `rev` is no range.
    pub(crate) fn range(&self, rev: &str) -> Result<Option<(ObjectId, ObjectId)>, TrailError> {
        let Some((a, b)) = rev.split_once("..") else {
            return Ok(None);
        };
        if b.starts_with('.') {
            return Err(InvalidField::new(
                "revision",
                format!("{rev:?}: atom takes A..B (in B, not in A), not A...B"),
            )
            .into());
        }
        let side = |s: &str| self.resolve(if s.is_empty() { HEAD_REV } else { s });
        Ok(Some((side(a)?, side(b)?)))
    }

    /// The tip of the trail or archive named `rev`, if there is one.
    pub(crate) fn trail_ref(&self, rev: &str) -> Result<Option<ObjectId>, TrailError> {
        let full = full_trail_ref(rev);
        if gix::refs::FullName::try_from(full.as_str()).is_err() {
            return Ok(None);
        }
        Ok(self.git().ref_target(&full)?)
    }

    /// Trail names `rev` most likely meant: the same in another case, or
    /// at most two letters off.
    fn trails_like(&self, rev: &str) -> Result<Vec<String>, TrailError> {
        let wanted = rev.to_lowercase();
        Ok(self
            .git()
            .refs_under(HEADS_PREFIX)?
            .into_iter()
            .filter_map(|(name, _)| name.strip_prefix(HEADS_PREFIX).map(str::to_owned))
            .filter(|name| {
                let name = name.to_lowercase();
                name == wanted || (wanted.len() > 3 && edit_distance(&name, &wanted) <= 2)
            })
            .collect())
    }
}

/// `refs/heads/<rev>`, or `refs/atom/<rev>` for `archive/...`.
fn full_trail_ref(rev: &str) -> String {
    if rev.starts_with("archive/") {
        format!("refs/atom/{rev}")
    } else {
        format!("{HEADS_PREFIX}{rev}")
    }
}

/// `REV~N` as (REV, N), `REV~` as (REV, 1); `None` without a `~`. Neither
/// ids, trail names nor shas hold a `~`, so the last one splits.
fn split_ancestry(rev: &str) -> Result<Option<(&str, usize)>, TrailError> {
    let Some((base, n)) = rev.rsplit_once('~') else {
        return Ok(None);
    };
    let steps = if n.is_empty() {
        Some(1)
    } else if n.bytes().all(|b| b.is_ascii_digit()) {
        n.parse().ok()
    } else {
        None
    };
    match steps {
        Some(steps) if !base.is_empty() => Ok(Some((base, steps))),
        _ => Err(InvalidField::new(
            "revision",
            format!("{rev:?}: after `~` comes a number of atoms back, as in @~2"),
        )
        .into()),
    }
}

/// Levenshtein distance, for names of at most 100 characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestry_suffixes() {
        assert_eq!(split_ancestry("@").unwrap(), None);
        assert_eq!(split_ancestry("@~").unwrap(), Some(("@", 1)));
        assert_eq!(split_ancestry("@~2~3").unwrap(), Some(("@~2", 3)));
        assert_eq!(
            split_ancestry("ATOM-CFG-20241127-003~12").unwrap(),
            Some(("ATOM-CFG-20241127-003", 12))
        );
        assert!(split_ancestry("@~x").is_err());
        assert!(split_ancestry("~2").is_err());
        assert!(split_ancestry("@~99999999999999999999999").is_err());
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("experiment", "experimnet"), 2);
        assert_eq!(edit_distance("main", "main"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("exp", "experiment"), 7);
    }
}
