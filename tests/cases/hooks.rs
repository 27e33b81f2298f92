//! Git hooks (SPEC §5 `atom hooks`): real project repositories, real
//! `git commit`, `--amend` and `rebase` running the installed scripts, which
//! run the built `atom` binary.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{Output, TestEnv};

/// A project repository inside the test's temporary directory.
struct Repo<'a> {
    env: &'a TestEnv,
    dir: PathBuf,
}

impl<'a> Repo<'a> {
    fn new(env: &'a TestEnv, name: &str) -> Self {
        let dir = env.path().join(name);
        let repo = Repo { env, dir };
        repo.git_in(repo.env.path(), &["init", "-q", "-b", "main", name]);
        repo.git(&["config", "user.name", "Ann Author"]);
        repo.git(&["config", "user.email", "ann@example.com"]);
        repo
    }

    fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_with(dir, &[], args);
        assert_eq!(out.code, 0, "git {args:?} failed:\n{out}");
        out.stdout
    }

    fn git_with(&self, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = self.env.command("git");
        cmd.current_dir(dir).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run git").into()
    }

    fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.dir, args)
    }

    /// `git commit` (hooks run), requiring success, then `atom agents
    /// drain`, which waits until the spooled commit is recorded and shows
    /// the warnings recording it gave; returns both outputs in one.
    fn commit(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut full = vec!["commit", "-q"];
        full.extend_from_slice(args);
        let mut out = self.git_with(&self.dir, env, &full);
        assert_eq!(out.code, 0, "git commit failed:\n{out}");
        out.stderr.push_str(&self.drained());
        out
    }

    /// `atom agents drain` in the project (where the store may be broken:
    /// its failure is part of what it prints); returns its stderr.
    fn drained(&self) -> String {
        let out: Output = self
            .env
            .atom_command(&["agents", "drain"])
            .current_dir(&self.dir)
            .output()
            .expect("run atom agents drain")
            .into();
        out.stderr
    }

    fn write(&self, name: &str, text: &[u8]) {
        std::fs::write(self.dir.join(name), text).expect("write a project file");
    }

    fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// The atom ids in `rev`'s note, one per line.
    fn note(&self, rev: &str) -> Vec<String> {
        let out = self.git_with(&self.dir, &[], &["notes", "--ref=atom", "show", rev]);
        if out.code != 0 {
            return Vec::new();
        }
        out.stdout.split_whitespace().map(str::to_owned).collect()
    }

    fn install(&self) -> Value {
        let dir = self.dir.to_str().unwrap();
        self.env.atom_json(&["hooks", "install", "--repo", dir])
    }
}

fn show(env: &TestEnv, id: &str) -> Value {
    env.atom_json(&["show", id])["record"].clone()
}

fn atom_count(env: &TestEnv) -> usize {
    env.atom_json(&["log"]).as_array().unwrap().len()
}

fn ids(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}

#[test]
fn a_commit_becomes_a_commit_atom_noted_on_the_commit() {
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    repo.write("gaming.env", b"a=1\nb=2\nc=3\n");
    repo.write("logo.bin", b"\x00\x01\x02");
    repo.write("old.txt", b"x\n");
    repo.git(&["add", "."]);
    repo.commit(&[], &["-m", "before the hooks"]);
    assert!(repo.note("HEAD").is_empty());

    let installed = repo.install();
    assert_eq!(installed["trail"], "main");
    let hooks = installed["hooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 4);
    assert!(hooks.iter().all(|h| h["action"] == "installed"));

    repo.write("gaming.env", b"a=1\nb=20\nc=3\nd=4\n");
    repo.write("new.txt", b"1\n2\n");
    repo.write("logo.bin", b"\x00\x09");
    std::fs::remove_file(repo.dir.join("old.txt")).unwrap();
    repo.git(&["add", "-A"]);
    let parent = repo.head();
    let out = repo.commit(&[], &["-m", "tune gaming.env", "-m", "more words"]);
    assert_eq!(out.stderr, "", "a recorded commit prints nothing");
    let sha = repo.head();

    let note = repo.note("HEAD");
    assert_eq!(note.len(), 1, "{note:?}");
    let atom = show(&env, &note[0]);
    assert_eq!(atom["type"], "COMMIT");
    assert_eq!(atom["operation"], "commit");
    assert_eq!(atom["agent"], "Ann Author");
    assert_eq!(atom["summary"], "tune gaming.env");
    let m = &atom["metadata"];
    assert_eq!(m["commit"], sha.as_str());
    assert_eq!(ids(&m["parents"]), [parent.as_str()]);
    assert_eq!(m["branch"], "main");
    assert_eq!(m["subject"], "tune gaming.env");
    let top = std::fs::canonicalize(&repo.dir).unwrap();
    assert_eq!(m["repo"], top.to_str().unwrap());
    let files: Vec<(String, String, Value, Value)> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["change"].as_str().unwrap().to_owned(),
                f["added"].clone(),
                f["removed"].clone(),
            )
        })
        .collect();
    let n = |x: u64| Value::from(x);
    assert_eq!(
        files,
        [
            ("gaming.env".into(), "modify".into(), n(2), n(1)),
            ("logo.bin".into(), "modify".into(), Value::Null, Value::Null),
            ("new.txt".into(), "add".into(), n(2), n(0)),
            ("old.txt".into(), "delete".into(), n(0), n(1)),
        ]
    );

    // The files are indexed as paths, and the commit is a query away.
    let by_path = env.atom_json(&["log", "--path", "gaming.env"]);
    assert_eq!(by_path.as_array().unwrap().len(), 1);
    assert_eq!(by_path[0]["record"]["atom_id"], note[0].as_str());
    assert_eq!(
        env.atom_json(&["log", "--path", "old.txt"])[0]["record"]["atom_id"],
        note[0].as_str()
    );
    let sql =
        format!("SELECT atom_id FROM atoms WHERE json_extract(metadata, '$.commit') = '{sha}'");
    assert_eq!(
        env.atom_json(&["query", &sql])[0]["atom_id"],
        note[0].as_str()
    );

    // ATOM_AGENT names the agent; the next commit follows on the trail.
    repo.write("new.txt", b"1\n");
    repo.commit(&[("ATOM_AGENT", "claude-code")], &["-am", "trim"]);
    let second = show(&env, &repo.note("HEAD")[0]);
    assert_eq!(second["agent"], "claude-code");
    assert_eq!(second["previous_atom"], note[0].as_str());
    // git still sees its own history untouched: the commits carry no trailer.
    assert!(!repo.git(&["log", "--format=%B"]).contains("ATOM-"));
    env.cross_check();
}

