//! `atom import FILE|-` and `atom import --from TOOL [PATH]`: append records
//! to the current trail, all or nothing, with a progress display on a
//! terminal. Another tool's data is turned into records by the library
//! (`atom::import::<tool>`) and goes through the same engine.

use std::io::BufRead;
use std::path::PathBuf;

use atom::import::{
    agent_trace, context_sync, d1, lines, ImportError, ImportOptions, ImportProgress, ImportReport,
};

use crate::cli::error::{CliError, EXIT_USAGE};
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A JSON-lines file (`atom export` output, or the seed system's atom_trail rows); `-` reads stdin.
    /// With --from: the other tool's data (context-sync: default $CONTEXT_SYNC_DB_PATH or ~/.context-sync/data.db;
    /// entire: the project repository, default the one around the current directory).
    #[arg(required_unless_present = "from")]
    file: Option<PathBuf>,
    /// Import another tool's data instead of JSON lines; importing it again adds only what is new.
    #[arg(long, value_enum, conflicts_with = "format")]
    from: Option<Source>,
    /// D1 (--from d1): Cloudflare account id (default: this store's mirror setting).
    #[arg(long, requires = "from")]
    account: Option<String>,
    /// D1 (--from d1): database id (default: this store's mirror setting).
    #[arg(long, requires = "from")]
    database: Option<String>,
    /// D1 (--from d1): API base URL (default: this store's setting, else Cloudflare's).
    #[arg(long, value_name = "URL", requires = "from")]
    api_base: Option<String>,
    /// What the lines of FILE are: atom records, or Agent Trace records (each becomes an EDIT atom).
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// Where the attachments' files are, each named by its sha256 (`export --attachments DIR`).
    #[arg(long, value_name = "DIR")]
    attachments: Option<PathBuf>,
    /// Give each record the next free number of its day here instead of its own id (for an
    /// export from another store whose ids this one has taken); links follow.
    #[arg(long)]
    renumber: bool,
}

/// The line formats `import FILE` reads.
#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
enum Format {
    /// Atom records (`atom export`) or the seed system's atom_trail rows.
    Jsonl,
    /// Agent Trace records (agent-trace.dev), as `.agent-trace/traces.jsonl` holds them.
    AgentTrace,
}

/// The tools whose data `--from` reads.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Source {
    /// A context-sync memory database (SQLite).
    ContextSync,
    /// The seed system's atom_trail table in its Cloudflare D1 database (token in CLOUDFLARE_API_TOKEN).
    D1,
    /// Entire's checkpoints in a project repository (entire/checkpoints/v1, refs/entire/checkpoints/).
    Entire,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let show = ctx.printer.progress_enabled();
    let mut progress = |p| {
        if show {
            match p {
                ImportProgress::Lines(n) => eprint!("\rimporting: {n} atoms signed"),
                ImportProgress::Indexing(n) => eprint!("\rimporting: {n} atoms signed, indexing"),
            }
        }
    };
    let options = ImportOptions {
        attachments: args.attachments,
        renumber: args.renumber,
    };
    let result = match (args.from, args.file) {
        (Some(Source::ContextSync), file) => {
            let db = file.unwrap_or_else(context_sync_db);
            context_sync::records(&db).and_then(|records| {
                let mut records = records.into_iter();
                trail.import_records(&mut || Ok(records.next()), &options, &mut progress)
            })
        }
        (Some(Source::D1), _) => {
            let client = d1_client(trail, args.account, args.database, args.api_base)?;
            d1::records(&client).and_then(|records| {
                let mut records = records.into_iter();
                trail.import_records(&mut || Ok(records.next()), &options, &mut progress)
            })
        }
        (Some(Source::Entire), repo) => {
            let repo = repo.unwrap_or_else(|| PathBuf::from("."));
            trail.import_entire(&repo, &options, &mut progress)
        }
        (None, Some(file)) => import_file(trail, &file, args.format, &options, &mut progress),
        (None, None) => unreachable!("clap requires FILE without --from"),
    };
    if show {
        eprint!("\r\x1b[K");
    }
    report(ctx, result)
}

