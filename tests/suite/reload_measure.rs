//! Reload measurement (ignored; prints numbers, asserts only that nothing failed):
//! time from trigger (`POST /reload`) to the new chain serving, with and without
//! the precompiled cache, and client latency while chains are swapped under load.
//!
//! Run: `cargo test --test integration reload_measure -- --ignored --nocapture`
//! (add `--release` for production-like compile times; a debug build's Cranelift
//! is several times slower, which inflates the no-cache numbers most).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::reload::{http, post_reload};
use crate::support::client::{self, WAIT};
use crate::support::{decode, plugins, FakeUpstream, Reply, A, Q};

/// A blocklist of 10 000 names plus the verdicts plugin; `cache` on or off.
fn config(up: SocketAddr, dir: &std::path::Path, cache: bool, list: &str) -> String {
    format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nudp_workers = 2\n[upstream]\nservers = [\"{up}\"]\n\
         health_interval = \"0s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [plugin_cache]\nenabled = {cache}\ndir = \"{}\"\n\
         [[plugin]]\nname = \"block\"\npath = \"{}\"\ndeadline = \"1s\"\n\
         [[plugin.config.lists]]\nformat = \"domains\"\nfile = \"{list}\"\n\
         [[plugin]]\nname = \"verdicts\"\npath = \"{}\"\ndeadline = \"1s\"\n",
        dir.join("precompiled").display(),
        plugins::wasm("blocklist").display(),
        plugins::wasm("test_verdicts").display(),
    )
}

/// Closed-loop UDP client recording each query's latency until `stop`.
async fn load(addr: SocketAddr, stop: Arc<AtomicBool>) -> Vec<(Instant, Duration)> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::new();
    for i in 0u16.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let sent = Instant::now();
        sock.send_to(&Q::new("load.example", A).id(i).bytes(), addr)
            .await
            .unwrap();
        let n = tokio::time::timeout(WAIT, sock.recv(&mut buf))
            .await
            .expect("no query times out during a reload")
            .unwrap();
        assert_eq!(client::rcode(&decode(&buf[..n])), 0, "no query fails");
        out.push((sent, sent.elapsed()));
    }
    out
}

fn percentiles(mut v: Vec<Duration>) -> String {
    if v.is_empty() {
        return "no samples".into();
    }
    v.sort();
    let p = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
    format!(
        "n={} p50={:?} p99={:?} p99.9={:?} max={:?}",
        v.len(),
        p(0.5),
        p(0.99),
        p(0.999),
        v[v.len() - 1]
    )
}

async fn measure(cache: bool) {
    let up = FakeUpstream::start().await;
    up.set_default(Reply::a(300, [198, 51, 100, 7]));
    let dir = tempfile::tempdir().unwrap();
    for (file, prefix) in [("l1.txt", "x"), ("l2.txt", "y")] {
        let names: String = (0..10_000)
            .map(|i| format!("{prefix}{i}.example\n"))
            .collect();
        std::fs::write(dir.path().join(file), names).unwrap();
    }
    let path = dir.path().join("w.toml");
    std::fs::write(&path, config(up.addr, dir.path(), cache, "l1.txt")).unwrap();
    let running = tokio::time::timeout(
        Duration::from_secs(120),
        wasmdns::app::Running::start(wasmdns::config::Config::load(&path).unwrap()),
    )
    .await
    .unwrap()
    .unwrap();
    let (addr, admin) = (running.dns_addrs[0], running.admin_addr.unwrap());

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| tokio::spawn(load(addr, Arc::clone(&stop))))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut windows = Vec::new();
    let mut took = Vec::new();
    for round in 0..4 {
        let list = if round % 2 == 0 { "l2.txt" } else { "l1.txt" };
        std::fs::write(&path, config(up.addr, dir.path(), cache, list)).unwrap();
        let t0 = Instant::now();
        let (status, body) = post_reload(admin).await;
        let t = t0.elapsed();
        assert_eq!(status, 200, "{body}");
        took.push(t);
        windows.push((t0, t0 + t + Duration::from_millis(50)));
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut during = Vec::new();
    let mut outside = Vec::new();
    for c in clients {
        for (at, lat) in c.await.unwrap() {
            if windows.iter().any(|(a, b)| at >= *a && at <= *b) {
                during.push(lat);
            } else {
                outside.push(lat);
            }
        }
    }
    let metrics = http(admin, "GET /metrics HTTP/1.1").await;
    assert!(metrics.contains("wasmdns_reloads_total{result=\"ok\"} 4"));
    eprintln!(
        "precompiled cache {}: trigger → new chain serving: {took:?}",
        if cache {
            "on (warm after start)"
        } else {
            "off"
        }
    );
    eprintln!("  latency outside reloads: {}", percentiles(outside));
    eprintln!("  latency during reloads:  {}", percentiles(during));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run with --ignored --nocapture"]
async fn reload_measure() {
    measure(false).await;
    measure(true).await;
}