#[test]
fn influences_come_from_the_environment_and_trailers() {
    let env = TestEnv::init();
    let research = env.record(&["RESEARCH", "research"])["record"]["atom_id"].clone();
    let decision = env.record(&["DECISION", "save_decision"])["record"]["atom_id"].clone();
    let (research, decision) = (research.as_str().unwrap(), decision.as_str().unwrap());
    let repo = Repo::new(&env, "project");
    repo.install();
    repo.write("a", b"a\n");
    repo.git(&["add", "a"]);
    let message = format!("apply the decision\n\nAtom-Influenced-By: {decision}\nAtom-Influenced-By: ATOM-NOPE-20200101-001\n");
    let out = repo.commit(&[("ATOM_INFLUENCED_BY", research)], &["-m", &message]);
    let warnings: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(warnings.len(), 1, "{out}");
    assert!(
        warnings[0].starts_with("warning: atom: ")
            && warnings[0].contains("ATOM-NOPE-20200101-001"),
        "{out}"
    );
    let atom = show(&env, &repo.note("HEAD")[0]);
    let mut links = ids(&atom["influenced_by"]);
    links.sort();
    assert_eq!(links, [decision, research]);
    // Both ways: the decision lists the commit among what built on it.
    let trace = env.atom_json(&["trace", decision, "--down"]);
    assert!(
        trace
            .to_string()
            .contains(atom["atom_id"].as_str().unwrap()),
        "{trace}"
    );
    env.cross_check();
}

