//! Valid configs: defaults, overrides, plugins, loading, and every shipped file under `config/`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

#[test]
fn defaults_are_the_documented_ones() {
    let c = Config::defaults();
    assert_eq!(c.source, None);
    assert_eq!(
        c.server.listen,
        vec![
            "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
            "[::1]:5353".parse().unwrap()
        ]
    );
    assert_eq!(c.server.udp_workers, 0);
    assert_eq!(c.server.max_udp_payload, 1232);
    assert_eq!(c.server.tcp_idle_timeout, Duration::from_secs(10));
    assert_eq!(c.server.tcp_max_connections, 1024);
    assert_eq!(c.server.tcp_max_pipelined, 64);
    assert_eq!(c.server.max_inflight, 4096);
    assert_eq!(c.server.shutdown_grace, Duration::from_secs(5));
    assert_eq!(
        c.upstream.servers,
        vec![
            "9.9.9.9:53".parse::<SocketAddr>().unwrap(),
            "1.1.1.1:53".parse().unwrap()
        ]
    );
    assert_eq!(c.upstream.attempt_timeout, Duration::from_millis(700));
    assert_eq!(c.upstream.deadline, Duration::from_secs(2));
    assert_eq!(c.upstream.udp_sockets, 4);
    assert_eq!(c.upstream.edns_payload, 1232);
    assert_eq!(
        c.cache,
        CacheConfig {
            max_entries: 100_000,
            min_ttl: 0,
            max_ttl: 86_400,
            negative_max_ttl: 3_600,
            serve_stale: Duration::from_secs(86_400),
            stale_ttl: 30,
            prefetch: true,
            plugin_verdicts: 8192,
        }
    );
    assert_eq!(c.upstream.strategy, crate::config::Strategy::Srtt);
    assert_eq!(c.upstream.health_interval, Some(Duration::from_secs(5)));
    assert_eq!(c.upstream.failure_threshold, 5);
    assert!(c.upstream.tcp_only.is_empty());
    assert_eq!(c.server.shed_rcode, 2);
    assert_eq!(c.acl.allow.len(), 8);
    assert!(!c.acl.allow.contains(&"0.0.0.0/0".parse().unwrap()));
    assert!(c.acl.allow.contains(&"192.168.0.0/16".parse().unwrap()));
    assert_eq!(c.admin.listen, Some("127.0.0.1:9153".parse().unwrap()));
    assert_eq!(c.log.format, LogFormat::Text);
    assert_eq!(c.log.level, "info");
    assert_eq!(c.log.security_rate, 10);
    assert!(c.plugins.is_empty());
}

#[test]
fn empty_sections_mean_defaults() {
    let text = "[server]\n[upstream]\n[cache]\n[acl]\n[admin]\n[log]\n";
    assert_eq!(ok(text), Config::defaults());
}

#[test]
fn values_override_defaults() {
    let c = ok(r#"
        [server]
        listen = ["0.0.0.0:53", "[::]:53"]
        tcp_idle_timeout = "30s"
        [upstream]
        servers = ["127.0.0.1:5300", "2620:fe::fe"]
        attempt_timeout = "250ms"
        deadline = "30s"
        [cache]
        max_entries = 0
        min_ttl = 60
        max_ttl = 60
        [admin]
        enabled = false
        [log]
        format = "json"
        level = "warn,wasmdns::pipeline=debug"
        security_rate = 0
    "#);
    assert_eq!(c.server.listen[1], "[::]:53".parse().unwrap());
    assert_eq!(c.server.tcp_idle_timeout, Duration::from_secs(30));
    assert_eq!(c.upstream.servers[1], "[2620:fe::fe]:53".parse().unwrap());
    assert_eq!(c.upstream.deadline, Duration::from_secs(30));
    assert_eq!(
        (c.cache.max_entries, c.cache.min_ttl, c.cache.max_ttl),
        (0, 60, 60)
    );
    assert_eq!(c.admin.listen, None);
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.log.security_rate, 0);
}

#[test]
fn port_zero_listeners_are_not_duplicates() {
    let c = ok("[server]\nlisten = [\"127.0.0.1:0\", \"127.0.0.1:0\"]\n[admin]\nlisten = \"127.0.0.1:0\"\n");
    assert_eq!(c.server.listen.len(), 2);
}

#[test]
fn plugin_defaults_and_relative_path() {
    let c = Config::parse(PLUGIN, Some(Path::new("/etc/wasmdns/wasmdns.toml"))).unwrap();
    let p = &c.plugins[0];
    assert_eq!(p.name, "block");
    assert_eq!(p.path, PathBuf::from("/etc/wasmdns/plugins/block.wasm"));
    assert_eq!(p.on_error, OnError::Pass);
    assert_eq!(p.deadline, Duration::from_millis(2));
    assert_eq!(p.memory_limit, 64 << 20);
    assert_eq!(p.instances, None, "one per worker thread plus a spare");
    assert_eq!(p.config_json, "{}");
    assert_eq!(c.source, Some(PathBuf::from("/etc/wasmdns/wasmdns.toml")));
    // Without a file there is no directory to anchor to.
    assert_eq!(
        ok(PLUGIN).plugins[0].path,
        PathBuf::from("plugins/block.wasm")
    );
}

