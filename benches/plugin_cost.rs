//! Per-query cost of the plugin chain: `Pipeline::handle` on a cache hit with no
//! plugin, with the pass plugin, and with the blocklist example holding 100k
//! domains; a blocked query; and one chain call alone.
//!
//! Run: `plugins/build.sh && cargo bench --bench plugin_cost`
//!
//! Last result (27 Nov 2026, 2 shared cores, x86_64, rustc 1.95, wasmtime 48,
//! bench profile; Rust plugins on WIT v0.2, memo = the default 8192 entries):
//!
//! | benchmark                               | median   | what                                   |
//! |-----------------------------------------|----------|----------------------------------------|
//! | handle_cache_hit/no_plugin              | 207 ns   | parse, ACL, cache hit, patch, metrics  |
//! | handle_cache_hit/pass_plugin            | 634 ns   | + one on-query call (a `once` pass)    |
//! | handle_cache_hit/blocklist_100k_no_memo | 742 ns   | + blocklist call (name not listed)     |
//! | handle_cache_hit/blocklist_100k         | 277 ns   | the same, verdict reused from the memo |
//! | handle_blocked/blocklist_100k           | 199 ns   | listed subdomain, reused: NXDOMAIN+EDE |
//! | chain_on_query/blocklist_100k           | 83 ns    | the chain alone, memo hit              |
//! | chain_on_query/blocklist_100k_no_memo   | 502 ns   | the chain alone, the plugin called     |
//! | chain_on_query/pass_plugin              | 420 ns   | the chain alone, one call that passes  |
//!
//! So one plugin call costs about 0.4 µs (pool take/return, epoch deadline, three
//! guest entries: `realloc` for the name, the hook, post-return) and the 100k-name
//! lookup about 0.1 µs more. A verdict the plugin declared reusable (WIT v0.2
//! `reuse`) is found in the chain's memo in ~80 ns (SipHash of the question, one
//! uncontended shard lock, counter increments): a hot name with the blocklist in
//! the path costs 277 ns instead of 742, 70 ns above no plugin at all.
//!
//! Run `cargo bench --bench plugin_cost` (after `plugins/build.sh`); the earlier
//! v0.1 figures (every query called the plugin) were 773 ns with the pass
//! plugin and 1.19 µs with the blocklist, before the borrowed-argument bindings
//! and the sampled call timer.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use wasmdns::buffer::BufferPool;
use wasmdns::cache::CacheKey;
use wasmdns::config::{Config, OnError, PluginConfig};
use wasmdns::dns::{self, Answer, TtlPolicy};
use wasmdns::metrics::{Metrics, Proto};
use wasmdns::pipeline::{Client, Pipeline, Step};
use wasmdns::plugin::{ChainBuilder, ClientInfo, PluginEngine, QuestionView};
use wasmdns::upstream::UpstreamPool;

const LISTED: usize = 100_000;
const NAME: &str = "www.example.com";

fn artefact(stem: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/target/wasm32-wasip2/release")
        .join(format!("{stem}.wasm"));
    assert!(
        path.is_file(),
        "{} missing: run plugins/build.sh first",
        path.display()
    );
    path
}

fn plugin(name: &str, stem: &str, config: serde_json::Value) -> PluginConfig {
    PluginConfig {
        name: name.into(),
        path: artefact(stem),
        on_error: OnError::Pass,
        deadline: Duration::from_millis(50),
        memory_limit: 256 << 20,
        instances: None,
        config_json: config.to_string(),
    }
}

/// 100k distinct listed domains, subdomain matching (the example's default).
fn blocklist() -> PluginConfig {
    let domains: Vec<String> = (0..LISTED)
        .map(|i| format!("ads{i}.tracker{}.net", i % 977))
        .collect();
    plugin(
        "blocklist",
        "blocklist",
        serde_json::json!({"domains": domains, "block": "nxdomain", "match": "subdomain"}),
    )
}

/// A query for `name` (A, RD, no EDNS).
fn query(name: &str) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// The upstream's answer to `q`: one A record, TTL 3600.
fn upstream_answer(q: &[u8]) -> Vec<u8> {
    let mut a = q.to_vec();
    a[2..4].copy_from_slice(&[0x81, 0x80]);
    a[6..8].copy_from_slice(&[0, 1]);
    a.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
    a
}

