//! `atom verify`: check every reachable atom against what git, the record
//! and the trusted keys say, and report every failure, not just the first.
//!
//! The design decision a reader must know: memory stays bounded whatever
//! the size of the history. Only the shape of the history is held in full
//! (commit ids and parents, `graph.rs`); atoms are then read parents first,
//! a chunk at a time, on one thread, and each chunk's one-atom checks
//! (`checks.rs`: object hashes, digest, message, tree, SSH signature, and
//! `form.rs`: the commit is byte for byte the one atom writes) run in
//! parallel across cores. The walk and each chunk read through repository
//! handles replaced as they go (`Fresh`): gix maps whole pack files, and
//! what one handle has read stays resident until it is dropped. What the
//! checks that link atoms need is kept only as long as it is needed: a
//! parent's id and digest until its last child was checked (`links.rs`),
//! and 12 bytes per atom for the id order along first-parent chains,
//! checked in one pass at the end (`order.rs`). Failures are few; they are
//! collected and reported newest first.

mod checks;
mod form;
mod graph;
mod links;
mod order;

use std::collections::BTreeMap;

use gix::ObjectId;
use serde::Serialize;

use self::checks::{check_each, Loaded};
use self::graph::Graph;
use self::links::{check_links, Parents};
use self::order::{check_order, shared_ids, Blame, CompactId, IdTable};
use crate::store::{GitStore, StoreError, HEADS_PREFIX};
use crate::trail::{Trail, TrailError};

/// How many atoms are read before their one-atom checks run: enough to keep
/// the cores busy, few enough to hold (a few KB each).
const CHUNK: usize = 2048;

/// Which atoms to verify.
#[derive(Debug, Clone, Copy)]
pub enum VerifyScope<'a> {
    /// The current trail.
    Current,
    /// A trail name, atom id or commit, and its ancestors.
    Rev(&'a str),
    /// Every trail and archive ref.
    All,
}

/// One atom that failed (or drew a warning), with every reason.
#[derive(Debug, Clone, Serialize)]
pub struct AtomProblem {
    /// The atom id, when the commit holds a readable record.
    pub atom_id: Option<String>,
    /// The commit (hex).
    pub commit: String,
    /// What is wrong, one sentence each.
    pub reasons: Vec<String>,
}

/// The outcome of `atom verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// What was verified (`trail main`, a revision, `all trails and archives`).
    pub scope: String,
    /// How many atoms were checked.
    pub atoms: usize,
    /// True when no atom failed.
    pub ok: bool,
    /// The failing atoms, newest first.
    pub failures: Vec<AtomProblem>,
    /// Suspicious but accepted (an id named by two atoms on two sides of a merge).
    pub warnings: Vec<AtomProblem>,
    /// The transparency log (SPEC §10): its problems fail the verification.
    pub log: crate::transparency::LogReport,
    /// Some object on disk did not read back as what its name says (a
    /// damaged file, not a tampered atom): a fetch can mend it.
    #[serde(skip)]
    pub damaged_objects: bool,
}

impl Trail {
    /// Verify the atoms in `scope`; see the module documentation for what is
    /// checked. A failing atom is reported, not an error: errors are for a
    /// store that cannot be read at all.
    pub fn verify(&self, scope: VerifyScope<'_>) -> Result<VerifyReport, TrailError> {
        let (label, tips) = match scope {
            VerifyScope::Current => {
                let trail = self.current_trail()?;
                let tip = self.git().ref_target(&format!("{HEADS_PREFIX}{trail}"))?;
                (format!("trail {trail}"), tip.into_iter().collect())
            }
            VerifyScope::Rev(rev) => (rev.to_owned(), vec![self.resolve(rev)?]),
            VerifyScope::All => ("all trails and archives".to_owned(), self.all_tips()?),
        };
        let graph = Graph::walk(self.git(), &tips)?;
        let found = run(self, &graph, &tips, true)?;
        let log = self.check_log(matches!(scope, VerifyScope::All))?;
        Ok(VerifyReport {
            scope: label,
            atoms: graph.len(),
            ok: found.failures.is_empty() && log.problems.is_empty(),
            failures: found.failures,
            warnings: found.warnings,
            log,
            damaged_objects: found.damaged_objects,
        })
    }

    /// Verify `commits` (atoms another store sent, not yet on any ref here,
    /// children first) the way [`Trail::verify`] does, reaching from `tips`.
    /// Their parents that are already here are read for the link checks but
    /// not themselves checked. Returns the failures, newest first.
    pub(crate) fn verify_commits(
        &self,
        commits: &[ObjectId],
        tips: &[ObjectId],
    ) -> Result<Vec<AtomProblem>, TrailError> {
        let graph = Graph::with_context(self.git(), commits)?;
        Ok(run(self, &graph, tips, false)?.failures)
    }
}

