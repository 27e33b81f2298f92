//! `atom trace ID [--down] [--format tree|mermaid|dot|json]`: what an atom
//! built on (or, `--down`, what built on it), through `influenced_by` links
//! across every trail.

use std::collections::HashSet;

use atom::index::{Trace, TraceNode};
use atom::AtomId;

use crate::cli::error::CliError;
use crate::cli::output::{safe, YELLOW};
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The atom: an atom id (any case), a trail, a commit sha prefix, @ or REV~N.
    id: String,
    /// Follow the links the other way: the atoms that built on ID.
    #[arg(long)]
    down: bool,
    /// How to draw the graph (`--json` means `--format json`).
    #[arg(long, value_enum, default_value_t = Format::Tree)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Tree,
    Mermaid,
    Dot,
    Json,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trace = ctx.open()?.trace(&args.id, args.down)?;
    let format = if ctx.printer.json {
        Format::Json
    } else {
        args.format
    };
    match format {
        Format::Json => ctx.printer.json(&trace)?,
        Format::Tree => ctx.printer.out(&tree(ctx, &trace))?,
        Format::Mermaid => ctx.printer.out(&mermaid(&trace))?,
        Format::Dot => ctx.printer.out(&dot(&trace))?,
    }
    Ok(())
}

/// `ATOM-... agent: summary` for one node.
fn label(n: &TraceNode) -> String {
    match (&n.agent, &n.summary) {
        (Some(a), Some(s)) if !s.is_empty() => {
            format!("{} {}: {}", n.atom_id, safe(a), safe(s))
        }
        (Some(a), _) => format!("{} {}", n.atom_id, safe(a)),
        _ => format!("{} (not in this store)", n.atom_id),
    }
}

/// Like `tree(1)`: the root, then each step away from it indented under
/// `├── ` / `└── `. An atom reached a second time is listed but not expanded.
fn tree(ctx: &Ctx, t: &Trace) -> String {
    fn walk(
        ctx: &Ctx,
        t: &Trace,
        id: &AtomId,
        prefix: &str,
        shown: &mut HashSet<AtomId>,
        out: &mut String,
    ) {
        let next = t.next(id);
        for (i, n) in next.iter().enumerate() {
            let last = i + 1 == next.len();
            let (branch, indent) = if last {
                ("└── ", "    ")
            } else {
                ("├── ", "│   ")
            };
            let again = !shown.insert((*n).clone());
            out.push_str(&format!(
                "{prefix}{branch}{}{}\n",
                node_label(ctx, t, n),
                if again && !t.next(n).is_empty() {
                    " (see above)"
                } else {
                    ""
                }
            ));
            if !again {
                walk(ctx, t, n, &format!("{prefix}{indent}"), shown, out);
            }
        }
    }
    let mut shown = HashSet::from([t.root.clone()]);
    let mut out = node_label(ctx, t, &t.root) + "\n";
    walk(ctx, t, &t.root, "", &mut shown, &mut out);
    out
}

fn node_label(ctx: &Ctx, t: &Trace, id: &AtomId) -> String {
    let text = match t.nodes.iter().find(|n| &n.atom_id == id) {
        Some(n) => label(n),
        None => id.to_string(),
    };
    let id_text = id.to_string();
    match text.strip_prefix(&id_text) {
        Some(rest) => ctx.printer.paint(YELLOW, &id_text) + rest,
        None => text,
    }
}

/// Text safe inside a double-quoted mermaid or dot label.
fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "'")
}

fn mermaid(t: &Trace) -> String {
    let key = |id: &AtomId| id.to_string().replace('-', "_");
    let mut out = String::from("graph TD\n");
    for n in &t.nodes {
        out.push_str(&format!(
            "    {}[\"{}\"]\n",
            key(&n.atom_id),
            quoted(&label(n))
        ));
    }
    for (from, to) in &t.edges {
        out.push_str(&format!("    {} --> {}\n", key(from), key(to)));
    }
    out
}

fn dot(t: &Trace) -> String {
    let mut out = String::from("digraph provenance {\n    node [shape=box];\n");
    for n in &t.nodes {
        out.push_str(&format!(
            "    \"{}\" [label=\"{}\"];\n",
            n.atom_id,
            quoted(&label(n))
        ));
    }
    for (from, to) in &t.edges {
        out.push_str(&format!("    \"{from}\" -> \"{to}\";\n"));
    }
    out.push_str("}\n");
    out
}
