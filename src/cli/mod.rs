//! Everything clap: the command enum and the one dispatch match.

mod commands;
mod dates;
mod error;
mod man;
mod output;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use atom::Trail;
use error::CliError;
use output::Printer;

/// A tamper-evident, shareable audit trail of what AI agents and people did.
#[derive(Debug, Parser)]
#[command(name = "atom", version, about, max_term_width = 100)]
pub struct Cli {
    /// The store directory (default: $ATOM_HOME, else $XDG_DATA_HOME/atom, else ~/.local/share/atom).
    #[arg(long, global = true, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Act on this trail without switching to it (default: $ATOM_TRAIL, else the current trail).
    #[arg(long, global = true, value_name = "NAME")]
    trail: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Print less: no notes or progress on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Never page output (`atom log` on a terminal goes through $ATOM_PAGER, $PAGER or less).
    #[arg(long, global = true)]
    no_pager: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the store (idempotent; records no atom).
    #[command(
        after_help = "Examples:\n  atom init\n  ATOM_HOME=$(mktemp -d) atom init    # a throwaway store\n  atom init --key ~/.ssh/id_ed25519"
    )]
    Init(commands::init::Args),
    /// Append one atom to the current trail; prints its id.
    #[command(
        after_help = "Examples:\n  atom record CFG modify_file --agent qwen --set path=gaming.env\n  atom record DECISION save_decision --summary \"use SQLite\" --influenced-by ATOM-RESEARCH-20241127-001\n  atom record TASK plan --trail experiment --tokens 1200"
    )]
    Record(Box<commands::record::Args>),
    /// List atoms, newest first.
    #[command(
        after_help = "Examples:\n  atom log -n 20\n  atom log --type cfg --agent qwen --since yesterday\n  atom log @~5..            # the last five\n  atom log main..experiment  # what the fork added\n  atom log --all --graph"
    )]
    Log(Box<commands::log::Args>),
    /// Show one atom: record, commit, signature status, links.
    #[command(
        after_help = "Examples:\n  atom show @\n  atom show atom-cfg-20241127-003\n  atom --json show @~2"
    )]
    Show(commands::show::Args),
    /// Write an attachment's bytes to stdout (NAME needed when the atom has several).
    #[command(
        after_help = "Examples:\n  atom cat @\n  atom cat ATOM-CFG-20241127-003 gaming.env > gaming.env"
    )]
    Cat(commands::cat::Args),
    /// Where things stand: store, trail, head, remotes ahead/behind, mirror, hooks, checkpoint.
    #[command(after_help = "Examples:\n  atom status\n  atom --json status --trail experiment")]
    Status(commands::status::Args),
    /// Check git, index, log, signing key, mirror and remotes; say how to fix each problem.
    #[command(after_help = "Examples:\n  atom doctor\n  atom --json doctor")]
    Doctor(commands::doctor::Args),
    /// Rebuild the index from git (--check: compare only).
    #[command(after_help = "Examples:\n  atom reindex\n  atom reindex --check")]
    Reindex(commands::reindex::Args),
    /// Verify digests, links, id order and signatures of every atom; exit 1 on any failure.
    #[command(
        after_help = "Examples:\n  atom verify\n  atom verify --all\n  atom verify experiment"
    )]
    Verify(commands::verify::Args),
    /// Start a new trail at an atom (default: the current trail's head).
    #[command(
        after_help = "Examples:\n  atom fork experiment\n  atom fork retry --from @~3 --switch"
    )]
    Fork(commands::fork::Args),
    /// Make another trail the current one.
    #[command(after_help = "Examples:\n  atom switch experiment")]
    Switch(commands::switch::Args),
    /// List the trails (head atom, count, which one is current); delete or rename one.
    #[command(visible_alias = "trail")]
    #[command(
        after_help = "Examples:\n  atom trails\n  atom trails rename experiment tried\n  atom trails delete tried"
    )]
    Trails(commands::trails::Args),
    /// Reset the current trail to an atom, archiving what it discards, and record a ROLLBACK atom.
    #[command(
        after_help = "Examples:\n  atom rollback @~2\n  atom rollback ATOM-CFG-20241127-003"
    )]
    Rollback(commands::rollback::Args),
    /// Manage whose signatures this store trusts (keys/allowed_signers).
    #[command(
        after_help = "Examples:\n  atom signers list\n  atom signers add alice ~/.ssh/id_ed25519.pub\n  atom signers retire alice --at today"
    )]
    Signers(commands::signers::Args),
    /// Full-text search over summaries and metadata, newest match first.
    #[command(
        after_help = "Examples:\n  atom search gaming.env\n  atom search qwen\n  atom search 'deploy*' -n 5"
    )]
    Search(commands::search::Args),
    /// Run one read-only SQL statement over the index (tables: atoms, trail_atoms, influences, paths).
    #[command(
        after_help = "Examples:\n  atom query \"SELECT agent, count(*) FROM atoms GROUP BY agent\""
    )]
    Query(commands::query::Args),
    /// Provenance: what an atom built on (--down: what built on it).
    #[command(
        after_help = "Examples:\n  atom trace @\n  atom trace ATOM-RESEARCH-20241127-001 --down --format mermaid"
    )]
    Trace(commands::trace::Args),
    /// Atom counts and token cost by agent, type, day or project.
    #[command(
        after_help = "Examples:\n  atom stats\n  atom stats --by day --since 7d\n  atom stats --by type --trail experiment"
    )]
    Stats(commands::stats::Args),
    /// A read-only web view: timeline, trail graph, provenance, token spend, status; JSON under /api/.
    #[command(
        after_help = "Examples:\n  atom serve --open\n  atom serve --listen 127.0.0.1:0    # a free port, printed\n  ATOM_SERVE_TOKEN=... atom serve --listen 0.0.0.0:8765 --allow-remote"
    )]
    Serve(commands::serve::Args),
    /// Serve the store to AI agents over the Model Context Protocol (stdio).
    #[command(after_help = "Examples:\n  atom mcp --agent claude-code --project bazza-dx")]
    Mcp(commands::mcp::Args),
    /// Manage the remotes trails are shared through.
    #[command(
        after_help = "Examples:\n  atom remote add origin git@example.com:me/trail.git\n  atom remote list"
    )]
    Remote(commands::remote::Args),
    /// Publish trails, archived tips and trusted keys on a remote.
    #[command(after_help = "Examples:\n  atom push\n  atom push origin experiment")]
    Push(commands::push::Args),
    /// Fetch a remote's trails, verify every new atom, then fast-forward or merge.
    #[command(after_help = "Examples:\n  atom pull\n  atom pull origin main")]
    Pull(commands::pull::Args),
    /// Sync that runs by itself: `sync auto git|d1|both` pushes new atoms in the background;
    /// `sync` alone runs one round now.
    #[command(
        after_help = "Examples:\n  atom sync auto git              # push to origin after each new atom\n  atom sync auto both --debounce 10\n  atom sync                       # one round now (retry after an error)\n  atom sync auto off"
    )]
    Sync(commands::sync::Args),
    /// Make a new store from a remote, trusting the keys it publishes on first use.
    #[command(
        after_help = "Examples:\n  atom clone git@example.com:me/trail.git ~/.local/share/atom"
    )]
    Clone(commands::clone::Args),
    /// Print the manual page (roff), generated from this command line: `atom man | man -l -`.
    #[command(
        after_help = "Examples:\n  atom man | man -l -\n  atom man > ~/.local/share/man/man1/atom.1"
    )]
    Man,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  atom completions bash > ~/.local/share/bash-completion/completions/atom"
    )]
    Completions(commands::completions::Args),
    /// Git hooks in a project repo: each commit becomes a COMMIT atom, noted on the commit.
    #[command(
        after_help = "Examples:\n  atom hooks install\n  atom hooks uninstall --repo ~/src/project"
    )]
    Hooks(commands::hooks::Args),
    /// Coding agents' hooks: install, uninstall, list; their events become atoms.
    #[command(
        after_help = "Examples:\n  atom agents install claude-code codex\n  atom agents install --user gemini\n  atom agents list\n  atom agents uninstall cursor"
    )]
    Agents(commands::agents::Args),
    /// Run by the installed git and agent hooks; never fails a commit or an agent.
    #[command(hide = true)]
    Hook(commands::hook::Args),
    /// Optional Cloudflare D1 mirror: configure, push, status, restore.
    #[command(
        after_help = "Examples:\n  atom mirror configure --account ID --database ID\n  atom mirror push\n  atom mirror status"
    )]
    Mirror(commands::mirror::Args),
    /// Print a trail's records as JSON lines, oldest first.
    #[command(
        after_help = "Examples:\n  atom export > trail.jsonl\n  atom export @~10..    # the last ten"
    )]
    Export(commands::export::Args),
    /// Append JSON-lines records to the current trail, all or nothing (`-` reads stdin).
    #[command(
        after_help = "Examples:\n  atom import trail.jsonl\n  atom export | atom --store /tmp/other import -\n  atom import --from entire ~/src/project"
    )]
    Import(commands::import::Args),
    /// The transparency log's latest signed checkpoint, or its verifier and witness keys.
    #[command(after_help = "Examples:\n  atom checkpoint\n  atom checkpoint --verifier-key")]
    Checkpoint(commands::checkpoint::Args),
    /// Prove an atom is in the transparency log (C2SP tlog-proof), or check such a proof.
    #[command(
        after_help = "Examples:\n  atom prove @ > proof.txt\n  atom prove --check proof.txt --key \"$(atom checkpoint --verifier-key)\""
    )]
    Prove(commands::prove::Args),
}

