//! `atom completions SHELL`: a completion script for bash, zsh, fish,
//! elvish or PowerShell on stdout.

use clap::CommandFactory as _;

use crate::cli::error::CliError;
use crate::cli::{Cli, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "atom", &mut script);
    ctx.printer.out(&String::from_utf8_lossy(&script))?;
    Ok(())
}
