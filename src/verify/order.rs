//! The id order along first-parent chains (SPEC §1, §6), in one pass over
//! the history and a few bytes per atom.
//!
//! What is checked is what walking each first-parent chain from its start
//! (a tip, or an extra parent of a merge) down to the root finds, keeping
//! per day the smallest number met so far and the newest atom holding it:
//! an older atom of that day whose number is not below is reported on that
//! newer atom. Such walks share their lower parts, so walking each costs
//! merges × depth. The design decision a reader must know: the outcome of
//! the walks is computed in one pass, children before parents, from two
//! facts. An atom `j` is blamed the same way by every walk in which it holds
//! the smallest number of its day (each older atom of its day, down to the
//! first one with a smaller number), so it is enough to know whether some
//! walk gives it that place; and that is so when the largest of the walks'
//! smallest numbers, which passes from child to parent as a per-day map
//! (joined by taking the larger value where the first parents of several
//! children meet), is above its own number.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use super::graph::{Graph, NONE};
use crate::model::AtomId;

/// An atom id in 12 bytes: its type is a number in an [`IdTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct CompactId {
    day: NaiveDate,
    seq: u32,
    ty: u32,
}

/// The types met so far, to turn ids into [`CompactId`]s and back.
#[derive(Default)]
pub(super) struct IdTable {
    types: Vec<String>,
    numbers: HashMap<String, u32>,
}

impl IdTable {
    /// The compact form of `id`.
    pub(super) fn compact(&mut self, id: &AtomId) -> CompactId {
        let ty = match self.numbers.get(id.atom_type()) {
            Some(&n) => n,
            None => {
                let n = self.types.len() as u32;
                self.types.push(id.atom_type().to_owned());
                self.numbers.insert(id.atom_type().to_owned(), n);
                n
            }
        };
        CompactId {
            day: id.date(),
            seq: id.seq(),
            ty,
        }
    }

    /// The id `c` stands for, as text.
    pub(super) fn text(&self, c: CompactId) -> String {
        AtomId::new(&self.types[c.ty as usize], c.day, c.seq)
            .map(|id| id.to_string())
            .expect("a compact id is made from a valid id")
    }
}

/// One finding of the order check: `newer` holds the smallest number of its
/// day on a first-parent chain, and `older`, further down, has no smaller one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Blame {
    /// The atom the failure is reported on.
    pub(super) newer: u32,
    /// The earlier atom it names.
    pub(super) older: u32,
}

/// What the walks that reach an atom carry on to its first parent.
#[derive(Default)]
struct Walks {
    /// Per day, the largest of the walks' smallest numbers; a day missing
    /// here is one some walk has not met yet (no bound).
    floor: BTreeMap<NaiveDate, u32>,
    /// Per day, the atoms that still hold the smallest number of some walk.
    holders: BTreeMap<NaiveDate, Vec<u32>>,
}

impl Walks {
    /// The walks of `self` and of `other` together.
    fn join(mut self, mut other: Walks) -> Walks {
        if other.floor.len() < self.floor.len() {
            std::mem::swap(&mut self.floor, &mut other.floor);
        }
        // A day is bounded only when every walk has met it.
        self.floor.retain(|day, f| match other.floor.get(day) {
            Some(&g) => {
                *f = (*f).max(g);
                true
            }
            None => false,
        });
        if other.holders.len() > self.holders.len() {
            std::mem::swap(&mut self.holders, &mut other.holders);
        }
        for (day, mut atoms) in other.holders {
            self.holders.entry(day).or_default().append(&mut atoms);
        }
        self
    }
}

/// The order check over `graph`: `ids[n]` is atom `n`'s id (`None`: not a
/// readable atom, where a walk stops), `starts[n]` whether a walk starts
/// there. The blames come in the order walks meet them, so each atom's in
/// the order of its chain.
pub(super) fn check_order(
    graph: &Graph,
    children_first: &[u32],
    ids: &[Option<CompactId>],
    starts: &[bool],
) -> Vec<Blame> {
    let mut blames = Vec::new();
    let mut arriving: HashMap<u32, Walks> = HashMap::new();
    for &n in children_first {
        let from_children = arriving.remove(&n);
        let Some(id) = ids[n as usize] else { continue };
        let mut walks = match (from_children, starts[n as usize]) {
            (None, false) => continue,
            (None, true) => Walks::default(),
            (Some(mut w), start) => {
                if start {
                    // The walk that starts here has met no day yet.
                    w.floor.clear();
                }
                w
            }
        };
        if let Some(holders) = walks.holders.get_mut(&id.day) {
            holders.retain(|&j| {
                let keep = ids[j as usize].is_some_and(|h| id.seq >= h.seq);
                if keep {
                    blames.push(Blame { newer: j, older: n });
                }
                keep
            });
        }
        if walks.floor.get(&id.day).is_none_or(|&f| f > id.seq) {
            walks.holders.entry(id.day).or_default().push(n);
        }
        let f = walks.floor.entry(id.day).or_insert(id.seq);
        *f = (*f).min(id.seq);
        let parent = graph.first_parent(n);
        if parent == NONE {
            continue;
        }
        let joined = match arriving.remove(&parent) {
            Some(other) => walks.join(other),
            None => walks,
        };
        arriving.insert(parent, joined);
    }
    blames
}

