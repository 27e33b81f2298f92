//! The scanner against fake secrets of every format (assembled at run time,
//! so that this file holds nothing a scanner would flag) and against what
//! atom writes itself, which must never be flagged.

use serde_json::json;

use super::*;

/// `n` characters cycling through `alphabet`, deterministic and random-looking.
fn filler(alphabet: &str, n: usize, seed: usize) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    (0..n)
        .map(|i| chars[(i * 7 + seed * 13 + i * i * 3) % chars.len()])
        .collect()
}

const ALNUM: &str = "aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uVwXyZ";
const BASE32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B64: &str = "QWxhZGRpbjpvcGVuIHNlc2FtZQ0123456789+/";

fn kinds(text: &str) -> Vec<&'static str> {
    scan(text).iter().map(|f| f.kind.name()).collect()
}

fn private_key_block(label: &str) -> String {
    let body: Vec<String> = (0..5).map(|i| filler(B64, 64, i)).collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        body.join("\n")
    )
}

struct Fake {
    name: &'static str,
    text: String,
}

fn fakes() -> Vec<Fake> {
    let f = |name, text: String| Fake { name, text };
    vec![
        f(
            "aws-access-key-id",
            format!("AKIA{}", filler(BASE32, 16, 1)),
        ),
        f(
            "aws-access-key-id",
            format!("ASIA{}", filler(BASE32, 16, 2)),
        ),
        f(
            "aws-secret-key",
            format!("aws_secret_access_key = {}", filler(B64, 40, 3)),
        ),
        f("github-token", format!("ghp_{}", filler(ALNUM, 36, 4))),
        f("github-token", format!("gho_{}", filler(ALNUM, 36, 5))),
        f("github-token", format!("ghu_{}", filler(ALNUM, 36, 6))),
        f("github-token", format!("ghs_{}", filler(ALNUM, 36, 7))),
        f("github-token", format!("ghr_{}", filler(ALNUM, 36, 8))),
        f(
            "github-token",
            format!(
                "github_pat_{}_{}",
                filler(ALNUM, 22, 9),
                filler(ALNUM, 59, 10)
            ),
        ),
        f(
            "slack-token",
            format!("xoxb-{}-{}", "2468013579", filler(ALNUM, 24, 11)),
        ),
        f(
            "slack-token",
            format!("xoxp-{}-{}", "1357924680", filler(ALNUM, 32, 12)),
        ),
        f(
            "slack-webhook",
            format!(
                "https://{}/services/T{}/B{}/{}",
                "hooks.slack.com",
                filler(BASE32, 8, 13),
                filler(BASE32, 8, 14),
                filler(ALNUM, 24, 15)
            ),
        ),
        f("openai-key", format!("sk-{}", filler(ALNUM, 48, 16))),
        f("openai-key", format!("sk-proj-{}", filler(ALNUM, 64, 17))),
        f(
            "anthropic-key",
            format!("sk-ant-api03-{}", filler(ALNUM, 80, 18)),
        ),
        f("google-api-key", format!("AIza{}", filler(ALNUM, 35, 19))),
        f("stripe-key", format!("sk_live_{}", filler(ALNUM, 24, 20))),
        f("stripe-key", format!("rk_live_{}", filler(ALNUM, 24, 21))),
        f(
            "jwt",
            format!(
                "eyJ{}.eyJ{}.{}",
                filler(ALNUM, 20, 22),
                filler(ALNUM, 40, 23),
                filler(ALNUM, 43, 24)
            ),
        ),
        f("secret", format!("password={}", filler(ALNUM, 16, 25))),
        f(
            "secret",
            format!("client_secret: \"{}\"", filler(ALNUM, 24, 26)),
        ),
        f("secret", format!("DB_TOKEN={}", filler(ALNUM, 20, 27))),
        f(
            "secret",
            format!("\"api_key\": \"{}\"", filler(ALNUM, 32, 28)),
        ),
        f(
            "secret",
            format!("Authorization: Bearer {}", filler(ALNUM, 32, 29)),
        ),
        f(
            "secret",
            format!("postgres://app:{}@db.internal/prod", filler(ALNUM, 16, 30)),
        ),
        f("private-key", private_key_block("OPENSSH PRIVATE KEY")),
        f("private-key", private_key_block("RSA PRIVATE KEY")),
        f("private-key", private_key_block("EC PRIVATE KEY")),
        f("private-key", private_key_block("DSA PRIVATE KEY")),
        f("private-key", private_key_block("PRIVATE KEY")),
        f("private-key", private_key_block("ENCRYPTED PRIVATE KEY")),
        f("private-key", private_key_block("PGP PRIVATE KEY BLOCK")),
        f(
            "private-key",
            format!("{}{}", "b3BlbnNzaC1rZXktdjE", filler(B64, 50, 31)),
        ),
    ]
}

