//! `atom mcp` (SPEC §9): the real binary driven over stdio with
//! newline-delimited JSON-RPC 2.0, its answers compared with the `--json`
//! output of the same commands, and the atoms it records cross-checked with
//! stock git and Python.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::TestEnv;

/// How long to wait for one reply: a hung server fails the test.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `atom mcp` and the lines it writes.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    next_id: u64,
}

impl Client {
    /// Start `atom mcp ARGS...` without the handshake.
    fn spawn(env: &TestEnv, args: &[&str]) -> Self {
        let mut full = vec!["mcp"];
        full.extend_from_slice(args);
        let mut child = env
            .atom_command(&full)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start atom mcp");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Client {
            stdin: child.stdin.take(),
            child,
            lines,
            next_id: 1,
        }
    }

    /// Start `atom mcp ARGS...` and complete the handshake as `client_name`.
    fn start(env: &TestEnv, args: &[&str], client_name: &str) -> (Self, Value) {
        let mut client = Self::spawn(env, args);
        let init = client.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": client_name, "version": "1.0.0"}
            }),
        );
        client.notify("notifications/initialized");
        (client, init)
    }

    /// Write one raw line to the server.
    fn send_line(&mut self, line: &str) {
        self.send_bytes(line.as_bytes());
    }

    /// Write `bytes` and a newline to the server.
    fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write to atom mcp");
        stdin.write_all(b"\n").expect("write to atom mcp");
        stdin.flush().expect("flush");
    }

    /// The next message, which must be a JSON-RPC error with `code` in
    /// reply to `id`; returns its `error` object.
    fn error_reply(&mut self, id: &Value, code: i64) -> Value {
        let reply = self.next_message(Instant::now() + REPLY_TIMEOUT);
        assert_eq!(reply["jsonrpc"], "2.0", "{reply}");
        assert_eq!(&reply["id"], id, "{reply}");
        assert_eq!(reply["error"]["code"], code, "{reply}");
        assert!(reply.get("result").is_none(), "{reply}");
        reply["error"].clone()
    }

    fn notify(&mut self, method: &str) {
        self.send_line(&json!({"jsonrpc": "2.0", "method": method}).to_string());
    }

    /// The next line the server writes, as JSON.
    fn next_message(&mut self, deadline: Instant) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("atom mcp wrote a line that is not JSON ({e}): {line}")),
            Err(RecvTimeoutError::Timeout) => {
                panic!("atom mcp did not answer in {REPLY_TIMEOUT:?}")
            }
            Err(RecvTimeoutError::Disconnected) => panic!("atom mcp closed stdout"),
        }
    }

    /// The reply with id `id`, skipping notifications the server sends.
    fn reply(&mut self, id: &Value) -> Value {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let msg = self.next_message(deadline);
            assert_eq!(msg["jsonrpc"], "2.0", "not a JSON-RPC 2.0 message: {msg}");
            if &msg["id"] == id {
                return msg;
            }
            assert!(
                msg.get("id").is_none(),
                "a reply to another request: {msg} (waiting for {id})"
            );
        }
    }

    /// Send a request and return the whole reply (`result` or `error`).
    fn call_raw(&mut self, method: &str, params: Value) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        self.send_line(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        self.reply(&id)
    }

    /// Send a request that must succeed; return its `result`.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let reply = self.call_raw(method, params);
        assert!(reply.get("error").is_none(), "{method} failed: {reply}");
        reply["result"].clone()
    }

    /// `tools/call`; returns the result (which may carry `isError`).
    fn tool(&mut self, name: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": name, "arguments": arguments}))
    }

    /// `tools/call` that must succeed; returns its structured content after
    /// checking the text parts: a short text, then the same JSON as text.
    fn tool_ok(&mut self, name: &str, arguments: Value) -> Value {
        let result = self.tool(name, arguments.clone());
        assert_eq!(
            result["isError"], false,
            "{name} {arguments} failed: {result}"
        );
        let structured = result["structuredContent"].clone();
        assert!(
            structured.is_object(),
            "{name}: no structured content: {result}"
        );
        let content = result["content"].as_array().expect("content");
        assert_eq!(content.len(), 2, "{name}: expected text + JSON: {result}");
        assert!(!text(&content[0]).is_empty());
        let json_text: Value = serde_json::from_str(text(&content[1])).expect("JSON text");
        assert_eq!(
            json_text, structured,
            "{name}: JSON text differs from structured content"
        );
        structured
    }

    /// `tools/call` that must fail as a tool error; returns its text.
    fn tool_err(&mut self, name: &str, arguments: Value) -> String {
        let result = self.tool(name, arguments.clone());
        assert_eq!(
            result["isError"], true,
            "{name} {arguments} should fail: {result}"
        );
        let t = text(&result["content"][0]).to_owned();
        assert!(
            !t.contains('\n'),
            "{name}: the error is not one line: {t:?}"
        );
        t
    }

    /// Close stdin and require a clean exit.
    fn finish(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for atom mcp") {
                assert!(status.success(), "atom mcp exited with {status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "atom mcp did not exit after stdin closed"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn text(content: &Value) -> &str {
    assert_eq!(content["type"], "text", "not text content: {content}");
    content["text"].as_str().expect("text")
}

fn atom_id(view: &Value) -> String {
    view["record"]["atom_id"]
        .as_str()
        .expect("atom_id")
        .to_owned()
}

const TOOLS: [&str; 7] = [
    "atom_record",
    "atom_log",
    "atom_show",
    "atom_search",
    "atom_trace",
    "atom_stats",
    "atom_verify",
];

#[test]
fn initialize_and_list_tools_with_described_schemas() {
    let env = TestEnv::init();
    let (mut client, init) = Client::start(&env, &[], "claude-code");
    assert_eq!(init["serverInfo"]["name"], "atom");
    for capability in ["tools", "prompts", "resources"] {
        assert!(
            init["capabilities"][capability].is_object(),
            "capability {capability} missing: {init}"
        );
    }
    assert!(init["instructions"]
        .as_str()
        .unwrap_or("")
        .contains("atom_record"));

    let tools = client.request("tools/list", json!({}));
    let tools = tools["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for name in TOOLS {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert_eq!(names.len(), TOOLS.len(), "unexpected tools: {names:?}");
    for tool in tools {
        let name = tool["name"].as_str().unwrap();
        assert!(
            tool["description"].as_str().unwrap_or("").len() > 40,
            "{name}: description too thin: {tool}"
        );
        let schema = &tool["inputSchema"];
        assert_eq!(schema["type"], "object", "{name}: {schema}");
        let props = schema["properties"].as_object().expect("properties");
        for (prop, def) in props {
            assert!(
                def["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{name}.{prop} has no description: {def}"
            );
        }
    }
    let record = tools.iter().find(|t| t["name"] == "atom_record").unwrap();
    let schema = &record["inputSchema"];
    let required: Vec<&str> = schema["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["type", "operation"]);
    for prop in [
        "agent",
        "summary",
        "metadata",
        "influenced_by",
        "project",
        "token_cost",
    ] {
        assert!(
            schema["properties"][prop].is_object(),
            "atom_record lacks {prop}"
        );
    }
    let log = tools.iter().find(|t| t["name"] == "atom_log").unwrap();
    for prop in [
        "rev",
        "all",
        "type",
        "agent",
        "operation",
        "path",
        "project",
        "since",
        "until",
        "grep",
        "limit",
    ] {
        assert!(
            log["inputSchema"]["properties"][prop].is_object(),
            "atom_log lacks {prop}"
        );
    }
    let stats = tools.iter().find(|t| t["name"] == "atom_stats").unwrap();
    assert!(
        stats["inputSchema"].to_string().contains("\"project\""),
        "atom_stats `by` does not list its values: {stats}"
    );
    client.finish();
}

#[test]
fn every_tool_answers_with_the_json_of_the_command_line() {
    let env = TestEnv::init();
    let (mut client, _) = Client::start(&env, &[], "claude-code");

    let research = client.tool_ok(
        "atom_record",
        json!({
            "type": "RESEARCH",
            "operation": "research",
            "summary": "survey of vm.max_map_count settings",
            "token_cost": 300
        }),
    );
    let research_id = atom_id(&research);
    assert!(research_id.starts_with("ATOM-RESEARCH-"), "{research}");
    assert_eq!(
        research["record"]["agent"], "claude-code",
        "agent from clientInfo"
    );
    assert_eq!(research["signature"]["status"], "good");
    assert!(research["record"]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));

    let result = client.tool(
        "atom_record",
        json!({
            "type": "CFG",
            "operation": "modify_file",
            "agent": "qwen",
            "summary": "raise vm.max_map_count",
            "metadata": {"path": "gaming.env", "context_sync_id": 42},
            "influenced_by": [research_id],
            "project": "bazza-dx",
            "token_cost": 1200
        }),
    );
    let cfg = result["structuredContent"].clone();
    let cfg_id = atom_id(&cfg);
    let summary = text(&result["content"][0]);
    assert!(
        summary.contains(&cfg_id) && summary.contains(cfg["record"]["digest"].as_str().unwrap()),
        "the text names the id and digest: {summary}"
    );
    assert_eq!(cfg["record"]["agent"], "qwen");
    assert_eq!(cfg["record"]["influenced_by"], json!([research_id]));
    assert_eq!(cfg["record"]["metadata"]["context_sync_id"], 42);
    assert_eq!(cfg["record"]["previous_atom"], json!(research_id));

    // What the server recorded is what the command line sees, byte for byte.
    assert_eq!(
        cfg,
        env.atom_json(&["show", &cfg_id])
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                for key in ["influenced", "built_on", "ambiguous"] {
                    o.remove(key);
                }
                Value::Object(o)
            })
            .unwrap()
    );

    let log = client.tool_ok("atom_log", json!({}));
    assert_eq!(log["atoms"], env.atom_json(&["log"]));
    let ids: Vec<String> = log["atoms"]
        .as_array()
        .unwrap()
        .iter()
        .map(atom_id)
        .collect();
    assert_eq!(ids, [cfg_id.clone(), research_id.clone()], "newest first");
    let filtered = client.tool_ok(
        "atom_log",
        json!({"agent": "qwen", "path": "gaming.env", "since": "2000-01-01", "project": "bazza-dx"}),
    );
    assert_eq!(
        filtered["atoms"],
        env.atom_json(&[
            "log",
            "--agent",
            "qwen",
            "--path",
            "gaming.env",
            "--since",
            "2000-01-01",
            "--project",
            "bazza-dx"
        ])
    );
    assert_eq!(filtered["atoms"].as_array().unwrap().len(), 1);
    let limited = client.tool_ok("atom_log", json!({"limit": 1, "type": "RESEARCH"}));
    assert_eq!(limited["atoms"].as_array().unwrap().len(), 1);
    assert_eq!(atom_id(&limited["atoms"][0]), research_id);
    let none = client.tool_ok("atom_log", json!({"until": "2000-01-01T00:00:00Z"}));
    assert_eq!(none["atoms"], json!([]));

    let shown = client.tool_ok("atom_show", json!({"id": research_id}));
    assert_eq!(shown, env.atom_json(&["show", &research_id]));
    assert_eq!(shown["influenced"], json!([cfg_id]));

    let found = client.tool_ok("atom_search", json!({"query": "gaming.env"}));
    assert_eq!(found["atoms"], env.atom_json(&["search", "gaming.env"]));
    assert_eq!(found["atoms"].as_array().unwrap().len(), 1);
    assert_eq!(atom_id(&found["atoms"][0]), cfg_id);
    assert!(found["atoms"][0]["snippet"]
        .as_str()
        .unwrap()
        .contains("gaming.env"));

    let up = client.tool_ok("atom_trace", json!({"id": cfg_id}));
    assert_eq!(up, env.atom_json(&["trace", &cfg_id]));
    assert_eq!(up["direction"], "up");
    assert_eq!(
        up["edges"],
        json!([{"from": research_id, "to": cfg_id, "ambiguous": false}])
    );
    let down = client.tool_ok("atom_trace", json!({"id": research_id, "down": true}));
    assert_eq!(down, env.atom_json(&["trace", "--down", &research_id]));
    assert_eq!(down["nodes"].as_array().unwrap().len(), 2);

    let stats = client.tool_ok("atom_stats", json!({}));
    assert_eq!(stats["by"], "agent");
    assert_eq!(stats["rows"], env.atom_json(&["stats"]));
    let by_project = client.tool_ok("atom_stats", json!({"by": "project"}));
    assert_eq!(
        by_project["rows"],
        env.atom_json(&["stats", "--by", "project"])
    );
    let tokens: u64 = stats["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["token_cost"].as_u64().unwrap())
        .sum();
    assert_eq!(tokens, 1500);

    let verified = client.tool_ok("atom_verify", json!({}));
    assert_eq!(verified, env.atom_json(&["verify"]));
    assert_eq!(verified["ok"], true);
    assert_eq!(verified["atoms"], 2);
    let all = client.tool_ok("atom_verify", json!({"all": true}));
    assert_eq!(all["ok"], true);
    client.finish();

    let log = env.cross_check();
    assert_eq!(log.len(), 2);
}

#[test]
fn bad_arguments_are_errors_and_the_server_keeps_answering() {
    let env = TestEnv::init();
    let (mut client, _) = Client::start(&env, &[], "claude-code");

    let err = client.tool_err("atom_record", json!({"type": "cfg", "operation": "x"}));
    assert!(err.starts_with("error: ") && err.contains("type"), "{err}");
    let err = client.tool_err(
        "atom_record",
        json!({"type": "CFG", "operation": "x", "influenced_by": ["ATOM-CFG-20240101-001"]}),
    );
    assert!(err.contains("not an atom of this store"), "{err}");
    let err = client.tool_err(
        "atom_record",
        json!({"type": "CFG", "operation": "x", "influenced_by": ["nonsense"]}),
    );
    assert!(err.contains("influenced_by"), "{err}");
    let err = client.tool_err("atom_show", json!({"id": "ATOM-CFG-20240101-001"}));
    assert!(err.contains("not found"), "{err}");
    let err = client.tool_err("atom_log", json!({"since": "last tuesday"}));
    assert!(
        err.contains("since") && err.contains("2024-11-27") && err.contains("yesterday"),
        "{err}"
    );
    let err = client.tool_err("atom_search", json!({"query": "   "}));
    assert!(err.contains("no word"), "{err}");
    let err = client.tool_err("atom_trace", json!({"id": "no-such-thing"}));
    assert!(err.contains("not found"), "{err}");

    // Arguments of the wrong shape: a tool error or a JSON-RPC error, never silence.
    for (name, args) in [
        ("atom_record", json!({"operation": "x"})),
        ("atom_log", json!({"limit": "many"})),
        ("atom_stats", json!({"by": "colour"})),
        (
            "atom_record",
            json!({"type": "CFG", "operation": "x", "tokens": 5}),
        ),
        (
            "atom_record",
            json!({"type": "CFG", "operation": "x", "metadata": [1, 2]}),
        ),
        (
            "atom_record",
            json!({"type": "CFG", "operation": "x", "token_cost": -1}),
        ),
    ] {
        let reply = client.call_raw("tools/call", json!({"name": name, "arguments": args}));
        let refused = reply.get("error").is_some() || reply["result"]["isError"] == true;
        assert!(refused, "{name} {args} was accepted: {reply}");
    }

    // An unknown tool and an unknown method are JSON-RPC errors.
    let reply = client.call_raw(
        "tools/call",
        json!({"name": "atom_delete", "arguments": {}}),
    );
    assert!(reply["error"]["code"].is_i64(), "{reply}");
    let reply = client.call_raw("atom/rewrite", json!({}));
    assert!(reply["error"]["code"].is_i64(), "{reply}");

    // A line that is not JSON is a parse error; JSON that is not a request
    // gets an error too; the next request is answered either way.
    client.send_line("{\"jsonrpc\": \"2.0\", \"id\": 99, \"method\": ");
    client.send_line("this is not json");
    for _ in 0..2 {
        let reply = client.next_message(Instant::now() + REPLY_TIMEOUT);
        assert_eq!(reply["error"]["code"], -32700, "{reply}");
        assert_eq!(reply["id"], Value::Null, "{reply}");
    }
    let tools = client.request("tools/list", json!({}));
    assert_eq!(tools["tools"].as_array().unwrap().len(), TOOLS.len());
    client.send_line("{\"hello\": \"world\"}");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let reply = client.next_message(deadline);
    assert!(reply["error"]["code"].is_i64(), "{reply}");
    let logged = client.tool_ok("atom_log", json!({}));
    assert_eq!(logged["atoms"], json!([]));
    client.finish();

    assert_eq!(env.tip(), None, "a refused call recorded nothing");
}

/// `{"a":[[...]]}` nested `depth` levels deep in all.
fn nested(depth: usize) -> String {
    format!(
        "{{\"a\":{}1{}}}",
        "[".repeat(depth - 1),
        "]".repeat(depth - 1)
    )
}

/// The peak resident memory of a process, in bytes (Linux).
fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kib * 1024
}

#[test]
fn every_line_is_answered_even_garbage_deep_nesting_and_huge_lines() {
    let env = TestEnv::init();
    let (mut client, _) = Client::start(&env, &[], "claude-code");
    let record = |id: u64, metadata: &str, summary: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"atom_record","arguments":{{"type":"CFG","operation":"x","summary":"{summary}","metadata":{metadata}}}}}}}"#
        )
    };

    // Not JSON, cut short, not UTF-8: parse errors, as JSON-RPC 2.0 says.
    for line in [
        b"this is not json".as_slice(),
        b"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"",
        b"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/\xff\"}",
        b"{\"a\":1}}",
    ] {
        client.send_bytes(line);
        let error = client.error_reply(&Value::Null, -32700);
        assert_eq!(error["message"], "Parse error", "{error}");
    }

    // JSON that is no request object.
    for line in ["[]", "[1, 2]", "42", "\"tools/list\""] {
        client.send_line(line);
        client.error_reply(&Value::Null, -32600);
    }

    // Nested deeper than the limit: refused before any parser recurses,
    // with the request's id.
    client.send_line(&record(7, &nested(200), "deep"));
    let error = client.error_reply(&json!(7), -32600);
    assert!(
        error["data"]
            .as_str()
            .unwrap_or_default()
            .contains("nested"),
        "{error}"
    );
    client.send_line(&format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}}",
        nested(5000)
    ));
    client.error_reply(&Value::Null, -32600);
    // Within the limit it reaches the tool, which refuses metadata nested
    // over 64 levels as usual.
    client.send_line(&record(8, &nested(80), "less deep"));
    let reply = client.next_message(Instant::now() + REPLY_TIMEOUT);
    assert_eq!(reply["id"], 8, "{reply}");
    assert_eq!(reply["result"]["isError"], true, "{reply}");

    // A 50 MB line is dropped as it streams in, not held, and answered.
    let huge = record(9, "{}", &"a".repeat(50 << 20));
    client.send_line(&huge);
    drop(huge);
    let error = client.error_reply(&Value::Null, -32600);
    assert!(
        error["data"]
            .as_str()
            .unwrap_or_default()
            .contains("16 MiB"),
        "{error}"
    );
    let peak = peak_memory(client.child.id());
    assert!(
        peak < 45 << 20,
        "atom mcp held {} MiB for a 50 MB line",
        peak >> 20
    );

    // The server goes on answering, and wrote nothing for the refused calls.
    let tools = client.request("tools/list", json!({}));
    assert_eq!(tools["tools"].as_array().unwrap().len(), TOOLS.len());
    let recorded = client.tool_ok(
        "atom_record",
        json!({"type": "CFG", "operation": "after", "metadata": {"ok": [[1]]}}),
    );
    client.finish();
    assert_eq!(env.log_ids(&[]), [atom_id(&recorded)]);
}

