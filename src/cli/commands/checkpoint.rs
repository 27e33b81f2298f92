//! `atom checkpoint [--verifier-key | --witness-key]`: the transparency
//! log's latest signed checkpoint, or the keys a third party needs.

use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print this store's note verifier key (C2SP signed-note,
    /// `name+keyid+base64(0x01 || key)`): what checks its checkpoints and proofs.
    #[arg(long, conflicts_with = "witness_key")]
    verifier_key: bool,
    /// Print the key this store cosigns other stores' checkpoints with
    /// (C2SP tlog-cosignature, type 0x04).
    #[arg(long)]
    witness_key: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let p = &ctx.printer;
    if args.verifier_key || args.witness_key {
        let key = if args.verifier_key {
            trail.verifier_key()?
        } else {
            trail.witness_key()?
        };
        if p.json {
            p.json(&serde_json::json!({ "key": key }))?;
        } else {
            p.out(&format!("{key}\n"))?;
        }
        return Ok(());
    }
    let Some(view) = trail.checkpoint()? else {
        return Err(CliError::problem(
            "the transparency log is empty: no atom was recorded yet",
            Some("`atom record` appends the first leaf and signs the first checkpoint".into()),
        ));
    };
    if p.json {
        p.json(&view)?;
    } else {
        // The note verbatim: it is what others verify, byte for byte.
        p.out(&safe_note(&view.note))?;
    }
    Ok(())
}

/// The note as is, unless it holds characters a terminal would act on.
fn safe_note(note: &str) -> String {
    note.lines().map(|l| format!("{}\n", safe(l))).collect()
}
