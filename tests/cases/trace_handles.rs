//! `atom trace` and `atom show` when two devices minted the same id: each
//! atom is its own node, named `ID@<short sha>`, links followed to the
//! commit they recorded, and a link that recorded none marked ambiguous.

use serde_json::{json, Value};

use crate::common::TestEnv;

/// Two stores sharing one remote, each with an atom of the same id, and
/// links to both from each side.
pub(crate) struct Collision {
    pub(crate) a: TestEnv,
    pub(crate) b: TestEnv,
    /// The id both devices minted.
    pub(crate) id: String,
    /// Its atom on A ("on the laptop") and on B ("on the desktop"): commits.
    pub(crate) laptop: String,
    pub(crate) desktop: String,
    /// B's link to the id made before the collision: no commit recorded.
    pub(crate) old_link: String,
    /// A's links made after it, by handle: to B's atom, and to A's.
    pub(crate) to_desktop: String,
    pub(crate) to_laptop: String,
}

fn id_of(v: &Value) -> String {
    v["record"]["atom_id"].as_str().unwrap().to_owned()
}

fn commit_of(v: &Value) -> String {
    v["commit"].as_str().unwrap().to_owned()
}

/// `ID@<12 hex digits>`: the handle of the atom of `id` in `commit`.
pub(crate) fn handle(id: &str, commit: &str) -> String {
    format!("{id}@{}", &commit[..12])
}

impl Collision {
    pub(crate) fn new() -> Self {
        let a = TestEnv::init().with_env("ATOM_AGENT", "alice");
        let remote = a.bare_remote("shared.git");
        let remote = remote.to_str().unwrap();
        a.record(&["RESEARCH", "research", "--summary", "survey"]);
        a.atom_ok(&["remote", "add", "origin", remote]);
        a.atom_ok(&["push"]);
        let b = TestEnv::new().with_env("ATOM_AGENT", "bob");
        b.atom_ok(&["clone", remote]);

        // Both devices number their next atom alike; B links to its own
        // while the id is still unique, so no commit is recorded.
        let desktop = b.record(&["TASK", "run_tests", "--summary", "on the desktop"]);
        let laptop = a.record(&["TASK", "run_tests", "--summary", "on the laptop"]);
        let id = id_of(&desktop);
        assert_eq!(id_of(&laptop), id, "both devices minted the same id");
        let old = b.record(&["DECISION", "save_decision", "--influenced-by", &id]);
        assert!(old["record"]["metadata"]
            .get("influenced_by_commits")
            .is_none());
        b.atom_ok(&["push"]);
        let b_key = b.store().join("keys/atom_ed25519.pub");
        a.atom_ok(&["signers", "add", "bob", b_key.to_str().unwrap()]);
        a.atom_ok(&["pull"]);

        // After the pull the id is ambiguous on A: links name a commit.
        let (laptop, desktop) = (commit_of(&laptop), commit_of(&desktop));
        let to_desktop = a.record(&[
            "DECISION",
            "save_decision",
            "--summary",
            "trust the desktop run",
            "--influenced-by",
            &handle(&id, &desktop),
        ]);
        let to_laptop = a.record(&[
            "TASK",
            "review",
            "--summary",
            "recheck the laptop run",
            "--influenced-by",
            &laptop[..10],
        ]);
        assert_eq!(
            to_desktop["record"]["metadata"]["influenced_by_commits"][&id],
            desktop.as_str()
        );
        a.atom_ok(&["push"]);
        b.atom_ok(&["pull"]);
        Collision {
            a,
            b,
            id,
            laptop,
            desktop,
            old_link: id_of(&old),
            to_desktop: id_of(&to_desktop),
            to_laptop: id_of(&to_laptop),
        }
    }
}

