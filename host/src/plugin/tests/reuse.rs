//! The chain's verdict memo with v0.2 guests: which verdicts are reused, for
//! whom, for how long, and what is still called. The memo keeps a question from
//! the second time it is asked on, so a reusable verdict costs two calls.

use std::time::{Duration, Instant};

use super::*;
use crate::plugin::memo;
use crate::plugin::types::Reuse;

const HOUR: Reuse = Reuse::Question(3600);

impl Fixture {
    fn calls(&self, plugin: &str) -> u64 {
        self.counter(
            "plugin_calls_total",
            &[("plugin", plugin), ("hook", "on_query")],
        )
    }

    fn verdicts(&self, plugin: &str, verdict: &str) -> u64 {
        self.counter(
            "plugin_verdicts_total",
            &[("plugin", plugin), ("verdict", verdict)],
        )
    }
}

fn blocked(plugin: &str) -> ChainQueryVerdict {
    ChainQueryVerdict::Block {
        plugin: plugin.into(),
        kind: BlockKind::Nxdomain,
    }
}

fn ask(chain: &PluginChain, times: usize) -> Vec<ChainQueryVerdict> {
    let now = Instant::now();
    (0..times)
        .map(|_| chain.on_query(&question(), &client(), now))
        .collect()
}

#[test]
fn a_reusable_verdict_is_given_again_without_calling_the_plugin() {
    let f = fixture();
    let chain = f
        .build(&[f.plugin("bl", &Guest::block_nxdomain().reusable(HOUR))])
        .unwrap();
    assert_eq!(ask(&chain, 5), vec![blocked("bl"); 5]);
    assert_eq!(f.calls("bl"), 2);
    assert_eq!(f.verdicts("bl", "block"), 5, "reused verdicts are counted");
    assert_eq!(chain.memo_len(), 1);
    let memo = |result| f.counter("plugin_verdict_memo_total", &[("result", result)]);
    assert_eq!((memo("hit"), memo("miss")), (3, 2));
}

#[test]
fn once_and_zero_second_verdicts_are_asked_every_time() {
    let f = fixture();
    let chain = f
        .build(&[
            f.plugin("once", &Guest::pass().reusable(Reuse::Once)),
            f.plugin("zero", &Guest::pass().reusable(Reuse::Question(0))),
        ])
        .unwrap();
    assert_eq!(ask(&chain, 3), vec![ChainQueryVerdict::Pass; 3]);
    assert_eq!((f.calls("once"), f.calls("zero")), (3, 3));
    assert_eq!(chain.memo_len(), 0);
}

#[test]
fn a_reusable_prefix_skips_its_plugins_and_the_rest_are_called() {
    let f = fixture();
    let chain = f
        .build(&[
            f.plugin("list", &Guest::pass().reusable(HOUR)),
            f.plugin("per-client", &Guest::block_nxdomain().reusable(Reuse::Once)),
        ])
        .unwrap();
    assert_eq!(ask(&chain, 4), vec![blocked("per-client"); 4]);
    assert_eq!(f.calls("list"), 2);
    assert_eq!(f.verdicts("list", "pass"), 4);
    assert_eq!(f.calls("per-client"), 4);
}

#[test]
fn a_whole_chain_of_reusable_passes_is_one_memo() {
    let f = fixture();
    let chain = f
        .build(&[
            f.plugin("a", &Guest::pass().reusable(HOUR)),
            f.plugin("b", &Guest::pass().reusable(HOUR)),
        ])
        .unwrap();
    assert_eq!(ask(&chain, 4), vec![ChainQueryVerdict::Pass; 4]);
    assert_eq!((f.calls("a"), f.calls("b")), (2, 2));
    assert_eq!((f.verdicts("a", "pass"), f.verdicts("b", "pass")), (4, 4));
}

#[test]
fn a_v0_1_plugin_first_means_no_memo_at_all() {
    let f = fixture();
    let chain = f
        .build(&[
            f.plugin("old", &Guest::pass()),
            f.plugin("new", &Guest::block_nxdomain().reusable(HOUR)),
        ])
        .unwrap();
    assert_eq!(ask(&chain, 3), vec![blocked("new"); 3]);
    assert_eq!((f.calls("old"), f.calls("new")), (3, 3));
    assert_eq!(chain.memo_len(), 0);
    assert_eq!(
        f.counter("plugin_verdict_memo_total", &[("result", "miss")]),
        0
    );
}

