//! `atom trace`: provenance over `influenced_by` links, in either direction,
//! across every trail the index holds.
//!
//! Links only point at atoms that existed when an atom was recorded, so they
//! cannot form a cycle; the walk still keeps a visited set, so a store
//! assembled by hand cannot make it loop.

use std::collections::{BTreeSet, HashSet, VecDeque};

use rusqlite::OptionalExtension;
use serde::{Serialize, Serializer};

use super::{Index, IndexError};
use crate::model::AtomId;

/// One atom of a trace. Fields other than the id are `None` for an atom
/// the store does not hold (a link to an atom not pulled yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceNode {
    /// The atom id.
    pub atom_id: AtomId,
    /// Its TYPE.
    pub atom_type: String,
    /// Who did it.
    pub agent: Option<String>,
    /// Its summary.
    pub summary: Option<String>,
    /// Its timestamp.
    pub timestamp: Option<String>,
}

/// The atoms reachable from a root through `influenced_by` links.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Where the walk started.
    pub root: AtomId,
    /// `false`: what the root built on; `true`: what built on the root.
    pub down: bool,
    /// Every atom reached, root first, then breadth first.
    pub nodes: Vec<TraceNode>,
    /// `(from, to)`: `to` built on `from` (lists `from` in its `influenced_by`).
    pub edges: Vec<(AtomId, AtomId)>,
}

impl Trace {
    /// The atoms one step further from the root than `id`, in id order.
    pub fn next(&self, id: &AtomId) -> Vec<&AtomId> {
        self.edges
            .iter()
            .filter_map(|(from, to)| match self.down {
                false if to == id => Some(from),
                true if from == id => Some(to),
                _ => None,
            })
            .collect()
    }
}

/// `atom trace --json`: `{root, direction, nodes: [{atom_id, type, agent,
/// summary, timestamp}], edges: [{from, to}]}`.
impl Serialize for Trace {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            root: &'a AtomId,
            direction: &'static str,
            nodes: Vec<Node<'a>>,
            edges: Vec<Edge<'a>>,
        }
        #[derive(Serialize)]
        struct Node<'a> {
            atom_id: &'a AtomId,
            #[serde(rename = "type")]
            atom_type: &'a str,
            agent: Option<&'a str>,
            summary: Option<&'a str>,
            timestamp: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Edge<'a> {
            from: &'a AtomId,
            to: &'a AtomId,
        }
        Out {
            root: &self.root,
            direction: if self.down { "down" } else { "up" },
            nodes: self
                .nodes
                .iter()
                .map(|n| Node {
                    atom_id: &n.atom_id,
                    atom_type: &n.atom_type,
                    agent: n.agent.as_deref(),
                    summary: n.summary.as_deref(),
                    timestamp: n.timestamp.as_deref(),
                })
                .collect(),
            edges: self
                .edges
                .iter()
                .map(|(from, to)| Edge { from, to })
                .collect(),
        }
        .serialize(s)
    }
}

impl Index {
    /// Walk the links from `root`: up to what it built on, or `down` to what
    /// built on it, recursively.
    pub fn trace(&self, root: &AtomId, down: bool) -> Result<Trace, IndexError> {
        let mut seen: HashSet<AtomId> = HashSet::from([root.clone()]);
        let mut queue = VecDeque::from([root.clone()]);
        let mut nodes = Vec::new();
        let mut edges = BTreeSet::new();
        while let Some(id) = queue.pop_front() {
            nodes.push(self.trace_node(&id)?);
            let next = if down {
                self.influenced(&id)?
            } else {
                self.influences_of(&id)?
            };
            for n in next {
                edges.insert(if down {
                    (id.clone(), n.clone())
                } else {
                    (n.clone(), id.clone())
                });
                if seen.insert(n.clone()) {
                    queue.push_back(n);
                }
            }
        }
        Ok(Trace {
            root: root.clone(),
            down,
            nodes,
            edges: edges.into_iter().collect(),
        })
    }

    fn trace_node(&self, id: &AtomId) -> Result<TraceNode, IndexError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT agent, record ->> '$.summary', record ->> '$.timestamp' FROM atom
             WHERE atom_id = ?1 ORDER BY n LIMIT 1",
        )?;
        let found = stmt
            .query_row([id.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
            })
            .optional()?;
        let (agent, summary, timestamp) = match found {
            Some((a, s, t)) => (Some(a), Some(s), Some(t)),
            None => (None, None, None),
        };
        Ok(TraceNode {
            atom_id: id.clone(),
            atom_type: id.atom_type().to_owned(),
            agent,
            summary,
            timestamp,
        })
    }
}