#[test]
fn amend_and_rebase_carry_the_notes_and_are_recorded() {
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    // A user's post-rewrite hook gets git's arguments and stdin, as before.
    let user_hook = repo.dir.join(".git/hooks/post-rewrite");
    std::fs::write(
        &user_hook,
        "#!/bin/sh\n{ echo \"args: $*\"; cat; } >> ../rewrites.log\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &user_hook,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    repo.install();
    repo.write("base", b"base\n");
    repo.git(&["add", "base"]);
    repo.commit(&[], &["-m", "base"]);

    // Amend: the new commit keeps the old commit's atom, gains its own and
    // the amend atom's.
    repo.write("f", b"one\n");
    repo.git(&["add", "f"]);
    repo.commit(&[], &["-m", "first try"]);
    let old = repo.head();
    let old_ids = repo.note("HEAD");
    assert_eq!(old_ids.len(), 1);
    repo.commit(&[("ATOM_AGENT", "qwen")], &["--amend", "-m", "second try"]);
    let new = repo.head();
    assert_ne!(old, new);
    let note = repo.note("HEAD");
    assert_eq!(note.len(), 3, "{note:?}");
    assert_eq!(note[0], old_ids[0], "the earlier atom comes first");
    assert_eq!(repo.note(&old), old_ids, "the old commit's note stays");
    let own = show(&env, &note[1]);
    assert_eq!(
        (
            own["operation"].as_str(),
            own["metadata"]["commit"].as_str()
        ),
        (Some("commit"), Some(new.as_str()))
    );
    let amend = show(&env, &note[2]);
    assert_eq!(amend["type"], "COMMIT");
    assert_eq!(amend["operation"], "amend");
    assert_eq!(amend["agent"], "qwen");
    assert_eq!(ids(&amend["influenced_by"]), [old_ids[0].as_str()]);
    let seen = std::fs::read_to_string(env.path().join("rewrites.log")).unwrap();
    assert_eq!(seen, format!("args: amend\n{old} {new}\n"));
    let pairs = amend["metadata"]["rewritten"].as_array().unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!(
        (pairs[0]["old"].as_str(), pairs[0]["new"].as_str()),
        (Some(old.as_str()), Some(new.as_str()))
    );

    // Rebase a two-commit branch onto a main that moved on.
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let mut before = Vec::new();
    for name in ["f1", "f2"] {
        repo.write(name, name.as_bytes());
        repo.git(&["add", name]);
        repo.commit(&[], &["-m", name]);
        before.push((repo.head(), repo.note("HEAD")));
    }
    repo.git(&["checkout", "-q", "main"]);
    repo.write("m", b"m\n");
    repo.git(&["add", "m"]);
    repo.commit(&[], &["-m", "main moves"]);
    repo.git(&["checkout", "-q", "feature"]);
    let rebase = repo.git_with(&repo.dir, &[], &["rebase", "main"]);
    assert_eq!(rebase.code, 0, "{rebase}");
    assert!(!rebase.stderr.contains("warning: atom"), "{rebase}");

    let after: Vec<String> = repo
        .git(&["rev-list", "--reverse", "main..feature"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(after.len(), 2);
    let mut rebase_ids = Vec::new();
    for ((old_sha, old_note), new_sha) in before.iter().zip(&after) {
        assert_ne!(old_sha, new_sha);
        let note = repo.note(new_sha);
        assert_eq!(&note[0], &old_note[0], "{new_sha}: {note:?}");
        let last = show(&env, note.last().unwrap());
        assert_eq!(last["operation"], "rebase");
        rebase_ids.push(last["atom_id"].clone());
    }
    assert_eq!(
        rebase_ids[0], rebase_ids[1],
        "one atom for the whole rebase"
    );
    let atom = show(&env, rebase_ids[0].as_str().unwrap());
    assert_eq!(atom["metadata"]["branch"], "feature");
    let pairs: Vec<(&str, &str)> = atom["metadata"]["rewritten"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["old"].as_str().unwrap(), p["new"].as_str().unwrap()))
        .collect();
    let expected: Vec<(&str, &str)> = before
        .iter()
        .zip(&after)
        .map(|((o, _), n)| (o.as_str(), n.as_str()))
        .collect();
    assert_eq!(pairs, expected);
    let mut links = ids(&atom["influenced_by"]);
    links.sort();
    let mut want: Vec<&str> = before.iter().map(|(_, n)| n[0].as_str()).collect();
    want.sort();
    assert_eq!(links, want);
    env.cross_check();
}

#[test]
fn a_merge_commit_is_recorded_and_a_fast_forward_is_not() {
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    repo.install();
    repo.write("base", b"base\n");
    repo.git(&["add", "base"]);
    repo.commit(&[], &["-m", "base"]);
    repo.git(&["checkout", "-q", "-b", "topic"]);
    repo.write("t", b"1\n2\n3\n");
    repo.git(&["add", "t"]);
    repo.commit(&[], &["-m", "topic work"]);
    let topic = repo.head();
    repo.git(&["checkout", "-q", "main"]);
    repo.write("m", b"m\n");
    repo.git(&["add", "m"]);
    repo.commit(&[], &["-m", "main work"]);
    let main = repo.head();
    let atoms = atom_count(&env);

    let out = repo.git_with(&repo.dir, &[], &["merge", "-q", "--no-edit", "topic"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(!out.stderr.contains("warning"), "{out}");
    let merge = repo.head();
    let note = repo.note("HEAD");
    assert_eq!(note.len(), 1, "{note:?}");
    let atom = show(&env, &note[0]);
    assert_eq!(atom["operation"], "merge");
    assert_eq!(atom["metadata"]["commit"], merge.as_str());
    assert_eq!(
        ids(&atom["metadata"]["parents"]),
        [main.as_str(), topic.as_str()]
    );
    let files = atom["metadata"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "against the first parent: {files:?}");
    assert_eq!(
        (files[0]["path"].as_str(), files[0]["added"].as_u64()),
        (Some("t"), Some(3))
    );
    assert_eq!(atom_count(&env), atoms + 1);

    // A fast-forward makes no commit: nothing to record.
    repo.git(&["checkout", "-q", "topic"]);
    let out = repo.git_with(&repo.dir, &[], &["merge", "-q", "main"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(repo.head(), merge);
    assert_eq!(atom_count(&env), atoms + 1);
    env.cross_check();
}

#[test]
fn an_existing_hook_is_chained_and_restored_exactly() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    let hook = repo.dir.join(".git/hooks/post-commit");
    let user_hook = "#!/bin/sh\necho \"user hook ran in $(pwd)\" >> ../user-hook.log\n";
    std::fs::write(&hook, user_hook).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o750)).unwrap();

    let first = repo.install();
    assert_eq!(first["hooks"][0]["name"], "post-commit");
    assert_eq!(first["hooks"][0]["chained"], true);
    let script = std::fs::read(&hook).unwrap();
    let again = repo.install();
    assert!(
        again["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["action"] == "unchanged"),
        "{again}"
    );
    assert_eq!(
        std::fs::read(&hook).unwrap(),
        script,
        "installing twice changes nothing"
    );

    repo.write("a", b"a\n");
    repo.git(&["add", "a"]);
    repo.commit(&[], &["-m", "one"]);
    let log = std::fs::read_to_string(env.path().join("user-hook.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "the user's hook ran once: {log}");
    assert_eq!(repo.note("HEAD").len(), 1, "and so did ours");

    let out = env.atom_json(&["hooks", "uninstall", "--repo", repo.dir.to_str().unwrap()]);
    assert_eq!(out["hooks"][0]["action"], "removed");
    assert_eq!(out["hooks"][0]["chained"], true);
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), user_hook);
    assert_eq!(
        std::fs::metadata(&hook).unwrap().permissions().mode() & 0o7777,
        0o750
    );
    assert!(!repo.dir.join(".git/hooks/post-rewrite").exists());
    let names: Vec<String> = std::fs::read_dir(repo.dir.join(".git/hooks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("atom"))
        .collect();
    assert!(names.is_empty(), "left behind: {names:?}");

    let atoms = atom_count(&env);
    repo.write("a", b"b\n");
    repo.commit(&[], &["-am", "two"]);
    assert_eq!(atom_count(&env), atoms, "no atom after uninstall");
    let log = std::fs::read_to_string(env.path().join("user-hook.log")).unwrap();
    assert_eq!(log.lines().count(), 2, "the user's hook still runs: {log}");
    let twice = env.atom_json(&["hooks", "uninstall", "--repo", repo.dir.to_str().unwrap()]);
    assert!(twice["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["action"] == "absent"));
}

#[test]
fn install_follows_core_hooks_path() {
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    repo.git(&["config", "core.hooksPath", ".githooks"]);
    std::fs::create_dir(repo.dir.join("sub")).unwrap();
    let out = env.atom_json(&[
        "hooks",
        "install",
        "--repo",
        repo.dir.join("sub").to_str().unwrap(),
    ]);
    let top = std::fs::canonicalize(&repo.dir).unwrap();
    assert_eq!(out["hooks_dir"], top.join(".githooks").to_str().unwrap());
    assert!(repo.dir.join(".githooks/post-commit").is_file());
    let human = env.atom_ok(&["hooks", "install", "--repo", repo.dir.to_str().unwrap()]);
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "post-commit: already installed",
            "post-merge: already installed",
            "post-rewrite: already installed",
            "pre-push: already installed",
        ],
        "{human}"
    );
    assert!(lines[4].contains("current trail (main)"), "{human}");
    assert!(!repo.dir.join(".git/hooks/post-commit").exists());
    repo.write("a", b"a\n");
    repo.git(&["add", "a"]);
    repo.commit(&[], &["-m", "one"]);
    let note = repo.note("HEAD");
    assert_eq!(note.len(), 1);
    assert_eq!(show(&env, &note[0])["metadata"]["subject"], "one");
}

/// Commit once and require: the commit happened, git exited 0, and stderr
/// is one `warning: atom: ...` line.
fn commit_despite(repo: &Repo, what: &str, env: &[(&str, &str)]) {
    let before = repo.git(&["rev-list", "--count", "--all"]);
    repo.write("a", what.as_bytes());
    repo.git(&["add", "a"]);
    let out = repo.git_with(&repo.dir, env, &["commit", "-q", "-m", what]);
    assert_eq!(out.code, 0, "{what}: git commit failed:\n{out}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("warning: atom: "),
        "{what}: expected one warning line:\n{out}"
    );
    assert_ne!(
        repo.git(&["rev-list", "--count", "--all"]),
        before,
        "{what}: no commit"
    );
    assert!(repo.note("HEAD").is_empty(), "{what}: noted anyway");
}

#[test]
fn a_locked_broken_or_missing_store_never_stops_a_commit_and_loses_none() {
    let env = TestEnv::init();
    env.record(&["TASK", "start"]);
    let repo = Repo::new(&env, "project");
    repo.install();
    // `git commit` alone: the hook spools the commit and says nothing.
    let spooled = |what: &str| {
        repo.write("a", what.as_bytes());
        repo.git(&["add", "a"]);
        let out = repo.git_with(&repo.dir, &[], &["commit", "-q", "-m", what]);
        assert_eq!(out.code, 0, "{what}: {out}");
        assert_eq!(out.stderr, "", "{what}: the commit is spooled quietly");
        repo.head()
    };
    let mut kept = Vec::new();

    // Locked: another writer holds the store lock. The drain the hook
    // started gives up; the commit stays spooled.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(env.git_dir().join("atom.lock"))
        .unwrap();
    lock.lock().unwrap();
    kept.push(spooled("locked"));
    assert!(repo.note("HEAD").is_empty(), "not recorded while locked");
    lock.unlock().unwrap();

    // Broken: the store's HEAD is garbage; nothing can be recorded.
    let head = env.git_dir().join("HEAD");
    let good_head = std::fs::read(&head).unwrap();
    std::fs::write(&head, b"garbage\n").unwrap();
    kept.push(spooled("broken"));
    let drained = repo.drained();
    assert!(drained.starts_with("error: "), "{drained}");
    assert!(repo.note("HEAD").is_empty(), "not recorded while broken");
    std::fs::write(&head, good_head).unwrap();

    // Missing: the store is gone, so there is no spool either: one warning,
    // and the commit goes through.
    let aside = env.path().join("store-aside");
    std::fs::rename(env.store(), &aside).unwrap();
    commit_despite(&repo, "missing", &[]);
    std::fs::rename(&aside, env.store()).unwrap();

    // The store is back: the next command records what was spooled, in
    // order, and the hook works again.
    repo.write("a", b"fine");
    repo.commit(&[], &["-am", "fine again"]);
    kept.push(repo.head());
    let log = env.cross_check();
    assert_eq!(
        log.len(),
        1 + kept.len(),
        "the first atom and each kept commit's"
    );
    for commit in &kept {
        let note = repo.note(commit);
        assert_eq!(note.len(), 1, "{commit} is noted");
        assert_eq!(show(&env, &note[0])["metadata"]["commit"], commit.as_str());
    }
    env.atom_ok(&["verify"]);
}

#[test]
fn a_commit_the_store_cannot_spool_is_one_warning() {
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    repo.install();
    // The spool is a file, not a directory: no event can be written.
    let agents = env.store().join("agents");
    std::fs::create_dir_all(&agents).unwrap();
    std::fs::write(agents.join("spool"), b"").unwrap();
    commit_despite(&repo, "unspoolable", &[]);
    assert_eq!(atom_count(&env), 0);
}

#[test]
fn the_hook_finds_atom_on_path_when_its_binary_is_gone() {
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    // Install with a binary that is then deleted.
    let bin_dir = env.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let copy = bin_dir.join("atom");
    std::fs::hard_link(env!("CARGO_BIN_EXE_atom"), &copy)
        .or_else(|_| std::fs::copy(env!("CARGO_BIN_EXE_atom"), &copy).map(|_| ()))
        .unwrap();
    let out: Output = env
        .command(&copy)
        .args(["hooks", "install", "--repo", repo.dir.to_str().unwrap()])
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 0, "{out}");
    let script = std::fs::read_to_string(repo.dir.join(".git/hooks/post-commit")).unwrap();
    assert!(script.contains(copy.to_str().unwrap()), "{script}");
    let installed_store = format!("atom_store='{}'", env.store().display());
    assert!(script.contains(&installed_store), "{script}");
    std::fs::remove_file(&copy).unwrap();

    let path = std::env::var("PATH").unwrap();
    commit_despite(&repo, "no atom anywhere", &[("PATH", &path)]);

    // With `atom` on PATH, the hook uses it.
    let link_dir = env.path().join("on-path");
    std::fs::create_dir(&link_dir).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_atom"), link_dir.join("atom")).unwrap();
    let path = format!("{}:{path}", link_dir.display());
    repo.write("a", b"found");
    let out = repo.commit(&[("PATH", &path)], &["-am", "found on PATH"]);
    assert_eq!(out.stderr, "");
    assert_eq!(repo.note("HEAD").len(), 1);
}

#[test]
fn install_refuses_what_it_cannot_do() {
    let env = TestEnv::new();
    let repo = Repo::new(&env, "project");
    let dir = repo.dir.to_str().unwrap();
    // No store yet.
    let out = env.atom_err(&["hooks", "install", "--repo", dir], 2);
    assert!(out.stderr.contains("atom init"), "{out}");
    env.atom_ok(&["init"]);
    // Not a repository.
    let plain = env.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let out = env.atom_err(&["hooks", "install", "--repo", plain.to_str().unwrap()], 2);
    assert!(out.stderr.contains("not inside a git repository"), "{out}");
    // A user's hook and a leftover chained hook: nothing is touched.
    let hooks = repo.dir.join(".git/hooks");
    std::fs::write(hooks.join("post-rewrite"), "#!/bin/sh\n").unwrap();
    std::fs::write(
        hooks.join("post-rewrite.atom-chained"),
        "#!/bin/sh\n# older\n",
    )
    .unwrap();
    env.atom_err(&["hooks", "install", "--repo", dir], 1);
    assert!(
        !hooks.join("post-commit").exists(),
        "nothing half-installed"
    );
    // The hidden hook command is not in --help.
    assert!(!env.atom_ok(&["--help"]).contains("  hook "));
}

#[test]
fn a_note_that_cannot_be_written_is_a_warning_and_the_atom_stays() {
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    repo.install();
    // A stale lock on the notes ref: git refuses to move it.
    let lock = repo.dir.join(".git/refs/notes/atom.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(&lock, b"").unwrap();
    repo.write("a", b"a\n");
    repo.git(&["add", "a"]);
    let out = repo.commit(&[], &["-m", "one"]);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("warning: atom: ATOM-COMMIT-")
            && lines[0].contains("recorded, but its note on commit"),
        "{out}"
    );
    assert!(repo.note("HEAD").is_empty());
    let log = env.atom_json(&["log"]);
    assert_eq!(log[0]["record"]["metadata"]["commit"], repo.head().as_str());
    assert!(lines[0].contains(log[0]["record"]["atom_id"].as_str().unwrap()));
}

#[test]
fn a_huge_commit_lists_the_first_thousand_files_and_the_total() {
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    repo.install();
    std::fs::create_dir(repo.dir.join("vendor")).unwrap();
    for i in 0..1005 {
        repo.write(&format!("vendor/f{i:04}"), b"x\n");
    }
    repo.git(&["add", "."]);
    let out = repo.commit(&[], &["-m", "vendor\ta tree\r"]);
    assert_eq!(out.stderr, "");
    let atom = show(&env, &repo.note("HEAD")[0]);
    assert_eq!(atom["summary"], "vendor a tree", "the tab is a space");
    assert_eq!(atom["metadata"]["files"].as_array().unwrap().len(), 1000);
    assert_eq!(atom["metadata"]["files_total"], 1005);
    let found = env.atom_json(&["log", "--path", "vendor/f0999"]);
    assert_eq!(found.as_array().unwrap().len(), 1);
}

#[test]
fn a_token_in_a_commit_is_masked_and_the_commit_goes_through() {
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    repo.install();
    repo.write("ci.yml", b"on: push\n");
    repo.git(&["add", "."]);
    let token = format!("{}_{}", "ghp", "Zq4kX9mP2vL8wR7tY3nB6cJ1hF5dG0sA2eU8");
    let subject = format!("use {token} in CI");
    let out = repo.commit(&[], &["-m", &subject]);
    assert!(
        out.stderr
            .contains("recorded with a GitHub token in summary masked"),
        "{out}"
    );
    let note = repo.note("HEAD");
    assert_eq!(note.len(), 1, "{note:?}");
    let atom = show(&env, &note[0]);
    assert_eq!(atom["summary"], "use [REDACTED:github-token] in CI");
    assert_eq!(
        atom["metadata"]["subject"],
        "use [REDACTED:github-token] in CI"
    );
    assert!(!env.git(&["log", "-p", "--all"]).contains(&token));
    env.atom_ok(&["verify"]);
}

/// A clone of `source` named `name`, with an author.
fn clone_of<'a>(env: &'a TestEnv, source: &Path, name: &str) -> Repo<'a> {
    let dir = env.path().join(name);
    let repo = Repo { env, dir };
    let src = source.to_str().unwrap();
    repo.git_in(env.path(), &["clone", "-q", src, name]);
    repo.git(&["config", "user.name", "Bea Builder"]);
    repo.git(&["config", "user.email", "bea@example.com"]);
    repo
}

/// Commit a new file `name` (hooks run); returns the commit.
fn commit_file(repo: &Repo, name: &str) -> String {
    repo.write(name, name.as_bytes());
    repo.git(&["add", name]);
    repo.commit(&[], &["-m", name]);
    repo.head()
}

/// `git ARGS` in `repo` that must succeed without an atom warning.
fn git_quiet(repo: &Repo, args: &[&str]) {
    let out = repo.git_with(&repo.dir, &[], args);
    assert_eq!(out.code, 0, "git {args:?}:\n{out}");
    assert!(
        !out.stderr.contains("warning: atom"),
        "git {args:?}:\n{out}"
    );
}

/// The atom ids the bare repository `remote` holds in `commit`'s note.
fn remote_note(env: &TestEnv, remote: &Path, commit: &str) -> Vec<String> {
    let git_dir = format!("--git-dir={}", remote.display());
    let out = env.git_output(&[&git_dir, "notes", "--ref=atom", "show", commit]);
    assert_eq!(out.code, 0, "no note on {commit} in the remote: {out}");
    let mut ids: Vec<String> = out.stdout.split_whitespace().map(str::to_owned).collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[test]
fn notes_travel_with_pushes_and_pulls_and_merge() {
    let env = TestEnv::init();
    let remote = env.path().join("remote.git");
    env.git(&[
        "init",
        "-q",
        "--bare",
        "-b",
        "main",
        remote.to_str().unwrap(),
    ]);
    let a = Repo::new(&env, "a");
    a.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    let installed = a.install();
    let config: Vec<(&str, &str)> = installed["config"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["key"].as_str().unwrap(), e["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        config,
        [
            ("notes.rewriteRef", "refs/notes/atom"),
            (
                "remote.origin.fetch",
                "+refs/notes/atom:refs/notes/remotes/origin/atom"
            ),
        ]
    );
    let push = a.git_with(&a.dir, &[], &["config", "--get-all", "remote.origin.push"]);
    assert_eq!(push.stdout, "", "never a push refspec");
    let one = commit_file(&a, "one");
    git_quiet(&a, &["push", "-q", "-u", "origin", "main"]);
    let refs = env.git(&[
        &format!("--git-dir={}", remote.display()),
        "for-each-ref",
        "--format=%(refname)",
    ]);
    assert_eq!(
        refs.lines().collect::<Vec<_>>(),
        ["refs/heads/main", "refs/notes/atom"],
        "the push pushed the branch and the notes, nothing else"
    );
    assert_eq!(remote_note(&env, &remote, &one), a.note(&one));

    // B clones, installs, pulls: A's notes arrive and join B's.
    let b = clone_of(&env, &remote, "b");
    b.install();
    let two = commit_file(&a, "two");
    git_quiet(&a, &["push", "-q"]);
    git_quiet(&b, &["pull", "-q", "--ff-only"]);
    assert_eq!(b.note(&one), a.note(&one));
    assert_eq!(b.note(&two), a.note(&two));

    // B commits and pushes; A commits too and pulls with --rebase: B's notes
    // arrive, and A's rebased commit keeps its atom.
    let three = commit_file(&b, "three");
    git_quiet(&b, &["push", "-q"]);
    let four_before = commit_file(&a, "four");
    let four_ids = a.note(&four_before);
    git_quiet(&a, &["pull", "-q", "--rebase"]);
    let four = a.head();
    assert_ne!(four, four_before, "rebased onto B's commit");
    assert_eq!(a.note(&three), b.note(&three));
    let rebased = a.note(&four);
    assert_eq!(rebased[0], four_ids[0], "the rebased commit keeps its atom");
    let rewrite = show(&env, rebased.last().unwrap());
    assert_eq!(rewrite["operation"], "rebase");
    git_quiet(&a, &["push", "-q"]);
    for commit in [&one, &two, &three, &four] {
        assert_eq!(
            remote_note(&env, &remote, commit),
            sorted(a.note(commit)),
            "{commit}"
        );
    }

    // Notes that diverged: both push a new branch without fetching first.
    // The second notes push is refused, fetched, merged and pushed again.
    a.git(&["checkout", "-q", "-b", "topic-a"]);
    let five = commit_file(&a, "five");
    b.git(&["checkout", "-q", "-b", "topic-b"]);
    let six = commit_file(&b, "six");
    git_quiet(&a, &["push", "-q", "origin", "topic-a"]);
    git_quiet(&b, &["push", "-q", "origin", "topic-b"]);
    assert_eq!(remote_note(&env, &remote, &five), a.note(&five));
    assert_eq!(remote_note(&env, &remote, &six), b.note(&six));
    assert_eq!(b.note(&five), a.note(&five), "B merged A's notes");
    let heads = env.git(&[
        &format!("--git-dir={}", remote.display()),
        "for-each-ref",
        "--format=%(refname)",
        "refs/notes/",
    ]);
    assert_eq!(heads.trim(), "refs/notes/atom");
}

#[test]
fn a_squash_merge_notes_the_squashed_commits_atoms() {
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    repo.install();
    commit_file(&repo, "base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let f1 = commit_file(&repo, "f1");
    let f2 = commit_file(&repo, "f2");
    let (id1, id2) = (repo.note(&f1)[0].clone(), repo.note(&f2)[0].clone());
    repo.git(&["checkout", "-q", "main"]);
    git_quiet(&repo, &["merge", "-q", "--squash", "feature"]);
    repo.commit(&[], &["-m", "feature, squashed"]);
    let note = repo.note("HEAD");
    assert_eq!(note.len(), 3, "{note:?}");
    assert_eq!(
        note[..2],
        [id1.clone(), id2.clone()],
        "squashed atoms first"
    );
    let atom = show(&env, &note[2]);
    assert_eq!(atom["summary"], "feature, squashed");
    assert_eq!(
        ids(&atom["metadata"]["squashed"]),
        [f2.as_str(), f1.as_str()]
    );
    let mut links = ids(&atom["influenced_by"]);
    links.sort();
    let mut want = [id1.as_str(), id2.as_str()];
    want.sort();
    assert_eq!(links, want);

    // The editor path (no -m) too, and a later plain commit squashes nothing.
    repo.git(&["checkout", "-q", "-b", "more", "feature"]);
    let f3 = commit_file(&repo, "f3");
    repo.git(&["checkout", "-q", "main"]);
    git_quiet(&repo, &["merge", "-q", "--squash", "more"]);
    repo.commit(&[("GIT_EDITOR", "true")], &[]);
    let atom = show(&env, repo.note("HEAD").last().unwrap());
    assert_eq!(
        ids(&atom["metadata"]["squashed"]),
        [f3.as_str(), f2.as_str(), f1.as_str()]
    );
    commit_file(&repo, "plain");
    assert_eq!(repo.note("HEAD").len(), 1);
    let plain = show(&env, &repo.note("HEAD")[0]);
    assert!(plain["metadata"].get("squashed").is_none(), "{plain}");
    env.cross_check();
}

/// A squash abandoned (reset, stash, checkout) links the next commit to
/// nothing; a squash with conflicts, resolved and committed, links it.
#[test]
fn only_the_commit_that_lands_a_squash_lists_the_squashed_commits() {
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    repo.install();
    commit_file(&repo, "base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let f1 = commit_file(&repo, "f1");
    repo.git(&["checkout", "-q", "main"]);
    let squashed_of_head = || {
        let atom = show(&env, repo.note("HEAD").last().expect("a note"));
        atom["metadata"].get("squashed").cloned()
    };

    for (i, abandon) in [
        &["reset", "-q", "--hard"][..],
        &["stash", "-q"][..],
        &["checkout", "-q", "-b", "elsewhere"][..],
        // No reflog entry of its own: SQUASH_MSG goes before the commit.
        &["checkout", "-q", "-f"][..],
    ]
    .into_iter()
    .enumerate()
    {
        git_quiet(&repo, &["merge", "-q", "--squash", "feature"]);
        git_quiet(&repo, abandon);
        commit_file(&repo, &format!("after-{i}"));
        assert_eq!(squashed_of_head(), None, "after {abandon:?}");
    }
    repo.git(&["stash", "drop", "-q"]);

    // Conflicts: git stops with SQUASH_MSG written; the user resolves them.
    repo.git(&["checkout", "-q", "main"]);
    repo.write("f1", b"main's f1");
    repo.git(&["add", "f1"]);
    repo.commit(&[], &["-m", "main's f1"]);
    let out = repo.git_with(&repo.dir, &[], &["merge", "-q", "--squash", "feature"]);
    assert_ne!(out.code, 0, "a conflict: {out}");
    assert!(!out.stderr.contains("warning: atom"), "{out}");
    repo.write("f1", b"resolved");
    repo.git(&["add", "f1"]);
    repo.commit(&[], &["-m", "feature, squashed by hand"]);
    assert_eq!(squashed_of_head(), Some(serde_json::json!([f1])));
}

/// `prepare-commit-msg`, which earlier versions installed to keep a squash
/// merge's commits, goes on install, and the user's hook it chained comes
/// back.
#[test]
fn install_removes_the_retired_prepare_commit_msg_and_restores_its_chain() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    let hooks = repo.dir.join(".git/hooks");
    let old = "#!/bin/sh\n# installed by `atom hooks install`\nexit 0\n";
    let user = "#!/bin/sh\necho user >> ../user-hook.log\n";
    std::fs::write(hooks.join("prepare-commit-msg"), old).unwrap();
    std::fs::write(hooks.join("prepare-commit-msg.atom-chained"), user).unwrap();
    for f in ["prepare-commit-msg", "prepare-commit-msg.atom-chained"] {
        std::fs::set_permissions(hooks.join(f), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = repo.install();
    let retired: Vec<&Value> = out["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["name"] == "prepare-commit-msg")
        .collect();
    assert_eq!(retired.len(), 1, "{out}");
    assert_eq!(retired[0]["action"], "removed");
    assert_eq!(retired[0]["chained"], true);
    assert_eq!(
        std::fs::read_to_string(hooks.join("prepare-commit-msg")).unwrap(),
        user
    );
    assert!(!hooks.join("prepare-commit-msg.atom-chained").exists());
    // A hook of the user's by that name is not ours: left alone.
    let again = repo.install();
    assert!(
        !again["hooks"].to_string().contains("prepare-commit-msg"),
        "{again}"
    );
    assert_eq!(
        std::fs::read_to_string(hooks.join("prepare-commit-msg")).unwrap(),
        user
    );
    commit_file(&repo, "one");
    let log = std::fs::read_to_string(env.path().join("user-hook.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
}

#[test]
fn git_carries_notes_without_atom_and_uninstall_restores_the_config() {
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    repo.git(&["remote", "add", "origin", "../elsewhere.git"]);
    repo.git(&["remote", "add", "fork", "../fork.git"]);
    // A user's own setting install must not take over.
    repo.git(&[
        "config",
        "--add",
        "remote.fork.fetch",
        "+refs/notes/atom:refs/notes/remotes/fork/atom",
    ]);
    let config = repo.dir.join(".git/config");
    let before = std::fs::read(&config).unwrap();
    let installed = repo.install();
    assert_eq!(
        installed["config"].as_array().unwrap().len(),
        2,
        "{installed}"
    );
    assert_eq!(
        repo.install()["config"],
        serde_json::json!([]),
        "twice adds nothing"
    );

    let old = commit_file(&repo, "f");
    let old_ids = repo.note(&old);
    // No hook runs: git itself carries the note (notes.rewriteRef).
    let out = repo.git_with(
        &repo.dir,
        &[],
        &[
            "-c",
            "core.hooksPath=no-hooks",
            "commit",
            "-q",
            "--amend",
            "-m",
            "amended",
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    assert_ne!(repo.head(), old);
    assert_eq!(repo.note("HEAD"), old_ids);

    let out = env.atom_json(&["hooks", "uninstall", "--repo", repo.dir.to_str().unwrap()]);
    assert_eq!(out["config"].as_array().unwrap().len(), 2, "{out}");
    assert_eq!(
        String::from_utf8_lossy(&std::fs::read(&config).unwrap()),
        String::from_utf8_lossy(&before),
        "the config is back byte for byte"
    );
    let left: Vec<String> = std::fs::read_dir(repo.dir.join(".git"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("atom"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_commit_is_in_the_log_of_the_next_command_even_from_a_linked_worktree() {
    let env = TestEnv::init();
    let repo = Repo::new(&env, "project");
    repo.install();
    repo.write("a", b"a\n");
    repo.git(&["add", "a"]);
    repo.git(&["commit", "-q", "-m", "first"]);
    // A linked worktree on its own branch: the hook reads HEAD in process,
    // where git runs it, with git's environment.
    let linked = env.path().join("linked");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "topic",
        linked.to_str().unwrap(),
    ]);
    std::fs::write(linked.join("b"), b"b\n").unwrap();
    repo.git_in(&linked, &["add", "b"]);
    repo.git_in(&linked, &["commit", "-q", "-m", "on topic"]);
    let topic = repo
        .git_in(&linked, &["rev-parse", "HEAD"])
        .trim()
        .to_owned();
    // No drain by hand: `atom log` records what the hook spooled first.
    let log = env.atom_json(&["log"]);
    let subjects: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["record"]["metadata"]["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["on topic", "first"]);
    let atom = &log[0]["record"]["metadata"];
    assert_eq!(atom["commit"], topic.as_str());
    assert_eq!(atom["branch"], "topic");
    assert_eq!(log[1]["record"]["metadata"]["branch"], "main");
    assert_eq!(repo.note(&topic).len(), 1, "the note is written too");
}