/// The D1 client for `--from d1`: the given database, else the store's mirror.
fn d1_client(
    trail: &atom::Trail,
    account: Option<String>,
    database: Option<String>,
    api_base: Option<String>,
) -> Result<atom::mirror::d1::D1Client, CliError> {
    let configured = trail.mirror_settings();
    let account = account.or_else(|| configured.as_ref().map(|s| s.account.clone()));
    let database = database.or_else(|| configured.as_ref().map(|s| s.database.clone()));
    let api_base = api_base.or_else(|| configured.as_ref().map(|s| s.api_base.clone()));
    let (Some(account), Some(database)) = (account, database) else {
        return Err(CliError::usage(
            "import --from d1 needs the D1 database: no --account/--database given and this store has no mirror configured",
            "atom import --from d1 --account ID --database ID (token in CLOUDFLARE_API_TOKEN)",
        ));
    };
    let settings = atom::mirror::MirrorSettings::new(&account, &database, api_base.as_deref())?;
    Ok(atom::mirror::d1::D1Client::from_env(&settings.target())
        .map_err(atom::mirror::MirrorError::from)?)
}

/// context-sync's own default: `$CONTEXT_SYNC_DB_PATH`, else `~/.context-sync/data.db`.
fn context_sync_db() -> PathBuf {
    if let Some(p) = std::env::var_os("CONTEXT_SYNC_DB_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".context-sync").join("data.db")
}

/// Import a JSON-lines file (`-`: stdin).
fn import_file(
    trail: &atom::Trail,
    file: &std::path::Path,
    format: Format,
    options: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportReport, ImportError> {
    let mut input: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(file) {
            Ok(f) => Box::new(std::io::BufReader::with_capacity(1 << 20, f)),
            Err(e) => {
                return Err(ImportError::Open(format!(
                    "cannot read {}: {e}",
                    file.display()
                )))
            }
        }
    };
    if format == Format::Jsonl {
        return trail.import_with(&mut input, options, progress);
    }
    let mut next = lines(&mut input, |line: String| agent_trace::to_record(&line));
    trail.import_records(&mut next, options, progress)
}

/// Print what an import did, or map its error to exit code and hint.
fn report(ctx: &Ctx, result: Result<ImportReport, ImportError>) -> Result<(), CliError> {
    let report = match result {
        Ok(r) => r,
        Err(ImportError::Trail(e)) => return Err(e.into()),
        Err(e @ ImportError::Line { .. }) => {
            let message = e.to_string();
            let hint = if message.contains("already an atom of this store")
                || message.contains("already holds an atom of that day")
                || message.contains("ids of one day must increase")
            {
                "this store has atoms of those days: `atom import --renumber FILE` gives the records the next free numbers (links follow)"
            } else {
                "fix that line and import the file again: fields that are present (ids, timestamps, digests, links) must check out; leave out what atom should compute"
            };
            return Err(CliError {
                code: EXIT_USAGE,
                message: format!("{message}; nothing was imported"),
                hint: Some(hint.into()),
            });
        }
        Err(e @ ImportError::Row { .. }) => {
            let hint = if matches!(&e, ImportError::Row { row, .. } if row.starts_with("entire ")) {
                "that checkpoint is not as Entire writes it: fix or remove it (see `git ls-tree` of its branch or ref) and import again; what was imported before is skipped"
            } else {
                "fix or remove that row in the source and import again; rows imported before are skipped"
            };
            return Err(CliError::usage(format!("{e}; nothing was imported"), hint));
        }
        Err(ImportError::Open(message)) => {
            return Err(CliError::usage(
                message,
                "check the file name and its permissions; `-` reads stdin",
            ))
        }
        Err(ImportError::Source(message)) => {
            return Err(CliError::usage(
                format!("{message}; nothing was imported"),
                "check the source: atom import --from context-sync PATH, --from entire REPO, or --from d1 with --account/--database and CLOUDFLARE_API_TOKEN",
            ))
        }
        Err(e @ ImportError::Read(_)) => {
            return Err(CliError::usage(
                format!("{e}; nothing was imported"),
                "the input must be UTF-8 JSON lines",
            ))
        }
    };
    if ctx.printer.json {
        ctx.printer.json(&report)?;
    } else if report.imported == 0 && report.skipped > 0 {
        ctx.printer.out(&format!(
            "nothing new to import ({} already imported)\n",
            report.skipped
        ))?;
    } else if report.imported == 0 {
        ctx.printer.out("nothing to import\n")?;
    } else {
        ctx.printer.out(&format!(
            "imported {} atom{} onto trail {} ({} .. {}){}\n",
            report.imported,
            if report.imported == 1 { "" } else { "s" },
            safe(&report.trail),
            report
                .first
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            report
                .last
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            if report.skipped > 0 {
                format!("; {} already imported", report.skipped)
            } else {
                String::new()
            },
        ))?;
    }
    Ok(())
}
