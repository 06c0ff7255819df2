//! Per-call cost of a plugin in each language (issue 7): one `on_query` through the
//! real chain (pool checkout, epoch deadline, lowering, the guest's policy,
//! lifting), for the Rust reference and the C, Python, JavaScript and
//! AssemblyScript examples. Components that are not built are skipped with a
//! notice (build them with plugins/build.sh and plugins/build-langs.sh).
//!
//! `cargo bench --bench plugin_langs`

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use wasmdns::config::{OnError, PluginConfig};
use wasmdns::metrics::{Metrics, Proto};
use wasmdns::plugin::{ChainBuilder, ClientInfo, PluginChain, PluginEngine, QuestionView};

/// (bench name, component under plugins/target, config, a name it passes, a name it acts on)
const PLUGINS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "rust-blocklist",
        "wasm32-wasip2/release/blocklist.wasm",
        r#"{"domains":["ads.example"]}"#,
        "www.example.com",
        "x.ads.example",
    ),
    (
        "c-blocklist",
        "c/blocklist.wasm",
        r#"{"domains":["ads.example"]}"#,
        "www.example.com",
        "x.ads.example",
    ),
    (
        "as-blocklist",
        "as/blocklist.wasm",
        r#"{"domains":["ads.example"]}"#,
        "www.example.com",
        "x.ads.example",
    ),
    (
        "python-rewrite",
        "python/rewrite.wasm",
        r#"{"rules":[{"match":"(.*)\\.corp\\.example","rewrite":"\\1.internal.example"}]}"#,
        "www.example.com",
        "wiki.corp.example",
    ),
    (
        "js-allowlist",
        "js/allowlist.wasm",
        r#"{"networks":[{"cidr":"192.0.2.0/24","names":["example.com"]}]}"#,
        "www.example.com",
        "www.example.org",
    ),
];

fn load(name: &str, path: PathBuf, config_json: &str) -> anyhow::Result<PluginChain> {
    let engine = Arc::new(PluginEngine::new()?);
    let builder = ChainBuilder::new(engine, Arc::new(Metrics::new()))
        .pool_size(1)
        // Each iteration must call the guest: this compares languages, not the memo.
        .memo_entries(0);
    let config = PluginConfig {
        name: name.into(),
        path,
        on_error: OnError::Pass,
        deadline: Duration::from_millis(50),
        memory_limit: 64 << 20,
        instances: None,
        config_json: config_json.into(),
    };
    Ok(builder.build(&[config], Path::new("."))?)
}

fn bench(c: &mut Criterion) {
    let client = ClientInfo {
        ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        port: 40000,
        proto: Proto::Udp,
    };
    let mut group = c.benchmark_group("plugin_langs");
    group.measurement_time(Duration::from_secs(3));
    for &(name, file, config, pass, act) in PLUGINS {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("plugins/target")
            .join(file);
        if !path.is_file() {
            eprintln!("plugin_langs: SKIPPED {name}: {} not built", path.display());
            continue;
        }
        let chain = match load(name, path, config) {
            Ok(chain) => chain,
            Err(e) => {
                eprintln!("plugin_langs: SKIPPED {name}: {e}");
                continue;
            }
        };
        for (case, qname) in [("pass", pass), ("verdict", act)] {
            let q = QuestionView {
                name: qname.into(),
                qtype: 1,
                qclass: 1,
            };
            group.bench_function(format!("{name}/{case}"), |b| {
                b.iter(|| chain.on_query(&q, &client, Instant::now()))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
