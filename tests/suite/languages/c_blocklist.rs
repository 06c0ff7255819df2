//! `plugins/examples/c-blocklist` (C, wit-bindgen + wasi-libc + preview1 adapter).

use std::path::PathBuf;

use wasmdns::plugin::{BlockKind, ChainQueryVerdict};

use super::{ip, load, rejects_config, Loaded};

const CONFIG: &str = r#"{"domains": ["Ads.Example.", "tracker.test"], "allow": ["ok.ads.example"], "block": "null-ip"}"#;

fn path() -> Option<PathBuf> {
    super::component("c", "blocklist.wasm")
}

fn loaded() -> Option<Loaded> {
    Some(load("c-blocklist", path()?, CONFIG))
}

#[test]
fn c_blocklist_blocks_listed_names_and_subdomains() {
    let Some(p) = loaded() else { return };
    let c = ip("192.0.2.9");
    let null_ip = ChainQueryVerdict::Block {
        plugin: p.name.into(),
        kind: BlockKind::NullIp,
    };
    assert_eq!(p.query("ads.example", 1, c), null_ip);
    assert_eq!(p.query("x.y.ads.example", 28, c), null_ip);
    assert_eq!(p.query("tracker.test", 1, ip("::1")), null_ip);
    assert_eq!(p.query("ok.ads.example", 1, c), ChainQueryVerdict::Pass);
    assert_eq!(p.query("bads.example", 1, c), ChainQueryVerdict::Pass);
    assert_eq!(p.query("example", 1, c), ChainQueryVerdict::Pass);
    for i in 0..2000 {
        let name = format!("host{i}.tracker.test");
        assert_eq!(p.query(&name, 1, c), null_ip);
    }
    assert_eq!(p.chain.available(p.name), Some(super::POOL));
    // The same instance pool, then hostile questions and clients.
    p.survives_hostile_input();
}

#[test]
fn c_blocklist_rejects_bad_config() {
    let Some(path) = path() else { return };
    for (json, reason) in super::BLOCKLIST_BAD_CONFIGS {
        rejects_config("c-blocklist", path.clone(), json, reason);
    }
}
