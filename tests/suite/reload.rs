//! Reloads under load: while clients query over UDP and TCP without pause, the
//! blocklist is swapped for one with other content, a plugin is added, a broken
//! plugin is attempted, and a plugin is removed. Every answer must be the answer
//! of one generation, each client must see generations only move forward, and
//! none may fail or time out. The broken reload must change nothing.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use wasmdns::reload::ChainLoader;

use crate::support::client::{self, Tcp, WAIT};
use crate::support::{decode, plugins, rc, FakeUpstream, Proxy, Reply, A, Q};

const NAMES: [&str; 3] = ["a.example", "b.example", "answer.example"];
const UPSTREAM_IP: [u8; 4] = [198, 51, 100, 7];
const PLUGIN_IP: [u8; 4] = [192, 0, 2, 1];

/// What a client can see for a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Blocked,
    Upstream,
    Plugin,
}
use Seen::{Blocked as B, Plugin as P, Upstream as U};

/// The valid answer per generation (index 0 = generation 1) and name.
const EXPECTED: [[Seen; 3]; 4] = [
    [B, U, U], // blocklist with a.example
    [U, B, U], // the blocklist swapped: b.example instead
    [U, B, P], // + test_verdicts, which answers "answer.*" itself
    [U, U, P], // blocklist removed
];

/// Config text of each generation; `list` files sit next to the config.
fn config_text(up: SocketAddr, cache: &Path, plugins: &[(&str, &str, Option<&str>)]) -> String {
    let mut t = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nudp_workers = 2\n\
         [upstream]\nservers = [\"{up}\"]\nattempt_timeout = \"500ms\"\ndeadline = \"1500ms\"\n\
         health_interval = \"0s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [plugin_cache]\ndir = \"{}\"\n",
        cache.display()
    );
    for (name, wasm, list) in plugins {
        let path = plugins::wasm(wasm);
        // A long deadline: on a loaded test machine a descheduled call could hit the
        // default 2 ms and pass (on_error), which would look like a wrong answer.
        t += &format!(
            "[[plugin]]\nname = \"{name}\"\npath = \"{}\"\ndeadline = \"1s\"\non_error = \"servfail\"\n",
            path.display()
        );
        if let Some(list) = list {
            t += &format!("[[plugin.config.lists]]\nformat = \"domains\"\nfile = \"{list}\"\n");
        }
    }
    t
}

fn classify(answer: &[u8]) -> Result<Seen, String> {
    let m = decode(answer);
    let ips = client::ipv4s(&m);
    match client::rcode(&m) {
        rc::NXDOMAIN => Ok(B),
        rc::NOERROR if ips == [Ipv4Addr::from(UPSTREAM_IP)] => Ok(U),
        rc::NOERROR if ips.contains(&Ipv4Addr::from(PLUGIN_IP)) => Ok(P),
        code => Err(format!("rcode {code}, addresses {ips:?}")),
    }
}

/// One client's view: the generation it has reached, what went wrong, how many.
#[derive(Default)]
struct Tally {
    gen: usize,
    answered: usize,
    errors: Vec<String>,
}

impl Tally {
    fn check(&mut self, name: usize, answer: Option<Vec<u8>>) {
        self.answered += 1;
        let seen = match answer.as_deref().map(classify) {
            None => return self.errors.push(format!("{}: timeout", NAMES[name])),
            Some(Err(e)) => return self.errors.push(format!("{}: {e}", NAMES[name])),
            Some(Ok(s)) => s,
        };
        // The earliest generation, not before the one already seen, that gives it.
        match (self.gen..EXPECTED.len()).find(|&g| EXPECTED[g][name] == seen) {
            Some(g) => self.gen = g,
            None => self.errors.push(format!(
                "{}: {seen:?} after generation {} (backwards or invalid)",
                NAMES[name],
                self.gen + 1
            )),
        }
    }
}