#[test]
fn agent_comes_from_the_call_then_the_server_then_the_client() {
    let env = TestEnv::init().with_env("ATOM_AGENT", "from-env");
    let record = |client: &mut Client, agent: Option<&str>| {
        let mut args = json!({"type": "TASK", "operation": "plan"});
        if let Some(a) = agent {
            args["agent"] = json!(a);
        }
        let view = client.tool_ok("atom_record", args);
        view["record"]["agent"].as_str().unwrap().to_owned()
    };

    let (mut client, _) = Client::start(&env, &[], "Research Bot");
    assert_eq!(record(&mut client, None), "Research Bot");
    assert_eq!(record(&mut client, Some("perplexity")), "perplexity");
    client.finish();

    // No usable client name: the store's default, $ATOM_AGENT.
    let (mut client, _) = Client::start(&env, &[], " ");
    assert_eq!(record(&mut client, None), "from-env");
    client.finish();

    // --agent overrides the client's name, not the call's.
    let (mut client, _) = Client::start(&env, &["--agent", "pinned"], "claude-code");
    assert_eq!(record(&mut client, None), "pinned");
    assert_eq!(record(&mut client, Some("qwen")), "qwen");
    client.finish();

    let log = env.cross_check();
    let authors = env.git(&["log", "--format=%an <%ae>"]);
    assert_eq!(log.len(), 5);
    assert!(
        authors.contains("Research Bot <research-bot@agents.atom>"),
        "{authors}"
    );

    env.atom_err(&["mcp", "--agent", "a<b"], 2);
}

