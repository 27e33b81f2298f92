//! `atom cat ID [NAME]`: an attachment's bytes on stdout, exactly as
//! recorded. On a terminal (SPEC §8) text is shown with control characters
//! made visible and binary is refused; redirected, the bytes are written as
//! they are.

use atom::shell::quote;

use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The atom: an atom id (any case), a trail, a commit sha prefix, @ or REV~N.
    id: String,
    /// The attachment's name (needed only when the atom has several).
    name: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    if ctx.printer.json {
        return Err(CliError::usage(
            "`atom cat` writes an attachment's bytes; --json has nothing to add to them",
            format!(
                "`atom --json show {}` lists the attachments (name, size, sha256)",
                quote(&args.id)
            ),
        ));
    }
    let trail = ctx.open()?;
    let content = trail.attachment(&args.id, args.name.as_deref())?;
    if !ctx.printer.stdout_is_terminal() {
        return Ok(ctx.printer.out_bytes(&content.bytes)?);
    }
    let name = &content.attachment.name;
    let Ok(text) = std::str::from_utf8(&content.bytes) else {
        return Err(CliError::usage(
            format!(
                "{name} of {} is binary ({} bytes); atom does not write binary to a terminal",
                content.atom, content.attachment.size
            ),
            format!(
                "redirect it: atom cat {} {} > FILE",
                content.atom,
                quote(name)
            ),
        ));
    };
    // Text a terminal would act on is shown escaped, line by line.
    let mut shown = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        shown.push_str(&safe(body));
        shown.push_str(end);
    }
    ctx.printer.out(&shown)?;
    Ok(())
}
