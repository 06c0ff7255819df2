//! Behaviour of the whole plugin, through the same config path as the component.

use super::*;
use wasmdns_plugin_sdk::{load, rtype, Hooks};

fn plugin(json: &str) -> Blocklist {
    load::<Blocklist>(json).unwrap()
}

fn verdict(p: &Blocklist, name: &str) -> QueryAction {
    let client = Client::udp("192.0.2.1".parse().unwrap());
    p.on_query(&Question::new(name, rtype::A), &client)
}

const NX: QueryAction = QueryAction::Block(Block::NxDomain);

#[test]
fn inline_domains_block_subdomains_by_default() {
    let p = plugin(r#"{"domains":["doubleclick.net"]}"#);
    assert_eq!(verdict(&p, "doubleclick.net"), NX);
    assert_eq!(verdict(&p, "ad.doubleclick.net"), NX);
    assert_eq!(verdict(&p, "a.b.ad.doubleclick.net"), NX);
    assert_eq!(verdict(&p, "notdoubleclick.net"), QueryAction::Pass);
    assert_eq!(verdict(&p, "net"), QueryAction::Pass);
    assert_eq!(verdict(&p, ""), QueryAction::Pass);
    assert_eq!(p.hooks(), Hooks::ON_QUERY);
}

#[test]
fn every_verdict_is_client_free_and_reused_until_reload() {
    let p = plugin(r#"{"domains":["ads.example"],"allow":["ok.ads.example"]}"#);
    for name in [
        "ads.example",
        "x.ads.example",
        "ok.ads.example",
        "other.example",
        "",
    ] {
        let q = Question::new(name, rtype::AAAA);
        let action = p.on_query(&q, &Client::udp("2001:db8::1".parse().unwrap()));
        assert_eq!(
            action,
            verdict(&p, name),
            "neither client nor qtype plays a part: {name}"
        );
        assert_eq!(p.query_reuse(&q, &action), Reuse::UNTIL_RELOAD, "{name}");
    }
}

#[test]
fn exact_match_blocks_only_the_name() {
    let p = plugin(r#"{"domains":["ads.example.com"],"match":"exact"}"#);
    assert_eq!(verdict(&p, "ads.example.com"), NX);
    assert_eq!(verdict(&p, "www.ads.example.com"), QueryAction::Pass);
}

#[test]
fn list_match_overrides_the_default() {
    let p = plugin(
        r#"{"match":"exact","domains":["inline.example"],"lists":[
            {"format":"domains","content":"listed.example\n","match":"subdomain"},
            {"format":"domains","content":"exact.example\n"}]}"#,
    );
    assert_eq!(verdict(&p, "x.listed.example"), NX);
    assert_eq!(verdict(&p, "exact.example"), NX);
    assert_eq!(verdict(&p, "x.exact.example"), QueryAction::Pass);
    assert_eq!(verdict(&p, "x.inline.example"), QueryAction::Pass);
}

#[test]
fn allowlist_wins_below_a_blocked_name() {
    let p = plugin(r#"{"domains":["example.com"],"allow":["good.example.com"]}"#);
    assert_eq!(verdict(&p, "ads.example.com"), NX);
    assert_eq!(verdict(&p, "good.example.com"), QueryAction::Pass);
    assert_eq!(verdict(&p, "cdn.good.example.com"), QueryAction::Pass);
    assert_eq!(verdict(&p, "example.com"), NX);
}

#[test]
fn adblock_exceptions_feed_the_allowlist() {
    let p = plugin(
        r#"{"lists":[{"format":"adblock","content":"||ads.example^\n@@||ok.ads.example^\n"}]}"#,
    );
    assert_eq!(verdict(&p, "x.ads.example"), NX);
    assert_eq!(verdict(&p, "ok.ads.example"), QueryAction::Pass);
    assert_eq!(verdict(&p, "a.ok.ads.example"), QueryAction::Pass);
}

#[test]
fn hosts_lists_never_block_localhost() {
    let p = plugin(
        r#"{"lists":[{"format":"hosts","content":"127.0.0.1 localhost\n0.0.0.0 ads.example\n"}]}"#,
    );
    assert_eq!(verdict(&p, "localhost"), QueryAction::Pass);
    assert_eq!(verdict(&p, "ads.example"), NX);
}

#[test]
fn block_styles_map_to_verdicts() {
    for (style, block) in [
        ("nxdomain", Block::NxDomain),
        ("refused", Block::Refused),
        ("null-ip", Block::NullIp),
    ] {
        let p = plugin(&format!(r#"{{"domains":["a.example"],"block":"{style}"}}"#));
        assert_eq!(
            verdict(&p, "a.example"),
            QueryAction::Block(block),
            "{style}"
        );
    }
}

#[test]
fn inline_names_are_normalised_and_typos_rejected() {
    let p = plugin(r#"{"domains":["Ads.Example.COM."]}"#);
    assert_eq!(verdict(&p, "ads.example.com"), NX);
    let err = load::<Blocklist>(r#"{"domains":["ok.example","bad name"]}"#).unwrap_err();
    assert_eq!(
        err,
        r#"bad config: domains[1] = "bad name" is not a domain name"#
    );
    let err = load::<Blocklist>(r#"{"allow":["*.x.com"]}"#).unwrap_err();
    assert!(err.starts_with("bad config: allow[0]"), "{err}");
}

#[test]
fn empty_config_blocks_nothing() {
    let p = plugin("{}");
    assert_eq!(verdict(&p, "example.com"), QueryAction::Pass);
    assert_eq!(p.stats().0, 0);
}

#[test]
fn blocking_ignores_type_class_and_client() {
    let p = plugin(r#"{"domains":["ads.example"]}"#);
    let v6 = Client {
        ip: "2001:db8::1".parse().unwrap(),
        port: 5353,
        protocol: wasmdns_plugin_sdk::Protocol::Tcp,
    };
    let q = Question {
        name: "ads.example".into(),
        qtype: rtype::HTTPS,
        qclass: 3,
    };
    assert_eq!(p.on_query(&q, &v6), NX);
}

#[test]
fn list_text_with_escapes_and_crlf_loads_like_plain_text() {
    let text =
        "0.0.0.0 ads.example\r\n0.0.0.0\tTab.Example # \"quoted\" \\ é\r\n\r\n0.0.0.0 last.example";
    let json = serde_json::json!({"lists": [{"format": "hosts", "content": text}]}).to_string();
    let p = plugin(&json);
    for name in ["ads.example", "tab.example", "x.last.example"] {
        assert_eq!(verdict(&p, name), NX, "{name}");
    }
    assert_eq!(p.stats().0, 3);
    // \u escapes of ASCII are plain characters; an escaped newline ends a line.
    let p =
        plugin(r#"{"lists":[{"format":"domains","content":"\u0061ds.example\u000ab.example"}]}"#);
    assert_eq!(verdict(&p, "ads.example"), NX);
    assert_eq!(verdict(&p, "b.example"), NX);
}

#[test]
fn non_string_values_and_bad_escapes_are_init_errors() {
    let err = load::<Blocklist>(r#"{"domains":[42]}"#).unwrap_err();
    assert_eq!(err, "invalid config: domains[0] is not a string");
    let err = load::<Blocklist>(r#"{"lists":[{"format":"hosts","content":7}]}"#).unwrap_err();
    assert!(err.starts_with("invalid config: lists[0].content"), "{err}");
    let err = load::<Blocklist>(r#"{"domains":["a\nb.example"]}"#).unwrap_err();
    assert!(err.starts_with("bad config: domains[0]"), "{err}");
    let err = load::<Blocklist>(r#"{"lists":[],"domain":[]}"#).unwrap_err();
    assert!(err.contains("unknown field `domain`"), "{err}");
    assert!(load::<Blocklist>("{")
        .unwrap_err()
        .starts_with("invalid config:"));
}

#[test]
fn names_are_stored_in_place_and_checked_exactly() {
    // 2000 names, several lists, duplicates across them, exact and subdomain.
    let names: Vec<String> = (0..2000)
        .map(|i| format!("n{i}.zone{}.test", i % 13))
        .collect();
    let hosts: String = names.iter().map(|n| format!("0.0.0.0 {n}\n")).collect();
    let domains = names[..500].join("\n");
    let json = serde_json::json!({"domains": ["inline.test"], "match": "exact", "lists": [
        {"format": "hosts", "content": hosts, "match": "subdomain"},
        {"format": "domains", "content": domains},
    ]})
    .to_string();
    let text_len = json.len();
    let p = plugin(&json);
    let (held, heap) = p.stats();
    assert_eq!(
        held,
        2000 + 500 + 1,
        "exact and subdomain tables are separate"
    );
    assert!(
        heap < text_len + 2501 * 16,
        "arena reuses the config text: {heap}"
    );
    assert!(names
        .iter()
        .all(|n| p.is_blocked(n) && p.is_blocked(&format!("a.{n}"))));
    assert!(p.is_blocked("inline.test") && !p.is_blocked("a.inline.test"));
    // Prefixes, suffixes and near misses of stored names are not stored names.
    for miss in [
        "n1.zone1.tes",
        "1.zone1.test",
        "zone1.test",
        "n1.zone1.test.x",
        "n20000.zone1.test",
    ] {
        assert!(!p.is_blocked(miss), "{miss}");
    }
}

#[test]
fn typed_init_matches_the_json_path() {
    let config = Config {
        domains: vec!["Ads.Example".into()],
        allow: vec!["ok.ads.example".into()],
        block: BlockStyle::Refused,
        ..Config::default()
    };
    let p = Blocklist::init(config).unwrap();
    assert_eq!(
        verdict(&p, "x.ads.example"),
        QueryAction::Block(Block::Refused)
    );
    assert_eq!(verdict(&p, "ok.ads.example"), QueryAction::Pass);
}
