//! The shape of the history being verified, and nothing else: commit ids
//! and which of them are whose parents, in a few bytes per commit.
//!
//! Commits are numbered in report order (the walk's, newest first); a parent
//! is a number too, so a million commits cost about 30 bytes each here
//! (the id, the first parent, a slot of the lookup table), with a side table
//! for the extra parents of merges.

use gix::ObjectId;

/// A commit number that names no commit of the graph.
pub(super) const NONE: u32 = u32::MAX;

/// Commits, each with those of its parents that are in the graph.
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
    /// Commit numbers ordered by commit id, to find a commit's number.
    by_id: Vec<u32>,
}

impl Graph {
    /// A graph of `commits` (report order, checked ones first) whose
    /// parents `parents_of` gives, by id; parents outside `commits` are left
    /// out.
    pub(super) fn build(
        commits: Vec<ObjectId>,
        checked: usize,
        mut parents_of: impl FnMut(usize, &mut dyn FnMut(ObjectId)),
    ) -> Self {
        let mut by_id: Vec<u32> = (0..commits.len() as u32).collect();
        by_id.sort_unstable_by_key(|&i| commits[i as usize]);
        let mut graph = Graph {
            first: vec![NONE; commits.len()],
            extra: Vec::new(),
            commits,
            checked,
            by_id,
        };
        for i in 0..graph.commits.len() {
            let mut nth = 0;
            let (first, extra) = (&mut graph.first, &mut graph.extra);
            let (commits, by_id) = (&graph.commits, &graph.by_id);
            parents_of(i, &mut |p| {
                match lookup(commits, by_id, &p) {
                    Some(n) if nth == 0 => first[i] = n,
                    Some(n) => extra.push((i as u32, n)),
                    None => {}
                }
                nth += 1;
            });
        }
        graph
    }

    /// Every commit reachable from `tips`, walked as [`GitStore::walk`] does.
    ///
    /// [`GitStore::walk`]: crate::store::GitStore::walk
    pub(super) fn walk(
        git: &crate::store::GitStore,
        tips: &[ObjectId],
    ) -> Result<Self, crate::store::StoreError> {
        // Parents are ids until every commit has its number: the first
        // parent in a column of its own (a merge's others in a side list).
        let mut commits = Vec::new();
        let mut firsts = Vec::new();
        let mut others: Vec<(usize, ObjectId)> = Vec::new();
        git.walk_each(tips, |commit, parents| {
            firsts.push(parents.first().copied());
            others.extend(parents.iter().skip(1).map(|p| (commits.len(), *p)));
            commits.push(commit);
        })?;
        let checked = commits.len();
        Ok(Graph::build(commits, checked, |i, add| {
            if let Some(p) = firsts[i] {
                add(p);
            }
            let start = others.partition_point(|&(c, _)| c < i);
            for &(_, p) in others[start..].iter().take_while(|&&(c, _)| c == i) {
                add(p);
            }
        }))
    }

    /// `commits` (children first) and, after them, their parents that are
    /// not among them, in commit id order; `parents` gives a commit's
    /// parents when it can be read.
    pub(super) fn with_context(
        commits: &[ObjectId],
        mut parents: impl FnMut(ObjectId) -> Option<Vec<ObjectId>>,
    ) -> Self {
        let lists: Vec<Vec<ObjectId>> = commits
            .iter()
            .map(|&c| parents(c).unwrap_or_default())
            .collect();
        let mut sorted = commits.to_vec();
        sorted.sort_unstable();
        let mut context: Vec<ObjectId> = lists
            .iter()
            .flatten()
            .filter(|p| sorted.binary_search(p).is_err())
            .copied()
            .collect();
        context.sort_unstable();
        context.dedup();
        let mut all = commits.to_vec();
        all.extend(context);
        Graph::build(all, commits.len(), |i, add| {
            for &p in lists.get(i).into_iter().flatten() {
                add(p);
            }
        })
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
        lookup(&self.commits, &self.by_id, commit)
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

fn lookup(commits: &[ObjectId], by_id: &[u32], commit: &ObjectId) -> Option<u32> {
    by_id
        .binary_search_by(|&i| commits[i as usize].cmp(commit))
        .ok()
        .map(|at| by_id[at])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    #[test]
    fn parents_are_numbers_and_children_come_first() {
        // 4 merges 2 and 3, both children of 1, whose parent 0 is outside.
        let parents = [vec![id(2), id(3)], vec![id(1)], vec![id(1)], vec![id(0)]];
        let commits = vec![id(4), id(3), id(2), id(1)];
        let g = Graph::build(commits, 4, |i, add| {
            for &p in &parents[i] {
                add(p);
            }
        });
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
    fn context_comes_after_the_commits() {
        let g = Graph::with_context(&[id(5), id(4)], |c| {
            Some(if c == id(5) {
                vec![id(4), id(2)]
            } else {
                vec![id(3)]
            })
        });
        assert_eq!(g.len(), 4);
        assert_eq!(g.checked(), 2);
        assert_eq!(g.commit(2), id(2));
        assert_eq!(g.commit(3), id(3));
        assert_eq!(g.parents(0).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(g.parents(1).collect::<Vec<_>>(), [3]);
    }
}