/// A pipeline whose cache holds the answer for [`NAME`]; the upstream is an unused
/// loopback port (never asked: every benchmarked query is a hit or answered by policy).
/// `memo_entries` bounds the chain's verdict memo (0: every query calls the plugins).
fn pipeline(
    rt: &tokio::runtime::Runtime,
    plugins: &[PluginConfig],
    memo_entries: usize,
) -> Pipeline {
    let mut config = Config::defaults();
    config.upstream.servers = vec!["127.0.0.1:9".parse().unwrap()];
    let metrics = Arc::new(Metrics::new());
    let upstreams = rt
        .block_on(UpstreamPool::new(&config.upstream, Arc::clone(&metrics)))
        .expect("upstream pool");
    let buffers = BufferPool::new(64, 4096);
    let p = Pipeline::new(&config, upstreams, Arc::clone(&metrics), buffers);
    if !plugins.is_empty() {
        let engine = Arc::new(PluginEngine::new().expect("engine"));
        let chain = ChainBuilder::new(engine, metrics)
            .memo_entries(memo_entries)
            .build(plugins, Path::new("."))
            .expect("plugins load");
        p.set_chain(Arc::new(chain));
    }
    let packet = query(NAME);
    let q = dns::parse_query(&packet).expect("valid query");
    let c = &config.cache;
    let policy = TtlPolicy {
        min_ttl: c.min_ttl,
        max_ttl: c.max_ttl,
        negative_max_ttl: c.negative_max_ttl,
    };
    let answer = Answer::from_upstream(&upstream_answer(&packet), &policy, Instant::now())
        .expect("valid answer");
    let cache = p.cache().expect("cache enabled");
    cache.insert(&CacheKey::new(&q, &packet), &answer);
    p
}

/// The proxy's default `cache.plugin_verdicts`.
const MEMO: usize = 8192;

const CLIENT: Client = Client {
    addr: SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000),
    proto: Proto::Udp,
};

/// One `handle` call; panics unless it is answered in place (hit or policy).
fn handle(p: &Pipeline, packet: &[u8], out: &mut Vec<u8>) {
    out.clear();
    match p.handle(packet, CLIENT, Instant::now(), out) {
        Step::Reply => {}
        _ => panic!("not answered in place"),
    }
}

fn bench_handle(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let setups = [
        ("no_plugin", Vec::new(), MEMO),
        (
            "pass_plugin",
            vec![plugin("pass", "test_pass", serde_json::json!({}))],
            MEMO,
        ),
        ("blocklist_100k_no_memo", vec![blocklist()], 0),
        ("blocklist_100k", vec![blocklist()], MEMO),
    ];
    let hit = query(NAME);
    let mut out = Vec::with_capacity(4096);
    let mut g = c.benchmark_group("handle_cache_hit");
    let mut with_list = None;
    for (label, plugins, memo) in setups {
        let p = pipeline(&rt, &plugins, memo);
        handle(&p, &hit, &mut out);
        assert_eq!(out[3] & 0x0f, 0, "{label}: NOERROR");
        g.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| handle(&p, &hit, &mut out))
        });
        with_list = Some(p);
    }
    g.finish();

    let p = with_list.expect("blocklist pipeline");
    let blocked = query("x.ads777.tracker777.net");
    handle(&p, &blocked, &mut out);
    assert_eq!(out[3] & 0x0f, 3, "listed subdomain: NXDOMAIN");
    c.bench_function("handle_blocked/blocklist_100k", |b| {
        b.iter(|| handle(&p, &blocked, &mut out))
    });

    let view = QuestionView {
        name: NAME.into(),
        qtype: 1,
        qclass: 1,
    };
    let client = ClientInfo {
        ip: CLIENT.addr.ip(),
        port: CLIENT.addr.port(),
        proto: Proto::Udp,
    };
    let chain = p.chain();
    c.bench_function("chain_on_query/blocklist_100k", |b| {
        b.iter(|| chain.on_query(&view, &client, Instant::now()))
    });
    let called = pipeline(&rt, &[blocklist()], 0).chain();
    c.bench_function("chain_on_query/blocklist_100k_no_memo", |b| {
        b.iter(|| called.on_query(&view, &client, Instant::now()))
    });
    let pass = pipeline(
        &rt,
        &[plugin("pass", "test_pass", serde_json::json!({}))],
        MEMO,
    )
    .chain();
    c.bench_function("chain_on_query/pass_plugin", |b| {
        b.iter(|| pass.on_query(&view, &client, Instant::now()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_handle
}
criterion_main!(benches);
