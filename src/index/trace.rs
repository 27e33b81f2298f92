//! `atom trace`: provenance over `influenced_by` links, in either direction,
//! across every trail the index holds.
//!
//! A node is one atom, one commit: two devices may have minted the same id,
//! so a link is followed to the exact atom it chose (see `crate::links`).
//! Following `influenced_by` of an atom takes the commit its
//! `influenced_by_commits` names for the id, else the id's single atom; an
//! id that names several atoms with no commit recorded (a link made before
//! the id collided) leads to each of them, and those edges are marked
//! ambiguous rather than one being picked. Going down, an atom counts when
//! its link resolves to this atom: a link recorded to another commit of the
//! same id does not. Each step is a few indexed lookups.
//!
//! Links only point at atoms that existed when an atom was recorded, so they
//! cannot form a cycle; the walk still keeps a visited set, so a store
//! assembled by hand cannot make it loop.

use std::collections::{BTreeSet, HashSet, VecDeque};

use gix::ObjectId;
use rusqlite::types::ValueRef;
use rusqlite::OptionalExtension;
use serde::{Serialize, Serializer};

use super::{Index, IndexError};
use crate::links::LINK_COMMITS;
use crate::model::AtomId;

/// Hex digits of a commit in a handle (`ID@<short sha>`).
pub const SHORT_SHA: usize = 12;

/// One atom of a trace. Fields other than the id are `None` for an atom
/// the store does not hold (a link to an atom not pulled yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceNode {
    /// How to name this atom uniquely: its id, or `ID@<short sha>` when
    /// the id names several atoms (or an atom this store does not hold).
    pub handle: String,
    /// The atom id.
    pub atom_id: AtomId,
    /// Its commit; `None` for an atom not in the store whose link recorded
    /// no commit.
    pub commit: Option<ObjectId>,
    /// Its TYPE.
    pub atom_type: String,
    /// Who did it.
    pub agent: Option<String>,
    /// Its summary.
    pub summary: Option<String>,
    /// Its timestamp.
    pub timestamp: Option<String>,
}

/// One link of a trace: `to` built on `from` (lists it in `influenced_by`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TraceEdge {
    /// Handle of the atom built on.
    pub from: String,
    /// Handle of the atom that built on it.
    pub to: String,
    /// The link names an id several atoms share and recorded no commit:
    /// `from` is one of the candidates, not a known choice.
    pub ambiguous: bool,
}

/// An atom one link away from another, and whether the link is ambiguous.
#[derive(Debug, Clone)]
pub struct Linked {
    /// The atom at the other end.
    pub node: TraceNode,
    /// See [`TraceEdge::ambiguous`].
    pub ambiguous: bool,
}

/// The atoms reachable from a root through `influenced_by` links.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Handle of the atom the walk started at.
    pub root: String,
    /// `false`: what the root built on; `true`: what built on the root.
    pub down: bool,
    /// Every atom reached, root first, then breadth first.
    pub nodes: Vec<TraceNode>,
    /// The links followed, sorted.
    pub edges: Vec<TraceEdge>,
}

impl Trace {
    /// The edges one step further from the root than the atom `handle`,
    /// in handle order.
    pub fn next(&self, handle: &str) -> Vec<&TraceEdge> {
        self.edges
            .iter()
            .filter(|e| {
                if self.down {
                    e.from == handle
                } else {
                    e.to == handle
                }
            })
            .collect()
    }

    /// The node with this handle.
    pub fn node(&self, handle: &str) -> Option<&TraceNode> {
        self.nodes.iter().find(|n| n.handle == handle)
    }
}

