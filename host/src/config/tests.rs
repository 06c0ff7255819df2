//! Config tests: defaults, every error case (with its key), and every shipped file under `config/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

/// Parses `text` as the built-in file and returns the error's key and message.
fn err(text: &str) -> (String, String) {
    match Config::parse(text, None) {
        Err(ConfigError::Invalid { file, key, message }) => {
            assert_eq!(file, BUILTIN);
            (key, message)
        }
        other => panic!("expected an Invalid error for {text:?}, got {other:?}"),
    }
}

/// Asserts that `text` fails on `key` with a message containing `needle`.
fn fails(text: &str, key: &str, needle: &str) {
    let (k, m) = err(text);
    assert_eq!(k, key, "key for {text:?} (message: {m})");
    assert!(
        m.contains(needle),
        "message for {text:?}: {m:?} lacks {needle:?}"
    );
}

fn ok(text: &str) -> Config {
    Config::parse(text, None).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

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
            negative_max_ttl: 3_600
        }
    );
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
fn unknown_keys_are_named_at_every_level() {
    let expected = "expected one of";
    fails("lsiten = 1\n", "lsiten", "unknown field");
    fails("[servers]\n", "servers", expected);
    fails("[server]\nlsten = []\n", "server.lsten", expected);
    fails(
        "[upstream]\ntimeout = \"1s\"\n",
        "upstream.timeout",
        "attempt_timeout",
    );
    fails("[cache]\nsize = 1\n", "cache.size", "max_entries");
    fails("[acl]\ndeny = []\n", "acl.deny", "allow");
    fails("[admin]\nport = 1\n", "admin.port", "listen");
    fails(
        "[log]\nlevel = \"info\"\nfile = \"x\"\n",
        "log.file",
        "format",
    );
    fails(
        "[[plugin]]\nname = \"a\"\npath = \"a.wasm\"\n\n[[plugin]]\nname = \"b\"\npath = \"b.wasm\"\ntimeout = \"1ms\"\n",
        "plugin[1].timeout",
        "on_error",
    );
}

#[test]
fn unknown_key_error_gives_line_and_column() {
    fails(
        "\n[server]\n  lsten = []\n",
        "server.lsten",
        "(line 3, column 3)",
    );
}

#[test]
fn bad_types_say_what_was_expected() {
    fails(
        "[server]\nudp_workers = \"4\"\n",
        "server.udp_workers",
        "expected i64",
    );
    fails(
        "[server]\nlisten = \"127.0.0.1:53\"\n",
        "server.listen",
        "expected a sequence",
    );
    fails(
        "[server]\nlisten = [53]\n",
        "server.listen[0]",
        "expected an address string",
    );
    fails(
        "[upstream]\ndeadline = 2\n",
        "upstream.deadline",
        "expected a duration string",
    );
    fails(
        "[acl]\nallow = [true]\n",
        "acl.allow[0]",
        "expected a network string",
    );
    fails(
        "[admin]\nenabled = \"no\"\n",
        "admin.enabled",
        "expected a boolean",
    );
    fails("server = 1\n", "server", "expected struct");
    fails(
        "[log]\nformat = \"xml\"\n",
        "log.format",
        "expected `text` or `json`",
    );
}

#[test]
fn bad_durations() {
    fails(
        "[upstream]\ndeadline = \"2\"\n",
        "upstream.deadline",
        "expected a duration",
    );
    fails(
        "[server]\nshutdown_grace = \"5 s\"\n",
        "server.shutdown_grace",
        "unit",
    );
    fails(
        "[server]\ntcp_idle_timeout = \"0s\"\n",
        "server.tcp_idle_timeout",
        "from 1ms",
    );
    fails(
        "[upstream]\nattempt_timeout = \"1.5s\"\n",
        "upstream.attempt_timeout",
        "\"1.5s\"",
    );
}

#[test]
fn upstream_deadline_bounds() {
    fails(
        "[upstream]\nattempt_timeout = \"1s\"\ndeadline = \"500ms\"\n",
        "upstream.deadline",
        "at least upstream.attempt_timeout",
    );
    fails(
        "[upstream]\ndeadline = \"31s\"\n",
        "upstream.deadline",
        "to 30s",
    );
    let c = ok("[upstream]\nattempt_timeout = \"2s\"\ndeadline = \"2s\"\n");
    assert_eq!(c.upstream.deadline, c.upstream.attempt_timeout);
}