#[test]
fn prior_work_prompt_and_recent_resource_show_the_project_latest_atoms() {
    let env = TestEnv::init();
    for (op, project) in [("first", "p1"), ("second", "p2"), ("third", "p1")] {
        env.record(&[
            "TASK",
            op,
            "--agent",
            "alice",
            "--project",
            project,
            "--summary",
            op,
        ]);
    }
    let (mut client, _) = Client::start(&env, &["--project", "p1"], "claude-code");

    let prompts = client.request("prompts/list", json!({}));
    let prompt = &prompts["prompts"][0];
    assert_eq!(prompt["name"], "prior_work");
    assert!(prompt["description"].as_str().unwrap().contains("session"));
    let arg_names: Vec<&str> = prompt["arguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(arg_names, ["project", "limit"]);

    let prompt_text = |client: &mut Client, args: Value| {
        let got = client.request(
            "prompts/get",
            json!({"name": "prior_work", "arguments": args}),
        );
        assert_eq!(got["messages"][0]["role"], "user");
        text(&got["messages"][0]["content"]).to_owned()
    };
    let p1 = prompt_text(&mut client, json!({}));
    assert!(p1.contains("project p1"), "{p1}");
    let (third, first) = (p1.find("third: third"), p1.find("first: first"));
    assert!(
        third.is_some() && first.is_some() && third < first,
        "newest first: {p1}"
    );
    assert!(!p1.contains("second"), "{p1}");
    assert!(
        p1.contains("atom_search") && p1.contains("influenced_by"),
        "{p1}"
    );
    let one = prompt_text(&mut client, json!({"limit": "1"}));
    assert!(
        one.contains("third") && !one.contains("first: first"),
        "{one}"
    );
    let p2 = prompt_text(&mut client, json!({"project": "p2"}));
    assert!(p2.contains("second") && !p2.contains("third"), "{p2}");
    let empty = prompt_text(&mut client, json!({"project": "nothing-here"}));
    assert!(empty.contains("No prior work"), "{empty}");
    let bad = client.call_raw(
        "prompts/get",
        json!({"name": "prior_work", "arguments": {"limit": "lots"}}),
    );
    assert!(bad["error"]["code"].is_i64(), "{bad}");
    let bad = client.call_raw("prompts/get", json!({"name": "no_such_prompt"}));
    assert!(bad["error"]["code"].is_i64(), "{bad}");

    let resources = client.request("resources/list", json!({}));
    assert_eq!(resources["resources"][0]["uri"], "atom://recent");
    let read = client.request("resources/read", json!({"uri": "atom://recent"}));
    let contents = &read["contents"][0];
    assert_eq!(contents["mimeType"], "application/json");
    let recent: Value = serde_json::from_str(contents["text"].as_str().unwrap()).unwrap();
    assert_eq!(recent["atoms"], env.atom_json(&["log", "--project", "p1"]));
    assert_eq!(recent["atoms"].as_array().unwrap().len(), 2);
    let missing = client.call_raw("resources/read", json!({"uri": "atom://elsewhere"}));
    assert!(missing["error"]["code"].is_i64(), "{missing}");

    // --project is also the default project of new atoms.
    let view = client.tool_ok(
        "atom_record",
        json!({"type": "TASK", "operation": "fourth"}),
    );
    assert_eq!(view["record"]["project"], "p1");
    client.finish();
    env.cross_check();
}

#[test]
fn refuses_to_start_without_a_store() {
    let env = TestEnv::new();
    let out = env.atom_err(&["mcp"], 2);
    assert!(out.stderr.contains("no atom store"), "{out}");
    assert!(
        out.stdout.is_empty(),
        "nothing on the protocol channel: {out}"
    );
}

#[test]
fn a_damaged_index_is_rebuilt_without_a_word_on_the_protocol_channel() {
    let env = TestEnv::init();
    let recorded = env.record(&["CFG", "modify_file", "--summary", "before the damage"]);
    let (mut client, _) = Client::start(&env, &[], "claude-code");
    std::fs::write(env.store().join("index.sqlite"), b"this is not a database")
        .expect("damage the index");
    // The server's note about the rebuild goes to stderr; every stdout line
    // must still be a JSON-RPC message (next_message panics otherwise).
    let log = client.tool_ok("atom_log", json!({}));
    assert_eq!(log["atoms"], json!([recorded]));
    let found = client.tool_ok("atom_search", json!({"query": "damage"}));
    assert_eq!(found["atoms"].as_array().unwrap().len(), 1);
    client.finish();
}

#[test]
fn pipelined_calls_and_a_second_server_lose_no_atom() {
    let env = TestEnv::init();
    let (mut first, _) = Client::start(&env, &[], "agent-one");
    let (mut second, _) = Client::start(&env, &[], "agent-two");
    const EACH: usize = 8;
    // Both servers get all their requests before any reply is read, so the
    // calls run at the same time within each server and across the two.
    for i in 0..EACH {
        for client in [&mut first, &mut second] {
            let id = json!(client.next_id);
            client.next_id += 1;
            let call = json!({
                "jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": {"name": "atom_record", "arguments": {
                    "type": "TASK", "operation": "step", "summary": format!("step {i}")
                }}
            });
            client.send_line(&call.to_string());
        }
    }
    let mut recorded = Vec::new();
    for client in [&mut first, &mut second] {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        for _ in 0..EACH {
            let reply = client.next_message(deadline);
            assert_eq!(reply["result"]["isError"], false, "{reply}");
            recorded.push(atom_id(&reply["result"]["structuredContent"]));
        }
    }
    first.finish();
    second.finish();

    let mut unique = recorded.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        2 * EACH,
        "an id was minted twice: {recorded:?}"
    );
    let log = env.cross_check();
    crate::common::assert_linear_chain(&log);
    let mut logged: Vec<String> = log.iter().map(atom_id).collect();
    logged.sort();
    assert_eq!(logged, unique, "every acknowledged atom is on the trail");
    let agents: Vec<&str> = log
        .iter()
        .map(|a| a["record"]["agent"].as_str().unwrap())
        .collect();
    assert_eq!(agents.iter().filter(|a| **a == "agent-one").count(), EACH);
    assert_eq!(agents.iter().filter(|a| **a == "agent-two").count(), EACH);
}

