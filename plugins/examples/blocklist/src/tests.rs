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
fn content_with_crlf_and_odd_bytes_loads_like_plain_text() {
    let text =
        "0.0.0.0 ads.example\r\n0.0.0.0\tTab.Example # \"quoted\" \\ é\r\n\r\n0.0.0.0 last.example";
    let json = serde_json::json!({"lists": [{"format": "hosts", "content": text}]}).to_string();
    let p = plugin(&json);
    for name in ["ads.example", "tab.example", "x.last.example"] {
        assert_eq!(verdict(&p, name), NX, "{name}");
    }
    assert_eq!(p.stats().0, 3);
}

#[test]
fn non_string_values_are_init_errors() {
    let err = load::<Blocklist>(r#"{"domains":[42]}"#).unwrap_err();
    assert!(
        err.starts_with("invalid config: invalid type: integer `42`"),
        "{err}"
    );
    let err = load::<Blocklist>(r#"{"lists":[{"format":"hosts","content":7}]}"#).unwrap_err();
    assert!(err.starts_with("invalid config:"), "{err}");
    let err = load::<Blocklist>(r#"{"domains":["a\nb.example"]}"#).unwrap_err();
    assert!(err.starts_with("bad config: domains[0]"), "{err}");
    let err = load::<Blocklist>(r#"{"lists":[],"domain":[]}"#).unwrap_err();
    assert!(err.contains("unknown field `domain`"), "{err}");
    assert!(load::<Blocklist>("{")
        .unwrap_err()
        .starts_with("invalid config:"));
}

#[test]
fn an_unreadable_file_is_an_init_error_naming_the_list() {
    let err =
        load::<Blocklist>(r#"{"lists":[{"format":"hosts","file":"/nonexistent/wasmdns.txt"}]}"#)
            .unwrap_err();
    assert!(
        err.starts_with(r#"lists[0].file: list file "/nonexistent/wasmdns.txt": "#),
        "{err}"
    );
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

/// Lists read from real files: natively only (tempfile does not build for wasm32).
#[cfg(not(target_arch = "wasm32"))]
mod files {
    use super::*;

    /// A temporary list file holding `text`, removed when dropped.
    fn temp_list(text: &str) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    fn name(file: &tempfile::NamedTempFile) -> &str {
        file.path().to_str().unwrap()
    }

    fn config(json: serde_json::Value) -> Config {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_list_is_a_file_or_content_never_both_nor_neither() {
        let file = temp_list("0.0.0.0 ads.example\n");
        let p = plugin(
            &serde_json::json!({"lists": [{"format": "hosts", "file": name(&file)}]}).to_string(),
        );
        assert_eq!(verdict(&p, "x.ads.example"), NX);
        let both = serde_json::json!({"lists": [
            {"format": "domains", "content": "a.example"},
            {"format": "hosts", "file": name(&file), "content": "0.0.0.0 b.example"}]});
        let err = load::<Blocklist>(&both.to_string()).unwrap_err();
        assert_eq!(
            err,
            "bad config: lists[1] has both `file` and `content`; give one"
        );
        let err = load::<Blocklist>(r#"{"lists":[{"format":"hosts"}]}"#).unwrap_err();
        assert_eq!(
            err,
            "bad config: lists[0] needs `file` (a list file) or `content` (its text)"
        );
    }

    #[test]
    fn a_file_streamed_in_small_chunks_gives_the_same_sets_as_content() {
        let mut text = String::from("# header\r\n127.0.0.1 localhost\n");
        for i in 0..3000 {
            text.push_str(&format!(
                "0.0.0.0 n{i}.zone{}.test other{i}.test # c\r\n",
                i % 13
            ));
            if i % 500 == 0 {
                text.push_str("not-an-ip bad.test\n0.0.0.0 bad!name.test\n\n");
            }
        }
        text.push_str("0.0.0.0 last.test"); // no final newline
        let file = temp_list(&text);
        let inline = config(serde_json::json!({"lists": [{"format": "hosts", "content": text}]}));
        let streamed =
            config(serde_json::json!({"lists": [{"format": "hosts", "file": name(&file)}]}));
        let reference = Loader::build(&inline, CHUNK).unwrap();
        for chunk in [1, 7, 64, 1000, CHUNK] {
            let sets = Loader::build(&streamed, chunk).unwrap();
            assert_eq!(sets.reports, reference.reports, "chunk {chunk}");
            assert_eq!(sets.subdomain.len(), 6001, "chunk {chunk}");
            let p = Blocklist::with_chunk(&streamed, chunk).unwrap();
            assert_eq!(p.reports(), reference.reports);
            assert!((0..3000).all(|i| p.is_blocked(&format!("www.n{i}.zone{}.test", i % 13))));
            assert!(
                p.is_blocked("last.test")
                    && !p.is_blocked("localhost")
                    && !p.is_blocked("bad.test")
            );
        }
        let report = reference.reports[0];
        assert_eq!((report.blocked, report.allowed), (6001, 0));
        assert_eq!(
            report.skipped, 12,
            "6 lines without an address, 6 bad names"
        );
        assert_eq!(report.first_skipped_line, Some(4));
    }

    #[test]
    fn duplicates_and_invalid_names_across_lists() {
        // 2000 names, several lists, duplicates across them, exact and subdomain.
        let names: Vec<String> = (0..2000)
            .map(|i| format!("n{i}.zone{}.test", i % 13))
            .collect();
        let hosts: String = names.iter().map(|n| format!("0.0.0.0 {n}\n")).collect();
        let file = temp_list(&hosts);
        let domains = names[..500].join("\n") + "\n*.wild.test\nN0.ZONE0.TEST.\n";
        let json = serde_json::json!({"domains": ["inline.test"], "match": "exact", "lists": [
            {"format": "hosts", "file": name(&file), "match": "subdomain"},
            {"format": "hosts", "content": hosts, "match": "subdomain"},
            {"format": "domains", "content": domains},
        ]});
        let sets = Loader::build(&config(json.clone()), 256).unwrap();
        let counts: Vec<(usize, usize)> = sets
            .reports
            .iter()
            .map(|r| (r.blocked, r.skipped))
            .collect();
        assert_eq!(
            counts,
            [(2000, 0), (2000, 0), (501, 1)],
            "duplicates count as read"
        );
        assert_eq!(sets.reports[2].first_skipped_line, Some(501));
        let p = plugin(&json.to_string());
        let (held, heap) = p.stats();
        assert_eq!(
            held,
            2000 + 500 + 1,
            "each set holds a name once; exact and subdomain apart"
        );
        assert!(heap <= held * 10, "about 9 bytes per name: {heap}");
        assert!(names
            .iter()
            .all(|n| p.is_blocked(n) && p.is_blocked(&format!("a.{n}"))));
        assert!(p.is_blocked("inline.test") && !p.is_blocked("a.inline.test"));
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
}
