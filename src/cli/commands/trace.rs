//! `atom trace ID [--down] [--format tree|mermaid|dot|json]`: what an atom
//! built on (or, `--down`, what built on it), through `influenced_by` links
//! across every trail.

use std::collections::HashSet;

use atom::index::{Trace, TraceNode};

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

/// `HANDLE agent: summary` for one node.
fn label(n: &TraceNode) -> String {
    match (&n.agent, &n.summary) {
        (Some(a), Some(s)) if !s.is_empty() => {
            format!("{} {}: {}", n.handle, safe(a), safe(s))
        }
        (Some(a), _) => format!("{} {}", n.handle, safe(a)),
        _ => format!("{} (not in this store)", n.handle),
    }
}

/// What an ambiguous edge is called next to the atom it leads to.
const AMBIGUOUS: &str = "ambiguous link: one of the atoms with this id";

/// Like `tree(1)`: the root, then each step away from it indented under
/// `├── ` / `└── `. An atom reached a second time is listed but not
/// expanded; one reached through an ambiguous link says so.
fn tree(ctx: &Ctx, t: &Trace) -> String {
    fn walk(
        ctx: &Ctx,
        t: &Trace,
        handle: &str,
        prefix: &str,
        shown: &mut HashSet<String>,
        out: &mut String,
    ) {
        let next = t.next(handle);
        for (i, e) in next.iter().enumerate() {
            let n = if t.down { &e.to } else { &e.from };
            let last = i + 1 == next.len();
            let (branch, indent) = if last {
                ("└── ", "    ")
            } else {
                ("├── ", "│   ")
            };
            let again = !shown.insert(n.clone());
            let mut notes = Vec::new();
            if e.ambiguous {
                notes.push(AMBIGUOUS);
            }
            if again && !t.next(n).is_empty() {
                notes.push("see above");
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            };
            out.push_str(&format!(
                "{prefix}{branch}{}{notes}\n",
                node_label(ctx, t, n)
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

fn node_label(ctx: &Ctx, t: &Trace, handle: &str) -> String {
    let text = match t.node(handle) {
        Some(n) => label(n),
        None => handle.to_owned(),
    };
    match text.strip_prefix(handle) {
        Some(rest) => ctx.printer.paint(YELLOW, handle) + rest,
        None => text,
    }
}

/// Text safe inside a double-quoted mermaid or dot label.
fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "'")
}

fn mermaid(t: &Trace) -> String {
    let key = |handle: &str| handle.replace(['-', '@'], "_");
    let mut out = String::from("graph TD\n");
    for n in &t.nodes {
        out.push_str(&format!(
            "    {}[\"{}\"]\n",
            key(&n.handle),
            quoted(&label(n))
        ));
    }
    for e in &t.edges {
        let arrow = if e.ambiguous {
            "-. ambiguous .->"
        } else {
            "-->"
        };
        out.push_str(&format!("    {} {arrow} {}\n", key(&e.from), key(&e.to)));
    }
    out
}

fn dot(t: &Trace) -> String {
    let mut out = String::from("digraph provenance {\n    node [shape=box];\n");
    for n in &t.nodes {
        out.push_str(&format!(
            "    \"{}\" [label=\"{}\"];\n",
            n.handle,
            quoted(&label(n))
        ));
    }
    for e in &t.edges {
        let style = if e.ambiguous {
            " [style=dashed, label=\"ambiguous\"]"
        } else {
            ""
        };
        out.push_str(&format!("    \"{}\" -> \"{}\"{style};\n", e.from, e.to));
    }
    out.push_str("}\n");
    out
}
