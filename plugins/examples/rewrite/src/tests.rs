//! Behaviour of the whole plugin, through the same config path as the component.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};
use wasmdns_plugin_sdk::{load, rcode, Block};

fn plugin(json: &str) -> Rewrite {
    load::<Rewrite>(json).unwrap()
}

fn client() -> Client {
    Client::udp("192.0.2.1".parse().unwrap())
}

fn ask(p: &Rewrite, name: &str, qtype: u16) -> QueryAction {
    p.on_query(&Question::new(name, qtype), &client())
}

fn a(ip: [u8; 4]) -> RData {
    RData::A(Ipv4Addr::from(ip))
}

const ZONE: &str = r#"{"ttl":60,
    "local":{"router.lan":["192.168.1.1","fd00::1"],"www.lan":["router.lan"],"ext.lan":["example.com"],
             "chain.lan":["www.lan"]},
    "hosts":"192.168.1.10 nas.lan NAS2.lan # comment\n192.168.1.11 nas.lan\nbogus line\n"}"#;

#[test]
fn local_addresses_answer_by_type() {
    let p = plugin(ZONE);
    assert_eq!(
        ask(&p, "router.lan", rtype::A),
        QueryAction::Answer(vec![Record::answer(60, a([192, 168, 1, 1]))])
    );
    let v6: Ipv6Addr = "fd00::1".parse().unwrap();
    assert_eq!(
        ask(&p, "router.lan", rtype::AAAA),
        QueryAction::Answer(vec![Record::answer(60, RData::Aaaa(v6))])
    );
    match ask(&p, "router.lan", rtype::ANY) {
        QueryAction::Answer(records) => assert_eq!(records.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn local_name_without_that_type_is_nodata() {
    let p = plugin(ZONE);
    assert_eq!(
        ask(&p, "router.lan", rtype::MX),
        QueryAction::Answer(vec![])
    );
    assert_eq!(ask(&p, "nas.lan", rtype::AAAA), QueryAction::Answer(vec![]));
}

#[test]
fn hosts_content_merges_addresses_and_lowercases() {
    let p = plugin(ZONE);
    assert_eq!(
        ask(&p, "nas.lan", rtype::A),
        QueryAction::Answer(vec![
            Record::answer(60, a([192, 168, 1, 10])),
            Record::answer(60, a([192, 168, 1, 11]))
        ])
    );
    assert_eq!(
        ask(&p, "nas2.lan", rtype::A),
        QueryAction::Answer(vec![Record::answer(60, a([192, 168, 1, 10]))])
    );
}

#[test]
fn cname_inside_the_zone_is_followed() {
    let p = plugin(ZONE);
    assert_eq!(
        ask(&p, "chain.lan", rtype::A),
        QueryAction::Answer(vec![
            Record::answer(60, RData::Cname("www.lan".into())),
            Record::new("www.lan", 60, RData::Cname("router.lan".into())),
            Record::new("router.lan", 60, a([192, 168, 1, 1])),
        ])
    );
    assert_eq!(
        ask(&p, "www.lan", rtype::CNAME),
        QueryAction::Answer(vec![Record::answer(60, RData::Cname("router.lan".into()))])
    );
}

#[test]
fn cname_leaving_the_zone_becomes_a_rewrite() {
    let p = plugin(ZONE);
    assert_eq!(
        ask(&p, "ext.lan", rtype::A),
        QueryAction::Rewrite("example.com".into())
    );
}

#[test]
fn rewrite_returns_the_target_and_others_pass() {
    let p = plugin(r#"{"rewrite":{"www.google.com":"forcesafesearch.google.com"}}"#);
    assert_eq!(
        ask(&p, "www.google.com", rtype::A),
        QueryAction::Rewrite("forcesafesearch.google.com".into())
    );
    assert_eq!(ask(&p, "google.com", rtype::A), QueryAction::Pass);
    assert_eq!(ask(&p, "a.www.google.com", rtype::A), QueryAction::Pass);
    assert_eq!(p.hooks(), Hooks::ON_QUERY);
}

#[test]
fn every_verdict_is_client_free_and_reused_until_reload() {
    let json =
        r#"{"local":{"router.lan":["192.168.1.1"]},"rewrite":{"old.example":"new.example"}}"#;
    let p = plugin(json);
    let other = Client {
        ip: "2001:db8::2".parse().unwrap(),
        port: 5353,
        protocol: wasmdns_plugin_sdk::Protocol::Tcp,
    };
    let questions = [
        Question::new("router.lan", rtype::A),    // answer
        Question::new("router.lan", rtype::AAAA), // NODATA
        Question::new("old.example", rtype::A),   // rewrite
        Question::new("elsewhere.example", rtype::A),
        Question {
            name: "router.lan".into(),
            qtype: rtype::A,
            qclass: 3,
        },
    ];
    for q in questions {
        let action = p.on_query(&q, &client());
        assert_eq!(action, p.on_query(&q, &other), "{q:?}");
        assert_eq!(p.query_reuse(&q, &action), Reuse::UNTIL_RELOAD, "{q:?}");
    }
}

#[test]
fn other_classes_pass() {
    let p = plugin(ZONE);
    let q = Question {
        name: "router.lan".into(),
        qtype: rtype::A,
        qclass: 3,
    };
    assert_eq!(p.on_query(&q, &client()), QueryAction::Pass);
}

fn aaaa_answers() -> Vec<Record> {
    vec![
        Record::answer(30, RData::Cname("cdn.example.org".into())),
        Record::new("cdn.example.org", 30, RData::Aaaa(Ipv6Addr::LOCALHOST)),
        Record::new("cdn.example.org", 30, a([192, 0, 2, 9])),
    ]
}

#[test]
fn filter_aaaa_strips_aaaa_for_names_at_and_below() {
    let p = plugin(r#"{"filter_aaaa":["Example.org"]}"#);
    assert_eq!(p.hooks(), Hooks::ON_RESPONSE);
    let answers = aaaa_answers();
    let expected = ResponseAction::Replace(vec![answers[0].clone(), answers[2].clone()]);
    for name in ["example.org", "www.example.org"] {
        let q = Question::new(name, rtype::ANY);
        assert_eq!(
            p.on_response(&q, &client(), rcode::NOERROR, &answers),
            expected,
            "{name}"
        );
    }
    let other = Question::new("notexample.org", rtype::ANY);
    assert_eq!(
        p.on_response(&other, &client(), 0, &answers),
        ResponseAction::Pass
    );
}

#[test]
fn filter_aaaa_passes_answers_without_aaaa() {
    let p = plugin(r#"{"filter_aaaa":["example.org"]}"#);
    let answers = vec![Record::answer(30, a([192, 0, 2, 9]))];
    let q = Question::new("example.org", rtype::A);
    assert_eq!(
        p.on_response(&q, &client(), 0, &answers),
        ResponseAction::Pass
    );
    assert_eq!(
        p.on_response(&q, &client(), rcode::NXDOMAIN, &[]),
        ResponseAction::Pass
    );
}

#[test]
fn hooks_follow_the_config() {
    assert_eq!(plugin("{}").hooks(), Hooks::NONE);
    assert_eq!(plugin(ZONE).hooks(), Hooks::ON_QUERY);
    assert_eq!(
        plugin(r#"{"rewrite":{"a.b":"c.d"},"filter_aaaa":["x.y"]}"#).hooks(),
        Hooks::BOTH
    );
}

#[test]
fn bad_configs_are_rejected_with_the_key() {
    let cases = [
        (r#"{"local":{"a.lan":[]}}"#, "local.\"a.lan\": no values"),
        (
            r#"{"local":{"a.lan":["1.2.3.4","b.lan"]}}"#,
            "cannot be combined",
        ),
        (
            r#"{"local":{"a.lan":["b.lan","c.lan"]}}"#,
            "cannot be combined",
        ),
        (
            r#"{"local":{"a.lan":["not an ip"]}}"#,
            "neither an IP address nor a name",
        ),
        (
            r#"{"local":{"a.lan":["b.lan"],"b.lan":["a.lan"]}}"#,
            "loops",
        ),
        (r#"{"local":{"bad name":["1.2.3.4"]}}"#, "not a domain name"),
        (
            r#"{"local":{"a.lan":["1.1.1.1"],"A.lan.":["1.1.1.2"]}}"#,
            "listed twice",
        ),
        (
            r#"{"local":{"a.lan":["b.lan"]},"hosts":"1.2.3.4 a.lan"}"#,
            "hosts line 1",
        ),
        (r#"{"rewrite":{"a.lan":"a.lan"}}"#, "points to itself"),
        (
            r#"{"rewrite":{"a.lan":"x.y"},"local":{"a.lan":["1.1.1.1"]}}"#,
            "both in rewrite and in local",
        ),
        (r#"{"filter_aaaa":["*.x"]}"#, "filter_aaaa"),
        (r#"{"rewrites":{}}"#, "unknown field"),
    ];
    for (json, needle) in cases {
        match load::<Rewrite>(json) {
            Ok(_) => panic!("{json} loaded"),
            Err(e) => assert!(e.contains(needle), "{json}: {e}"),
        }
    }
}

#[test]
fn servfail_is_never_needed_for_valid_zones() {
    // The runtime chain bound is a backstop: init refuses what would reach it.
    let p = plugin(ZONE);
    for name in ["router.lan", "www.lan", "chain.lan", "ext.lan", "nas.lan"] {
        assert_ne!(
            ask(&p, name, rtype::A),
            QueryAction::Block(Block::Rcode(rcode::SERVFAIL)),
            "{name}"
        );
    }
}
