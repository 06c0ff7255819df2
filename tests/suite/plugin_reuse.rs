//! Reusable on-query verdicts (WIT v0.2) end to end with the real `test_reuse`,
//! `echo-client` and blocklist components: hot names skip the plugin, per-client
//! plugins further down the chain are still asked, lifetimes end, and the memo
//! can be turned off. The memo keeps a question from its second asking on, so a
//! reusable verdict costs two calls.

use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::rr::RData;
use serde_json::json;

use super::plugins::{ask, assert_blocked_ede, Via};
use crate::support::client::TXT;
use crate::support::plugins::plugin;
use crate::support::{rc, rcode, setup, FakeUpstream, Proxy, A, Q};

fn reuse() -> wasmdns::config::PluginConfig {
    plugin("reuse", "test_reuse", json!({}))
}

/// The value of the metric line starting with `series`, 0 when absent.
fn metric(proxy: &Proxy, series: &str) -> u64 {
    let text = proxy.running().pipeline.metrics().render();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |v| v.parse::<f64>().expect("a number") as u64)
}

fn calls(proxy: &Proxy, plugin: &str) -> u64 {
    metric(
        proxy,
        &format!(r#"wasmdns_plugin_calls_total{{hook="on_query",plugin="{plugin}"}}"#),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_blocked_name_is_answered_without_calling_the_plugin() {
    let (up, proxy) = setup(|c| c.plugins = vec![reuse()]).await;
    for (i, via) in [Via::Udp, Via::Tcp, Via::Udp, Via::Tcp]
        .into_iter()
        .enumerate()
    {
        let q = Q::new("block.hot.test", A).edns(1232, 0, false);
        let (_, m) = ask(proxy.addr, &q, via).await;
        assert_eq!(rcode(&m), rc::NXDOMAIN, "query {i} over {via:?}");
        assert_blocked_ede(&m, true, "reuse");
    }
    assert_eq!(calls(&proxy, "reuse"), 2, "two calls, two reuses");
    assert_eq!(
        metric(
            &proxy,
            r#"wasmdns_plugin_verdicts_total{plugin="reuse",verdict="block"}"#
        ),
        4,
        "reused verdicts are counted as verdicts"
    );
    assert_eq!(
        metric(&proxy, r#"wasmdns_plugin_verdict_memo_total{result="hit"}"#),
        2
    );
    // Another type of the same name is another question.
    let (_, m) = ask(proxy.addr, &Q::new("block.hot.test", TXT), Via::Udp).await;
    assert_eq!(rcode(&m), rc::NXDOMAIN);
    assert_eq!(calls(&proxy, "reuse"), 3);
    proxy.stop().await;
    assert!(
        up.seen().is_empty(),
        "blocked names never reach the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_verdicts_are_asked_for_every_query() {
    let (_up, proxy) = setup(|c| c.plugins = vec![reuse()]).await;
    for _ in 0..3 {
        let (_, m) = ask(proxy.addr, &Q::new("once.test", A), Via::Udp).await;
        assert_eq!(rcode(&m), rc::REFUSED);
        let (_, m) = ask(proxy.addr, &Q::new("zero.test", A), Via::Udp).await;
        assert_eq!(rcode(&m), rc::NXDOMAIN);
    }
    assert_eq!(calls(&proxy, "reuse"), 6);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_client_plugin_after_a_reusable_one_still_decides_per_client() {
    let echo = plugin("echo", "test_echo_client", json!({}));
    let (_up, proxy) = setup(|c| c.plugins = vec![reuse(), echo]).await;
    let q = Q::new("pass.who.test", TXT).bytes();
    for last in 1..=3u8 {
        let from = Ipv4Addr::new(127, 0, 0, last);
        let m = super::plugins::udp_from(from, proxy.addr, &q).await;
        assert_eq!(rcode(&m), rc::NOERROR);
        let RData::TXT(txt) = &m.answers[0].data else {
            panic!("{from}: not TXT: {m:?}");
        };
        assert_eq!(&*txt.txt_data[0], format!("ip={from}").as_bytes());
    }
    assert_eq!(calls(&proxy, "reuse"), 2, "the reusable pass is kept");
    assert_eq!(calls(&proxy, "echo"), 3, "echo is asked for every client");
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_verdict_ends_with_its_lifetime() {
    let (_up, proxy) = setup(|c| c.plugins = vec![reuse()]).await;
    let q = Q::new("short.test", A);
    for _ in 0..3 {
        ask(proxy.addr, &q, Via::Udp).await;
    }
    assert_eq!(calls(&proxy, "reuse"), 2);
    // question(1): kept at most one second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, m) = ask(proxy.addr, &q, Via::Udp).await;
    assert_eq!(rcode(&m), rc::NXDOMAIN);
    assert_eq!(calls(&proxy, "reuse"), 3);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reusable_pass_still_reaches_the_cache_and_upstream() {
    let up = FakeUpstream::start().await;
    let proxy = Proxy::start(&up, |c| c.plugins = vec![reuse()]).await;
    for _ in 0..3 {
        let (_, m) = ask(proxy.addr, &Q::new("pass.example.com", A), Via::Udp).await;
        assert_eq!(rcode(&m), rc::NOERROR);
        assert!(!m.answers.is_empty(), "the upstream's answer");
    }
    assert_eq!(calls(&proxy, "reuse"), 2);
    assert_eq!(up.seen().len(), 1, "then cache hits");
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_verdicts_zero_calls_the_plugin_every_time() {
    let (_up, proxy) = setup(|c| {
        c.plugins = vec![reuse()];
        c.cache.plugin_verdicts = 0;
    })
    .await;
    for _ in 0..3 {
        let (_, m) = ask(proxy.addr, &Q::new("block.test", A), Via::Udp).await;
        assert_eq!(rcode(&m), rc::NXDOMAIN);
    }
    assert_eq!(calls(&proxy, "reuse"), 3);
    proxy.stop().await;
}
