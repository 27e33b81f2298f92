//! The shape of the history being verified, and nothing else: commit ids
//! and which of them are whose parents, in a few bytes per commit.
//!
//! Commits are numbered in report order (the walk's, newest first); a parent
//! is a number too, so a million commits cost about 35 bytes each here (the
//! id, the first parent, a slot of the hash table that finds a commit's
//! number), with a side table for the extra parents of merges.

use gix::hashtable::hash_table::HashTable;
use gix::ObjectId;

use super::Fresh;
use crate::store::{GitStore, StoreError};

/// A commit number that names no commit of the graph.
pub(super) const NONE: u32 = u32::MAX;

/// How many commits the walk reads through one repository handle.
const WALK_WINDOW: usize = 4096;

/// Commits, each with those of its parents that are in the graph.
#[derive(Default)]
pub(super) struct Graph {
    /// The commits, in report order.
    commits: Vec<ObjectId>,
    /// How many of `commits`, from the start, are checked; the others are
    /// context (parents already in the store, read for the link checks).
    checked: usize,
    /// Each commit's first parent, or [`NONE`].
    first: Vec<u32>,
    /// `(child, parent)` for every parent after the first, by child.
    extra: Vec<(u32, u32)>,
    /// Commit numbers, found by commit id.
    numbers: HashTable<u32>,
}

/// Object ids are hashes already: their first bytes make a good hash.
fn hash(id: &ObjectId) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&id.as_slice()[..8]);
    u64::from_ne_bytes(bytes)
}

impl Graph {
    /// Every commit reachable from `tips`, in the order of
    /// [`GitStore::walk`] (breadth-first: each commit is numbered when it is
    /// first met, and read in that order).
    pub(super) fn walk(git: &GitStore, tips: &[ObjectId]) -> Result<Self, StoreError> {
        let mut graph = Graph::default();
        for &tip in tips {
            graph.number_or_add(tip);
        }
        let mut handles = Fresh::new(git, WALK_WINDOW);
        let mut n = 0;
        while n < graph.commits.len() {
            let parents = handles.get()?.commit_parents(graph.commits[n])?;
            graph.set_parents(n as u32, &parents);
            n += 1;
        }
        graph.checked = graph.commits.len();
        Ok(graph)
    }

    /// `commits` (children first), then their parents that are not among
    /// them (context, in the order met); a commit whose parents cannot be
    /// read gets none.
    pub(super) fn with_context(git: &GitStore, commits: &[ObjectId]) -> Result<Self, StoreError> {
        let mut graph = Graph::default();
        for &c in commits {
            graph.number_or_add(c);
        }
        graph.checked = graph.commits.len();
        let mut handles = Fresh::new(git, WALK_WINDOW);
        for n in 0..graph.checked {
            if let Ok(parents) = handles.get()?.commit_parents(graph.commits[n]) {
                graph.set_parents(n as u32, &parents);
            }
        }
        Ok(graph)
    }

    /// The number of `commit`, given one after all others if it had none.
    fn number_or_add(&mut self, commit: ObjectId) -> u32 {
        if let Some(n) = self.number(&commit) {
            return n;
        }
        let n = self.commits.len() as u32;
        self.commits.push(commit);
        self.first.push(NONE);
        let commits = &self.commits;
        self.numbers
            .insert_unique(hash(&commit), n, |&m| hash(&commits[m as usize]));
        n
    }

    /// Record the parents of `n` (numbered in a row: every call is for a
    /// larger `n` than the one before), numbering those new to the graph.
    fn set_parents(&mut self, n: u32, parents: &[ObjectId]) {
        for (nth, &p) in parents.iter().enumerate() {
            let m = self.number_or_add(p);
            if nth == 0 {
                self.first[n as usize] = m;
            } else {
                self.extra.push((n, m));
            }
        }
    }

    /// How many commits.
    pub(super) fn len(&self) -> usize {
        self.commits.len()
    }

