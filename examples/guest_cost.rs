//! Measures the guest side of plugin cost through the host's plugin API: the load
//! time and RSS of one blocklist instance holding N names given as a hosts file,
//! and the per-call cost of on-query (pass plugin, blocklist hit and miss).
//!
//! Run: `plugins/build.sh && cargo run --release --example guest_cost -- [N] [CALLS]`
//! (N defaults to 1_000_000, CALLS to 1_000_000, MIB, the memory limit, to 64;
//! `WASM_DIR` picks other builds of the components to compare).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmdns::config::{OnError, PluginConfig};
use wasmdns::metrics::{Metrics, Proto};
use wasmdns::plugin::{
    ChainBuilder, ClientInfo, PluginChain, PluginEngine, PrecompiledCache, QuestionView,
};

/// `$WASM_DIR/<stem>.wasm`, by default the plugins workspace's release output.
fn artefact(stem: &str) -> PathBuf {
    let dir = std::env::var_os("WASM_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/target/wasm32-wasip2/release"),
        PathBuf::from,
    );
    dir.join(format!("{stem}.wasm"))
}

fn listed(i: usize) -> String {
    format!("ads{i}.tracker{}.example", i % 5000)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Compiled components are kept here, as the proxy keeps them in its precompiled
/// cache: a restart or reload maps them instead of compiling again.
fn precompiled(engine: &PluginEngine) -> Arc<PrecompiledCache> {
    let dir = std::env::temp_dir().join(format!("wasmdns-guest-cost-{}", std::process::id()));
    Arc::new(PrecompiledCache::new(dir, engine.engine()))
}

fn chain(engine: &Arc<PluginEngine>, stem: &str, config: String, limit: usize) -> PluginChain {
    chain_with(engine, stem, config, limit, None)
}

fn chain_with(
    engine: &Arc<PluginEngine>,
    stem: &str,
    config: String,
    limit: usize,
    cache: Option<Arc<PrecompiledCache>>,
) -> PluginChain {
    let cfg = PluginConfig {
        name: stem.into(),
        path: artefact(stem),
        on_error: OnError::Pass,
        deadline: Duration::from_secs(60),
        memory_limit: limit,
        instances: None,
        config_json: config,
    };
    ChainBuilder::new(engine.clone(), Arc::new(Metrics::new()))
        .precompiled(cache)
        .pool_size(1)
        // Every call must reach the guest: this measures the plugin, not the memo.
        .memo_entries(0)
        .build(&[cfg], Path::new("."))
        .expect("plugin loads")
}

fn per_call(chain: &PluginChain, name: &str, calls: usize) -> f64 {
    let q = QuestionView {
        name: name.into(),
        qtype: 1,
        qclass: 1,
    };
    let c = ClientInfo {
        ip: "192.0.2.1".parse().unwrap(),
        port: 4000,
        proto: Proto::Udp,
    };
    let start = Instant::now();
    for _ in 0..calls {
        std::hint::black_box(chain.on_query(&q, &c, Instant::now()));
    }
    start.elapsed().as_nanos() as f64 / calls.max(1) as f64
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.replace('_', "").parse().expect("number"))
        .collect();
    let n = args.first().copied().unwrap_or(1_000_000);
    let calls = args.get(1).copied().unwrap_or(1_000_000);
    let limit = args.get(2).copied().unwrap_or(64) << 20;
    let engine = Arc::new(PluginEngine::new().expect("engine"));

    let pass = chain(&engine, "test_pass", "{}".into(), 64 << 20);
    let pass_ns = per_call(&pass, "www.example.com", calls);
    let rewrite_config = serde_json::json!({
        "local": {"router.lan": ["192.168.1.1"], "nas.lan": ["192.168.1.2", "fd00::2"]},
        "rewrite": {"www.google.com": "forcesafesearch.google.com"},
        "filter_aaaa": ["example.org"],
    });
    let rewrite = chain(&engine, "rewrite", rewrite_config.to_string(), 64 << 20);
    let rewrite_ns = per_call(&rewrite, "www.example.com", calls);

    let mut hosts = String::with_capacity(n * 40);
    for i in 0..n {
        hosts.push_str("0.0.0.0 ");
        hosts.push_str(&listed(i));
        hosts.push('\n');
    }
    // A file, as operators give big lists: a v0.3 plugin streams it (wit/v0.3).
    let list_file = std::env::temp_dir().join(format!("guest_cost-{}.hosts", std::process::id()));
    std::fs::write(&list_file, &hosts).expect("write the hosts file");
    drop(hosts);
    let config = serde_json::json!({"lists": [{"format": "hosts", "file": list_file}]}).to_string();
    // The first load of the component compiles it into the cache (an empty list);
    // the measured load is what a restart or reload with a warm cache pays.
    let cache = precompiled(&engine);
    let start = Instant::now();
    drop(chain_with(
        &engine,
        "blocklist",
        "{}".into(),
        limit,
        Some(cache.clone()),
    ));
    let compile = start.elapsed();
    let rss_before = rss_kib();
    let start = Instant::now();
    let list = chain_with(&engine, "blocklist", config, limit, Some(cache.clone()));
    let load = start.elapsed();
    let rss_after = rss_kib();
    let _ = std::fs::remove_dir_all(cache.dir());
    let _ = std::fs::remove_file(&list_file);
    let hit_ns = per_call(&list, &format!("www.{}", listed(n / 2)), calls);
    let miss_ns = per_call(&list, "www.site42.news7.example", calls);

    println!("names {n}, memory_limit {} MiB", limit >> 20);
    println!(
        "compile once (empty list) {:.0} ms",
        compile.as_secs_f64() * 1e3
    );
    println!(
        "load (precompiled: instantiate + init) {:.0} ms",
        load.as_secs_f64() * 1e3
    );
    println!(
        "RSS added by one instance {:.1} MiB",
        (rss_after.saturating_sub(rss_before)) as f64 / 1024.0
    );
    println!("on-query pass plugin      {pass_ns:.0} ns/call");
    println!("on-query rewrite, no match {rewrite_ns:.0} ns/call");
    println!("on-query blocklist hit    {hit_ns:.0} ns/call");
    println!("on-query blocklist miss   {miss_ns:.0} ns/call");
}