/// Context every command gets.
pub struct Ctx {
    pub home: PathBuf,
    /// The trail to act on instead of HEAD's (`--trail`, `ATOM_TRAIL`).
    pub selected: Option<String>,
    pub printer: Printer,
    trail: std::cell::OnceCell<Trail>,
    /// Record what the hooks' spool holds before reading (every command
    /// but `atom agents`, which drains or reports it).
    drain_spool: bool,
}

/// How long a command waits for a drain that runs already before it reads.
const SPOOL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Ctx {
    /// The context of one command: the store (`--store`, else the default),
    /// the trail `--trail` or `ATOM_TRAIL` selects, and how to print.
    fn new(
        store: Option<PathBuf>,
        trail: Option<String>,
        printer: Printer,
        drain_spool: bool,
    ) -> Result<Ctx, CliError> {
        let selected = selected_trail(trail)?;
        // Appends start the automatic sync worker as this program.
        if let Ok(exe) = std::env::current_exe() {
            atom::sync::auto::set_worker_program(exe);
        }
        Ok(Ctx {
            home: store.unwrap_or_else(Trail::default_home),
            selected,
            printer,
            trail: std::cell::OnceCell::new(),
            drain_spool,
        })
    }

    /// Open the store on the selected trail, or explain how to create it.
    pub fn open(&self) -> Result<&Trail, CliError> {
        if let Some(t) = self.trail.get() {
            return Ok(t);
        }
        let t = Trail::open_on(&self.home, self.selected.as_deref())?;
        // What hooks spooled (a commit just made, an agent's last tool
        // call) is recorded before the command reads, so that it sees it.
        if self.drain_spool && atom::agents::spool::has_pending(&self.home) {
            if let Err(e) = atom::agents::drain(&t, SPOOL_WAIT) {
                self.printer.note(&format!(
                    "warning: events spooled by hooks not recorded yet: {e}"
                ));
            }
        }
        // A round of automatic sync that a killed worker left unfinished.
        t.resume_sync();
        Ok(self.trail.get_or_init(|| t))
    }

    /// Print what the store noticed on the way (an index rebuilt, ...).
    fn print_notices(&self) {
        if let Some(t) = self.trail.get() {
            for n in t.take_notices() {
                self.printer.note(&format!("note: {n}"));
            }
        }
    }
}

