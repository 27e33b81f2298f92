//! The checks between an atom and its parents: `previous_atom` and
//! `previous_digest` against the first parent, `merged` against the others.
//!
//! Atoms are checked parents first, so a parent was read before its
//! children; what they need of it (its id and digest) is kept in
//! [`Parents`] until its last child was checked, and no longer.

use std::collections::HashMap;

use gix::ObjectId;

use super::graph::Graph;
use crate::model::AtomId;
use crate::store::StoredAtom;

/// What the children of an atom need of it.
struct Summary {
    atom_id: AtomId,
    digest: String,
}

/// The atoms whose children are still to be checked.
pub(super) struct Parents {
    /// Per commit number, how many children are still to come.
    waiting: Vec<u32>,
    kept: HashMap<u32, Summary>,
}

impl Parents {
    /// Nothing kept yet; `graph` says how many children each commit has.
    pub(super) fn new(graph: &Graph) -> Self {
        Parents {
            waiting: graph.child_counts(),
            kept: HashMap::new(),
        }
    }

    /// Commit `n` was checked: keep what its children need (`None`: it is
    /// not a readable atom), and forget parents it was the last child of.
    pub(super) fn done(&mut self, graph: &Graph, n: u32, stored: Option<&StoredAtom>) {
        if let Some(s) = stored {
            if self.waiting[n as usize] > 0 {
                let summary = Summary {
                    atom_id: s.record.atom_id.clone(),
                    digest: s.record.digest.clone(),
                };
                self.kept.insert(n, summary);
            }
        }
        for p in graph.parents(n) {
            let w = &mut self.waiting[p as usize];
            *w = w.saturating_sub(1);
            if *w == 0 {
                self.kept.remove(&p);
            }
        }
    }

    fn get(&self, graph: &Graph, commit: &ObjectId) -> Option<&Summary> {
        graph.number(commit).and_then(|n| self.kept.get(&n))
    }
}

/// The link checks of `stored`, whose parents were [`Parents::done`].
pub(super) fn check_links(
    stored: &StoredAtom,
    graph: &Graph,
    parents: &Parents,
    out: &mut Vec<String>,
) {
    let r = &stored.record;
    match stored.parents.first() {
        None => {
            if r.previous_atom.is_some() || r.previous_digest.is_some() {
                out.push(format!(
                    "previous_atom names {} but the commit has no parent",
                    display_opt(&r.previous_atom)
                ));
            }
        }
        Some(p) => match parents.get(graph, p) {
            None => out.push(format!("its parent {p} is not a readable atom")),
            Some(parent) => {
                if r.previous_atom.as_ref() != Some(&parent.atom_id) {
                    out.push(format!(
                        "previous_atom is {} but its parent commit holds {}",
                        display_opt(&r.previous_atom),
                        parent.atom_id
                    ));
                } else if r.previous_digest.as_ref() != Some(&parent.digest) {
                    out.push(format!(
                        "previous_digest does not match the digest of its parent {}",
                        parent.atom_id
                    ));
                }
            }
        },
    }
    let extra: Vec<Option<&AtomId>> = stored
        .parents
        .iter()
        .skip(1)
        .map(|p| parents.get(graph, p).map(|a| &a.atom_id))
        .collect();
    match (&r.merged, extra.is_empty()) {
        (None, true) => {}
        (None, false) => out.push(format!(
            "the commit has {} parents but the record lists no merged atoms",
            stored.parents.len()
        )),
        (Some(m), _) => {
            let listed: Vec<Option<&AtomId>> = m.iter().map(Some).collect();
            if extra != listed {
                out.push(format!(
                    "merged lists [{}] but the extra parents hold [{}]",
                    join(m.iter()),
                    join(
                        extra
                            .iter()
                            .map(|a| a.map_or("?".to_owned(), |a| a.to_string()))
                    )
                ));
            }
        }
    }
}

fn display_opt(id: &Option<AtomId>) -> String {
    id.as_ref()
        .map_or_else(|| "nothing".to_owned(), ToString::to_string)
}

fn join<T: ToString>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}
