//! Human renderings of an atom shared by `log`, `show` and `record`. Every
//! field of the record is printed through [`safe`]: the record may come from
//! anywhere.

use atom::links::Links;
use atom::signing::SignatureStatus;
use atom::AtomView;

use crate::cli::output::{safe, Printer, DIM, GREEN, RED, YELLOW};

/// `ATOM-CFG-20241127-003 1a2b3c4 2024-11-27T10:23:45Z qwen modify_file: summary`;
/// an atom whose signature is not good says so after its commit
/// (`[signature: untrusted]`, `bad` or `none`: the words of `--json`).
pub fn one_line(p: &Printer, a: &AtomView) -> String {
    let r = &a.record;
    let mark = match a.signature.status {
        SignatureStatus::Good => String::new(),
        SignatureStatus::Untrusted => p.paint(RED, "[signature: untrusted] "),
        SignatureStatus::Bad => p.paint(RED, "[signature: bad] "),
        SignatureStatus::None => p.paint(RED, "[signature: none] "),
    };
    let mut line = format!(
        "{} {} {mark}{} {} {}",
        p.paint(YELLOW, &r.atom_id.to_string()),
        p.paint(DIM, &a.commit.to_hex_with_len(7).to_string()),
        safe(&r.timestamp),
        safe(&r.agent),
        safe(&r.operation)
    );
    if !r.summary.is_empty() {
        line.push_str(": ");
        line.push_str(&safe(&r.summary));
    }
    line
}

/// Every field, one per line, then the metadata as indented JSON; the
/// links both ways as handles (`built on`, and `used by` when any).
pub fn full(p: &Printer, a: &AtomView, links: &Links) -> String {
    let r = &a.record;
    let text = |s: &str| safe(s).into_owned();
    let mut rows: Vec<(&str, String)> = vec![
        ("atom", p.paint(YELLOW, &r.atom_id.to_string())),
        ("commit", a.commit.to_string()),
        ("type", text(&r.atom_type)),
        ("operation", text(&r.operation)),
        ("agent", text(&r.agent)),
        ("time", text(&r.timestamp)),
    ];
    if let Some(project) = &r.project {
        rows.push(("project", text(project)));
    }
    if !r.summary.is_empty() {
        rows.push(("summary", text(&r.summary)));
    }
    if let Some(t) = r.token_cost {
        rows.push(("tokens", t.to_string()));
    }
    rows.push((
        "previous",
        r.previous_atom
            .as_ref()
            .map_or_else(|| "(first atom of its trail)".into(), ToString::to_string),
    ));
    if let Some(merged) = &r.merged {
        rows.push(("merged", join(merged)));
    }
    if !links.built_on.is_empty() {
        rows.push(("built on", safe(&Links::text(&links.built_on)).into_owned()));
    } else if !r.influenced_by.is_empty() {
        // An atom no ref reaches: the index has not resolved its links.
        rows.push(("built on", join(&r.influenced_by)));
    }
    if !links.used_by.is_empty() {
        rows.push(("used by", safe(&Links::text(&links.used_by)).into_owned()));
    }
    rows.push(("digest", text(&r.digest)));
    // The words of `--json`'s `signature.status` (SPEC §5).
    let sig = &a.signature;
    let status = match sig.status {
        SignatureStatus::Good => p.paint(GREEN, "good"),
        SignatureStatus::Untrusted => p.paint(RED, "untrusted"),
        SignatureStatus::Bad => p.paint(RED, "bad"),
        SignatureStatus::None => p.paint(RED, "none"),
    };
    rows.push((
        "signature",
        match &sig.signer {
            Some(s) => format!("{status} ({})", safe(s)),
            None => status,
        },
    ));
    for att in &r.attachments {
        rows.push((
            "attachment",
            format!(
                "{} ({} bytes, sha256 {})",
                safe(&att.name),
                att.size,
                safe(&att.sha256)
            ),
        ));
    }
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(&format!("{k:<11}{v}\n"));
    }
    if !r.metadata.is_empty() {
        let meta = serde_json::to_string_pretty(&r.metadata).expect("JSON values serialize");
        out.push_str("metadata\n");
        // JSON escapes C0 controls; C1 and format characters it keeps.
        for line in meta.lines() {
            out.push_str("  ");
            out.push_str(&safe(line));
            out.push('\n');
        }
    }
    out
}

fn join<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The atoms as a graph in the style of `git log --graph`: one lane per line
/// of descent, `*` on the atom's lane, `|\` where a merge opens a lane and
/// `|/` where two lanes meet again.
pub fn graph(p: &Printer, atoms: &[AtomView]) -> String {
    let mut lanes: Vec<gix::ObjectId> = Vec::new();
    let mut out = String::new();
    let bars = |n: usize| vec!["|"; n].join(" ");
    for a in atoms {
        let col = match lanes.iter().position(|l| *l == a.commit) {
            Some(c) => c,
            None => {
                lanes.push(a.commit);
                lanes.len() - 1
            }
        };
        let marks: Vec<&str> = (0..lanes.len())
            .map(|i| if i == col { "*" } else { "|" })
            .collect();
        out.push_str(&format!("{} {}\n", marks.join(" "), one_line(p, a)));
        match a.parents.split_first() {
            None => {
                lanes.remove(col);
            }
            Some((first, rest)) => {
                lanes[col] = *first;
                for (k, extra) in rest.iter().enumerate() {
                    if !lanes.contains(extra) {
                        lanes.insert(col + 1 + k, *extra);
                        out.push_str(&format!("{}\\\n", bars(col + 1 + k) + " "));
                    }
                }
            }
        }
        // Two lanes waiting for the same atom join again.
        let mut i = 0;
        while i < lanes.len() {
            if let Some(j) = lanes[..i].iter().position(|l| *l == lanes[i]) {
                lanes.remove(i);
                out.push_str(&format!("{}/\n", bars(j + 1) + " "));
            } else {
                i += 1;
            }
        }
    }
    out
}
