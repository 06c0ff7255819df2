//! Hostile plugins are contained: an infinite loop, a memory hog and a panic are
//! answered per `on_error`, counted, and the proxy keeps serving; a failing init
//! and a wrong contract version stop start-up with an error naming plugin, file
//! and reason. Plus the per-plugin metrics of honest calls.

use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use serde_json::json;
use wasmdns::app::Running;
use wasmdns::config::{OnError, PluginConfig};

use super::plugins::{ask, Via};
use crate::support::client::ipv4s;
use crate::support::plugins::{hostile, plugin};
use crate::support::proxy::config;
use crate::support::{rc, rcode, setup, FakeUpstream, Proxy, A, Q};

/// The value of the metric line starting with `series` (labels in Prometheus'
/// sorted order), 0 when absent.
fn metric(proxy: &Proxy, series: &str) -> u64 {
    let text = proxy.running().pipeline.metrics().render();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |v| v.parse::<f64>().expect("a number") as u64)
}

fn failures(proxy: &Proxy, plugin: &str, kind: &str) -> u64 {
    metric(
        proxy,
        &format!(r#"wasmdns_plugin_failures_total{{kind="{kind}",plugin="{plugin}"}}"#),
    )
}

/// Asks `n` distinct names over UDP and TCP; each must be answered within 1 s.
async fn ask_many(proxy: &Proxy, n: usize) -> Vec<Message> {
    let mut out = Vec::new();
    for i in 0..n {
        let via = if i % 2 == 0 { Via::Udp } else { Via::Tcp };
        let start = Instant::now();
        let (_, m) = ask(proxy.addr, &Q::new(&format!("q{i}.example"), A), via).await;
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "query {i} took {:?}",
            start.elapsed()
        );
        out.push(m);
    }
    out
}

/// With `on_error = "pass"` every query is answered by the upstream as if the plugin
/// were not there; a plugin after the failing one still decides.
async fn assert_passes(proxy: &Proxy, up: &FakeUpstream) {
    for m in ask_many(proxy, 6).await {
        assert_eq!(rcode(&m), rc::NOERROR);
        assert_eq!(ipv4s(&m), [std::net::Ipv4Addr::new(192, 0, 2, 1)]);
    }
    let (_, m) = ask(proxy.addr, &Q::new("nxdomain.test", A), Via::Udp).await;
    assert_eq!(
        rcode(&m),
        rc::NXDOMAIN,
        "the next plugin in the chain still runs"
    );
    assert_eq!(up.count_name("nxdomain.test"), 0);
}

/// With `on_error = "servfail"` every query is SERVFAIL and none goes upstream.
async fn assert_servfails(proxy: &Proxy, up: &FakeUpstream) {
    for m in ask_many(proxy, 4).await {
        assert_eq!(rcode(&m), rc::SERVFAIL);
        assert!(m.answers.is_empty());
    }
    assert!(up.seen().is_empty(), "a failed plugin let a query through");
}

fn with_verdicts(first: PluginConfig) -> Vec<PluginConfig> {
    vec![first, plugin("verdicts", "test_verdicts", json!({}))]
}

