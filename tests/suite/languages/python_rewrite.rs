//! `plugins/examples/python-rewrite` (Python, componentize-py).

use std::path::PathBuf;

use wasmdns::plugin::ChainQueryVerdict;

use super::{ip, load, rejects_config, Loaded};

const CONFIG: &str = r#"{"rules": [
    {"match": "(?P<host>[a-z0-9-]+)\\.corp\\.example", "rewrite": "\\g<host>.internal.example"},
    {"match": "(.*\\.)?youtube\\.com", "rewrite": "restrict.youtube.com", "types": [1, 28]},
    {"match": "same\\.test", "rewrite": "SAME.test."},
    {"match": "(.*)\\.bad", "rewrite": "\\1..x"}
]}"#;

fn path() -> Option<PathBuf> {
    super::component("python", "rewrite.wasm")
}

fn loaded() -> Option<Loaded> {
    Some(load("python-rewrite", path()?, CONFIG))
}

#[test]
fn python_rewrite_applies_the_first_matching_rule() {
    let Some(p) = loaded() else { return };
    let client = ip("192.0.2.1");
    // (question, type, the rewrite target or None for pass)
    let cases = [
        ("wiki.corp.example", 1, Some("wiki.internal.example")),
        // fullmatch: a name merely containing the pattern passes.
        ("a.wiki.corp.example", 1, None),
        ("www.youtube.com", 28, Some("restrict.youtube.com")),
        ("youtube.com", 1, Some("restrict.youtube.com")),
        // `types` limits the rule; the target itself passes (no loop).
        ("www.youtube.com", 16, None),
        ("restrict.youtube.com", 1, None),
        // A rewrite to the same name, or to an invalid one, passes.
        ("same.test", 1, None),
        ("a.bad", 1, None),
        ("example.com", 1, None),
    ];
    for (name, qtype, target) in cases {
        let expected = match target {
            Some(target) => ChainQueryVerdict::Rewrite {
                plugin: p.name.into(),
                name: target.into(),
            },
            None => ChainQueryVerdict::Pass,
        };
        assert_eq!(
            p.query(name, qtype, client),
            expected,
            "{name} type {qtype}"
        );
    }
    // The same instance pool, then hostile questions and clients.
    p.survives_hostile_input();
}

#[test]
fn python_rewrite_rejects_bad_config() {
    let Some(path) = path() else { return };
    let cases = [
        ("{", "invalid JSON"),
        (r#"{"rules":[{"match":"(","rewrite":"x"}]}"#, "bad regex"),
        (
            r#"{"rules":[{"match":"a","rewrite":"\\2"}]}"#,
            "bad template",
        ),
    ];
    for (json, reason) in cases {
        rejects_config("python-rewrite", path.clone(), json, reason);
    }
}
