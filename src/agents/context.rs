//! What an agent is handed when its session starts: the prior work that
//! matters in this project, with ids it can cite.
//!
//! Three short lists, answered from the index (each one bounded query):
//! what *other* agents did here since this agent's last session, the
//! project's latest decisions, and the latest atoms here. Prompts, plain
//! tool calls and turn ends are left out: edits, commands, commits,
//! decisions and research are what another agent can build on. The size is
//! set by `atom.agents.contextAtoms` (lines per list, default 10) and
//! `atom.agents.contextBytes` (default 4000) in the store's git config.

use std::collections::HashSet;

use super::Agent;
use crate::index::Filter;
use crate::trail::{AtomView, Trail, TrailError};

/// Git config: at most this many atoms per list.
pub const ATOMS_CONFIG: &str = "atom.agents.contextAtoms";
/// Git config: at most this many bytes of context.
pub const BYTES_CONFIG: &str = "atom.agents.contextBytes";

/// The context for `agent` starting a session in `project`; empty when
/// nothing is recorded there.
pub fn for_session(
    trail: &Trail,
    agent: Agent,
    project: Option<&str>,
) -> Result<String, TrailError> {
    let git = trail.git();
    let per_list: usize = git
        .config_string(ATOMS_CONFIG)
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let max_bytes: usize = git
        .config_string(BYTES_CONFIG)
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    if per_list == 0 || max_bytes == 0 {
        return Ok(String::new());
    }
    let here = |f: Filter| Filter {
        project: project.map(str::to_owned),
        ..f
    };
    let last = trail.log(
        None,
        true,
        &here(Filter {
            atom_type: Some("SESSION".into()),
            agent: Some(agent.name().into()),
            operation: Some("start".into()),
            limit: Some(1),
            ..Filter::default()
        }),
    )?;
    let since = last.first().map(|v| v.record.timestamp.clone());
    let mine = |v: &AtomView| {
        let a = v.record.agent.to_lowercase();
        a == agent.name() || a.starts_with(&format!("{}/", agent.name()))
    };
    let mut shown = HashSet::new();
    let mut sections = Vec::new();

    let others: Vec<AtomView> = trail
        .log(
            None,
            true,
            &here(Filter {
                since: since.clone(),
                limit: Some(per_list * 5),
                ..Filter::default()
            }),
        )?
        .into_iter()
        .filter(|v| !mine(v) && worth_showing(v))
        .take(per_list)
        .collect();
    if !others.is_empty() {
        let title = match &since {
            Some(t) => format!("Other agents here since your last session ({t}):"),
            None => "Other agents here:".to_owned(),
        };
        sections.push(section(&title, &others, &mut shown));
    }

    let decisions = trail.log(
        None,
        true,
        &here(Filter {
            atom_type: Some("DECISION".into()),
            limit: Some(per_list),
            ..Filter::default()
        }),
    )?;
    let decisions: Vec<AtomView> = decisions
        .into_iter()
        .filter(|v| !shown.contains(&v.record.atom_id.to_string()))
        .collect();
    if !decisions.is_empty() {
        sections.push(section("Decisions:", &decisions, &mut shown));
    }

    let recent: Vec<AtomView> = trail
        .log(
            None,
            true,
            &here(Filter {
                limit: Some(per_list * 5),
                ..Filter::default()
            }),
        )?
        .into_iter()
        .filter(|v| worth_showing(v) && !shown.contains(&v.record.atom_id.to_string()))
        .take(per_list)
        .collect();
    if !recent.is_empty() {
        sections.push(section("Latest here:", &recent, &mut shown));
    }

    if sections.is_empty() {
        return Ok(String::new());
    }
    let mut text = format!(
        "atom: prior work recorded{} (cite the ids; `atom show ID` prints one, `atom log --project P` more):\n",
        project.map(|p| format!(" in project {p}")).unwrap_or_default()
    );
    for s in sections {
        text.push_str(&s);
    }
    Ok(fit(&text, max_bytes))
}

/// Leave out prompts, plain tool calls and turn ends.
fn worth_showing(v: &AtomView) -> bool {
    let r = &v.record;
    !(r.atom_type == "PROMPT"
        || r.atom_type == "TOOL"
        || (r.atom_type == "SESSION" && r.operation != "end"))
}

fn section(title: &str, atoms: &[AtomView], shown: &mut HashSet<String>) -> String {
    let mut s = format!("{title}\n");
    for v in atoms {
        let r = &v.record;
        shown.insert(r.atom_id.to_string());
        let cost = r
            .token_cost
            .map(|t| format!(", {t} tokens"))
            .unwrap_or_default();
        s.push_str(&format!(
            "- {} [{}, {}{cost}] {}\n",
            r.atom_id, r.agent, r.timestamp, r.summary
        ));
    }
    s
}

/// `text` cut at a line boundary to at most `max` bytes.
fn fit(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if out.len() + line.len() > max {
            break;
        }
        out.push_str(line);
    }
    out
}
