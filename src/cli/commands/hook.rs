//! `atom hook NAME [ARGS]`: what the scripts of `atom hooks install` run,
//! and `atom hook AGENT EVENT`, what `atom agents install` has coding agents
//! run (hidden from `--help`). It never fails the git command or the agent
//! that ran it: any problem is one `warning:` line on stderr and exit code 0.

use std::io::Read as _;

use atom::hooks::{self, CommitRecorded, HookError, Project};

use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The hook: post-commit, post-merge, post-rewrite or pre-push; or an
    /// agent (claude-code, codex, gemini, cursor) followed by its event name.
    name: String,
    /// What git passed to the hook.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// `atom [--store DIR] hook NAME [ARGS...]`, the command lines `atom hooks
/// install` and `atom agents install` write, read without clap: the store
/// and the hook's arguments. `None` for any other shape (another global
/// flag, `--help`, an argument that is not UTF-8), which clap then parses.
pub fn direct(
    argv: impl IntoIterator<Item = std::ffi::OsString>,
) -> Option<(Option<std::path::PathBuf>, Args)> {
    let mut argv = argv.into_iter().skip(1).map(|a| a.into_string().ok());
    let mut store = None;
    let mut word = argv.next()??;
    let dir = if word == "--store" {
        Some(argv.next()??)
    } else {
        word.strip_prefix("--store=").map(str::to_owned)
    };
    if let Some(dir) = dir {
        if dir.is_empty() || dir.starts_with('-') {
            return None;
        }
        store = Some(dir.into());
        word = argv.next()??;
    }
    if word != "hook" {
        return None;
    }
    // Git's and the agents' hook arguments never start with `-`; clap
    // reads a flag there as a global one.
    let name = argv.next()??;
    let args = argv.collect::<Option<Vec<_>>>()?;
    if name.starts_with('-') || args.iter().any(|a| a.starts_with('-')) {
        return None;
    }
    Some((store, Args { name, args }))
}

pub fn run(ctx: &Ctx, args: Args) {
    if let Ok(agent) = atom::agents::Agent::parse(&args.name) {
        agent_hook(ctx, agent, args.args.first().map_or("", String::as_str));
        return;
    }
    let what = match args.name.as_str() {
        "pre-push" => "notes not pushed: ",
        "post-rewrite" => "rewrite not recorded: ",
        "post-merge" => "merge not recorded: ",
        _ => "commit not recorded: ",
    };
    if let Err(e) = handle(ctx, &args) {
        let message = e.to_string();
        let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        let message = crate::cli::output::safe(&message);
        let what = if matches!(e, HookError::Note { .. }) {
            ""
        } else {
            what
        };
        eprintln!("warning: atom: {what}{message}");
    }
}

fn handle(ctx: &Ctx, args: &Args) -> Result<(), HookError> {
    let agent = std::env::var("ATOM_AGENT")
        .ok()
        .filter(|a| !a.trim().is_empty());
    let project = Project::here();
    if !matches!(
        args.name.as_str(),
        "post-commit" | "post-merge" | "post-rewrite" | "pre-push"
    ) {
        return Err(HookError::Input(format!(
            "atom has no {:?} hook (post-commit, post-merge, post-rewrite, pre-push)",
            args.name
        )));
    }
    if args.name == "post-merge" && args.args.first().is_some_and(|a| a == "1") {
        // A squash merge: the commit that lands it needs the squashed list.
        if let Err(e) = hooks::keep_squashed(&project) {
            warn_agent(&format!("the squashed commits not kept: {e}"));
        }
    }
    if args.name != "post-commit" {
        // The notes these hooks read or push include the commits still
        // spooled.
        drain_first(ctx);
    }
    if matches!(args.name.as_str(), "post-merge" | "post-rewrite") {
        // After a pull: the notes fetched with it join ours first.
        if let Err(e) = hooks::merge_fetched(&project) {
            let message = e.to_string();
            let message = crate::cli::output::safe(&message);
            eprintln!("warning: atom: fetched notes not merged: {message}");
        }
    }
    match args.name.as_str() {
        "pre-push" => {
            let remote = args
                .args
                .first()
                .ok_or_else(|| HookError::Input("pre-push needs the remote git passes".into()))?;
            hooks::push_notes(&project, remote)?;
        }
        "post-commit" => {
            let influences = std::env::var("ATOM_INFLUENCED_BY").ok();
            let staged =
                hooks::spool_commit(&ctx.home, ctx.selected.as_deref(), agent, influences)?;
            atom::agents::background::hand_over(&ctx.home, staged).map_err(|source| {
                HookError::Io {
                    context: "writing the spool".into(),
                    source,
                }
            })?;
        }
        "post-merge" => {
            let trail = &atom::Trail::open_on(&ctx.home, ctx.selected.as_deref())?;
            let influences = std::env::var("ATOM_INFLUENCED_BY").ok();
            if let Some(done) = hooks::post_merge(trail, &project, agent, influences)? {
                warn(&done);
            }
        }
        "post-rewrite" => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .map_err(|source| HookError::Io {
                    context: "reading the rewritten commits".into(),
                    source,
                })?;
            let kind = args.args.first().map_or("rewrite", String::as_str);
            let trail = &atom::Trail::open_on(&ctx.home, ctx.selected.as_deref())?;
            if let Some(done) = hooks::post_rewrite(trail, &project, kind, &input, agent)? {
                warn_masked(&done.atom_id, &done.masked);
            }
        }
        _ => unreachable!("hook names are checked above"),
    }
    Ok(())
}

