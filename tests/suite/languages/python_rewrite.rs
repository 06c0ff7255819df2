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
    let rewrite = |name: &str| ChainQueryVerdict::Rewrite {
        plugin: p.name.into(),
        name: name.into(),
    };
    assert_eq!(
        p.query("wiki.corp.example", 1, client),
        rewrite("wiki.internal.example")
    );
    // fullmatch: a name merely containing the pattern passes.
    assert_eq!(
        p.query("a.wiki.corp.example", 1, client),
        ChainQueryVerdict::Pass
    );
    assert_eq!(
        p.query("www.youtube.com", 28, client),
        rewrite("restrict.youtube.com")
    );
    assert_eq!(
        p.query("youtube.com", 1, client),
        rewrite("restrict.youtube.com")
    );
    // `types` limits the rule; the target itself passes (no loop).
    assert_eq!(
        p.query("www.youtube.com", 16, client),
        ChainQueryVerdict::Pass
    );
    assert_eq!(
        p.query("restrict.youtube.com", 1, client),
        ChainQueryVerdict::Pass
    );
    // A rewrite to the same name, or to an invalid one, passes.
    assert_eq!(p.query("same.test", 1, client), ChainQueryVerdict::Pass);
    assert_eq!(p.query("a.bad", 1, client), ChainQueryVerdict::Pass);
    assert_eq!(p.query("example.com", 1, client), ChainQueryVerdict::Pass);
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
