//! No secrets in the trail (SPEC §8): private keys and tokens handed to
//! `record` or `import` are refused with one `error:` line naming the field
//! and the kind, never the secret, and nothing is written; `record
//! --redact` masks them in text fields. The tokens here are fake but of
//! the right shape, and assembled at run time so that the repository itself
//! holds nothing a scanner would flag.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{Output, TestEnv};

/// A fake GitHub token of the right shape.
fn github_token() -> String {
    let alnum = "aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uVwXyZ";
    let body: String = (0..36)
        .map(|i| alnum.as_bytes()[(i * 7 + i * i) % alnum.len()] as char)
        .collect();
    format!("{}_{body}", "ghp")
}

/// Run `atom ARGS`, require exit 2 with an `error:` and a `hint:` line, a
/// store unchanged (object count and tip), and none of `secret`'s lines in
/// what it printed. Returns the output.
fn refused(env: &TestEnv, args: &[&str], secret: &str) -> Output {
    let before = (env.object_counts(), env.tip());
    let out = env.atom_err(args, 2);
    assert_eq!(
        (env.object_counts(), env.tip()),
        before,
        "{args:?} wrote something"
    );
    assert_not_shown(&out, secret);
    out
}

/// No line of `secret` (longer than a word) is in `out`.
fn assert_not_shown(out: &Output, secret: &str) {
    for line in secret.lines().filter(|l| l.len() > 16) {
        let line = line.trim_start_matches("-----");
        assert!(
            !out.stdout.contains(line) && !out.stderr.contains(line),
            "a line of the secret was printed:\n{out}"
        );
    }
}

/// An ed25519 key made by ssh-keygen; with `pem`, an RSA key in PEM format.
fn ssh_keygen(env: &TestEnv, name: &str, pem: bool) -> PathBuf {
    let path = env.path().join(name);
    let mut cmd = env.command("ssh-keygen");
    cmd.args(["-q", "-N", "", "-C", "someone@example.org"]);
    if pem {
        cmd.args(["-t", "rsa", "-b", "2048", "-m", "PEM"]);
    } else {
        cmd.args(["-t", "ed25519"]);
    }
    let out: Output = cmd
        .arg("-f")
        .arg(&path)
        .output()
        .expect("run ssh-keygen")
        .into();
    assert_eq!(out.code, 0, "ssh-keygen failed:\n{out}");
    path
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read a key file")
}

#[test]
fn a_private_key_is_refused_as_an_attachment_even_with_redact() {
    let env = TestEnv::init();
    env.record(&["TASK", "first"]);
    for (name, pem) in [("id_ed25519", false), ("legacy_rsa", true)] {
        let key = ssh_keygen(&env, name, pem);
        let path = key.to_str().unwrap();
        for extra in [&[][..], &["--redact"][..]] {
            let mut args = vec!["record", "TASK", "x", "--attach", path];
            args.extend_from_slice(extra);
            let out = refused(&env, &args, &read(&key));
            assert!(
                out.stderr
                    .contains(&format!("attachment {name} holds a private key")),
                "{out}"
            );
            assert!(out.stderr.contains("byte for byte"), "{out}");
        }
        // Its public half is no secret.
        env.record(&["TASK", "pub", "--attach", &format!("{path}.pub")]);
    }
    // The store's own key file, attached.
    let own = env.store().join("keys/atom_ed25519");
    let out = refused(
        &env,
        &["record", "TASK", "x", "--attach", own.to_str().unwrap()],
        &read(&own),
    );
    assert!(
        out.stderr
            .contains("attachment atom_ed25519 holds this store's own signing key"),
        "{out}"
    );
}

