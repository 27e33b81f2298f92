//! The line gate in front of the server: every line the client sends gets
//! an answer, and no line costs more than a bounded amount of memory.
//!
//! A line that is not JSON, one nested deeper than the parser should recurse,
//! or one longer than [`MAX_LINE`] never reaches the server: the gate answers
//! it with the JSON-RPC 2.0 error it calls for (`-32700` parse error,
//! `-32600` invalid request), so a client never waits for an answer that
//! does not come. A line longer than the limit is dropped as it streams in,
//! never held.

use std::io::{self, BufRead};

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};

/// The longest line accepted, its newline included (rmcp's own limit): a
/// longer one is dropped as it streams in and answered with an error.
pub const MAX_LINE: usize = 16 << 20;

/// The deepest nesting of arrays and objects accepted in one message, well
/// below serde_json's recursion limit (128) and above what any argument
/// needs (metadata may nest 64 levels).
pub const MAX_DEPTH: usize = 100;

/// The read buffer, and what a line buffer shrinks back to after a long line.
pub const BUFFER: usize = 64 << 10;

/// JSON-RPC 2.0: invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC 2.0: the JSON sent is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;

/// What to do with one line from the client.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Hand it to rmcp.
    Forward,
    /// Nothing to answer (a blank line).
    Skip,
    /// Answer with this error message instead.
    Reply(Value),
}