#[test]
fn bad_addresses() {
    fails(
        "[upstream]\nservers = [\"9.9.9.9\", \"dns.example\"]\n",
        "upstream.servers[1]",
        "expected an IP address",
    );
    fails(
        "[server]\nlisten = [\"127.0.0.1\"]\n",
        "server.listen[0]",
        "with a port",
    );
    fails(
        "[server]\nlisten = [\"127.0.0.1:53\", \"127.0.0.1:53\"]\n",
        "server.listen[1]",
        "listed twice",
    );
    fails(
        "[upstream]\nservers = [\"9.9.9.9\", \"9.9.9.9:53\"]\n",
        "upstream.servers[1]",
        "listed twice",
    );
    fails(
        "[admin]\nlisten = \"localhost:9153\"\n",
        "admin.listen",
        "expected an address",
    );
    fails(
        "[server]\nlisten = [\"127.0.0.1:9153\"]\n",
        "admin.listen",
        "also in server.listen",
    );
}

#[test]
fn port_zero_listeners_are_not_duplicates() {
    let c = ok("[server]\nlisten = [\"127.0.0.1:0\", \"127.0.0.1:0\"]\n[admin]\nlisten = \"127.0.0.1:0\"\n");
    assert_eq!(c.server.listen.len(), 2);
}

#[test]
fn empty_lists() {
    fails(
        "[upstream]\nservers = []\n",
        "upstream.servers",
        "at least one",
    );
    fails("[server]\nlisten = []\n", "server.listen", "at least one");
    fails("[acl]\nallow = []\n", "acl.allow", "at least one network");
}

#[test]
fn integer_ranges() {
    fails(
        "[server]\nmax_udp_payload = 511\n",
        "server.max_udp_payload",
        "from 512 to 65535",
    );
    fails(
        "[server]\nmax_udp_payload = 65536\n",
        "server.max_udp_payload",
        "got 65536",
    );
    fails(
        "[server]\nudp_workers = -1\n",
        "server.udp_workers",
        "got -1",
    );
    fails(
        "[server]\ntcp_max_pipelined = 0\n",
        "server.tcp_max_pipelined",
        "from 1",
    );
    fails(
        "[upstream]\nedns_payload = 100\n",
        "upstream.edns_payload",
        "from 512",
    );
    fails(
        "[upstream]\nudp_sockets = 0\n",
        "upstream.udp_sockets",
        "from 1",
    );
    fails("[cache]\nmax_entries = -5\n", "cache.max_entries", "from 0");
    fails(
        "[cache]\nmax_ttl = 2147483648\n",
        "cache.max_ttl",
        "to 2147483647",
    );
    fails("[log]\nsecurity_rate = -1\n", "log.security_rate", "from 0");
}

#[test]
fn min_ttl_above_max_ttl() {
    fails(
        "[cache]\nmin_ttl = 300\nmax_ttl = 60\n",
        "cache.min_ttl",
        "at most cache.max_ttl (60)",
    );
}

#[test]
fn acl_networks() {
    fails(
        "[acl]\nallow = [\"10.0.0.0/8\", \"::1/128\", \"10.0.0.0/33\"]\n",
        "acl.allow[2]",
        "expected a network",
    );
    fails(
        "[acl]\nallow = [\"192.168.1.1/16\"]\n",
        "acl.allow[0]",
        "host bits",
    );
    let c = ok("[acl]\nallow = [\"0.0.0.0/0\", \"::/0\", \"192.0.2.7\"]\n");
    assert_eq!(c.acl.allow[2], "192.0.2.7/32".parse().unwrap());
}

