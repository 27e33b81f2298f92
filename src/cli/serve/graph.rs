//! Server-rendered SVG: the trail graph, the provenance graph and the
//! token charts. No script, no library: lanes, layers and bars computed
//! here, every label escaped with [`esc`].

use std::collections::HashMap;

use atom::index::{StatsRow, Trace};
use atom::AtomView;
use gix::ObjectId;

use super::html::{esc, number};
use super::http::encode;

const ROW: usize = 30;
const LANE: usize = 20;
const COLORS: [&str; 6] = [
    "#2f6fdf", "#d9480f", "#2b8a3e", "#ae3ec9", "#e8590c", "#1098ad",
];

/// The lane of each atom, as `log --graph` lays them out: newest first, one
/// lane per line of descent, a merge opening a lane for its other parents.
pub fn lanes(atoms: &[AtomView]) -> (Vec<usize>, usize) {
    let mut lanes: Vec<ObjectId> = Vec::new();
    let mut cols = Vec::with_capacity(atoms.len());
    let mut width = 1;
    for a in atoms {
        let col = match lanes.iter().position(|l| *l == a.commit) {
            Some(c) => c,
            None => {
                lanes.push(a.commit);
                lanes.len() - 1
            }
        };
        cols.push(col);
        match a.parents.split_first() {
            None => {
                lanes.remove(col);
            }
            Some((first, rest)) => {
                lanes[col] = *first;
                for (k, extra) in rest.iter().enumerate() {
                    if !lanes.contains(extra) {
                        lanes.insert((col + 1 + k).min(lanes.len()), *extra);
                    }
                }
            }
        }
        let mut i = 0;
        while i < lanes.len() {
            if lanes[..i].contains(&lanes[i]) {
                lanes.remove(i);
            } else {
                i += 1;
            }
        }
        width = width.max(lanes.len()).max(col + 1);
    }
    (cols, width)
}

/// The trail graph: each atom a dot on its lane, linked to its parents,
/// with the trails and archived tips that point at it as labels.
pub fn trail_graph(atoms: &[AtomView], labels: &HashMap<ObjectId, Vec<(String, bool)>>) -> String {
    let (cols, width) = lanes(atoms);
    let row_of: HashMap<ObjectId, usize> = atoms
        .iter()
        .enumerate()
        .map(|(i, a)| (a.commit, i))
        .collect();
    let x = |col: usize| 12 + col * LANE;
    let y = |row: usize| 16 + row * ROW;
    let text_x = x(width) + 8;
    let height = y(atoms.len()) + 4;
    let mut edges = String::new();
    let mut dots = String::new();
    for (i, a) in atoms.iter().enumerate() {
        let (cx, cy) = (x(cols[i]), y(i));
        for p in &a.parents {
            let (px, py, dashed) = match row_of.get(p) {
                Some(&j) => (x(cols[j]), y(j), ""),
                // A parent below the page: a short stub downwards.
                None => (cx, cy + ROW / 2, " stroke-dasharray=\"3 3\""),
            };
            let color = COLORS[cols[i].max(row_of.get(p).map_or(0, |&j| cols[j])) % COLORS.len()];
            edges.push_str(&format!(
                "<path d=\"M{cx} {cy} C{cx} {m} {px} {m} {px} {py}\" stroke=\"{color}\" stroke-width=\"2\" fill=\"none\"{dashed}/>",
                m = (cy + py) / 2
            ));
        }
        let r = &a.record;
        let rollback = r.atom_type == "ROLLBACK";
        let merge = a.parents.len() > 1;
        let class = if rollback {
            "node rollback"
        } else if merge {
            "node merge"
        } else {
            "node"
        };
        let mut badges = String::new();
        let mut bx = text_x;
        for (name, archived) in labels.get(&a.commit).into_iter().flatten() {
            let w = 14 + 7 * name.chars().count();
            let (class, href) = if *archived {
                ("ref archived", format!("/?trail={}", encode(name)))
            } else {
                ("ref trail", format!("/?trail={}", encode(name)))
            };
            badges.push_str(&format!(
                "<a href=\"{href}\" class=\"{class}\"><rect x=\"{bx}\" y=\"{ry}\" width=\"{w}\" height=\"18\" rx=\"4\"/><text x=\"{tx}\" y=\"{ty}\">{n}</text></a>",
                ry = cy - 10,
                tx = bx + 7,
                ty = cy + 4,
                n = esc(name)
            ));
            bx += w + 6;
        }
        let summary: String = r.summary.chars().take(80).collect();
        dots.push_str(&format!(
            "<g class=\"{class}\"><a href=\"/atom/{commit}\"><title>{id}</title>\
             <circle cx=\"{cx}\" cy=\"{cy}\" r=\"{rad}\" fill=\"{color}\"/>\
             <text x=\"{bx}\" y=\"{ty}\"><tspan class=\"id\">{id}</tspan> <tspan class=\"agent\">{agent}</tspan> {summary}</text></a>{badges}</g>",
            commit = a.commit,
            id = esc(&r.atom_id.to_string()),
            rad = if merge || rollback { 6 } else { 5 },
            color = if rollback { "#c92a2a" } else { COLORS[cols[i] % COLORS.len()] },
            ty = cy + 4,
            agent = esc(&r.agent),
            summary = esc(&summary),
        ));
    }
    format!(
        "<svg class=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" height=\"{height}\" role=\"img\" aria-label=\"trail graph\">{edges}{dots}</svg>"
    )
}

