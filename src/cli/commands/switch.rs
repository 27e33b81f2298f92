//! `atom switch NAME`: make another trail the current one.

use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trail to switch to.
    name: String,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let info = trail.switch(&args.name)?;
    if ctx.printer.json {
        ctx.printer.json(&info)?;
        return Ok(());
    }
    let head = match &info.head {
        Some(h) => format!(
            "head {}, {} atom{}",
            safe(h),
            info.atoms,
            plural(info.atoms)
        ),
        None => "no atoms yet".to_owned(),
    };
    ctx.printer.out(&format!(
        "switched to trail {} ({head})\n",
        safe(&info.name)
    ))?;
    Ok(())
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