#[test]
fn bad_log_level() {
    fails("[log]\nlevel = \"loud\"\n", "log.level", "expected a level");
    fails(
        "[log]\nlevel = \"info,wasmdns=[\"\n",
        "log.level",
        "expected a level",
    );
    fails(
        "[log]\nlevel = \"info,verbose\"\n",
        "log.level",
        "\"verbose\" is not a level",
    );
    fails("[log]\nlevel = \"\"\n", "log.level", "expected a level");
    for good in [
        "off",
        "WARN",
        "debug,hyper=warn,",
        "wasmdns::pipeline=trace",
        "security=error",
    ] {
        assert_eq!(ok(&format!("[log]\nlevel = {good:?}\n")).log.level, good);
    }
}

const PLUGIN: &str = "[[plugin]]\nname = \"block\"\npath = \"plugins/block.wasm\"\n";

#[test]
fn plugin_defaults_and_relative_path() {
    let c = Config::parse(PLUGIN, Some(Path::new("/etc/wasmdns/wasmdns.toml"))).unwrap();
    let p = &c.plugins[0];
    assert_eq!(p.name, "block");
    assert_eq!(p.path, PathBuf::from("/etc/wasmdns/plugins/block.wasm"));
    assert_eq!(p.on_error, OnError::Pass);
    assert_eq!(p.deadline, Duration::from_millis(2));
    assert_eq!(p.memory_limit, 64 << 20);
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
                deadline = \"500us\"\nmemory_limit = \"1MiB\"\n[plugin.config]\nlist = [\"a\"]\n";
    let c = Config::parse(text, Some(Path::new("conf/w.toml"))).unwrap();
    let p = &c.plugins[0];
    assert_eq!(p.path, PathBuf::from("/opt/p.wasm"));
    assert_eq!(p.on_error, OnError::Servfail);
    assert_eq!(p.deadline, Duration::from_micros(500));
    assert_eq!(p.memory_limit, 1 << 20);
    assert_eq!(p.config_json, r#"{"list":["a"]}"#);
}

#[test]
fn plugin_errors() {
    fails(&format!("{PLUGIN}{PLUGIN}"), "plugin[1].name", "used twice");
    fails(
        "[[plugin]]\nname = \"a\"\n",
        "plugin[0]",
        "missing field `path`",
    );
    fails(
        "[[plugin]]\npath = \"a.wasm\"\n",
        "plugin[0]",
        "missing field `name`",
    );
    fails(
        "[[plugin]]\nname = \"\"\npath = \"a\"\n",
        "plugin[0].name",
        "expected 1 to 64",
    );
    fails(
        "[[plugin]]\nname = \"a b\"\npath = \"a\"\n",
        "plugin[0].name",
        "got \"a b\"",
    );
    fails(
        "[[plugin]]\nname = \"a\"\npath = \"\"\n",
        "plugin[0].path",
        "expected a path",
    );
    fails(
        &format!("{PLUGIN}on_error = \"ignore\"\n"),
        "plugin[0].on_error",
        "`pass` or `servfail`",
    );
    fails(
        &format!("{PLUGIN}deadline = \"2s\"\n"),
        "plugin[0].deadline",
        "to 1s",
    );
    fails(
        &format!("{PLUGIN}memory_limit = \"64MB\"\n"),
        "plugin[0].memory_limit",
        "expected a size",
    );
    fails(
        &format!("{PLUGIN}memory_limit = \"1KiB\"\n"),
        "plugin[0].memory_limit",
        "from 64KiB",
    );
    fails(
        &format!("{PLUGIN}memory_limit = 65536\n"),
        "plugin[0].memory_limit",
        "expected a size string",
    );
    fails(
        &format!("{PLUGIN}config = 1\n"),
        "plugin[0].config",
        "expected a map",
    );
    fails(
        &format!("{PLUGIN}[plugin.config]\nratio = nan\n"),
        "plugin[0].config.ratio",
        "finite",
    );
}

#[test]
fn syntax_errors_give_a_position() {
    let (_, m) = err("[server]\nlisten = [\"127.0.0.1:53\"\n");
    assert!(m.contains("line 2") || m.contains("line 3"), "{m}");
    fails("[server\n", "(document)", "line 1");
}

#[test]
fn errors_name_the_file() {
    let e = Config::parse("x = 1\n", Some(Path::new("/etc/w.toml"))).unwrap_err();
    assert_eq!(
        e.to_string().split(": ").take(2).collect::<Vec<_>>(),
        ["/etc/w.toml", "x"]
    );
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
