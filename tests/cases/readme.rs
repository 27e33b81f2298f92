//! The README's walk-through runs as written on a fresh store, so that it
//! keeps matching the program; its set-up demo uses a throwaway store.

use std::path::Path;

use crate::common::TestEnv;

const README: &str = include_str!("../../README.md");

/// The first ```sh block after the heading `heading`.
fn first_sh_block(heading: &str) -> &'static str {
    let section = README
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README has no {heading:?}"))
        .1;
    let block = section.split_once("```sh\n").expect("a ```sh block").1;
    block.split_once("```").expect("the block ends").0
}

#[test]
fn the_first_walk_runs_as_written_on_a_fresh_store() {
    let env = TestEnv::new();
    let script = first_sh_block("## A first walk");
    assert!(
        script.starts_with("export ATOM_HOME=$(mktemp -d)"),
        "the walk starts in a throwaway store:\n{script}"
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_atom")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let tmp = env.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = env
        .command("sh")
        .arg("-exc")
        .arg(format!("{script}\necho \"$ATOM_HOME\" > walked-store\n"))
        .env("PATH", path)
        .env("TMPDIR", &tmp)
        .output()
        .expect("run sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README's walk failed (the last `+` line is the command):\n{stdout}\n{stderr}"
    );
    // It ran in the store it made, not in $ATOM_HOME of the caller.
    let walked = std::fs::read_to_string(env.path().join("walked-store")).unwrap();
    assert!(walked.trim().starts_with(tmp.to_str().unwrap()), "{walked}");
    assert!(!env.store().exists(), "the caller's store was not touched");
    // What it says it does, it did.
    assert_eq!(
        std::fs::read(env.path().join("restored.env")).unwrap(),
        std::fs::read(env.path().join("gaming.env")).unwrap()
    );
    for expected in [
        "ATOM-CFG-",
        "ATOM-RESEARCH-",
        "ATOM-TASK-",
        "verified",
        "ok      index",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
}

#[test]
fn the_set_up_demo_runs_in_a_throwaway_store_and_installs_locked() {
    let setup = first_sh_block("## Set up");
    let first = setup.lines().next().unwrap();
    assert!(
        first.starts_with("export ATOM_HOME=$(mktemp -d)"),
        "the demo's first line makes a throwaway store: {first}"
    );
    assert!(README.contains("cargo install --locked --path ."));
    assert!(!README.contains("cargo install --path"));
}
