//! Plugin runtime tests against real (hand-written WAT) components.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::testing::Guest;
use super::*;
use crate::config::{OnError, PluginConfig};
use crate::metrics::{Metrics, Proto};

struct Fixture {
    dir: tempfile::TempDir,
    metrics: Arc<Metrics>,
    builder: ChainBuilder,
}

fn fixture() -> Fixture {
    let engine = Arc::new(PluginEngine::new().unwrap());
    let metrics = Arc::new(Metrics::new());
    let builder = ChainBuilder::new(engine, metrics.clone()).pool_size(2);
    Fixture {
        dir: tempfile::tempdir().unwrap(),
        metrics,
        builder,
    }
}

impl Fixture {
    fn write(&self, file: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(file);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn plugin(&self, name: &str, guest: &Guest) -> PluginConfig {
        let path = self.write(&format!("{name}.wasm"), &guest.wasm());
        config(name, path)
    }

    /// A plugin whose config names `list.txt` (written here, "ads.example").
    fn plugin_with_list(&self, name: &str, guest: &Guest) -> PluginConfig {
        self.write("list.txt", b"ads.example\n");
        PluginConfig {
            config_json: r#"{"lists":[{"file":"list.txt"}]}"#.into(),
            ..self.plugin(name, guest)
        }
    }

    fn builder_with_pool(&self, n: usize) -> ChainBuilder {
        ChainBuilder::new(Arc::new(PluginEngine::new().unwrap()), self.metrics.clone()).pool_size(n)
    }

    fn build(&self, configs: &[PluginConfig]) -> Result<PluginChain, PluginError> {
        self.builder.build(configs, self.dir.path())
    }

    fn counter(&self, metric: &str, labels: &[(&str, &str)]) -> u64 {
        let families = self.metrics.registry().gather();
        let Some(f) = families
            .iter()
            .find(|f| f.name() == format!("wasmdns_{metric}"))
        else {
            return 0;
        };
        f.get_metric()
            .iter()
            .find(|m| {
                labels.iter().all(|(k, v)| {
                    m.get_label()
                        .iter()
                        .any(|l| l.name() == *k && l.value() == *v)
                })
            })
            .map_or(0, |m| m.get_counter().get_value() as u64)
    }
}

fn config(name: &str, path: PathBuf) -> PluginConfig {
    PluginConfig {
        name: name.into(),
        path,
        on_error: OnError::Pass,
        deadline: Duration::from_millis(2),
        memory_limit: 1 << 20,
        instances: None,
        config_json: "{}".into(),
    }
}

fn question() -> QuestionView {
    QuestionView {
        name: "www.example.com".into(),
        qtype: 1,
        qclass: 1,
    }
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        port: 5353,
        proto: Proto::Udp,
    }
}

