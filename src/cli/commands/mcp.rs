//! `atom mcp [--agent A] [--project P]`: serve the store to MCP clients over
//! stdio until they close it (SPEC §9).

use atom::mcp::{self, Options};

use crate::cli::error::CliError;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Attribute atoms to this agent unless a call names one (default: the name the MCP client
    /// sends when it connects, else $ATOM_AGENT, git's user.name, $USER).
    #[arg(long)]
    agent: Option<String>,
    /// The project of new atoms unless a call names one, and whose latest atoms the
    /// session-start prompt and resource show.
    #[arg(long)]
    project: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    if let Some(agent) = &args.agent {
        atom::model::validate_agent(agent).map_err(|e| {
            CliError::usage(
                format!("invalid --agent: {e}"),
                "an agent is a name on one line, e.g. --agent claude-code",
            )
        })?;
    }
    // Refuse to start on a missing store: the client shows this error.
    ctx.open()?;
    let options = Options {
        agent: args.agent,
        project: args.project,
        trail: ctx.selected.clone(),
    };
    mcp::serve(&ctx.home, options).map_err(|e| CliError::problem(e.to_string(), None))
}
