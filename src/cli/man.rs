//! `atom man`: the manual page, in roff, generated from the clap definition
//! (so it never disagrees with `--help`): name, synopsis, the global
//! options, then each command with its options and examples.

use clap::{Arg, Command};

/// The manual page of `cmd` (the root command), roff for `man -l -`.
pub fn render(cmd: &Command) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        ".TH ATOM 1 \"\" \"atom {}\" \"User Commands\"\n",
        env!("CARGO_PKG_VERSION")
    ));
    out.push_str(".SH NAME\natom \\- ");
    out.push_str(&escape(&text(cmd.get_about())));
    out.push_str("\n.SH SYNOPSIS\n.B atom\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n");
    out.push_str(".SH OPTIONS\nGlobal: accepted before or after the command.\n");
    for arg in cmd.get_arguments().filter(|a| a.is_global_set()) {
        option(&mut out, arg);
    }
    out.push_str(".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        command(&mut out, &format!("atom {}", sub.get_name()), sub);
    }
    out.push_str(".SH ENVIRONMENT\n");
    for (name, what) in [
        ("ATOM_HOME", "the store directory (as --store)"),
        ("ATOM_TRAIL", "the trail to act on (as --trail)"),
        ("ATOM_AGENT", "the default agent of new atoms"),
        (
            "ATOM_PAGER, PAGER",
            "the pager of atom log on a terminal (default: less, LESS=FRX)",
        ),
        ("NO_COLOR", "no colour"),
    ] {
        out.push_str(&format!(".TP\n.B {}\n{}\n", escape(name), escape(what)));
    }
    out.push_str(
        ".SH EXIT STATUS\n0 success; 1 the command ran and found a problem; 2 bad usage or bad input.\n",
    );
    out
}

fn command(out: &mut String, path: &str, cmd: &Command) {
    let subs: Vec<&Command> = cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    let positionals: Vec<String> = cmd
        .get_positionals()
        .map(|a| {
            let name = a
                .get_value_names()
                .and_then(|v| v.first())
                .map_or_else(|| a.get_id().to_string(), ToString::to_string);
            if a.is_required_set() {
                name
            } else {
                format!("[{name}]")
            }
        })
        .collect();
    out.push_str(&format!(
        ".SS \"{}{}\"\n{}\n",
        escape(path),
        if positionals.is_empty() {
            String::new()
        } else {
            format!(" {}", escape(&positionals.join(" ")))
        },
        escape(&text(cmd.get_long_about().or(cmd.get_about())))
    ));
    for arg in cmd
        .get_arguments()
        .filter(|a| !a.is_global_set() && !a.is_positional() && !a.is_hide_set())
        .filter(|a| a.get_id() != "help")
    {
        option(out, arg);
    }
    if let Some(after) = cmd.get_after_help() {
        out.push_str(".PP\n.nf\n");
        out.push_str(&escape(&after.to_string()));
        out.push_str("\n.fi\n");
    }
    for sub in subs.into_iter().filter(|c| c.get_name() != "help") {
        command(out, &format!("{path} {}", sub.get_name()), sub);
    }
}

fn option(out: &mut String, arg: &Arg) {
    let mut names = Vec::new();
    if let Some(s) = arg.get_short() {
        names.push(format!("\\-{s}"));
    }
    if let Some(l) = arg.get_long() {
        names.push(format!("\\-\\-{}", escape(l)));
    }
    if names.is_empty() {
        return;
    }
    let value = match arg.get_value_names() {
        Some(v) if arg.get_action().takes_values() => format!(
            " \\fI{}\\fR",
            v.iter().map(|n| escape(n)).collect::<Vec<_>>().join(" ")
        ),
        _ => String::new(),
    };
    out.push_str(&format!(
        ".TP\n\\fB{}\\fR{value}\n{}\n",
        names.join(", "),
        escape(&text(arg.get_long_help().or(arg.get_help())))
    ));
}

fn text(s: Option<&clap::builder::StyledStr>) -> String {
    s.map(ToString::to_string).unwrap_or_default()
}

/// Text safe in roff: backslashes and hyphens escaped, no line starting
/// with a control character.
fn escape(s: &str) -> String {
    s.replace('\\', "\\e")
        .replace('-', "\\-")
        .lines()
        .map(|l| {
            if l.starts_with(['.', '\'']) {
                format!("\\&{l}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
