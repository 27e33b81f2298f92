//! Token usage read from an agent's own transcript.
//!
//! Claude Code writes its transcript as JSON lines; each assistant message
//! carries `message.usage` (`input_tokens`, `output_tokens`,
//! `cache_creation_input_tokens`, `cache_read_input_tokens`) and
//! `message.model`, and one message may span several lines that repeat its
//! usage (so lines are counted once per `message.id`). Codex writes
//! `token_count` events whose `info.total_token_usage` is the session's
//! running total. A transcript is read from where the last read stopped
//! (a byte offset kept in the session's state), so each turn costs what it
//! added, never the whole file.

use std::io::{BufRead as _, BufReader, Read as _, Seek as _, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The most a single read takes from a transcript (a larger growth is read
/// over several turns).
const MAX_READ: u64 = 64 << 20;

/// Tokens by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens not read from a cache.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens written to the prompt cache.
    pub cache_creation_input_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_input_tokens: u64,
}

impl Usage {
    /// What an atom's `token_cost` counts: input, cache writes and output.
    /// Cache reads are listed in the metadata but not counted: they are
    /// billed at a tenth and would swamp every other figure.
    pub fn cost(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_creation_input_tokens)
            .saturating_add(self.output_tokens)
    }

    /// Add `other`.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_creation_input_tokens = self
            .cache_creation_input_tokens
            .saturating_add(other.cache_creation_input_tokens);
        self.cache_read_input_tokens = self
            .cache_read_input_tokens
            .saturating_add(other.cache_read_input_tokens);
    }

    /// `self - earlier`, never below zero (a running total).
    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.saturating_sub(earlier.input_tokens),
            output_tokens: self.output_tokens.saturating_sub(earlier.output_tokens),
            cache_creation_input_tokens: self
                .cache_creation_input_tokens
                .saturating_sub(earlier.cache_creation_input_tokens),
            cache_read_input_tokens: self
                .cache_read_input_tokens
                .saturating_sub(earlier.cache_read_input_tokens),
        }
    }

    /// Whether all counts are zero.
    pub fn is_zero(&self) -> bool {
        *self == Usage::default()
    }
}

/// What one read of a transcript found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Read {
    /// Usage of the messages added since the offset (Claude Code).
    pub added: Usage,
    /// The latest running total (Codex), when the transcript has one.
    pub running_total: Option<Usage>,
    /// The last model named.
    pub model: Option<String>,
    /// Where the next read starts: after the last complete line.
    pub offset: u64,
}

/// Read `path` from `offset`. A missing or unreadable transcript, or one
/// that is not a regular file, reads as nothing; lines that are not JSON
/// are skipped.
pub fn read(path: &Path, offset: u64) -> Read {
    let mut out = Read {
        offset,
        ..Read::default()
    };
    let Ok(meta) = std::fs::metadata(path) else {
        return out;
    };
    if !meta.is_file() {
        return out;
    }
    // A transcript that shrank was replaced: start over.
    let start = if meta.len() < offset { 0 } else { offset };
    let Ok(mut file) = std::fs::File::open(path) else {
        return out;
    };
    if file.seek(SeekFrom::Start(start)).is_err() {
        return out;
    }
    let mut reader = BufReader::new(file.by_ref().take(MAX_READ));
    let mut seen = std::collections::HashSet::new();
    let mut pos = start;
    let mut line = Vec::new();
    loop {
        line.clear();
        let Ok(n) = reader.read_until(b'\n', &mut line) else {
            break;
        };
        if n == 0 || line.last() != Some(&b'\n') {
            break; // the end, or a line still being written
        }
        pos += n as u64;
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        if let Some(message) = v
            .get("message")
            .filter(|_| v.get("type").and_then(Value::as_str) == Some("assistant"))
        {
            if let Some(model) = message.get("model").and_then(Value::as_str) {
                out.model = Some(model.to_owned());
            }
            let fresh = match message.get("id").and_then(Value::as_str) {
                Some(id) => seen.insert(id.to_owned()),
                None => true,
            };
            if let (true, Some(usage)) = (fresh, message.get("usage")) {
                out.added.add(&usage_of(usage));
            }
        }
        let payload = v.get("payload");
        if let Some(info) = payload
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("token_count"))
            .and_then(|p| p.get("info"))
            .and_then(|i| i.get("total_token_usage"))
        {
            let cached = number(info, "cached_input_tokens");
            out.running_total = Some(Usage {
                input_tokens: number(info, "input_tokens").saturating_sub(cached),
                output_tokens: number(info, "output_tokens"),
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: cached,
            });
        }
        if let Some(model) = payload
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("turn_context"))
            .and_then(|p| p.get("model"))
            .and_then(Value::as_str)
        {
            out.model = Some(model.to_owned());
        }
    }
    out.offset = pos;
    out
}

fn number(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn usage_of(usage: &Value) -> Usage {
    Usage {
        input_tokens: number(usage, "input_tokens"),
        output_tokens: number(usage, "output_tokens"),
        cache_creation_input_tokens: number(usage, "cache_creation_input_tokens"),
        cache_read_input_tokens: number(usage, "cache_read_input_tokens"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn line(id: &str, input: u64, output: u64) -> String {
        format!(
            "{{\"type\":\"assistant\",\"message\":{{\"id\":\"{id}\",\"model\":\"m\",\"usage\":{{\"input_tokens\":{input},\"output_tokens\":{output}}}}}}}\n"
        )
    }

    #[test]
    fn reads_from_the_offset_and_leaves_a_line_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut f = std::fs::File::create(&path).unwrap();
        write!(
            f,
            "{}{}not json\n{}",
            line("a", 10, 1),
            line("a", 10, 1),
            line("b", 5, 2)
        )
        .unwrap();
        write!(f, "{{\"type\":\"assistant\",\"mess").unwrap();
        let first = read(&path, 0);
        assert_eq!(first.added.input_tokens, 15, "message a once, b once");
        assert_eq!(first.added.output_tokens, 3);
        assert_eq!(first.model.as_deref(), Some("m"));
        let again = read(&path, first.offset);
        assert!(again.added.is_zero(), "the partial line is not read yet");
        assert_eq!(again.offset, first.offset);
        writeln!(
            f,
            "age\":{{\"id\":\"c\",\"usage\":{{\"input_tokens\":7}}}}}}"
        )
        .unwrap();
        assert_eq!(read(&path, first.offset).added.input_tokens, 7);
        assert!(read(&dir.path().join("missing"), 3).added.is_zero());
        assert!(
            read(dir.path(), 0).added.is_zero(),
            "a directory reads as nothing"
        );
    }
}