/// `atom trace --json`: `{root, direction, nodes: [{handle, atom_id,
/// commit, type, agent, summary, timestamp}], edges: [{from, to,
/// ambiguous}]}`, `root`, `from` and `to` being handles.
impl Serialize for Trace {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            root: &'a str,
            direction: &'static str,
            nodes: Vec<Node<'a>>,
            edges: Vec<Edge<'a>>,
        }
        #[derive(Serialize)]
        struct Node<'a> {
            handle: &'a str,
            atom_id: &'a AtomId,
            commit: Option<String>,
            #[serde(rename = "type")]
            atom_type: &'a str,
            agent: Option<&'a str>,
            summary: Option<&'a str>,
            timestamp: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Edge<'a> {
            from: &'a str,
            to: &'a str,
            ambiguous: bool,
        }
        Out {
            root: &self.root,
            direction: if self.down { "down" } else { "up" },
            nodes: self
                .nodes
                .iter()
                .map(|n| Node {
                    handle: &n.handle,
                    atom_id: &n.atom_id,
                    commit: n.commit.map(|c| c.to_string()),
                    atom_type: &n.atom_type,
                    agent: n.agent.as_deref(),
                    summary: n.summary.as_deref(),
                    timestamp: n.timestamp.as_deref(),
                })
                .collect(),
            edges: self
                .edges
                .iter()
                .map(|e| Edge {
                    from: &e.from,
                    to: &e.to,
                    ambiguous: e.ambiguous,
                })
                .collect(),
        }
        .serialize(s)
    }
}

impl Index {
    /// Walk the links from the atom in `root` (of id `root_id`): up to what
    /// it built on, or `down` to what built on it, recursively.
    pub fn trace(&self, root_id: &AtomId, root: ObjectId, down: bool) -> Result<Trace, IndexError> {
        let first = self.trace_node(root_id, Some(root))?;
        let mut seen: HashSet<String> = HashSet::from([first.handle.clone()]);
        let root_handle = first.handle.clone();
        let mut queue = VecDeque::from([first]);
        let mut nodes = Vec::new();
        let mut edges = BTreeSet::new();
        while let Some(node) = queue.pop_front() {
            for linked in self.linked(&node, down)? {
                let (from, to) = if down {
                    (&node, &linked.node)
                } else {
                    (&linked.node, &node)
                };
                edges.insert(TraceEdge {
                    from: from.handle.clone(),
                    to: to.handle.clone(),
                    ambiguous: linked.ambiguous,
                });
                if seen.insert(linked.node.handle.clone()) {
                    queue.push_back(linked.node);
                }
            }
            nodes.push(node);
        }
        Ok(Trace {
            root: root_handle,
            down,
            nodes,
            edges: edges.into_iter().collect(),
        })
    }

    /// The atoms one link away from `node`: those it built on, or with
    /// `down` those that built on it (see the module documentation).
    pub fn linked(&self, node: &TraceNode, down: bool) -> Result<Vec<Linked>, IndexError> {
        let Some(commit) = node.commit else {
            return Ok(Vec::new());
        };
        if down {
            self.built_on(&node.atom_id, commit)
        } else {
            self.builds_on(commit)
        }
    }