/// Atoms whose id another atom of the graph also has, each with those
/// others, in graph order; `ids` as for [`check_order`].
pub(super) fn shared_ids(ids: &[Option<CompactId>]) -> Vec<(u32, Vec<u32>)> {
    let mut sorted: Vec<(CompactId, u32)> = ids
        .iter()
        .enumerate()
        .filter_map(|(n, id)| id.map(|id| (id, n as u32)))
        .collect();
    sorted.sort_unstable();
    let mut out = Vec::new();
    for group in sorted.chunk_by(|a, b| a.0 == b.0) {
        if group.len() < 2 {
            continue;
        }
        for &(_, n) in group {
            let others = group.iter().map(|&(_, m)| m).filter(|&m| m != n).collect();
            out.push((n, others));
        }
    }
    out.sort_unstable_by_key(|(n, _)| *n);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use gix::ObjectId;
    use proptest::prelude::*;

    use super::*;

    /// What walking each chain from each start finds (the definition the
    /// one pass must agree with): per blamed atom, the atoms it is blamed
    /// for, in the order met, each once.
    fn walk_each_chain(
        graph: &Graph,
        ids: &[Option<CompactId>],
        starts: &[bool],
    ) -> BTreeMap<u32, Vec<u32>> {
        let mut out: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for start in (0..graph.len() as u32).filter(|&n| starts[n as usize]) {
            let mut newer: HashMap<NaiveDate, (u32, u32)> = HashMap::new();
            let mut at = start;
            while at != NONE {
                let Some(id) = ids[at as usize] else { break };
                match newer.get(&id.day).copied() {
                    Some((min, j)) if id.seq >= min => {
                        let blamed = out.entry(j).or_default();
                        if !blamed.contains(&at) {
                            blamed.push(at);
                        }
                    }
                    _ => {
                        newer.insert(id.day, (id.seq, at));
                    }
                }
                at = graph.first_parent(at);
            }
        }
        out
    }

    fn one_pass(
        graph: &Graph,
        ids: &[Option<CompactId>],
        starts: &[bool],
    ) -> BTreeMap<u32, Vec<u32>> {
        let mut out: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for b in check_order(graph, &graph.children_first(), ids, starts) {
            out.entry(b.newer).or_default().push(b.older);
        }
        out
    }

    /// A history of `parents.len()` commits, numbered children first: each
    /// commit's parents are picked among the later ones.
    fn history(parents: &[Vec<usize>]) -> Graph {
        let id = |n: usize| {
            ObjectId::from_bytes_or_panic(&[
                (n % 251) as u8 + 1,
                (n / 251) as u8,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                7,
            ])
        };
        let commits: Vec<ObjectId> = (0..parents.len()).map(id).collect();
        let parents: Vec<Vec<ObjectId>> = parents
            .iter()
            .map(|ps| ps.iter().map(|&p| id(p)).collect())
            .collect();
        super::super::graph::from_parents(&commits, &parents)
    }

    fn compact(day: u8, seq: u32, ty: u32) -> CompactId {
        CompactId {
            day: NaiveDate::from_ymd_opt(2024, 11, 27).unwrap() + chrono::Days::new(day.into()),
            seq,
            ty,
        }
    }

    #[test]
    fn a_number_below_an_older_one_is_blamed_once_per_older_atom() {
        // Oldest to newest: 1, 2, 5, 3, 4 on one day; the tip is 0.
        let g = history(&[vec![1], vec![2], vec![3], vec![4], vec![]]);
        let ids: Vec<_> = [4, 3, 5, 2, 1]
            .iter()
            .map(|&s| Some(compact(0, s, 0)))
            .collect();
        let starts = [true, false, false, false, false];
        let blames = one_pass(&g, &ids, &starts);
        // Atom 3 (number 3) is blamed for 5, atom 4 is not: 3 is in between.
        assert_eq!(blames, BTreeMap::from([(1, vec![2])]));
        assert_eq!(blames, walk_each_chain(&g, &ids, &starts));
    }

    fn arbitrary_history(
    ) -> impl Strategy<Value = (Vec<Vec<usize>>, Vec<Option<CompactId>>, Vec<bool>)> {
        (1usize..40).prop_flat_map(|n| {
            let parents = (0..n)
                .map(|i| {
                    let later = (i + 1)..n.max(i + 2);
                    proptest::collection::vec(later, 0..3).prop_map(move |mut ps| {
                        ps.retain(|&p| p < n);
                        ps
                    })
                })
                .collect::<Vec<_>>();
            let ids = proptest::collection::vec(
                proptest::option::weighted(
                    0.9,
                    (0u8..3, 1u32..7, 0u32..2).prop_map(|(d, s, t)| compact(d, s, t)),
                ),
                n,
            );
            let starts = proptest::collection::vec(proptest::bool::weighted(0.3), n);
            (parents, ids, starts)
        })
    }

    proptest! {
        #[test]
        fn one_pass_finds_what_walking_each_chain_finds((parents, ids, starts) in arbitrary_history()) {
            let g = history(&parents);
            prop_assert_eq!(one_pass(&g, &ids, &starts), walk_each_chain(&g, &ids, &starts));
        }
    }

    #[test]
    fn shared_ids_name_the_others_in_graph_order() {
        let ids = [
            Some(compact(0, 1, 0)),
            None,
            Some(compact(0, 1, 0)),
            Some(compact(0, 1, 1)),
            Some(compact(0, 1, 0)),
        ];
        assert_eq!(
            shared_ids(&ids),
            [(0, vec![2, 4]), (2, vec![0, 4]), (4, vec![0, 2])]
        );
    }
}