/// What checking a graph found.
struct Findings {
    /// The failing atoms among the checked ones, in graph order.
    failures: Vec<AtomProblem>,
    /// Ids shared by atoms that pass (when asked for).
    warnings: Vec<AtomProblem>,
    damaged_objects: bool,
}

/// Check the atoms of `graph` (its first [`Graph::checked`] ones; the rest
/// are context for the link checks), with first-parent chains starting at
/// `tips` and at the extra parents of merges.
fn run(
    trail: &Trail,
    graph: &Graph,
    tips: &[ObjectId],
    warn_shared: bool,
) -> Result<Findings, StoreError> {
    let allowed = trail.allowed_signers();
    let mut problems: BTreeMap<u32, AtomProblem> = BTreeMap::new();
    let mut ids: Vec<Option<CompactId>> = vec![None; graph.len()];
    let mut starts = vec![false; graph.len()];
    for n in tips.iter().filter_map(|t| graph.number(t)) {
        starts[n as usize] = true;
    }
    let mut table = IdTable::default();
    let mut parents = Parents::new(graph);
    let mut damaged_objects = false;

    let order = graph.children_first();
    let mut handles = Fresh::new(trail.git(), 1);
    // Parents first: the order read backwards, a chunk at a time.
    for chunk in order.rchunks(CHUNK) {
        let git = handles.get()?;
        let loaded: Vec<(Loaded, bool)> = chunk
            .iter()
            .rev()
            .map(|&n| {
                let checked = (n as usize) < graph.checked();
                (Loaded::read(git, graph.commit(n)), checked)
            })
            .collect();
        let reasons = check_each(&loaded, allowed);
        for ((&n, (l, checked)), mut reasons) in chunk.iter().rev().zip(&loaded).zip(reasons) {
            let stored = l.stored.as_ref().ok();
            if let Some(s) = stored {
                if *checked {
                    check_links(s, graph, &parents, &mut reasons);
                }
                for m in s.parents.iter().skip(1).filter_map(|p| graph.number(p)) {
                    starts[m as usize] = true;
                }
                ids[n as usize] = Some(table.compact(&s.record.atom_id));
            }
            parents.done(graph, n, stored);
            if *checked {
                damaged_objects |= !l.objects.corrupt.is_empty();
                if !reasons.is_empty() {
                    let problem = AtomProblem {
                        atom_id: l.atom_id(),
                        commit: graph.commit(n).to_string(),
                        reasons,
                    };
                    problems.insert(n, problem);
                }
            }
        }
    }
    drop(parents);

    for Blame { newer, older } in check_order(graph, &order, &ids, &starts) {
        if newer as usize >= graph.checked() {
            continue;
        }
        let (Some(newer_id), Some(older_id)) = (ids[newer as usize], ids[older as usize]) else {
            continue;
        };
        let reason = if newer_id == older_id {
            format!(
                "its id is also used by the earlier atom in commit {}",
                graph.commit(older)
            )
        } else {
            format!(
                "its number is not above that of {}, an earlier atom of the same day on its first-parent chain",
                table.text(older_id)
            )
        };
        let problem = problems.entry(newer).or_insert_with(|| AtomProblem {
            atom_id: Some(table.text(newer_id)),
            commit: graph.commit(newer).to_string(),
            reasons: Vec::new(),
        });
        if !problem.reasons.contains(&reason) {
            problem.reasons.push(reason);
        }
    }

    let mut warnings = Vec::new();
    if warn_shared {
        for (n, others) in shared_ids(&ids) {
            let Some(id) = ids[n as usize] else { continue };
            if n as usize >= graph.checked() || problems.contains_key(&n) {
                continue;
            }
            let others: Vec<String> = others
                .iter()
                .map(|&m| graph.commit(m).to_string())
                .collect();
            warnings.push(AtomProblem {
                atom_id: Some(table.text(id)),
                commit: graph.commit(n).to_string(),
                reasons: vec![format!(
                    "its id also names commit {} (two devices' trails merged)",
                    others.join(", ")
                )],
            });
        }
    }
    Ok(Findings {
        failures: problems.into_values().collect(),
        warnings,
        damaged_objects,
    })
}

/// A repository handle replaced by a new one after `every` uses (see
/// [`GitStore::reopen`]), for reading a whole history.
struct Fresh<'a> {
    git: &'a GitStore,
    handle: Option<GitStore>,
    used: usize,
    every: usize,
}

impl<'a> Fresh<'a> {
    fn new(git: &'a GitStore, every: usize) -> Self {
        Fresh {
            git,
            handle: None,
            used: 0,
            every,
        }
    }

    fn get(&mut self) -> Result<&GitStore, StoreError> {
        if self.used >= self.every {
            // Drop the old handle's maps before the new one makes its own.
            self.handle = None;
        }
        let handle = match self.handle.take() {
            Some(h) => h,
            None => {
                self.used = 0;
                self.git.reopen()?
            }
        };
        self.used += 1;
        Ok(self.handle.insert(handle))
    }
}
