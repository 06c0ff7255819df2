//! `plugins/examples/as-blocklist` (AssemblyScript, plugins/sdk-as glue).

use std::path::PathBuf;

use wasmdns::plugin::{BlockKind, ChainQueryVerdict};

use super::{ip, load, rejects_config, Loaded};

const CONFIG: &str = r#"{"domains": ["Ads.Example.", "tracker.test"], "allow": ["ok.ads.example"], "block": "refused"}"#;

fn path() -> Option<PathBuf> {
    super::component("as", "blocklist.wasm")
}

fn loaded() -> Option<Loaded> {
    Some(load("as-blocklist", path()?, CONFIG))
}

#[test]
fn as_blocklist_blocks_listed_names_and_subdomains() {
    let Some(p) = loaded() else { return };
    let c = ip("2001:db8::7");
    let refused = ChainQueryVerdict::Block {
        plugin: p.name.into(),
        kind: BlockKind::Refused,
    };
    assert_eq!(p.query("ads.example", 1, c), refused);
    assert_eq!(p.query("x.y.ads.example", 28, c), refused);
    assert_eq!(p.query("tracker.test", 1, ip("10.0.0.1")), refused);
    assert_eq!(p.query("ok.ads.example", 1, c), ChainQueryVerdict::Pass);
    assert_eq!(p.query("a.ok.ads.example", 1, c), ChainQueryVerdict::Pass);
    assert_eq!(p.query("bads.example", 1, c), ChainQueryVerdict::Pass);
    assert_eq!(p.query("example", 1, c), ChainQueryVerdict::Pass);
    // Many calls: the GC keeps memory bounded, no trap, the pool stays full.
    for i in 0..2000 {
        let name = format!("host{i}.ads.example");
        assert_eq!(p.query(&name, 1, c), refused);
    }
    assert_eq!(p.chain.available(p.name), Some(super::POOL));
    // The same instance pool, then hostile questions and clients.
    p.survives_hostile_input();
}

#[test]
fn as_blocklist_rejects_bad_config() {
    let Some(path) = path() else { return };
    for (json, reason) in super::BLOCKLIST_BAD_CONFIGS {
        rejects_config("as-blocklist", path.clone(), json, reason);
    }
}