#[test]
fn every_format_is_found_alone_and_in_context() {
    for fake in fakes() {
        assert_eq!(kinds(&fake.text), [fake.name], "{}", fake.text);
        let context = format!("before {} after, \"quoted\"", fake.text);
        let found = scan(&context);
        assert_eq!(found.len(), 1, "{context}");
        assert_eq!(found[0].kind.name(), fake.name, "{context}");
        let masked = redact(&context);
        assert!(masked.text.starts_with("before "), "{}", masked.text);
        assert!(
            masked.text.contains(&mask(found[0].kind)),
            "{}",
            masked.text
        );
        assert!(masked.text.contains(" after"), "{}", masked.text);
        assert_eq!(scan(&masked.text), [], "{}", masked.text);
    }
}

#[test]
fn assignments_mask_the_value_only() {
    let token = filler(ALNUM, 20, 40);
    let masked = redact(&format!("export API_KEY={token}\nnext line"));
    assert_eq!(masked.text, "export API_KEY=[REDACTED:secret]\nnext line");
    let masked = redact(&format!(
        "curl -H 'Authorization: Bearer {token}' https://x"
    ));
    assert_eq!(
        masked.text,
        "curl -H 'Authorization: Bearer [REDACTED:secret]' https://x"
    );
}

#[test]
fn key_blocks_without_newlines_or_end_are_masked_whole() {
    let block = private_key_block("OPENSSH PRIVATE KEY");
    let flat = block.trim_end().replace('\n', " ");
    assert_eq!(
        redact(&format!("key: {flat}; end")).text,
        "key: [REDACTED:private-key]; end"
    );
    let cut = &block[..block.find("-----END").unwrap()];
    let masked = redact(&format!("{cut}\nthen notes"));
    assert_eq!(masked.findings.len(), 1);
    assert!(
        masked.text.starts_with("[REDACTED:private-key]"),
        "{}",
        masked.text
    );
    assert!(masked.text.ends_with("then notes"), "{}", masked.text);
}

#[test]
fn a_key_header_without_key_material_is_no_secret() {
    for text in [
        "found -----BEGIN RSA PRIVATE KEY----- in config.py and rotated it",
        "-----BEGIN OPENSSH PRIVATE KEY-----\n-----END OPENSSH PRIVATE KEY-----",
        "if line.contains(\"PRIVATE KEY\")",
    ] {
        assert_eq!(scan(text), [], "{text}");
    }
}

#[test]
fn what_atom_writes_is_never_flagged() {
    let sha256 = format!("sha256:{}", filler("0123456789abcdef", 64, 1));
    let commit = filler("0123456789abcdef", 40, 2);
    let texts = [
        "ATOM-CFG-20241127-003".to_owned(),
        "ATOM-RESEARCH-20241127-002 built on ATOM-DECISION-20241127-001".to_owned(),
        sha256.clone(),
        format!("digest: {sha256}"),
        format!("token={sha256}"),
        format!("secret: {commit}"),
        format!("api_key = {}", filler("0123456789abcdef", 64, 3)),
        commit.clone(),
        "550e8400-e29b-41d4-a716-446655440000".to_owned(),
        "token: 550e8400-e29b-41d4-a716-446655440000".to_owned(),
        "refs/atom/archive/main/0123456789ab".to_owned(),
        "src/mod32/f26.rs gaming.env /home/me/.local/share/atom/trail.git".to_owned(),
        "password_file=/run/secrets/db_password2".to_owned(),
        "token=${GITHUB_TOKEN} secret={{ secrets.DEPLOY_KEY }}".to_owned(),
        "token_cost: 1200, tokens=abc123abc123".to_owned(),
        "raise vm.max_map_count for gaming; survey of env vars".to_owned(),
        "rolled back to ATOM-TASK-20241127-004; 2 atoms kept under refs/atom/archive/main/abcdef012345".to_owned(),
        "scikit uses sk-learn-compatible-estimators-and-pipelines".to_owned(),
        "the password is troublemakings, internationalization".to_owned(),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host".to_owned(),
        "task-runner-0123456789-abcdefghij and desk-booking".to_owned(),
        "Slovakia, heyjude, monkey: value".to_owned(),
        "\"token_cost\": rng.randint(100, 20000)".to_owned(),
        "api_key = settings.SECRET_KEY_2024; password: env[DB_PASS_1]".to_owned(),
    ];
    for text in &texts {
        assert_eq!(scan(text), [], "{text}");
    }
}

#[test]
fn the_repository_holds_no_secrets() {
    // The README's examples, the changelog and every source and test file:
    // fake tokens in tests are assembled at run time, so nothing here is
    // flagged, and the docs show no false positive either.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md"), root.join("CHANGELOG.md")];
    let mut dirs: Vec<_> = ["src", "tests", "benches", "hooks", "schema"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !path.ends_with("node_modules") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| {
                ["rs", "md", "sh", "sql", "json", "mjs"].contains(&e.to_str().unwrap_or(""))
            }) {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 20, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<usize> = scan(&text)
            .iter()
            .map(|f| text[..f.range.start].lines().count())
            .collect();
        assert!(
            lines.is_empty(),
            "{}: findings on lines {lines:?}",
            file.display()
        );
    }
}

