//! Output: data to stdout, human or `--json`; warnings and progress to
//! stderr. Colour only on a terminal and never with `NO_COLOR`.

use std::io::{self, IsTerminal as _, Write as _};

use serde::Serialize;

/// How the user asked to see results.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub json: bool,
    quiet: bool,
    color: bool,
}

impl Printer {
    pub fn new(json: bool, quiet: bool) -> Self {
        let color =
            io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Printer { json, quiet, color }
    }

    /// Write `text` to stdout.
    pub fn out(&self, text: &str) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// Write one value as pretty JSON plus a newline.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> io::Result<()> {
        let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        text.push('\n');
        self.out(&text)
    }

    /// A note for humans on stderr (hidden by `-q`).
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// Whether to draw progress: stderr is a terminal and `-q` was not given.
    pub fn progress_enabled(&self) -> bool {
        !self.quiet && io::stderr().is_terminal()
    }

    /// `text` in the ANSI colour `code` when colour is on.
    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// Yellow, as git shows commit ids.
pub const YELLOW: &str = "33";
/// Green.
pub const GREEN: &str = "32";
/// Red.
pub const RED: &str = "31";
/// Dim.
pub const DIM: &str = "2";