#[test]
fn plugin_absolute_path_and_settings() {
    let text = "[[plugin]]\nname = \"p.v2\"\npath = \"/opt/p.wasm\"\non_error = \"servfail\"\n\
                deadline = \"500us\"\nmemory_limit = \"1MiB\"\ninstances = 1\n[plugin.config]\nlist = [\"a\"]\n";
    let c = Config::parse(text, Some(Path::new("conf/w.toml"))).unwrap();
    let p = &c.plugins[0];
    assert_eq!(p.path, PathBuf::from("/opt/p.wasm"));
    assert_eq!(p.on_error, OnError::Servfail);
    assert_eq!(p.deadline, Duration::from_micros(500));
    assert_eq!(p.memory_limit, 1 << 20);
    assert_eq!(p.instances, Some(1));
    assert_eq!(p.config_json, r#"{"list":["a"]}"#);
}

#[test]
fn load_reads_files_and_reports_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(&path, "[cache]\nmax_entries = 7\n").unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(
        (c.cache.max_entries, c.source.as_deref()),
        (7, Some(path.as_path()))
    );
    let missing = dir.path().join("missing.toml");
    match Config::load(&missing) {
        Err(e @ ConfigError::Io { .. }) => {
            assert!(e.to_string().starts_with(&*missing.to_string_lossy()))
        }
        other => panic!("expected Io, got {other:?}"),
    }
}

/// Every `*.toml` under `dir`, recursively, sorted.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(toml_files(&path));
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn every_shipped_config_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let files = toml_files(&dir);
    assert!(
        files.iter().any(|f| f.ends_with("wasmdns.toml")),
        "{files:?}"
    );
    for file in files {
        Config::load(&file).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn reference_config_states_every_default() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/wasmdns.toml");
    let mut c = Config::load(&path).unwrap();
    c.source = None;
    assert_eq!(c, Config::defaults());
}

/// The keys serde accepts in `section`, read from its unknown-field message,
/// so this list cannot drift from the raw structs.
fn accepted_keys(section: &str) -> Vec<String> {
    let text = if section == "plugin" {
        "[[plugin]]\nname = \"p\"\npath = \"p.wasm\"\nzz_probe = 1\n".to_owned()
    } else {
        format!("[{section}]\nzz_probe = 1\n")
    };
    let (_, message) = err(&text);
    let list = message.split("expected").nth(1).expect("a list of keys");
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn reference_config_shows_every_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/wasmdns.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    for section in [
        "server",
        "upstream",
        "cache",
        "acl",
        "admin",
        "log",
        "reload",
        "plugin_cache",
    ] {
        let table = doc[section].as_table().unwrap();
        let keys = accepted_keys(section);
        assert!(!keys.is_empty(), "{section}");
        for key in keys {
            assert!(
                table.contains_key(&key),
                "wasmdns.toml lacks {section}.{key}"
            );
        }
    }
    // Plugins are not loaded by default, so their keys are shown commented out.
    assert!(text.contains("# [[plugin]]\n"));
    for key in accepted_keys("plugin") {
        let shown = format!("\n# {key} = ");
        let table = format!("\n# [plugin.{key}]\n");
        assert!(
            text.contains(&shown) || text.contains(&table),
            "wasmdns.toml lacks plugin.{key}"
        );
    }
}

#[test]
fn upstream_resilience_keys() {
    let c = Config::parse(
        r#"
        [server]
        shed_rcode = "refused"
        [upstream]
        servers = ["udp://127.0.0.1:5300", "tcp://[::1]:53", "10.0.0.1"]
        strategy = "round-robin"
        health_interval = "0s"
        health_name = "example.com."
        [cache]
        serve_stale = "0s"
        "#,
        None,
    )
    .unwrap();
    assert_eq!(c.server.shed_rcode, 5);
    assert_eq!(c.upstream.servers.len(), 3);
    assert_eq!(c.upstream.tcp_only, vec!["[::1]:53".parse().unwrap()]);
    assert_eq!(c.upstream.strategy, crate::config::Strategy::RoundRobin);
    assert_eq!(c.upstream.health_interval, None);
    assert_eq!(c.cache.serve_stale, Duration::ZERO);
    for bad in ["\"a..b\"", "\"\"", "\"a b\""] {
        let text = format!("[upstream]\nhealth_name = {bad}\n");
        let err = Config::parse(&text, None).unwrap_err().to_string();
        assert!(err.contains("upstream.health_name"), "{err}");
    }
    let err = Config::parse("[upstream]\nstrategy = \"fastest\"\n", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("upstream.strategy"), "{err}");
}

#[test]
fn reload_and_plugin_cache_keys() {
    let c = Config::parse(
        "[reload]\nwatch = true\n[plugin_cache]\nenabled = false\ndir = \"/var/cache/w\"\n",
        None,
    )
    .unwrap();
    assert!(c.reload.watch);
    assert!(!c.plugin_cache.enabled);
    assert_eq!(
        c.plugin_cache.dir.as_deref(),
        Some(Path::new("/var/cache/w"))
    );
    let d = Config::defaults();
    assert!(!d.reload.watch && d.plugin_cache.enabled && d.plugin_cache.dir.is_none());
    // Relative directories need a file to be relative to.
    let err = Config::parse("[plugin_cache]\ndir = \"cache\"\n", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("plugin_cache.dir"), "{err}");
    let c = Config::parse(
        "[plugin_cache]\ndir = \"cache\"\n",
        Some(Path::new("/etc/w/w.toml")),
    )
    .unwrap();
    assert_eq!(
        c.plugin_cache.dir.as_deref(),
        Some(Path::new("/etc/w/cache"))
    );
    let err = Config::parse("[reload]\nwatch = \"yes\"\n", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("reload.watch"), "{err}");
}