    /// How many commits are checked (the first ones).
    pub(super) fn checked(&self) -> usize {
        self.checked
    }

    /// Commit number `n`.
    pub(super) fn commit(&self, n: u32) -> ObjectId {
        self.commits[n as usize]
    }

    /// The number of `commit`, when it is in the graph.
    pub(super) fn number(&self, commit: &ObjectId) -> Option<u32> {
        self.numbers
            .find(hash(commit), |&n| self.commits[n as usize] == *commit)
            .copied()
    }

    /// The first parent of `n`, or [`NONE`].
    pub(super) fn first_parent(&self, n: u32) -> u32 {
        self.first[n as usize]
    }

    /// The parents of `n` in the graph, first parent first.
    pub(super) fn parents(&self, n: u32) -> impl Iterator<Item = u32> + '_ {
        let start = self.extra.partition_point(|&(c, _)| c < n);
        let extra = self.extra[start..]
            .iter()
            .take_while(move |&&(c, _)| c == n)
            .map(|&(_, p)| p);
        Some(self.first[n as usize])
            .filter(|&p| p != NONE)
            .into_iter()
            .chain(extra)
    }

    /// How many times each commit is named as a parent in the graph.
    pub(super) fn child_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.len()];
        for &p in &self.first {
            if p != NONE {
                counts[p as usize] += 1;
            }
        }
        for &(_, p) in &self.extra {
            counts[p as usize] += 1;
        }
        counts
    }

    /// Every commit after all of its children (Kahn's algorithm): read
    /// backwards, parents come first.
    pub(super) fn children_first(&self) -> Vec<u32> {
        let mut waiting = self.child_counts();
        let mut order: Vec<u32> = (0..self.len() as u32)
            .filter(|&n| waiting[n as usize] == 0)
            .collect();
        let mut next = 0;
        while next < order.len() {
            let n = order[next];
            next += 1;
            for p in self.parents(n) {
                let w = &mut waiting[p as usize];
                *w -= 1;
                if *w == 0 {
                    order.push(p);
                }
            }
        }
        // A cycle cannot be hashed into git objects; were one to appear, its
        // commits are left out rather than looped over.
        order
    }
}

/// A graph of `commits` (all checked, children first) with `parents` each.
#[cfg(test)]
pub(super) fn from_parents(commits: &[ObjectId], parents: &[Vec<ObjectId>]) -> Graph {
    let mut graph = Graph::default();
    for &c in commits {
        graph.number_or_add(c);
    }
    for (n, ps) in parents.iter().enumerate() {
        graph.set_parents(n as u32, ps);
    }
    graph.checked = graph.commits.len();
    graph
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    #[test]
    fn parents_are_numbers_and_children_come_first() {
        // 4 merges 2 and 3, both children of 1.
        let g = from_parents(
            &[id(4), id(3), id(2), id(1)],
            &[vec![id(2), id(3)], vec![id(1)], vec![id(1)], vec![]],
        );
        assert_eq!(g.number(&id(1)), Some(3));
        assert_eq!(g.number(&id(0)), None);
        assert_eq!(g.parents(0).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(g.first_parent(3), NONE);
        assert_eq!(g.child_counts(), [0, 1, 1, 2]);
        let order = g.children_first();
        let at = |n: u32| order.iter().position(|&x| x == n).unwrap();
        assert_eq!(order.len(), 4);
        assert!(at(0) < at(1) && at(0) < at(2) && at(1) < at(3) && at(2) < at(3));
    }

    #[test]
    fn parents_met_later_are_numbered_after_the_commits() {
        let g = from_parents(&[id(5), id(4)], &[vec![id(4), id(2)], vec![id(3)]]);
        assert_eq!(g.len(), 4);
        assert_eq!(g.checked(), 4);
        assert_eq!(g.commit(2), id(2));
        assert_eq!(g.commit(3), id(3));
        assert_eq!(g.parents(0).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(g.parents(1).collect::<Vec<_>>(), [3]);
    }
}