/// Judge one line (without its newline).
fn judge(line: &[u8]) -> Verdict {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let body = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if body.trim_ascii().is_empty() {
        return Verdict::Skip;
    }
    if let Err(e) = std::str::from_utf8(body) {
        return Verdict::Reply(error(
            Value::Null,
            PARSE_ERROR,
            format!("the line is not UTF-8: {e}"),
        ));
    }
    if !body.trim_ascii_start().starts_with(b"{") {
        // Iterative: no nesting makes serde_json recurse while ignoring.
        return Verdict::Reply(match serde_json::from_slice::<IgnoredAny>(body) {
            Err(e) if !e.is_data() => error(Value::Null, PARSE_ERROR, e.to_string()),
            _ => error(
                Value::Null,
                INVALID_REQUEST,
                "a message is one JSON object (batches are not supported)".into(),
            ),
        });
    }
    let id = match serde_json::from_slice::<Envelope>(body) {
        Ok(envelope) => envelope.id.unwrap_or(Id(Value::Null)).0,
        Err(e) if !e.is_data() => {
            return Verdict::Reply(error(Value::Null, PARSE_ERROR, e.to_string()))
        }
        Err(e) => return Verdict::Reply(error(Value::Null, INVALID_REQUEST, e.to_string())),
    };
    if depth(body) > MAX_DEPTH {
        return Verdict::Reply(error(
            id,
            INVALID_REQUEST,
            format!("the message is nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    Verdict::Forward
}

/// A JSON-RPC 2.0 error response; `data` says what was wrong.
pub fn error(id: Value, code: i64, data: String) -> Value {
    let message = if code == PARSE_ERROR {
        "Parse error"
    } else {
        "Invalid Request"
    };
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message, "data": data}})
}

/// The answer to a line longer than [`MAX_LINE`].
fn too_long() -> Value {
    error(
        Value::Null,
        INVALID_REQUEST,
        format!("the line is longer than 16 MiB ({MAX_LINE} bytes); it was discarded unread"),
    )
}

/// The one member of a message the gate needs; every other member is
/// skipped without recursion.
#[derive(Deserialize)]
struct Envelope {
    id: Option<Id>,
}

/// A request id as JSON-RPC allows it (a string, a number or null); any
/// other value, however deep, is skipped and counts as null.
struct Id(Value);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl<'de> Visitor<'de> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a request id")
            }
            fn visit_str<E>(self, v: &str) -> Result<Id, E> {
                Ok(Id(Value::from(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Id, E> {
                Ok(Id(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Id, E> {
                Ok(Id(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Id, E> {
                Ok(Id(Value::from(v)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Id, E> {
                Ok(Id(Value::Null))
            }
            fn visit_unit<E>(self) -> Result<Id, E> {
                Ok(Id(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Id, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Id(Value::Null))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Id, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Id(Value::Null))
            }
        }
        d.deserialize_any(IdVisitor)
    }
}

/// The deepest nesting of arrays and objects in `json` (valid JSON).
fn depth(json: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// What the gate makes of one line.
#[derive(Debug, PartialEq)]
pub enum Line<'a> {
    /// A JSON object within the limits, for the server (without its newline).
    Message(&'a [u8]),
    /// The answer the line gets instead.
    Answer(Value),
}

/// Read the client's lines from `input` until it closes, handing each to
/// `handle`: a message the server can parse, or the error answer of a line
/// it cannot. At most one line of [`MAX_LINE`] bytes is held at a time.
pub fn read_lines<R: BufRead>(
    mut input: R,
    mut handle: impl FnMut(Line) -> io::Result<()>,
) -> io::Result<()> {
    let mut line: Vec<u8> = Vec::new();
    // Inside a line that was too long, until its newline.
    let mut discarding = false;
    loop {
        let (taken, ended, too_long_now) = {
            let available = match input.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let take = newline.map_or(available.len(), |i| i + 1);
            let mut too_long_now = false;
            if !discarding {
                if line.len() + take > MAX_LINE {
                    line = Vec::new();
                    discarding = true;
                    too_long_now = true;
                } else {
                    line.extend_from_slice(&available[..take]);
                }
            }
            (take, newline.is_some(), too_long_now)
        };
        input.consume(taken);
        if too_long_now {
            handle(Line::Answer(too_long()))?;
        }
        if ended {
            if discarding {
                discarding = false;
            } else {
                answer(&line, &mut handle)?;
                line.clear();
                if line.capacity() > BUFFER {
                    line.shrink_to(BUFFER);
                }
            }
        }
    }
    // A last line without a newline is a line too.
    if !discarding && !line.is_empty() {
        answer(&line, &mut handle)?;
    }
    Ok(())
}

/// Judge one whole line (its newline included, if any) and hand it on.
fn answer(line: &[u8], handle: &mut impl FnMut(Line) -> io::Result<()>) -> io::Result<()> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    match judge(line) {
        Verdict::Forward => handle(Line::Message(line)),
        Verdict::Skip => Ok(()),
        Verdict::Reply(reply) => handle(Line::Answer(reply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(line: &str) -> Value {
        match judge(line.as_bytes()) {
            Verdict::Reply(v) => v,
            other => panic!("{line:?} was not answered: {other:?}"),
        }
    }

    #[test]
    fn requests_go_through_and_blank_lines_are_skipped() {
        for line in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            "\u{feff}{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\r",
            // rmcp answers what is JSON but not a message it knows.
            r#"{"hello":"world"}"#,
        ] {
            assert_eq!(judge(line.as_bytes()), Verdict::Forward, "{line}");
        }
        assert_eq!(judge(b""), Verdict::Skip);
        assert_eq!(judge(b" \t\r"), Verdict::Skip);
    }

    #[test]
    fn what_is_not_json_is_a_parse_error() {
        for line in ["nope", "{\"id\":1,", "{\"a\":1}}", "[1,", "{\"id\":1} x"] {
            let r = reply(line);
            assert_eq!(r["error"]["code"], PARSE_ERROR, "{line}: {r}");
            assert_eq!(r["error"]["message"], "Parse error");
            assert_eq!(r["id"], Value::Null);
        }
        let Verdict::Reply(r) = judge(b"{\"id\":1,\"method\":\"\xff\"}") else {
            panic!("invalid UTF-8 passed")
        };
        assert_eq!(r["error"]["code"], PARSE_ERROR);
    }

    #[test]
    fn json_that_is_no_request_object_is_an_invalid_request() {
        for line in ["[]", "[{\"id\":1}]", "7", "null", "{\"id\":1,\"id\":2}"] {
            let r = reply(line);
            assert_eq!(r["error"]["code"], INVALID_REQUEST, "{line}: {r}");
            assert_eq!(r["id"], Value::Null);
        }
    }

    #[test]
    fn deep_nesting_is_refused_with_the_request_id_without_recursion() {
        let deep = |n: usize, id: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"x","params":{}1{}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        // The object itself is one level.
        assert_eq!(judge(deep(MAX_DEPTH - 1, "1").as_bytes()), Verdict::Forward);
        let r = reply(&deep(MAX_DEPTH, "\"a\""));
        assert_eq!(r["id"], "a");
        assert_eq!(r["error"]["code"], INVALID_REQUEST);
        // Far beyond any stack: the id itself, and what follows it.
        let r = reply(&deep(
            1_000_000,
            &format!("{}0{}", "[".repeat(100_000), "]".repeat(100_000)),
        ));
        assert_eq!(r["id"], Value::Null);
        assert_eq!(r["error"]["code"], INVALID_REQUEST);
        // Brackets inside strings do not count.
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":2,"method":"x","params":{{"s":"{}"}}}}"#,
            "[".repeat(500)
        );
        assert_eq!(judge(line.as_bytes()), Verdict::Forward);
        assert_eq!(depth(br#"{"s":"\"[[["}"#), 1);
    }

    /// The gate over an in-memory stream: what reaches the server, what is answered.
    fn run_gate(input: Vec<u8>) -> (Vec<u8>, Vec<Value>) {
        let mut forwarded = Vec::new();
        let mut answers = Vec::new();
        read_lines(input.as_slice(), |line| {
            match line {
                Line::Message(m) => {
                    forwarded.extend_from_slice(m);
                    forwarded.push(b'\n');
                }
                Line::Answer(a) => answers.push(a),
            }
            Ok(())
        })
        .expect("gate");
        (forwarded, answers)
    }

    #[test]
    fn an_oversized_line_is_answered_and_the_next_one_goes_through() {
        let ok = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.push(b'\n');
        input.extend_from_slice(b"garbage\n");
        input.extend_from_slice(ok);
        input.push(b'\n');
        // The last line may end without a newline.
        input.extend_from_slice(ok);
        let (forwarded, answers) = run_gate(input);
        let mut expected = ok.to_vec();
        expected.push(b'\n');
        expected.extend_from_slice(ok);
        expected.push(b'\n');
        assert_eq!(forwarded, expected);
        assert_eq!(answers.len(), 2, "{answers:?}");
        assert_eq!(answers[0]["error"]["code"], INVALID_REQUEST);
        assert_eq!(answers[1]["error"]["code"], PARSE_ERROR);
    }

    #[test]
    fn a_line_of_exactly_the_limit_goes_through() {
        let head = br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"s":""#;
        let tail = br#""}}"#;
        let mut line = head.to_vec();
        line.resize(MAX_LINE - 1 - tail.len(), b'a');
        line.extend_from_slice(tail);
        line.push(b'\n');
        assert_eq!(line.len(), MAX_LINE);
        let (forwarded, answers) = run_gate(line.clone());
        assert_eq!(forwarded, line);
        assert!(answers.is_empty());
        line.insert(head.len(), b'a');
        let (forwarded, answers) = run_gate(line);
        assert!(forwarded.is_empty());
        assert_eq!(answers.len(), 1);
    }
}