/// The provenance graph around `root`: what it built on above it (`up`),
/// what built on it below (`down`), one row per step away.
pub fn provenance(up: &Trace, down: &Trace) -> String {
    const BOX_W: usize = 250;
    const BOX_H: usize = 46;
    const GAP_X: usize = 20;
    const GAP_Y: usize = 40;
    let root = &up.root;
    let up_layers = layers(up);
    let down_layers = layers(down);
    // Rows top to bottom: the deepest ancestors first, the root, then descendants.
    let mut rows: Vec<Vec<&String>> = up_layers.iter().skip(1).rev().cloned().collect();
    rows.push(vec![root]);
    rows.extend(down_layers.iter().skip(1).cloned());
    let widest = rows.iter().map(Vec::len).max().unwrap_or(1);
    let width = widest * (BOX_W + GAP_X) + GAP_X;
    let mut pos: HashMap<&String, (usize, usize)> = HashMap::new();
    for (r, row) in rows.iter().enumerate() {
        let offset = (width - row.len() * (BOX_W + GAP_X) + GAP_X) / 2;
        for (c, id) in row.iter().enumerate() {
            pos.entry(id)
                .or_insert((offset + c * (BOX_W + GAP_X), 10 + r * (BOX_H + GAP_Y)));
        }
    }
    let height = 20 + rows.len() * (BOX_H + GAP_Y);
    let mut out = format!(
        "<svg class=\"provenance\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"provenance graph\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"#666\"/></marker></defs>"
    );
    // `to` built on `from`: the arrow points from the older atom to the
    // newer; dashed when the link is ambiguous (one of several candidates).
    for e in up.edges.iter().chain(&down.edges) {
        let (Some(&(fx, fy)), Some(&(tx, ty))) = (pos.get(&e.from), pos.get(&e.to)) else {
            continue;
        };
        let (x1, y1, x2, y2) = if fy < ty {
            (fx + BOX_W / 2, fy + BOX_H, tx + BOX_W / 2, ty)
        } else {
            (fx + BOX_W / 2, fy, tx + BOX_W / 2, ty + BOX_H)
        };
        out.push_str(&format!(
            "<line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" stroke=\"#666\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"{dashed}><title>{title}</title></line>",
            dashed = if e.ambiguous { " stroke-dasharray=\"5 4\"" } else { "" },
            title = if e.ambiguous { "ambiguous link: one of the atoms with this id" } else { "built on" },
        ));
    }
    let nodes: HashMap<&String, _> = up
        .nodes
        .iter()
        .chain(&down.nodes)
        .map(|n| (&n.handle, n))
        .collect();
    for (id, (x, y)) in &pos {
        let node = nodes.get(id);
        let line2 = match node {
            Some(n) => match (&n.agent, &n.summary) {
                (Some(a), Some(s)) => format!("{a}: {s}"),
                (Some(a), None) => a.clone(),
                _ => "(not in this store)".into(),
            },
            None => String::new(),
        };
        let line2: String = line2.chars().take(34).collect();
        let class = if *id == root { "pnode root" } else { "pnode" };
        let id: &str = id;
        out.push_str(&format!(
            "<a href=\"/trace/{href}\" class=\"{class}\"><title>{id}</title><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"6\"/>\
             <text x=\"{tx}\" y=\"{t1}\" class=\"id\">{id}</text><text x=\"{tx}\" y=\"{t2}\">{line2}</text></a>",
            href = encode(id),
            id = esc(id),
            tx = x + 10,
            t1 = y + 19,
            t2 = y + 37,
            line2 = esc(&line2),
        ));
    }
    out.push_str("</svg>");
    out
}