    /// The atoms the atom in `commit` lists in `influenced_by`, each
    /// resolved to its commit.
    fn builds_on(&self, commit: ObjectId) -> Result<Vec<Linked>, IndexError> {
        let links: Vec<(String, Option<ObjectId>)> = {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT i.by, a.record -> '$.metadata.{LINK_COMMITS}' ->> i.by
                 FROM atom a JOIN influence i ON i.n = a.n WHERE a.commit_id = ?1 ORDER BY i.by"
            ))?;
            let rows = stmt.query_map([commit.as_slice()], |r| {
                Ok((r.get::<_, String>(0)?, chosen_commit(r.get_ref(1)?)))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for (by, chosen) in links {
            let Ok(id) = by.parse::<AtomId>() else {
                continue;
            };
            if let Some(chosen) = chosen {
                out.push(Linked {
                    node: self.trace_node(&id, Some(chosen))?,
                    ambiguous: false,
                });
                continue;
            }
            // In commit order, not the order this store indexed them: every
            // store draws the same graph.
            let mut commits = self.commits_of(&id)?;
            commits.sort();
            if commits.is_empty() {
                out.push(Linked {
                    node: self.trace_node(&id, None)?,
                    ambiguous: false,
                });
            }
            let ambiguous = commits.len() > 1;
            for c in commits {
                out.push(Linked {
                    node: self.trace_node(&id, Some(c))?,
                    ambiguous,
                });
            }
        }
        Ok(out)
    }

    /// The atoms whose links to `id` resolve to the atom in `commit`.
    fn built_on(&self, id: &AtomId, commit: ObjectId) -> Result<Vec<Linked>, IndexError> {
        let links: Vec<(AtomId, ObjectId, Option<ObjectId>)> = {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT a.atom_id, a.commit_id, a.record -> '$.metadata.{LINK_COMMITS}' ->> ?1
                 FROM influence i JOIN atom a ON a.n = i.n WHERE i.by = ?1 ORDER BY a.atom_id, a.n"
            ))?;
            let rows = stmt.query_map([id.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    chosen_commit(r.get_ref(2)?),
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (by, c, chosen) = row?;
                if let (Ok(by), Ok(c)) = (by.parse(), ObjectId::try_from(c.as_slice())) {
                    out.push((by, c, chosen));
                }
            }
            out
        };
        let mut shared = None;
        let mut out = Vec::new();
        for (by, c, chosen) in links {
            let ambiguous = match chosen {
                Some(chosen) if chosen == commit => false,
                Some(_) => continue,
                None => {
                    let n = match shared {
                        Some(n) => n,
                        None => *shared.insert(self.id_count(id)?),
                    };
                    n > 1
                }
            };
            out.push(Linked {
                node: self.trace_node(&by, Some(c))?,
                ambiguous,
            });
        }
        out.sort_by(|x, y| x.node.handle.cmp(&y.node.handle));
        Ok(out)
    }

    /// The atom `id` in `commit` as a node; `commit` `None` or not indexed
    /// with this id: an atom this store does not hold.
    fn trace_node(&self, id: &AtomId, commit: Option<ObjectId>) -> Result<TraceNode, IndexError> {
        let found = match commit {
            Some(c) => self
                .conn
                .prepare_cached(
                    "SELECT agent, record ->> '$.summary', record ->> '$.timestamp' FROM atom
                     WHERE commit_id = ?1 AND atom_id = ?2",
                )?
                .query_row(rusqlite::params![c.as_slice(), id.to_string()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
                })
                .optional()?,
            None => None,
        };
        let unique = found.is_some() && self.id_count(id)? == 1;
        let handle = match commit {
            Some(c) if !unique => format!("{id}@{}", c.to_hex_with_len(SHORT_SHA)),
            _ => id.to_string(),
        };
        let (agent, summary, timestamp) = match found {
            Some((a, s, t)) => (Some(a), Some(s), Some(t)),
            None => (None, None, None),
        };
        Ok(TraceNode {
            handle,
            atom_id: id.clone(),
            commit,
            atom_type: id.atom_type().to_owned(),
            agent,
            summary,
            timestamp,
        })
    }

    /// How many atoms have this id (more than one only after devices
    /// minted the same id).
    fn id_count(&self, id: &AtomId) -> Result<i64, IndexError> {
        Ok(self
            .conn
            .prepare_cached("SELECT count(*) FROM atom WHERE atom_id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))?)
    }

    /// The atom in `commit` as a trace node (its fields `None` when the
    /// index does not hold it).
    pub fn node_of(&self, id: &AtomId, commit: ObjectId) -> Result<TraceNode, IndexError> {
        self.trace_node(id, Some(commit))
    }
}

/// The commit a link recorded under [`LINK_COMMITS`], if it is one: a
/// full sha in hex. Anything else (hostile or damaged metadata) counts as
/// no commit recorded.
fn chosen_commit(v: ValueRef<'_>) -> Option<ObjectId> {
    match v {
        ValueRef::Text(t) => ObjectId::from_hex(t).ok(),
        _ => None,
    }
}
