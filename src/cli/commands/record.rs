//! `atom record TYPE OPERATION ...`: append one atom.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use atom::links;
use atom::Draft;
use serde_json::{Map, Value};

use crate::cli::dates;
use crate::cli::error::CliError;
use crate::cli::Ctx;

/// The largest metadata document accepted (`--meta`, `--meta-file`).
pub const MAX_METADATA_BYTES: usize = 8 * 1024 * 1024;
/// The largest attachment accepted.
pub const MAX_ATTACHMENT_BYTES: u64 = atom::store::MAX_BLOB_BYTES;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The atom's TYPE: CFG, DECISION, RESEARCH, TASK, ... ([A-Z][A-Z0-9_]{0,31}).
    #[arg(value_name = "TYPE")]
    atom_type: String,
    /// What was done: modify_file, research, save_decision, ... ([a-z][a-z0-9_.-]*).
    operation: String,
    /// Who did it (default: $ATOM_AGENT, else git's user.name, else $USER).
    #[arg(long)]
    agent: Option<String>,
    /// One line for humans.
    #[arg(long, default_value = "")]
    summary: String,
    /// Metadata as a JSON object: '{"path":"gaming.env"}'.
    #[arg(long, value_name = "JSON", conflicts_with = "meta_file")]
    meta: Option<String>,
    /// Read the metadata JSON object from FILE ('-' for stdin).
    #[arg(long, value_name = "FILE")]
    meta_file: Option<PathBuf>,
    /// Set one metadata key to a string value (repeatable; applied after --meta).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// An atom this one built on (repeatable).
    #[arg(long = "influenced-by", value_name = "ID")]
    influenced_by: Vec<String>,
    /// The project it belongs to.
    #[arg(long)]
    project: Option<String>,
    /// Tokens spent (a non-negative integer).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    tokens: Option<String>,
    /// Store FILE with the atom (repeatable); its name is the file name.
    #[arg(long = "attach", value_name = "FILE")]
    attach: Vec<PathBuf>,
    /// The time of the atom: RFC 3339, YYYY-MM-DD (midnight UTC), today, yesterday, Nd, Nh (default: now).
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Mask secrets (private keys, tokens) in the summary, project, agent
    /// and metadata as [REDACTED:<kind>] instead of refusing them.
    #[arg(long)]
    redact: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let redact = args.redact;
    let (mut draft, links) = draft(args)?;
    let trail = ctx.open()?;
    for handle in &links {
        trail.link(&mut draft, handle)?;
    }
    if redact {
        for masked in trail.redact_draft(&mut draft)? {
            ctx.printer
                .note(&format!("note: masked {} in {}", masked.kind, masked.field));
        }
    }
    let atom = trail.record(draft)?;
    if ctx.printer.json {
        ctx.printer.json(&atom)?;
    } else {
        ctx.printer.out(&format!("{}\n", atom.record.atom_id))?;
    }
    Ok(())
}

/// The draft, and the `--influenced-by` handles to link once the store is open.
fn draft(args: Args) -> Result<(Draft, Vec<String>), CliError> {
    let mut metadata = match (&args.meta, &args.meta_file) {
        (Some(json), _) => parse_metadata(json.as_bytes(), "--meta")?,
        (None, Some(path)) => parse_metadata(&read_meta_file(path)?, "--meta-file")?,
        (None, None) => Map::new(),
    };
    for kv in &args.set {
        let (k, v) = kv
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| {
                CliError::usage(
                    format!("invalid --set {kv:?}: expected KEY=VALUE"),
                    "e.g. --set path=gaming.env (use --meta for numbers, lists and objects)",
                )
            })?;
        metadata.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    let influenced_by = args
        .influenced_by
        .iter()
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().to_owned())
        .collect::<Vec<_>>();
    if let Some(bad) = influenced_by.iter().position(|h| !links::is_handle(h)) {
        return Err(CliError::usage(
            format!(
                "invalid --influenced-by (value {}): not an atom id, ID@<commit sha prefix> or a commit sha prefix",
                bad + 1
            ),
            "ids look like ATOM-RESEARCH-20241127-002; ID@<commit sha prefix> names one of several atoms with that id",
        ));
    }
    let token_cost = args
        .tokens
        .as_deref()
        .map(|t| {
            t.parse::<u64>().map_err(|_| {
                CliError::usage(
                    format!("invalid --tokens {t:?}: must be a non-negative integer"),
                    "e.g. --tokens 1200",
                )
            })
        })
        .transpose()?;
    let at = args
        .at
        .as_deref()
        .map(|s| dates::parse("--at", s))
        .transpose()?;
    let mut attachments = Vec::with_capacity(args.attach.len());
    let mut total = 0u64;
    for path in &args.attach {
        let (name, bytes) = read_attachment(path)?;
        total += bytes.len() as u64;
        if total > atom::store::MAX_ATOM_FILES_BYTES {
            return Err(CliError::usage(
                format!(
                    "the attachments add up to more than {} MiB",
                    atom::store::MAX_ATOM_FILES_BYTES >> 20
                ),
                "attach fewer or smaller files, over several atoms",
            ));
        }
        attachments.push((name, bytes));
    }
    let draft = Draft {
        atom_type: args.atom_type,
        operation: args.operation,
        agent: args.agent,
        summary: args.summary,
        metadata,
        influenced_by: Vec::new(),
        project: args.project.filter(|p| !p.is_empty()),
        token_cost,
        attachments,
        at,
    };
    Ok((draft, influenced_by))
}

fn read_meta_file(path: &Path) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    let limit = MAX_METADATA_BYTES as u64 + 1;
    let result = if path == Path::new("-") {
        std::io::stdin().lock().take(limit).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut bytes))
    };
    result.map_err(|e| {
        CliError::usage(
            format!("cannot read --meta-file {}: {e}", path.display()),
            "give a readable file, or - for stdin",
        )
    })?;
    Ok(bytes)
}

fn parse_metadata(bytes: &[u8], flag: &str) -> Result<Map<String, Value>, CliError> {
    if bytes.len() > MAX_METADATA_BYTES {
        return Err(CliError::usage(
            format!(
                "metadata from {flag} is larger than {} MiB",
                MAX_METADATA_BYTES >> 20
            ),
            "store large content as an attachment (--attach FILE) instead",
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        CliError::usage(
            format!("invalid metadata from {flag}: not JSON ({e})"),
            r#"metadata is a JSON object, e.g. --meta '{"path":"gaming.env"}'"#,
        )
    })?;
    let text = std::str::from_utf8(bytes).expect("serde_json parsed it as UTF-8");
    atom::canonical::check_numbers(text, "metadata").map_err(|e| {
        CliError::usage(
            format!("invalid metadata from {flag}: {e}"),
            r#"canonical JSON (RFC 8785) keeps numbers as IEEE doubles; put such a number in a string, e.g. {"n": "1e16"}"#,
        )
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(CliError::usage(
            format!(
                "invalid metadata from {flag}: a JSON object is required, got {}",
                kind(&other)
            ),
            r#"wrap it in an object, e.g. --meta '{"value": ...}'"#,
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn read_attachment(path: &Path) -> Result<(String, Vec<u8>), CliError> {
    let bad = |why: String| {
        CliError::usage(
            format!("cannot attach {}: {why}", path.display()),
            "--attach takes the path of a readable regular file",
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    if meta.len() > MAX_ATTACHMENT_BYTES {
        return Err(bad(format!(
            "larger than {} MiB",
            MAX_ATTACHMENT_BYTES >> 20
        )));
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| bad("the file name is not UTF-8".into()))?
        .to_owned();
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    Ok((name, bytes))
}