/// Parse arguments, run the command, print any error; returns the exit code.
pub fn run() -> ExitCode {
    // Hooks run on every commit and every agent event: the command lines
    // the installed hooks use skip building clap's whole command tree
    // (most of a hook's own time). Any other shape goes through clap.
    if let Some((store, args)) = commands::hook::direct(std::env::args_os()) {
        return match Ctx::new(store, None, Printer::new(false, false), true) {
            Ok(ctx) => {
                commands::hook::run(&ctx, args);
                ExitCode::SUCCESS
            }
            Err(e) => {
                e.print();
                ExitCode::from(e.code)
            }
        };
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { error::EXIT_USAGE } else { 0 };
            print_parse_error(&e);
            return ExitCode::from(code);
        }
    };
    let printer = if cli.no_pager {
        Printer::new(cli.json, cli.quiet).without_pager()
    } else {
        Printer::new(cli.json, cli.quiet)
    };
    let drain_spool = !matches!(cli.command, Command::Agents(_));
    let ctx = match Ctx::new(cli.store, cli.trail, printer, drain_spool) {
        Ok(ctx) => ctx,
        Err(e) => {
            e.print();
            return ExitCode::from(e.code);
        }
    };
    let result = match cli.command {
        Command::Init(args) => commands::init::run(&ctx, args),
        Command::Record(args) => commands::record::run(&ctx, *args),
        Command::Log(args) => commands::log::run(&ctx, *args),
        Command::Show(args) => commands::show::run(&ctx, args),
        Command::Cat(args) => commands::cat::run(&ctx, args),
        Command::Status(args) => commands::status::run(&ctx, args),
        Command::Doctor(args) => commands::doctor::run(&ctx, args),
        Command::Reindex(args) => commands::reindex::run(&ctx, args),
        Command::Verify(args) => commands::verify::run(&ctx, args),
        Command::Checkpoint(args) => commands::checkpoint::run(&ctx, args),
        Command::Prove(args) => commands::prove::run(&ctx, args),
        Command::Fork(args) => commands::fork::run(&ctx, args),
        Command::Switch(args) => commands::switch::run(&ctx, args),
        Command::Trails(args) => commands::trails::run(&ctx, args),
        Command::Rollback(args) => commands::rollback::run(&ctx, args),
        Command::Signers(args) => commands::signers::run(&ctx, args),
        Command::Search(args) => commands::search::run(&ctx, args),
        Command::Query(args) => commands::query::run(&ctx, args),
        Command::Trace(args) => commands::trace::run(&ctx, args),
        Command::Stats(args) => commands::stats::run(&ctx, args),
        Command::Serve(args) => commands::serve::run(&ctx, args),
        Command::Mcp(args) => commands::mcp::run(&ctx, args),
        Command::Remote(args) => commands::remote::run(&ctx, args),
        Command::Push(args) => commands::push::run(&ctx, args),
        Command::Pull(args) => commands::pull::run(&ctx, args),
        Command::Sync(args) => commands::sync::run(&ctx, args),
        Command::Clone(args) => commands::clone::run(&ctx, args),
        Command::Man => ctx
            .printer
            .out(&man::render(&Cli::command()))
            .map_err(CliError::from),
        Command::Completions(args) => commands::completions::run(&ctx, args),
        Command::Hooks(args) => commands::hooks::run(&ctx, args),
        Command::Agents(args) => commands::agents::run(&ctx, args),
        Command::Hook(args) => {
            commands::hook::run(&ctx, args);
            Ok(())
        }
        Command::Mirror(args) => commands::mirror::run(&ctx, args),
        Command::Export(args) => commands::export::run(&ctx, args),
        Command::Import(args) => commands::import::run(&ctx, args),
    };
    ctx.print_notices();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.print();
            ExitCode::from(e.code)
        }
    }
}

