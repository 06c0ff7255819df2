//! Reloader tests against real (hand-written WAT) plugins and a real pipeline:
//! every failure changes nothing, success swaps everything and reports restarts.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::*;
use crate::buffer::BufferPool;
use crate::plugin::testing::Guest;

const BASE: &str = "[upstream]\nservers = [\"127.0.0.1:9\"]\nhealth_interval = \"0s\"\n\
                    [server]\nlisten = [\"127.0.0.1:0\"]\n[plugin_cache]\nenabled = false\n";

struct Fixture {
    dir: tempfile::TempDir,
    pipeline: Arc<Pipeline>,
    reloader: Reloader,
}

impl Fixture {
    async fn new(extra: &str, overrides: Overrides) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        for (name, guest) in [
            ("pass.wasm", Guest::pass()),
            ("block.wasm", Guest::block_nxdomain()),
            ("init-error.wasm", Guest::init_error("bad list")),
        ] {
            std::fs::write(dir.path().join(name), guest.wasm()).unwrap();
        }
        std::fs::write(dir.path().join("garbage.wasm"), b"\0asm garbage").unwrap();
        let path = dir.path().join("w.toml");
        std::fs::write(&path, format!("{BASE}{extra}")).unwrap();
        let mut config = Config::load(&path).unwrap();
        overrides.apply(&mut config);
        let metrics = Arc::new(Metrics::new());
        let upstreams = UpstreamPool::new(&config.upstream, Arc::clone(&metrics))
            .await
            .unwrap();
        let pipeline = Arc::new(Pipeline::new(
            &config,
            upstreams,
            metrics,
            BufferPool::new(16, 4096),
        ));
        let chains = Arc::new(ChainLoader::new(
            &config.plugin_cache,
            Arc::clone(pipeline.metrics()),
        ));
        pipeline.set_chain(Arc::new(chains.load(&config, 1).await.unwrap()));
        let reloader = Reloader::new(Arc::clone(&pipeline), chains, overrides, config);
        Fixture {
            dir,
            pipeline,
            reloader,
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("w.toml")
    }

    fn write(&self, extra: &str) {
        std::fs::write(self.path(), format!("{BASE}{extra}")).unwrap();
    }

    fn reloads(&self, result: &str) -> u64 {
        self.pipeline
            .metrics()
            .reloads
            .with_label_values(&[result])
            .get()
    }

    fn names(&self) -> Vec<String> {
        self.pipeline.chain().names().map(str::to_owned).collect()
    }
}

fn plugin(name: &str, file: &str) -> String {
    format!("[[plugin]]\nname = \"{name}\"\npath = \"{file}\"\n")
}

#[tokio::test]
async fn failures_change_nothing_and_name_the_culprit() {
    let f = Fixture::new(&plugin("a", "pass.wasm"), Overrides::default()).await;
    let chain = f.pipeline.chain();
    let upstreams = f.pipeline.upstreams();
    let cases: [(String, &[&str]); 4] = [
        ("[cache]\nbogus = 1\n".into(), &["w.toml", "cache.bogus"]),
        (plugin("a", "missing.wasm"), &["plugin a", "missing.wasm"]),
        (plugin("g", "garbage.wasm"), &["plugin g", "garbage.wasm"]),
        (
            plugin("a", "pass.wasm") + &plugin("bad", "init-error.wasm"),
            &["plugin bad", "init failed", "bad list"],
        ),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        f.write(text);
        let err = f.reloader.reload().await.unwrap_err().to_string();
        for n in *needles {
            assert!(err.contains(n), "case {i}: {err:?} lacks {n:?}");
        }
        assert_eq!(f.reloader.generation(), 1);
        assert!(Arc::ptr_eq(&f.pipeline.chain(), &chain), "case {i}");
        assert!(Arc::ptr_eq(&f.pipeline.upstreams(), &upstreams));
    }
    assert_eq!((f.reloads("error"), f.reloads("ok")), (4, 0));
    std::fs::remove_file(f.path()).unwrap();
    let err = f.reloader.reload().await.unwrap_err();
    assert!(
        matches!(err, ReloadError::Config(ConfigError::Io { .. })),
        "{err}"
    );
    assert_eq!(f.reloader.generation(), 1);
}