#[test]
fn the_stores_own_key_is_refused_in_metadata_and_summary() {
    let env = TestEnv::init();
    let key = read(&env.store().join("keys/atom_ed25519"));
    let set = format!("k={key}");
    let out = refused(&env, &["record", "TASK", "x", "--set", &set], &key);
    assert!(
        out.stderr.contains(
            "error: refusing to record a secret: metadata.k holds this store's own signing key"
        ),
        "{out}"
    );
    assert!(out.stderr.contains("--redact"), "{out}");

    // One line of its body alone, without the armor, in any field.
    let line = key.lines().nth(2).expect("a body line");
    for args in [
        vec!["record", "TASK", "x", "--summary", line],
        vec!["record", "TASK", "x", "--project", line],
        vec!["record", "TASK", "x", "--agent", line],
        vec![
            "record",
            "TASK",
            "x",
            "--meta",
            &format!(r#"{{"a":[{{"b":"{line}"}}]}}"#),
        ],
    ] {
        let out = refused(&env, &args, line);
        assert!(out.stderr.contains("this store's own signing key"), "{out}");
    }
    let out = refused(
        &env,
        &[
            "record",
            "TASK",
            "x",
            "--meta",
            &format!(r#"{{"a":[{{"b":"{line}"}}]}}"#),
        ],
        line,
    );
    assert!(out.stderr.contains("metadata.a[0].b"), "{out}");

    // The public key and the allowed signers line are no secrets.
    let public = read(&env.store().join("keys/atom_ed25519.pub"));
    let allowed = read(&env.store().join("keys/allowed_signers"));
    let view = env.record(&[
        "TASK",
        "publish",
        "--set",
        &format!("public={}", public.trim()),
        "--set",
        &format!("allowed={}", allowed.trim()),
    ]);
    assert_eq!(view["record"]["metadata"]["public"], public.trim());
}

#[test]
fn a_token_is_refused_then_recorded_masked_with_redact() {
    let env = TestEnv::init();
    env.record(&["TASK", "first"]);
    let token = github_token();
    let meta =
        json!({"deploy": {"gh": format!("token {token} for CI"), "path": "ci.yml"}}).to_string();
    let out = refused(&env, &["record", "DEPLOY", "ship", "--meta", &meta], &token);
    assert_eq!(
        out.stderr.lines().next().unwrap(),
        "error: refusing to record a secret: metadata.deploy.gh holds a GitHub token"
    );
    assert!(
        out.stderr
            .contains("--redact to record it masked as [REDACTED:github-token]"),
        "{out}"
    );
    let summary = format!("shipped with {token}");
    let out = refused(
        &env,
        &["record", "DEPLOY", "ship", "--summary", &summary],
        &token,
    );
    assert!(out.stderr.contains("summary holds a GitHub token"), "{out}");

    // With --redact: recorded, masked, and said so on stderr.
    let out = env.atom(&[
        "--json",
        "record",
        "DEPLOY",
        "ship",
        "--meta",
        &meta,
        "--summary",
        &summary,
        "--redact",
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("note: masked a GitHub token in metadata.deploy.gh")
            && out
                .stderr
                .contains("note: masked a GitHub token in summary"),
        "{out}"
    );
    let view: Value = serde_json::from_str(&out.stdout).unwrap();
    let id = view["record"]["atom_id"].as_str().unwrap();
    let shown = env.atom_ok(&["--json", "show", id]);
    assert!(
        shown.contains("token [REDACTED:github-token] for CI"),
        "{shown}"
    );
    assert!(
        shown.contains("shipped with [REDACTED:github-token]"),
        "{shown}"
    );
    let mut everything = shown;
    everything.push_str(&env.git(&["log", "-p", "--all"]));
    everything.push_str(&env.atom_ok(&["--json", "log", "--all"]));
    everything.push_str(&env.atom_ok(&["export"]));
    everything.push_str(&env.atom_ok(&["query", "SELECT * FROM atoms"]));
    assert!(!everything.contains(&token), "the token was stored");
    assert!(
        everything.contains("ci.yml"),
        "the rest of the metadata is kept"
    );
    env.atom_ok(&["verify"]);
}

#[test]
fn what_atom_writes_itself_records_without_a_finding() {
    let env = TestEnv::init();
    let first = env.record(&["RESEARCH", "research", "--summary", "survey of env vars"]);
    let id = first["record"]["atom_id"].as_str().unwrap().to_owned();
    let commit = first["commit"].as_str().unwrap().to_owned();
    let digest = first["record"]["digest"].as_str().unwrap().to_owned();
    let meta = json!({
        "path": "/home/me/project/gaming.env",
        "paths": ["src/mod32/f26.rs", "./relative/token.rs", "~/.config/secret-tool.conf"],
        "commit": commit,
        "parents": [commit],
        "previous": digest,
        "token": digest,
        "secret_sha": commit,
        "run_id": "550e8400-e29b-41d4-a716-446655440000",
        "built_on": id,
        "tokens": 1200,
        "password_hint": "the usual one",
        "api_key_env": "$OPENAI_API_KEY",
        "archive_ref": format!("refs/atom/archive/main/{}", &commit[..12]),
    });
    let view = env.record(&[
        "CFG",
        "modify_file",
        "--meta",
        &meta.to_string(),
        "--summary",
        &format!("built on {id} ({digest}) at {commit}"),
        "--influenced-by",
        &id,
    ]);
    assert_eq!(view["record"]["metadata"], meta);
    // An export of all this imports again into another store.
    let export = env.atom_ok(&["export"]);
    let other = TestEnv::init();
    let file = other.write_file("trail.jsonl", export.as_bytes());
    other.atom_ok(&["import", file.to_str().unwrap()]);
}

#[test]
fn import_of_a_private_key_is_refused_with_nothing_written() {
    let env = TestEnv::init();
    env.record(&["TASK", "first"]);
    let key = read(&ssh_keygen(&env, "deploy_key", true));
    let good = r#"{"type":"TASK","operation":"fine"}"#.to_owned();
    let with_key =
        json!({"type": "TASK", "operation": "leak", "metadata": {"deploy": {"key": key}}})
            .to_string();
    let id = "ATOM-TASK-20241127-007";
    let with_id = json!({
        "atom_id": id, "operation": "leak", "timestamp": "2024-11-27T10:00:00Z",
        "summary": github_token(),
    })
    .to_string();
    for (lines, expected) in [
        (
            vec![good.clone(), with_key],
            "error: line 2: refusing to import a secret: metadata.deploy.key holds a private key",
        ),
        (
            vec![good.clone(), good.clone(), with_id],
            "error: line 3: ATOM-TASK-20241127-007: refusing to import a secret: summary holds a GitHub token",
        ),
    ] {
        let before = (env.object_counts(), env.tip());
        let file = env.write_file("leak.jsonl", (lines.join("\n") + "\n").as_bytes());
        let out = env.atom_err(&["import", file.to_str().unwrap()], 2);
        assert!(out.stderr.starts_with(expected), "{out}");
        assert_eq!((env.object_counts(), env.tip()), before, "{out}");
        assert_not_shown(&out, &key);
        assert!(!out.stderr.contains(&github_token()), "{out}");
    }
    assert_eq!(env.log_ids(&[]).len(), 1);
}

#[test]
fn an_attachment_named_like_a_token_is_refused_without_its_name() {
    let env = TestEnv::init();
    let token = github_token();
    let file = env.write_file(&token, b"harmless\n");
    for extra in [&[][..], &["--redact"][..]] {
        let mut args = vec!["record", "TASK", "x", "--attach", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        let before = (env.object_counts(), env.tip());
        let out = env.atom_err(&args, 2);
        assert_eq!((env.object_counts(), env.tip()), before);
        let error = out.stderr.lines().next().unwrap();
        assert_eq!(
            error,
            "error: refusing to record a secret: an attachment name holds a GitHub token"
        );
        assert!(out.stderr.contains("rename the file"), "{out}");
    }
}