/// The trail `--trail` or `ATOM_TRAIL` names. `--trail` named the store
/// directory before `--store` did: a path (trail names have no `/`) or a
/// directory holding a store is refused with a hint, never taken for a
/// trail.
fn selected_trail(flag: Option<String>) -> Result<Option<String>, CliError> {
    let (name, source) = match flag {
        Some(name) => (name, "--trail"),
        None => match std::env::var("ATOM_TRAIL") {
            Ok(name) if !name.is_empty() => (name, "ATOM_TRAIL"),
            _ => return Ok(None),
        },
    };
    let path = std::path::Path::new(&name);
    if name.contains(['/', '\\']) || path.join("trail.git").is_dir() {
        return Err(CliError::usage(
            format!("{source} names a trail, and {name:?} is a directory"),
            format!(
                "select a store with --store {} (or ATOM_HOME)",
                atom::shell::quote(&name)
            ),
        ));
    }
    Ok(Some(name))
}

/// Print clap's message, unless an argument holds a private key (pasted
/// where a public key belongs): clap would echo it back.
fn print_parse_error(e: &clap::Error) {
    if std::env::args_os().any(|a| a.to_string_lossy().contains("PRIVATE KEY")) {
        CliError::usage(
            "an argument holds a private key (not shown); atom never takes private keys on the command line",
            "give the public key instead: its `ssh-ed25519 AAAA...` line or the path of the .pub file",
        )
        .print();
        return;
    }
    if !e.use_stderr()
        || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    {
        // --help, --version, or `atom` alone: clap's own text.
        let _ = e.print();
        return;
    }
    // SPEC §5: one `error:` line and one hint, here the usage line. What
    // clap says on several lines (missing arguments, possible values) is
    // folded into the error line.
    let text = e.render().to_string();
    let mut lines = text.lines();
    let mut first = lines
        .next()
        .unwrap_or("error: invalid arguments")
        .trim_start_matches("error: ")
        .to_owned();
    for l in lines.take_while(|l| !l.trim().is_empty()) {
        first.push(' ');
        first.push_str(l.trim());
    }
    let tip = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("tip: "))
        .map(str::to_owned);
    let usage = text
        .lines()
        .find_map(|l| l.strip_prefix("Usage: "))
        .map(|u| format!("usage: {u}; more with --help"));
    let hint = match (tip, usage) {
        (Some(t), Some(u)) => format!("{t}; {u}"),
        (Some(t), None) => t,
        (None, Some(u)) => u,
        (None, None) => "run `atom --help` for usage".to_owned(),
    };
    CliError::usage(first, hint).print();
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return CliError::output_closed();
        }
        CliError::problem(format!("writing output: {e}"), None)
    }
}