#[test]
fn entropy_separates_words_from_tokens() {
    assert!(entropy("aaaaaaaaaaaa") < 0.01);
    assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    assert!(entropy("internationalization") < MIN_ENTROPY);
    assert!(looks_random(&filler(ALNUM, 16, 50), 12));
    assert!(!looks_random("troublemakings", 12), "no digits: a word");
    assert!(!looks_random("abc123abc123", 12), "too repetitive");
    assert!(
        !looks_random(&filler("0123456789abcdef", 40, 51), 12),
        "a commit id"
    );
    assert!(!looks_random("ATOM-CFG-20241127-003", 12), "an atom id");
}

#[test]
fn a_known_key_is_found_by_its_lines_and_runs_but_not_its_public_half() {
    let public_b64 = filler(B64, 68, 60);
    let public = format!("ssh-ed25519 {public_b64} me@host");
    let body: Vec<String> = (0..6).map(|i| filler(B64, 70, 61 + i)).collect();
    let file = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
        body.join("\n")
    );
    let scanner = Scanner::new().with_private_key(&file, Some(&public));
    let names =
        |text: &str| -> Vec<&str> { scanner.scan(text).iter().map(|f| f.kind.name()).collect() };
    assert_eq!(names(&file), ["store-key"]);
    assert_eq!(names(&format!("k={}", body[3])), ["store-key"]);
    assert_eq!(names(&format!("k=xx{}yy", body[2])), ["store-key"]);
    let reflowed = body.concat();
    assert_eq!(names(&format!("k={}", &reflowed[30..150])), ["store-key"]);
    assert_eq!(names(&public), Vec::<&str>::new());
    assert_eq!(
        names(&format!("k={}", &reflowed[30..60])),
        Vec::<&str>::new()
    );
    // Without the key, loose body lines are not recognisable.
    assert_eq!(kinds(&format!("k {}", body[3])), Vec::<&str>::new());
}

#[test]
fn json_is_scanned_at_any_depth_with_key_names() {
    let scanner = Scanner::new();
    let token = format!("ghp_{}", filler(ALNUM, 36, 70));
    let password = filler(ALNUM, 16, 71);
    let meta = json!({
        "path": "gaming.env",
        "commit": filler("0123456789abcdef", 40, 72),
        "aws": {"region": "eu-west-1", "keys": [1, {"deep": [format!("x {token} y")]}]},
    });
    let map = meta.as_object().unwrap();
    let found = scanner.locate_json("metadata", map).unwrap();
    assert_eq!(found.field, "metadata.aws.keys[1].deep[0]");
    assert_eq!(
        found.to_string(),
        "metadata.aws.keys[1].deep[0] holds a GitHub token"
    );

    let by_name = json!({"db": {"password": password.clone()}});
    let found = scanner.locate_json("metadata", by_name.as_object().unwrap());
    assert_eq!(
        found.unwrap().to_string(),
        "metadata.db.password holds a password, secret or token"
    );

    let in_key = json!({"nested": {token.clone(): true}});
    let found = scanner
        .locate_json("metadata", in_key.as_object().unwrap())
        .unwrap();
    assert_eq!(found.field, "a key of metadata.nested");
    assert!(!found.to_string().contains(&token));

    let mut all = json!({
        token.clone(): "a",
        "[REDACTED:github-token]": "b",
        "list": [format!("use {token}"), 7],
        "password": password.clone(),
        "fine": "nothing here",
    });
    let masked = scanner.redact_json("metadata", all.as_object_mut().unwrap());
    let fields: Vec<&str> = masked.iter().map(|l| l.field.as_str()).collect();
    assert_eq!(
        fields,
        ["a key of metadata", "metadata.list[0]", "metadata.password"]
    );
    let text = all.to_string();
    assert!(
        !text.contains(&token) && !text.contains(&password),
        "{text}"
    );
    assert_eq!(all["[REDACTED:github-token] (2)"], "b");
    assert_eq!(all["[REDACTED:github-token]"], "a");
    assert_eq!(all["list"][0], "use [REDACTED:github-token]");
    assert_eq!(all["password"], "[REDACTED:secret]");
    assert_eq!(all["fine"], "nothing here");
    assert!(scanner
        .locate_json("metadata", all.as_object().unwrap())
        .is_none());
}

#[test]
fn another_openssh_key_is_a_private_key_not_the_stores() {
    let header = format!("{}{}", "b3BlbnNzaC1rZXktdjE", filler(B64, 51, 80));
    let file = |seed: usize| {
        let body: Vec<String> = (0..5).map(|i| filler(B64, 70, seed + i)).collect();
        format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{header}\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
            body.join("\n")
        )
    };
    let ours = file(81);
    let scanner = Scanner::new().with_private_key(&ours, None);
    let names =
        |text: &str| -> Vec<&str> { scanner.scan(text).iter().map(|f| f.kind.name()).collect() };
    assert_eq!(names(&ours), ["store-key"]);
    assert_eq!(names(&file(90)), ["private-key"]);
    assert_eq!(names(&format!("k={header}")), ["private-key"]);
}
