//! `plugins/examples/js-allowlist` (JavaScript, componentize-js).

use std::path::PathBuf;

use wasmdns::plugin::{BlockKind, ChainQueryVerdict};

use super::{ip, load, rejects_config, Loaded};

const CONFIG: &str = r#"{
    "networks": [
        {"cidr": "192.168.1.0/24"},
        {"cidr": "192.168.1.64/26", "names": ["example.com", "LAN."]},
        {"cidr": "10.0.0.0/8", "names": []},
        {"cidr": "2001:db8::/32"},
        {"cidr": "2001:db8:1::/48", "names": ["example.org"]}
    ],
    "deny": "refused"
}"#;

fn path() -> Option<PathBuf> {
    super::component("js", "allowlist.wasm")
}

fn loaded() -> Option<Loaded> {
    Some(load("js-allowlist", path()?, CONFIG))
}

fn refused(plugin: &str) -> ChainQueryVerdict {
    ChainQueryVerdict::Block {
        plugin: plugin.into(),
        kind: BlockKind::Refused,
    }
}

#[test]
fn js_allowlist_decides_by_client_network_and_name() {
    let Some(p) = loaded() else { return };
    // (question, type, client, allowed)
    let cases = [
        // Whole /24 allowed, except its more specific /26 which has a name list.
        ("anything.test", 1, "192.168.1.10", true),
        ("example.com", 1, "192.168.1.70", true),
        ("www.example.com", 28, "192.168.1.127", true),
        ("printer.lan", 1, "192.168.1.64", true),
        ("notexample.com", 1, "192.168.1.70", false),
        ("example.com.evil", 1, "192.168.1.70", false),
        ("anything.test", 1, "192.168.1.128", true),
        // An empty name list allows nothing.
        ("example.com", 1, "10.9.8.7", false),
        // Outside every network: REFUSED (the `outside` default).
        ("example.com", 1, "192.168.2.1", false),
        ("example.com", 1, "203.0.113.1", false),
        // IPv6, longest prefix first; IPv4-mapped clients count as IPv4.
        ("a.test", 1, "2001:db8:2::1", true),
        ("www.example.org", 1, "2001:db8:1:ffff::1", true),
        ("a.test", 1, "2001:db8:1::1", false),
        ("a.test", 1, "2001:db9::1", false),
        ("a.test", 1, "::ffff:192.168.1.10", true),
        ("a.test", 1, "::ffff:10.0.0.1", false),
    ];
    for (name, qtype, client, allowed) in cases {
        let expected = if allowed {
            ChainQueryVerdict::Pass
        } else {
            refused(p.name)
        };
        assert_eq!(
            p.query(name, qtype, ip(client)),
            expected,
            "{name} from {client}"
        );
    }
    // The same instance pool, then hostile questions and clients.
    p.survives_hostile_input();
}

#[test]
fn js_allowlist_verdicts_are_configurable() {
    let Some(path) = path() else { return };
    let p = load(
        "js-allowlist",
        path,
        r#"{"networks":[{"cidr":"0.0.0.0/0","names":["ok.test"]}],"outside":"nxdomain","deny":"null-ip"}"#,
    );
    let block = |kind| ChainQueryVerdict::Block {
        plugin: p.name.into(),
        kind,
    };
    assert_eq!(
        p.query("ok.test", 1, ip("198.51.100.1")),
        ChainQueryVerdict::Pass
    );
    assert_eq!(
        p.query("no.test", 1, ip("198.51.100.1")),
        block(BlockKind::NullIp)
    );
    assert_eq!(p.query("ok.test", 1, ip("::1")), block(BlockKind::Nxdomain));
}

#[test]
fn js_allowlist_rejects_bad_config() {
    let Some(path) = path() else { return };
    let cases = [
        ("not json", "invalid JSON"),
        (r#"{"networks":[{"cidr":"192.168.1.1/24"}]}"#, "host bits"),
        (
            r#"{"networks":[{"cidr":"2001:db8::1::/64"}]}"#,
            "not an IP network",
        ),
    ];
    for (json, reason) in cases {
        rejects_config("js-allowlist", path.clone(), json, reason);
    }
}