#[test]
fn a_secret_in_a_record_call_is_a_tool_error_and_never_echoed() {
    let env = TestEnv::init();
    let key = std::fs::read_to_string(env.store().join("keys/atom_ed25519")).unwrap();
    let body_line = key.lines().nth(1).unwrap().to_owned();
    let (mut client, _) = Client::start(&env, &[], "claude-code");
    let aws = format!("{}{}", "AKIA", "Q3EGRJ5ZKLWN7XMP");
    for (args, expected) in [
        (
            json!({"type": "TASK", "operation": "x", "metadata": {"ssh": {"key": key}}}),
            "metadata.ssh.key holds this store's own signing key",
        ),
        (
            json!({"type": "TASK", "operation": "x", "summary": format!("key id {aws}")}),
            "summary holds an AWS access key id",
        ),
    ] {
        let err = client.tool_err("atom_record", args);
        assert!(
            err.contains("refusing to record a secret") && err.contains(expected),
            "{err}"
        );
        assert!(!err.contains(&body_line) && !err.contains(&aws), "{err}");
    }
    // The server goes on, and a clean call records.
    client.tool_ok("atom_record", json!({"type": "TASK", "operation": "fine"}));
    client.finish();
    assert_eq!(env.log_ids(&[]).len(), 1);
}

#[test]
fn records_onto_the_trail_atom_trail_names() {
    let env = TestEnv::init().with_env("ATOM_TRAIL", "exp");
    env.atom_ok(&["--trail", "main", "record", "TASK", "first"]);
    env.atom_ok(&["--trail", "main", "fork", "exp"]);
    let (mut client, _) = Client::start(&env, &[], "claude-code");
    let view = client.tool_ok("atom_record", json!({"type": "TASK", "operation": "plan"}));
    client.finish();
    let id = atom_id(&view);
    assert_eq!(env.log_ids(&["-n", "1"]), vec![id.clone()], "on exp");
    let main = env.log_ids(&["--trail", "main"]);
    assert_eq!(main.len(), 1, "main untouched: {main:?}");
    assert!(!main.contains(&id));
}
