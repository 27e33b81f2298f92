//! Output: data to stdout, human or `--json`; warnings and progress to
//! stderr. Colour only on a terminal and never with `NO_COLOR`.
//!
//! Human output passes every text that comes from storage or a remote
//! (summaries, agents, metadata, trail and signer names) through [`safe`], so
//! it never drives the terminal; `--json` prints exact values (JSON escaping
//! makes them safe). Commands printed for pasting quote their words with
//! [`atom::shell::quote`].

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, IsTerminal as _, Write as _};

use serde::Serialize;

/// How the user asked to see results.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub json: bool,
    quiet: bool,
    color: bool,
    terminal: bool,
    pager: bool,
}

impl Printer {
    pub fn new(json: bool, quiet: bool) -> Self {
        let terminal = io::stdout().is_terminal();
        let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Printer {
            json,
            quiet,
            color,
            terminal,
            pager: true,
        }
    }

    /// The same, never starting a pager (`--no-pager`).
    pub fn without_pager(self) -> Self {
        Printer {
            pager: false,
            ..self
        }
    }

    /// Write `text` to stdout, through a pager when stdout is a terminal,
    /// as git does: `$ATOM_PAGER`, else `$PAGER`, else `less`, run by `sh`,
    /// with `LESS=FRX` unless `LESS` is set (quit when it fits one screen,
    /// keep colours, leave the screen as it was). An empty pager or `cat`,
    /// `--no-pager`, `--json`, a dumb terminal or a pager that does not
    /// start print directly.
    pub fn page(&self, text: &str) -> io::Result<()> {
        let term = std::env::var("TERM").unwrap_or_default();
        if !self.terminal || !self.pager || self.json || term.is_empty() || term == "dumb" {
            return self.out(text);
        }
        let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let pager = set("ATOM_PAGER")
            .or_else(|| set("PAGER"))
            .unwrap_or_else(|| "less".to_owned());
        if pager.trim() == "cat" {
            return self.out(text);
        }
        let mut command = std::process::Command::new("sh");
        command
            .arg("-c")
            .arg(&pager)
            .stdin(std::process::Stdio::piped());
        if std::env::var_os("LESS").is_none() {
            command.env("LESS", "FRX");
        }
        let Ok(mut child) = command.spawn() else {
            return self.out(text);
        };
        if let Some(mut stdin) = child.stdin.take() {
            // The reader quitting early (`q` in less) is not an error.
            match stdin.write_all(text.as_bytes()) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(e),
                _ => {}
            }
        }
        child.wait()?;
        Ok(())
    }

    /// Write `text` to stdout.
    pub fn out(&self, text: &str) -> io::Result<()> {
        self.out_bytes(text.as_bytes())
    }

    /// Write `bytes` to stdout as they are.
    pub fn out_bytes(&self, bytes: &[u8]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()
    }

    /// Whether stdout is a terminal.
    pub fn stdout_is_terminal(&self) -> bool {
        self.terminal
    }

    /// Write one value as pretty JSON plus a newline.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> io::Result<()> {
        let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        text.push('\n');
        self.out(&text)
    }

    /// A note for humans on stderr (hidden by `-q`), one line.
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{}", safe(text));
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

/// `text` as it may reach a terminal: control characters (C0, DEL, C1, tab
/// and newline too, so a one-line field stays one line) and invisible format
/// characters (bidi overrides and isolates, zero-width characters, BOM,
/// line and paragraph separators) become visible escapes: `\x1b`, `\n`,
/// `\u{202e}`. Everything else is printed as is.
pub fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if hidden(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Characters a terminal acts on or does not show: Unicode's Cc (controls)
/// and Cf (format) categories, and the line and paragraph separators.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{600}'..='\u{605}'
                | '\u{61c}'
                | '\u{6dd}'
                | '\u{70f}'
                | '\u{890}'..='\u{891}'
                | '\u{8e2}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{110bd}'
                | '\u{110cd}'
                | '\u{13430}'..='\u{1343f}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0001}'
                | '\u{e0020}'..='\u{e007f}'
        )
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn controls_and_invisible_characters_become_visible_escapes() {
        assert_eq!(safe("plain café ✓ 日本"), "plain café ✓ 日本");
        assert_eq!(safe("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
        assert_eq!(safe("\x1b[2J"), "\\x1b[2J");
        assert_eq!(safe("a\tb\nc\rd\u{7f}"), "a\\tb\\nc\\rd\\x7f");
        assert_eq!(safe("\u{9b}2J"), "\\u{9b}2J");
        assert_eq!(safe("abc\u{202e}txt.exe"), "abc\\u{202e}txt.exe");
        assert_eq!(safe("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        assert_eq!(
            safe("zero\u{200b}width\u{feff}"),
            "zero\\u{200b}width\\u{feff}"
        );
        assert_eq!(safe("tag\u{e0041}"), "tag\\u{e0041}");
    }
}