async fn udp_client(addr: SocketAddr, stop: Arc<AtomicBool>) -> Tally {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut t = Tally::default();
    let mut buf = vec![0u8; 4096];
    for i in 0usize.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let name = i % NAMES.len();
        let id = (i % 65536) as u16;
        sock.send_to(&Q::new(NAMES[name], A).id(id).bytes(), addr)
            .await
            .unwrap();
        // Skip stray late answers to an earlier ID (none expected).
        let answer = tokio::time::timeout(WAIT, async {
            loop {
                let n = sock.recv(&mut buf).await.unwrap();
                if client::id_of(&buf[..n]) == id {
                    return buf[..n].to_vec();
                }
            }
        })
        .await
        .ok();
        t.check(name, answer);
    }
    t
}

async fn tcp_client(addr: SocketAddr, stop: Arc<AtomicBool>) -> Tally {
    let mut conn = Tcp::connect(addr).await;
    let mut t = Tally::default();
    for i in 0usize.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let name = i % NAMES.len();
        conn.send(&Q::new(NAMES[name], A).id(i as u16).bytes())
            .await;
        t.check(name, conn.recv_within(WAIT).await);
    }
    t
}

/// POST /reload: (status, body).
pub(super) async fn post_reload(admin: SocketAddr) -> (u16, serde_json::Value) {
    let text = http(admin, "POST /reload HTTP/1.1\r\nContent-Length: 0").await;
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap())
}