/// The failures of `name` are all of `kind`, except calls that found every
/// instance busy being rebuilt; at least one is of `kind`.
fn assert_failed_as(proxy: &Proxy, name: &str, kind: &str, calls: u64) {
    let (own, busy) = (failures(proxy, name, kind), failures(proxy, name, "busy"));
    assert!(own >= 1, "no {kind} failure counted");
    assert_eq!(own + busy, calls, "{kind} {own} + busy {busy} != calls");
    let series = format!(r#"wasmdns_plugin_verdicts_total{{plugin="{name}",verdict="error"}}"#);
    assert_eq!(metric(proxy, &series), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_hits_the_deadline_and_passes() {
    let looping = hostile("loop", "test_loop", OnError::Pass, Duration::from_millis(5));
    let (up, proxy) = setup(|c| c.plugins = with_verdicts(looping)).await;
    assert_passes(&proxy, &up).await;
    assert_failed_as(&proxy, "loop", "timeout", 7);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_with_on_error_servfail_answers_servfail() {
    let looping = hostile(
        "loop",
        "test_loop",
        OnError::Servfail,
        Duration::from_millis(5),
    );
    let (up, proxy) = setup(|c| c.plugins = with_verdicts(looping)).await;
    assert_servfails(&proxy, &up).await;
    assert_failed_as(&proxy, "loop", "timeout", 4);
    proxy.stop().await;
}

fn memhog(on_error: OnError) -> PluginConfig {
    PluginConfig {
        memory_limit: 8 << 20,
        // Long enough to reach the limit: the limit, not the deadline, must stop it.
        ..hostile(
            "memhog",
            "test_memhog",
            on_error,
            Duration::from_millis(500),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_hog_hits_the_limit() {
    let (up, proxy) = setup(|c| c.plugins = with_verdicts(memhog(OnError::Pass))).await;
    assert_passes(&proxy, &up).await;
    assert_failed_as(&proxy, "memhog", "memory", 7);
    proxy.stop().await;

    let (up, proxy) = setup(|c| c.plugins = with_verdicts(memhog(OnError::Servfail))).await;
    assert_servfails(&proxy, &up).await;
    assert_failed_as(&proxy, "memhog", "memory", 4);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_in_on_query_is_a_trap() {
    let panicking = |e| hostile("panic", "test_panic", e, Duration::from_millis(50));
    let (up, proxy) = setup(|c| c.plugins = with_verdicts(panicking(OnError::Pass))).await;
    assert_passes(&proxy, &up).await;
    assert_failed_as(&proxy, "panic", "trap", 7);
    proxy.stop().await;

    let (up, proxy) = setup(|c| c.plugins = with_verdicts(panicking(OnError::Servfail))).await;
    assert_servfails(&proxy, &up).await;
    assert_failed_as(&proxy, "panic", "trap", 4);
    // The pool is rebuilt off the query path: warm instances come back.
    let chain = proxy.running().pipeline.chain();
    let deadline = Instant::now() + Duration::from_secs(3);
    while chain.available("panic") == Some(0) {
        assert!(Instant::now() < deadline, "no instance rebuilt within 3 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    proxy.stop().await;
}

/// Starts a proxy with `plugins` and returns the start-up error's text.
async fn start_error(plugins: Vec<PluginConfig>) -> String {
    let mut c = config("127.0.0.1:9".parse().unwrap());
    c.plugins = plugins;
    match Running::start(c).await {
        Ok(running) => {
            running.shutdown().await;
            panic!("the proxy started with a broken plugin");
        }
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_stops_start_naming_plugin_file_and_message() {
    let broken = plugin("broken-init", "test_init_error", json!({"any": 1}));
    let err = start_error(vec![plugin("ok", "test_pass", json!({})), broken]).await;
    for part in [
        "broken-init",
        "test_init_error.wasm",
        "init failed",
        "bad config: test-init-error always refuses to start",
    ] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_wit_version_stops_start_naming_the_reason() {
    let err = start_error(vec![plugin("old", "test_wrong_wit", json!({}))]).await;
    for part in [
        "old",
        "test_wrong_wit.wasm",
        "unsupported WIT version 0.0.9",
    ] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
    let mut missing = plugin("gone", "test_pass", json!({}));
    missing.path.set_file_name("no_such_plugin.wasm");
    let err = start_error(vec![missing]).await;
    assert!(
        err.contains("gone") && err.contains("no_such_plugin.wasm"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_verdicts_are_counted_per_plugin_and_hook() {
    let (_up, proxy) = setup(|c| {
        c.plugins = vec![plugin("verdicts", "test_verdicts", json!({}))];
    })
    .await;
    for name in ["nxdomain.test", "answer.test", "pass.test", "pass.test"] {
        ask(proxy.addr, &Q::new(name, A), Via::Udp).await;
    }
    // on-response runs for the upstream answer and for the cache hit.
    let expected = [
        ("calls_total", r#"hook="on_query",plugin="verdicts""#, 4),
        ("calls_total", r#"hook="on_response",plugin="verdicts""#, 2),
        ("verdicts_total", r#"plugin="verdicts",verdict="block""#, 1),
        ("verdicts_total", r#"plugin="verdicts",verdict="answer""#, 1),
        ("verdicts_total", r#"plugin="verdicts",verdict="pass""#, 4),
        ("verdicts_total", r#"plugin="verdicts",verdict="error""#, 0),
    ];
    for (kind, labels, count) in expected {
        let series = format!("wasmdns_plugin_{kind}{{{labels}}}");
        assert_eq!(metric(&proxy, &series), count, "{series}");
    }
    // Call durations are sampled (one call in 16 is timed; see plugin::slot and its
    // tests): never more observations than calls.
    assert!(
        metric(
            &proxy,
            r#"wasmdns_plugin_call_duration_seconds_count{plugin="verdicts"}"#
        ) <= 6
    );
    proxy.stop().await;
}