#[tokio::test]
async fn success_swaps_chain_upstreams_cache_and_reports_restarts() {
    let f = Fixture::new(&plugin("a", "pass.wasm"), Overrides::default()).await;
    let upstreams = f.pipeline.upstreams();
    let cache = f.pipeline.cache().unwrap();
    let text = BASE
        .replace(
            "listen = [\"127.0.0.1:0\"]",
            "listen = [\"[::1]:0\"]\nmax_inflight = 7",
        )
        .replace("127.0.0.1:9", "127.0.0.1:10")
        + "[cache]\nmax_entries = 50\n"
        + &plugin("b", "block.wasm")
        + &plugin("a", "pass.wasm");
    std::fs::write(f.path(), text).unwrap();
    let o = f.reloader.reload().await.unwrap();
    assert_eq!(o.generation, 2);
    assert_eq!(o.restart_required, ["server.listen"]);
    for key in ["server.max_inflight", "upstream", "cache", "plugin"] {
        assert!(o.applied.contains(&key), "{:?} lacks {key}", o.applied);
    }
    assert_eq!(f.names(), ["b", "a"], "reordered and added");
    assert_eq!(f.pipeline.chain().generation(), 2);
    assert!(!Arc::ptr_eq(&f.pipeline.upstreams(), &upstreams));
    assert!(!Arc::ptr_eq(&f.pipeline.cache().unwrap(), &cache));
    assert_eq!(f.reloads("ok"), 1);

    // Removing every plugin is a reload like any other.
    f.write("");
    let o = f.reloader.reload().await.unwrap();
    assert_eq!((o.generation, o.restart_required.len()), (3, 0));
    assert!(f.pipeline.chain().is_empty());
    assert_eq!(f.pipeline.chain().generation(), 3);
}

#[tokio::test]
async fn overrides_survive_reloads() {
    let o = Overrides {
        upstream: vec!["127.0.0.1:11".parse().unwrap()],
        cache_entries: Some(0),
        ..Overrides::default()
    };
    let f = Fixture::new("", o.clone()).await;
    assert!(f.pipeline.cache().is_none());
    f.write("[cache]\nmin_ttl = 1\n");
    let outcome = f.reloader.reload().await.unwrap();
    let c = f.reloader.current().await;
    assert_eq!(c.upstream.servers, o.upstream);
    assert_eq!((c.cache.max_entries, c.cache.min_ttl), (0, 1));
    assert!(f.pipeline.cache().is_none(), "still disabled by the flag");
    assert!(
        !outcome.applied.contains(&"upstream"),
        "{:?}",
        outcome.applied
    );
}

#[tokio::test]
async fn a_config_without_a_file_cannot_be_reloaded() {
    let metrics = Arc::new(Metrics::new());
    let mut config = Config::parse(BASE, None).unwrap();
    config.plugins.clear();
    let upstreams = UpstreamPool::new(&config.upstream, Arc::clone(&metrics))
        .await
        .unwrap();
    let pipeline = Arc::new(Pipeline::new(
        &config,
        upstreams,
        Arc::clone(&metrics),
        BufferPool::new(4, 512),
    ));
    let chains = Arc::new(ChainLoader::new(&config.plugin_cache, metrics));
    let r = Reloader::new(pipeline, chains, Overrides::default(), config);
    assert!(matches!(r.reload().await, Err(ReloadError::NoSource)));
    assert_eq!(r.generation(), 1);
    assert_eq!(r.metrics.reloads.with_label_values(&["error"]).get(), 1);
}

struct Probe(Arc<AtomicBool>);

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn retire_waits_for_holders_then_drops() {
    let dropped = Arc::new(AtomicBool::new(false));
    let old = Arc::new(Probe(Arc::clone(&dropped)));
    let held = Arc::clone(&old);
    retire(old, Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!dropped.load(Ordering::SeqCst), "a query still holds it");
    drop(held);
    let until = Instant::now() + Duration::from_secs(2);
    while !dropped.load(Ordering::SeqCst) {
        assert!(Instant::now() < until, "dropped once released");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn config_dir_anchors_relative_files() {
    let mut c = Config::defaults();
    assert_eq!(config_dir(&c), Path::new("."));
    c.source = Some(PathBuf::from("/etc/wasmdns/w.toml"));
    assert_eq!(config_dir(&c), Path::new("/etc/wasmdns"));
}