/// Record what the spool holds (commits the post-commit hook spooled, agent
/// events) and show the warnings drains kept.
fn drain_first(ctx: &Ctx) {
    if atom::agents::spool::has_pending(&ctx.home) {
        if let Ok(trail) = atom::Trail::open(&ctx.home) {
            if let Err(e) = atom::agents::drain(&trail, DRAIN_WAIT) {
                warn_agent(&format!("spooled events not recorded yet: {e}"));
            }
        }
    }
    for w in atom::agents::take_warnings(&ctx.home) {
        warn_agent(&w);
    }
}

/// How long a hook waits for a drain that runs already.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Say what was masked: the commit still went through.
fn warn_masked(atom_id: &atom::AtomId, masked: &[atom::secrets::Located]) {
    for m in masked {
        eprintln!(
            "warning: atom: {atom_id} recorded with {} in {} masked",
            m.kind,
            crate::cli::output::safe(&m.field)
        );
    }
}

/// Warn about what a recorded commit left out or masked.
fn warn(done: &CommitRecorded) {
    warn_masked(&done.atom_id, &done.masked);
    if !done.unknown_influences.is_empty() {
        eprintln!(
            "warning: atom: {} recorded without influences that are not atoms of this store: {}",
            done.atom_id,
            crate::cli::output::safe(&done.unknown_influences.join(", "))
        );
    }
}

/// `atom hook AGENT EVENT`: spool the event on stdin, print the session
/// context when there is one, start a drain, and exit 0 whatever happens
/// (a problem is one `warning:` line on stderr, which agents show only in
/// their debug output).
fn agent_hook(ctx: &Ctx, agent: atom::agents::Agent, event: &str) {
    let mut input = Vec::new();
    let read = std::io::stdin()
        .take(atom::agents::capture::MAX_INPUT)
        .read_to_end(&mut input);
    let result = match read {
        Ok(_) => atom::agents::capture(&ctx.home, ctx.selected.as_deref(), agent, event, &input),
        Err(source) => Err(atom::agents::AgentError::Io {
            context: "reading the event".into(),
            source,
        }),
    };
    match result {
        Ok(done) => {
            if let Some(out) = done.output {
                println!("{out}");
            }
            if let Some(e) = done.context_error {
                warn_agent(&format!("no session context: {e}"));
            }
            if let Err(e) = atom::agents::background::hand_over(&ctx.home, done.staged) {
                warn_agent(&format!("{} {event} event not recorded: {e}", agent.name()));
            }
        }
        Err(e) => warn_agent(&format!("{} {event} event not recorded: {e}", agent.name())),
    }
}

/// One `warning: atom: ...` line on stderr, made safe for a terminal.
fn warn_agent(message: &str) {
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("warning: atom: {}", crate::cli::output::safe(&message));
}

#[cfg(test)]
mod tests {
    use super::direct;

    fn read(argv: &[&str]) -> Option<(Option<String>, String, Vec<String>)> {
        direct(argv.iter().map(std::ffi::OsString::from)).map(|(store, args)| {
            let store = store.map(|s| s.to_string_lossy().into_owned());
            (store, args.name, args.args)
        })
    }

    #[test]
    fn the_installed_command_lines_are_read_without_clap() {
        assert_eq!(
            read(&["atom", "hook", "post-commit"]),
            Some((None, "post-commit".into(), vec![]))
        );
        assert_eq!(
            read(&["atom", "hook", "post-merge", "1"]),
            Some((None, "post-merge".into(), vec!["1".into()]))
        );
        assert_eq!(
            read(&[
                "/bin/atom",
                "--store",
                "/s",
                "hook",
                "claude-code",
                "PostToolUse"
            ]),
            Some((
                Some("/s".into()),
                "claude-code".into(),
                vec!["PostToolUse".into()]
            ))
        );
        assert_eq!(
            read(&["atom", "--store=/s", "hook", "pre-push", "origin", "u"]).map(|r| r.0),
            Some(Some("/s".into()))
        );
    }

    #[test]
    fn any_other_shape_is_left_to_clap() {
        for argv in [
            &["atom", "log"][..],
            &["atom"],
            &["atom", "--json", "hook", "post-commit"],
            &["atom", "--store", "", "hook", "post-commit"],
            &["atom", "--store=", "hook", "post-commit"],
            &["atom", "--store", "-q", "hook", "post-commit"],
            &["atom", "--store", "/s"],
            &["atom", "hook"],
            &["atom", "hook", "--help"],
            &["atom", "hook", "post-commit", "--store", "/s"],
            &["atom", "hook", "post-commit", "--", "x"],
        ] {
            assert_eq!(read(argv), None, "{argv:?}");
        }
    }
}