#[test]
fn the_shortest_lifetime_in_the_run_bounds_the_memo() {
    let f = fixture();
    let chain = f
        .build(&[
            f.plugin("short", &Guest::pass().reusable(Reuse::Question(1))),
            f.plugin("long", &Guest::block_nxdomain().reusable(HOUR)),
        ])
        .unwrap();
    let t0 = Instant::now();
    for _ in 0..3 {
        chain.on_query(&question(), &client(), t0);
    }
    assert_eq!((f.calls("short"), f.calls("long")), (2, 2));
    let v = chain.on_query(&question(), &client(), t0 + Duration::from_secs(2));
    assert_eq!(v, blocked("long"));
    assert_eq!((f.calls("short"), f.calls("long")), (3, 3), "expired");
}

#[test]
fn a_reused_verdict_holds_for_other_clients_but_not_other_questions() {
    let f = fixture();
    let chain = f
        .build(&[f.plugin("bl", &Guest::block_nxdomain().reusable(HOUR))])
        .unwrap();
    let now = Instant::now();
    let other = ClientInfo {
        ip: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 9)),
        ..client()
    };
    chain.on_query(&question(), &client(), now);
    chain.on_query(&question(), &client(), now);
    assert_eq!(chain.on_query(&question(), &other, now), blocked("bl"));
    assert_eq!(f.calls("bl"), 2);
    let aaaa = QuestionView {
        qtype: 28,
        ..question()
    };
    chain.on_query(&aaaa, &client(), now);
    assert_eq!(f.calls("bl"), 3);
}

#[test]
fn failed_calls_are_not_reused() {
    let f = fixture();
    let chain = f
        .build(&[
            f.plugin("trap", &Guest::unreachable().reusable(HOUR)),
            f.plugin("bl", &Guest::block_nxdomain().reusable(HOUR)),
        ])
        .unwrap();
    // on_error = pass: the trap is skipped, the block decides, nothing is kept.
    assert_eq!(ask(&chain, 2), vec![blocked("bl"); 2]);
    assert_eq!(f.calls("bl"), 2);
    assert_eq!(chain.memo_len(), 0);
}

#[test]
fn a_rebuilt_chain_starts_with_an_empty_memo() {
    let f = fixture();
    let cfg = [f.plugin("bl", &Guest::block_nxdomain().reusable(HOUR))];
    let first = f.build(&cfg).unwrap();
    ask(&first, 3);
    assert_eq!(first.memo_len(), 1);
    let second = f.build(&cfg).unwrap();
    assert_eq!(second.memo_len(), 0);
    ask(&second, 3);
    assert_eq!(f.calls("bl"), 4, "two calls per chain");
}

#[test]
fn a_memo_of_zero_entries_calls_every_time() {
    let f = fixture();
    let cfg = [f.plugin("bl", &Guest::block_nxdomain().reusable(HOUR))];
    let chain = f
        .builder_with_pool(1)
        .memo_entries(0)
        .build(&cfg, f.dir.path())
        .unwrap();
    ask(&chain, 3);
    assert_eq!(f.calls("bl"), 3);
}

#[test]
fn a_v0_2_plugin_reports_its_contract() {
    let f = fixture();
    let chain = f
        .build(&[
            f.plugin("old", &Guest::pass()),
            f.plugin("new", &Guest::pass().reusable(HOUR)),
        ])
        .unwrap();
    let contracts: Vec<_> = chain.plugins().iter().map(|p| p.contract).collect();
    assert_eq!(contracts, ["0.1", "0.2"]);
}

#[test]
fn verdicts_too_large_to_keep_are_given_but_not_reused() {
    let f = fixture();
    let long = "a".repeat(memo::MAX_VERDICT_BYTES + 1);
    let chain = f
        .build(&[f.plugin("big", &Guest::rewrite(&long).reusable(HOUR))])
        .unwrap();
    let v = ask(&chain, 3);
    assert!(v
        .iter()
        .all(|v| matches!(v, ChainQueryVerdict::Rewrite { name, .. } if *name == long)));
    assert_eq!(f.calls("big"), 3);
    assert_eq!(chain.memo_len(), 0);

    let f = fixture();
    let chain = f
        .build(&[f.plugin("small", &Guest::rewrite("example.net").reusable(HOUR))])
        .unwrap();
    ask(&chain, 3);
    assert_eq!(f.calls("small"), 2);
}