fn handles(trace: &Value) -> Vec<&str> {
    trace["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["handle"].as_str().unwrap())
        .collect()
}

fn edge(from: &str, to: &str, ambiguous: bool) -> Value {
    json!({"from": from, "to": to, "ambiguous": ambiguous})
}

#[test]
fn trace_follows_links_to_the_exact_atom() {
    let c = Collision::new();
    let (laptop, desktop) = (handle(&c.id, &c.laptop), handle(&c.id, &c.desktop));

    // Up from a link by handle: one node, the atom it chose.
    let up = c.a.atom_json(&["trace", &c.to_desktop]);
    assert_eq!(up["root"], c.to_desktop.as_str());
    assert_eq!(handles(&up), [c.to_desktop.as_str(), desktop.as_str()]);
    let node = &up["nodes"][1];
    assert_eq!(node["atom_id"], c.id.as_str());
    assert_eq!(node["commit"], c.desktop.as_str());
    assert_eq!(node["summary"], "on the desktop");
    assert_eq!(node["agent"], "bob");
    assert_eq!(up["edges"], json!([edge(&desktop, &c.to_desktop, false)]));
    let tree = c.a.atom_ok(&["trace", &c.to_desktop]);
    assert_eq!(
        tree,
        format!(
            "{} alice: trust the desktop run\n└── {desktop} bob: on the desktop\n",
            c.to_desktop
        )
    );
    let up = c.a.atom_json(&["trace", &c.to_laptop]);
    assert_eq!(handles(&up), [c.to_laptop.as_str(), laptop.as_str()]);
    assert_eq!(up["nodes"][1]["summary"], "on the laptop");

    // The link made before the collision recorded no commit: both
    // candidates, each edge marked, neither picked.
    let up = c.a.atom_json(&["trace", &c.old_link]);
    let mut nodes = handles(&up)[1..].to_vec();
    nodes.sort();
    let mut both = [laptop.as_str(), desktop.as_str()];
    both.sort();
    assert_eq!(nodes, both, "{up:#}");
    for e in up["edges"].as_array().unwrap() {
        assert_eq!(e["ambiguous"], true, "{up:#}");
        assert_eq!(e["to"], c.old_link.as_str());
    }
    assert_eq!(up["edges"].as_array().unwrap().len(), 2);
    let tree = c.a.atom_ok(&["trace", &c.old_link]);
    assert_eq!(tree.lines().count(), 3, "{tree}");
    for h in both {
        let line = tree.lines().find(|l| l.contains(h)).unwrap();
        assert!(line.contains("(ambiguous link"), "{tree}");
    }
    let dot = c.a.atom_ok(&["trace", &c.old_link, "--format", "dot"]);
    assert!(
        dot.contains(&format!(
            "\"{laptop}\" -> \"{}\" [style=dashed, label=\"ambiguous\"];",
            c.old_link
        )),
        "{dot}"
    );
    let mermaid = c.a.atom_ok(&["trace", &c.old_link, "--format", "mermaid"]);
    assert_eq!(mermaid.matches("-. ambiguous .->").count(), 2, "{mermaid}");

    // The other store, having pulled everything, draws the same graphs.
    for root in [&c.to_desktop, &c.old_link] {
        assert_eq!(
            c.b.atom_json(&["trace", root]),
            c.a.atom_json(&["trace", root])
        );
    }
    // A plain ambiguous id is still refused as a root.
    c.a.atom_err(&["trace", &c.id], 1);
}

#[test]
fn trace_down_counts_only_links_to_this_atom() {
    let c = Collision::new();
    let (laptop, desktop) = (handle(&c.id, &c.laptop), handle(&c.id, &c.desktop));
    for (root, chosen, other) in [
        (&laptop, &c.to_laptop, &c.to_desktop),
        (&desktop, &c.to_desktop, &c.to_laptop),
    ] {
        let down = c.b.atom_json(&["trace", root, "--down"]);
        assert_eq!(down["root"], root.as_str());
        assert_eq!(down["direction"], "down");
        let nodes = handles(&down);
        assert_eq!(nodes[0], root.as_str());
        assert!(nodes.contains(&chosen.as_str()), "{down:#}");
        assert!(nodes.contains(&c.old_link.as_str()), "{down:#}");
        assert!(!nodes.contains(&other.as_str()), "{down:#}");
        assert_eq!(nodes.len(), 3, "{down:#}");
        let mut edges = down["edges"].as_array().unwrap().clone();
        edges.sort_by_key(|e| e["to"].to_string());
        let mut want = vec![edge(root, chosen, false), edge(root, &c.old_link, true)];
        want.sort_by_key(|e| e["to"].to_string());
        assert_eq!(edges, want, "{down:#}");
        let tree = c.b.atom_ok(&["trace", root, "--down"]);
        let old = tree.lines().find(|l| l.contains(&*c.old_link)).unwrap();
        assert!(old.contains("(ambiguous link"), "{tree}");
        let new = tree.lines().find(|l| l.contains(&**chosen)).unwrap();
        assert!(!new.contains("ambiguous"), "{tree}");
    }
}

#[test]
fn show_names_linked_atoms_by_handle() {
    let c = Collision::new();
    let (laptop, desktop) = (handle(&c.id, &c.laptop), handle(&c.id, &c.desktop));
    let field = |text: &str, name: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name:?} in:\n{text}"))
            .trim()
            .to_owned()
    };

    let shown = c.a.atom_ok(&["show", &c.to_desktop]);
    assert_eq!(field(&shown, "built on"), desktop);
    let shown = c.a.atom_json(&["show", &c.to_desktop]);
    assert_eq!(shown["built_on"], json!([desktop]));
    assert_eq!(shown["ambiguous"], json!([]));

    let shown = c.a.atom_ok(&["show", &desktop]);
    let used = field(&shown, "used by");
    assert!(used.contains(&c.to_desktop), "{shown}");
    assert!(
        used.contains(&format!("{} (ambiguous)", c.old_link)),
        "{shown}"
    );
    assert!(!used.contains(&c.to_laptop), "{shown}");
    let shown = c.a.atom_json(&["show", &laptop]);
    let mut influenced: Vec<&str> = shown["influenced"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    influenced.sort();
    let mut want = [c.to_laptop.as_str(), c.old_link.as_str()];
    want.sort();
    assert_eq!(influenced, want, "{shown:#}");
    assert_eq!(shown["ambiguous"], json!([c.old_link]));

    let shown = c.b.atom_ok(&["show", &c.old_link]);
    let built_on = field(&shown, "built on");
    assert!(
        built_on.contains(&format!("{laptop} (ambiguous)"))
            && built_on.contains(&format!("{desktop} (ambiguous)")),
        "{shown}"
    );
    let shown = c.b.atom_json(&["show", &c.old_link]);
    assert_eq!(shown["record"]["influenced_by"], json!([c.id]));
    assert_eq!(shown["built_on"].as_array().unwrap().len(), 2);
    assert_eq!(shown["ambiguous"].as_array().unwrap().len(), 2);
}