pub(super) async fn http(admin: SocketAddr, head: &str) -> String {
    let exchange = async {
        let mut s = TcpStream::connect(admin).await.unwrap();
        let req = format!("{head}\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        String::from_utf8(raw).unwrap()
    };
    // Generous: a reload compiles plugins, slowly in a debug build.
    tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .expect("admin answers")
}

async fn plugins_json(admin: SocketAddr) -> serde_json::Value {
    let text = http(admin, "GET /plugins HTTP/1.1").await;
    serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaps_under_load_never_fail_or_mix_a_query() {
    let up = FakeUpstream::start().await;
    up.set_default(Reply::a(300, UPSTREAM_IP));
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("precompiled");
    std::fs::write(dir.path().join("list1.txt"), "a.example\n").unwrap();
    std::fs::write(dir.path().join("list2.txt"), "b.example\n").unwrap();
    let path = dir.path().join("wasmdns.toml");
    let generations = [
        config_text(
            up.addr,
            &cache,
            &[("block", "blocklist", Some("list1.txt"))],
        ),
        config_text(
            up.addr,
            &cache,
            &[("block", "blocklist", Some("list2.txt"))],
        ),
        config_text(
            up.addr,
            &cache,
            &[
                ("block", "blocklist", Some("list2.txt")),
                ("verdicts", "test_verdicts", None),
            ],
        ),
        config_text(up.addr, &cache, &[("verdicts", "test_verdicts", None)]),
    ];
    let broken = config_text(
        up.addr,
        &cache,
        &[
            ("block", "blocklist", Some("list2.txt")),
            ("verdicts", "test_verdicts", None),
            ("broken", "test_init_error", None),
        ],
    );
    // Compile every component into the precompiled cache first: a debug build's
    // Cranelift can take longer than the harness's start-up bound.
    std::fs::write(&path, &broken).unwrap();
    let all = wasmdns::config::Config::load(&path).unwrap();
    let metrics = Arc::new(wasmdns::metrics::Metrics::new());
    let warm = Arc::new(ChainLoader::new(&all.plugin_cache, metrics));
    assert!(
        warm.load(&all, 0).await.is_err(),
        "the broken plugin fails init"
    );

    std::fs::write(&path, &generations[0]).unwrap();
    let config = wasmdns::config::Config::load(&path).unwrap();
    let proxy = Proxy::start_with(config).await;
    let admin = proxy.admin.unwrap();
    assert_eq!(plugins_json(admin).await["generation"], 1);

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..4 {
        let stop = Arc::clone(&stop);
        if i % 2 == 0 {
            clients.spawn(udp_client(proxy.addr, stop));
        } else {
            clients.spawn(tcp_client(proxy.addr, stop));
        }
    }

    let pause = Duration::from_millis(700);
    for (gen, text) in generations.iter().enumerate().skip(1) {
        tokio::time::sleep(pause).await;
        if gen == 3 {
            // Generation 3 serving: a broken plugin changes nothing.
            std::fs::write(&path, &broken).unwrap();
            let (status, body) = post_reload(admin).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(body["result"], "error");
            let error = body["error"].as_str().unwrap();
            assert!(
                error.contains("plugin broken") && error.contains("test_init_error.wasm"),
                "{error}"
            );
            assert_eq!(plugins_json(admin).await["generation"], 3);
            tokio::time::sleep(pause).await;
        }
        std::fs::write(&path, text).unwrap();
        let (status, body) = post_reload(admin).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"], "ok");
        assert_eq!(body["generation"], gen + 1);
        assert_eq!(body["restart_required"], serde_json::json!([]));
    }
    tokio::time::sleep(pause).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();

    let mut total = 0;
    while let Some(t) = clients.join_next().await {
        let t = t.unwrap();
        if !t.errors.is_empty() {
            let m = http(admin, "GET /metrics HTTP/1.1").await;
            let plugin_lines: Vec<&str> = m
                .lines()
                .filter(|l| l.starts_with("wasmdns_plugin_failures"))
                .collect();
            panic!(
                "{} errors, first: {:?}; {plugin_lines:?}",
                t.errors.len(),
                &t.errors[..t.errors.len().min(5)]
            );
        }
        assert_eq!(t.gen + 1, 4, "every client reached the last generation");
        total += t.answered;
    }
    let rate = total as f64 / elapsed.as_secs_f64();
    eprintln!("reload under load: {total} queries in {elapsed:?} ({rate:.0}/s), 0 failed");
    assert!(total >= 2000, "only {total} queries: not a load");

    let p = plugins_json(admin).await;
    assert_eq!(p["generation"], 4);
    let list = p["plugins"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    let v = &list[0];
    assert_eq!(v["name"], "verdicts");
    assert_eq!(v["generation"], 4);
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(v["hooks"], serde_json::json!(["on_query", "on_response"]));
    assert_eq!(v["precompiled"], true, "generation 3 stored it: {v}");
    assert!(v["calls"]["on_query"].as_u64().unwrap() > 0, "{v}");
    assert!(v["verdicts"]["answer"].as_u64().unwrap() > 0, "{v}");
    let metrics = http(admin, "GET /metrics HTTP/1.1").await;
    assert!(
        metrics.contains("wasmdns_reloads_total{result=\"ok\"} 3"),
        "ok count"
    );
    assert!(
        metrics.contains("wasmdns_reloads_total{result=\"error\"} 1"),
        "error count"
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_only_changes_are_reported_and_get_gives_405() {
    let up = FakeUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    let base = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"{}\"]\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n[plugin_cache]\nenabled = false\n",
        up.addr
    );
    std::fs::write(&path, &base).unwrap();
    let proxy = Proxy::start_with(wasmdns::config::Config::load(&path).unwrap()).await;
    let admin = proxy.admin.unwrap();
    let text = base.replace(
        "listen = [\"127.0.0.1:0\"]",
        "listen = [\"127.0.0.1:0\"]\nudp_workers = 3",
    ) + "[log]\nlevel = \"debug\"\n";
    std::fs::write(&path, text).unwrap();
    let (status, body) = post_reload(admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["restart_required"],
        serde_json::json!(["server.udp_workers", "log"])
    );
    let get = http(admin, "GET /reload HTTP/1.1").await;
    assert!(get.starts_with("HTTP/1.1 405"), "{get}");
    assert!(get.to_ascii_lowercase().contains("allow: post"), "{get}");
    // Still serving.
    let answer = client::udp(proxy.addr, &Q::new("x.example", A).bytes()).await;
    assert_eq!(client::rcode(&decode(&answer)), rc::NOERROR);
    proxy.stop().await;
}