fn wait_for_instances(chain: &PluginChain, name: &str, n: usize) {
    for _ in 0..500 {
        if chain.available(name) == Some(n) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("pool of {name} never refilled to {n}");
}

#[test]
fn a_plugins_own_instance_count_overrides_the_pool_size() {
    let f = fixture();
    let one = PluginConfig {
        instances: Some(1),
        ..f.plugin("one", &Guest::pass())
    };
    let three = PluginConfig {
        instances: Some(3),
        ..f.plugin("three", &Guest::pass())
    };
    let chain = f
        .build(&[one, three, f.plugin("default", &Guest::pass())])
        .unwrap();
    assert_eq!(chain.available("one"), Some(1));
    assert_eq!(chain.available("three"), Some(3));
    assert_eq!(chain.available("default"), Some(2), "the builder's size");
    assert_eq!(
        chain.on_query(&question(), &client(), Instant::now()),
        ChainQueryVerdict::Pass
    );
    assert_eq!(chain.available("one"), Some(1), "given back after the call");
}

#[test]
fn pass_plugin_loads_and_passes() {
    let f = fixture();
    let chain = f.build(&[f.plugin("p", &Guest::pass())]).unwrap();
    assert!(!chain.is_empty());
    assert!(!chain.wants_response());
    assert_eq!(chain.available("p"), Some(2));
    assert_eq!(
        chain.on_query(&question(), &client(), Instant::now()),
        ChainQueryVerdict::Pass
    );
    assert_eq!(
        f.counter(
            "plugin_calls_total",
            &[("plugin", "p"), ("hook", "on_query")]
        ),
        1
    );
    assert_eq!(
        f.counter(
            "plugin_verdicts_total",
            &[("plugin", "p"), ("verdict", "pass")]
        ),
        1
    );
}

#[test]
fn block_answer_rewrite_verdicts_convert() {
    let f = fixture();
    let q = question();
    let c = client();
    let chain = f.build(&[f.plugin("b", &Guest::block_nxdomain())]).unwrap();
    assert_eq!(
        chain.on_query(&q, &c, Instant::now()),
        ChainQueryVerdict::Block {
            plugin: "b".into(),
            kind: BlockKind::Nxdomain
        }
    );
    let chain = f
        .build(&[f.plugin("r", &Guest::block_rcode(0xffff))])
        .unwrap();
    assert_eq!(
        chain.on_query(&q, &c, Instant::now()),
        ChainQueryVerdict::Block {
            plugin: "r".into(),
            kind: BlockKind::Rcode(0xffff)
        }
    );
    let chain = f
        .build(&[f.plugin("w", &Guest::rewrite("safe.example.org"))])
        .unwrap();
    assert_eq!(
        chain.on_query(&q, &c, Instant::now()),
        ChainQueryVerdict::Rewrite {
            plugin: "w".into(),
            name: "safe.example.org".into()
        }
    );
    let chain = f
        .build(&[f.plugin("a", &Guest::answer_a(300, [192, 0, 2, 1]))])
        .unwrap();
    let want = PluginRecord {
        name: String::new(),
        ttl: 300,
        data: PluginRData::A(Ipv4Addr::new(192, 0, 2, 1)),
    };
    assert_eq!(
        chain.on_query(&q, &c, Instant::now()),
        ChainQueryVerdict::Answer {
            plugin: "a".into(),
            records: vec![want]
        }
    );
    assert_eq!(
        f.counter(
            "plugin_verdicts_total",
            &[("plugin", "a"), ("verdict", "answer")]
        ),
        1
    );
}

#[test]
fn first_non_pass_wins_in_config_order() {
    let f = fixture();
    let chain = f
        .build(&[
            f.plugin("first", &Guest::pass()),
            f.plugin("second", &Guest::rewrite("x.example")),
            f.plugin("third", &Guest::block_nxdomain()),
        ])
        .unwrap();
    assert_eq!(
        chain.names().collect::<Vec<_>>(),
        ["first", "second", "third"]
    );
    assert!(matches!(
        chain.on_query(&question(), &client(), Instant::now()),
        ChainQueryVerdict::Rewrite { plugin, .. } if &*plugin == "second"
    ));
    let calls = |p| f.counter("plugin_calls_total", &[("plugin", p), ("hook", "on_query")]);
    assert_eq!((calls("first"), calls("second"), calls("third")), (1, 1, 0));
}

#[test]
fn on_response_only_for_plugins_that_asked() {
    let f = fixture();
    let chain = f
        .build(&[
            f.plugin("q", &Guest::pass()),
            f.plugin("resp", &Guest::response_refused()),
        ])
        .unwrap();
    assert!(chain.wants_response());
    let v = chain.on_response(&question(), &client(), 0, &[]);
    assert_eq!(
        v,
        ChainResponseVerdict::Block {
            plugin: "resp".into(),
            kind: BlockKind::Refused
        }
    );
    assert_eq!(
        f.counter(
            "plugin_calls_total",
            &[("plugin", "q"), ("hook", "on_response")]
        ),
        0
    );
}

#[test]
fn empty_chain_passes() {
    let f = fixture();
    let chain = f.build(&[]).unwrap();
    assert!(chain.is_empty() && !chain.wants_response());
    assert_eq!(
        chain.on_query(&question(), &client(), Instant::now()),
        ChainQueryVerdict::Pass
    );
    assert_eq!(
        chain.on_response(&question(), &client(), 0, &[]),
        ChainResponseVerdict::Pass
    );
}

fn assert_contained(guest: Guest, kind: &str) {
    for on_error in [OnError::Pass, OnError::Servfail] {
        let f = fixture();
        let mut cfg = f.plugin("bad", &guest);
        cfg.on_error = on_error;
        let chain = f
            .build(&[cfg, f.plugin("after", &Guest::block_nxdomain())])
            .unwrap();
        let v = chain.on_query(&question(), &client(), Instant::now());
        match on_error {
            // The failing plugin counts as pass: the next one still decides.
            OnError::Pass => assert!(matches!(v, ChainQueryVerdict::Block { .. }), "{v:?}"),
            OnError::Servfail => assert_eq!(
                v,
                ChainQueryVerdict::Failed {
                    plugin: "bad".into()
                }
            ),
        }
        assert_eq!(
            f.counter(
                "plugin_failures_total",
                &[("plugin", "bad"), ("kind", kind)]
            ),
            1
        );
        assert_eq!(
            f.counter(
                "plugin_verdicts_total",
                &[("plugin", "bad"), ("verdict", "error")]
            ),
            1
        );
        // The broken instance is replaced off the query path.
        wait_for_instances(&chain, "bad", 2);
    }
}

#[test]
fn infinite_loop_hits_the_deadline() {
    let start = std::time::Instant::now();
    assert_contained(Guest::infinite_loop(), "timeout");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn memory_hog_hits_the_limit() {
    // 1 MiB limit, 64 KiB already used: 20 more pages cannot fit.
    assert_contained(Guest::memory_hog(20), "memory");
}

#[test]
fn unreachable_is_a_trap() {
    assert_contained(Guest::unreachable(), "trap");
}

#[test]
fn growth_within_the_limit_is_fine() {
    let f = fixture();
    let chain = f.build(&[f.plugin("g", &Guest::memory_hog(1))]).unwrap();
    assert_eq!(
        chain.on_query(&question(), &client(), Instant::now()),
        ChainQueryVerdict::Pass
    );
}

#[test]
fn spares_are_built_after_the_chain_is_ready() {
    let f = fixture();
    let mut cfg = f.plugin_with_list("p", &Guest::pass());
    let chain = f
        .builder_with_pool(1)
        .spares(2)
        .build(&[cfg.clone()], f.dir.path())
        .unwrap();
    // Ready with one instance; the spares arrive from a background thread,
    // built from the text still held (the file is already gone).
    std::fs::remove_file(f.dir.path().join("list.txt")).unwrap();
    assert_eq!(
        chain.on_query(&question(), &client(), Instant::now()),
        ChainQueryVerdict::Pass
    );
    wait_for_instances(&chain, "p", 3);
    // A plugin's own `instances` gets no spares: all of them before it is ready.
    f.write("list.txt", b"ads.example\n");
    cfg.instances = Some(2);
    let own = f
        .builder_with_pool(1)
        .spares(2)
        .build(&[cfg], f.dir.path())
        .unwrap();
    assert_eq!(own.available("p"), Some(2));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(own.available("p"), Some(2));
}

#[test]
fn a_rebuild_reads_list_files_again_and_refuses_changed_ones() {
    let f = fixture();
    let cfg = f.plugin_with_list("bad", &Guest::unreachable());
    let chain = f.build(&[cfg]).unwrap();
    assert_eq!(chain.available("bad"), Some(2));
    // The text was let go once the pool was full: the rebuild after this trap
    // reads the file again, finds it unchanged and refills the pool.
    let _ = chain.on_query(&question(), &client(), Instant::now());
    wait_for_instances(&chain, "bad", 2);
    // A changed list would make the rebuilt instance differ from its sibling.
    f.write("list.txt", b"ads.example\nnew.example\n");
    let _ = chain.on_query(&question(), &client(), Instant::now());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        chain.available("bad"),
        Some(1),
        "no instance from new contents"
    );
    // The same bytes again are the same list.
    f.write("list.txt", b"ads.example\n");
    let _ = chain.on_query(&question(), &client(), Instant::now());
    wait_for_instances(&chain, "bad", 1);
}

#[test]
fn empty_pool_answers_per_on_error_as_busy() {
    let f = fixture();
    let mut cfg = f.plugin("slow", &Guest::unreachable());
    cfg.on_error = OnError::Servfail;
    let chain = f.builder_with_pool(1).build(&[cfg], f.dir.path()).unwrap();
    // The trap drops the only instance; until the rebuild lands the pool may be
    // empty, and then the answer is immediate.
    let _ = chain.on_query(&question(), &client(), Instant::now());
    let v = chain.on_query(&question(), &client(), Instant::now());
    assert_eq!(
        v,
        ChainQueryVerdict::Failed {
            plugin: "slow".into()
        }
    );
    let failures = f.counter(
        "plugin_failures_total",
        &[("plugin", "slow"), ("kind", "trap")],
    ) + f.counter(
        "plugin_failures_total",
        &[("plugin", "slow"), ("kind", "busy")],
    );
    assert_eq!(failures, 2);
}

fn load_error(f: &Fixture, cfg: PluginConfig) -> String {
    match f.build(&[cfg]) {
        Ok(_) => panic!("plugin should be rejected"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn garbage_bytes_are_rejected_naming_plugin_and_file() {
    let f = fixture();
    let path = f.write("junk.wasm", b"\0asm garbage");
    let e = load_error(&f, config("junk", path));
    assert!(e.starts_with("plugin junk ("), "{e}");
    assert!(
        e.contains("junk.wasm") && e.contains("not a valid component"),
        "{e}"
    );
}

#[test]
fn missing_file_is_rejected() {
    let f = fixture();
    let e = load_error(&f, config("gone", f.dir.path().join("nope.wasm")));
    assert!(e.contains("plugin gone") && e.contains("nope.wasm"), "{e}");
}

#[test]
fn missing_export_is_rejected() {
    let f = fixture();
    let path = f.write("empty.wasm", &wat::parse_str("(component)").unwrap());
    let e = load_error(&f, config("empty", path));
    assert!(
        e.contains("plugin empty") && e.contains("missing export"),
        "{e}"
    );
}

#[test]
fn unsupported_version_is_rejected() {
    let f = fixture();
    let path = f.write(
        "v9.wasm",
        &Guest::pass().wasm_as("wasmdns:plugin/policy@9.0.0"),
    );
    let e = load_error(&f, config("v9", path));
    assert!(e.contains("unsupported WIT version 9.0.0"), "{e}");
}

#[test]
fn init_error_message_surfaces() {
    let f = fixture();
    let e = load_error(&f, f.plugin("cfg", &Guest::init_error("bad list syntax")));
    assert!(
        e.contains("plugin cfg (") && e.contains("init failed: bad list syntax"),
        "{e}"
    );
}

#[test]
fn one_bad_plugin_fails_the_whole_chain() {
    let f = fixture();
    let r = f.build(&[
        f.plugin("ok", &Guest::pass()),
        f.plugin("bad", &Guest::init_error("no")),
    ]);
    assert!(r.is_err());
    let dup = f.build(&[f.plugin("x", &Guest::pass()), f.plugin("x", &Guest::pass())]);
    assert!(matches!(dup, Err(PluginError::Duplicate { .. })));
}

#[test]
fn missing_list_file_names_the_plugin() {
    let f = fixture();
    let mut cfg = f.plugin("bl", &Guest::pass());
    cfg.config_json = r#"{"lists":[{"file":"absent.txt"}]}"#.into();
    let e = load_error(&f, cfg);
    assert!(e.contains("plugin bl") && e.contains("absent.txt"), "{e}");
}

mod lists;
mod reuse;
