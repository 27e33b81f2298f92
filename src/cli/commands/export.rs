//! `atom export [REV] [--format jsonl|agent-trace]`: the records of a trail
//! as JSON lines, oldest first, exactly as stored, or as Agent Trace records.

use crate::cli::error::CliError;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A trail, an atom id (any case), a commit sha prefix, @, REV~N, or a range A..B (in B, not in A) (default: the current trail).
    rev: Option<String>,
    /// The output format.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// Also write each attachment into DIR, named by its sha256 (what `import --attachments` reads).
    #[arg(long, value_name = "DIR")]
    attachments: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// One record per line.
    Jsonl,
    /// Agent Trace records (agent-trace.dev) of the atoms that name files, one per line.
    AgentTrace,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = match args.format {
        Format::Jsonl => {
            trail.export_with(args.rev.as_deref(), &mut out, args.attachments.as_deref())
        }
        Format::AgentTrace => trail.export_agent_trace(args.rev.as_deref(), &mut out),
    };
    match result {
        Err(atom::TrailError::Store(atom::store::StoreError::Io { source, .. }))
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            return Err(CliError::output_closed())
        }
        other => other?,
    };
    std::io::Write::flush(&mut out)?;
    Ok(())
}