/// The atoms of a trace by steps from its root (the root alone first).
fn layers(t: &Trace) -> Vec<Vec<&String>> {
    let mut seen = std::collections::HashSet::from([&t.root]);
    let mut out = vec![vec![&t.root]];
    loop {
        let mut next = Vec::new();
        for handle in out.last().expect("one layer at least") {
            for e in t.next(handle) {
                let n = if t.down { &e.to } else { &e.from };
                if seen.insert(n) {
                    next.push(n);
                }
            }
        }
        if next.is_empty() {
            return out;
        }
        out.push(next);
    }
}

/// Horizontal bars of `value` per row, labelled with the key and the number.
pub fn bars(rows: &[StatsRow], value: impl Fn(&StatsRow) -> u64, label: &str) -> String {
    const BAR: usize = 22;
    const KEY_W: usize = 180;
    const MAX_W: usize = 420;
    let max = rows.iter().map(&value).max().unwrap_or(0).max(1);
    let mut out = format!(
        "<svg class=\"bars\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\">",
        KEY_W + MAX_W + 120,
        rows.len() * (BAR + 6) + 6,
        esc(label)
    );
    for (i, r) in rows.iter().enumerate() {
        let v = value(r);
        let w = (v as u128 * MAX_W as u128 / max as u128) as usize;
        let y = 4 + i * (BAR + 6);
        let key: String = r
            .key
            .as_deref()
            .unwrap_or("(none)")
            .chars()
            .take(24)
            .collect();
        out.push_str(&format!(
            "<g class=\"bar\"><text x=\"{kx}\" y=\"{ty}\" text-anchor=\"end\">{key}</text>\
             <rect x=\"{KEY_W}\" y=\"{y}\" width=\"{w}\" height=\"{BAR}\" fill=\"{c}\"/>\
             <text x=\"{vx}\" y=\"{ty}\" class=\"value\">{v}</text></g>",
            kx = KEY_W - 8,
            ty = y + 16,
            key = esc(&key),
            c = COLORS[i % COLORS.len()],
            vx = KEY_W + w + 6,
            v = number(v),
        ));
    }
    out.push_str("</svg>");
    out
}

/// Columns of `value` per day, oldest left (rows as `stats --by day` gives them).
pub fn columns(rows: &[StatsRow], value: impl Fn(&StatsRow) -> u64, label: &str) -> String {
    const HEIGHT: usize = 160;
    // Wide columns for a few days, narrow ones for many; 700 px at most.
    let col = (700 / rows.len().max(1)).clamp(4, 40) - 3;
    let max = rows.iter().map(&value).max().unwrap_or(0).max(1);
    let width = (60 + rows.len() * (col + 3)).max(260);
    let mut out = format!(
        "<svg class=\"columns\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" role=\"img\" aria-label=\"{}\">\
         <text x=\"0\" y=\"12\" class=\"value\">{}</text><line x1=\"50\" y1=\"{HEIGHT}\" x2=\"{width}\" y2=\"{HEIGHT}\" stroke=\"#999\"/>",
        HEIGHT + 40,
        esc(label),
        number(max)
    );
    for (i, r) in rows.iter().enumerate() {
        let v = value(r);
        let h = (v as u128 * (HEIGHT - 20) as u128 / max as u128) as usize;
        let x = 52 + i * (col + 3);
        let key = r.key.as_deref().unwrap_or("");
        out.push_str(&format!(
            "<g class=\"col\"><title>{k}: {n}</title><rect x=\"{x}\" y=\"{y}\" width=\"{col}\" height=\"{h}\" fill=\"#2f6fdf\"/></g>",
            k = esc(key),
            n = number(v),
            y = HEIGHT - h,
        ));
    }
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        out.push_str(&format!(
            "<text x=\"52\" y=\"{ly}\">{}</text><text x=\"{lx}\" y=\"{ly}\" text-anchor=\"end\">{}</text>",
            esc(first.key.as_deref().unwrap_or("")),
            esc(last.key.as_deref().unwrap_or("")),
            ly = HEIGHT + 18,
            lx = width - 4,
        ));
    }
    out.push_str("</svg>");
    out
}
