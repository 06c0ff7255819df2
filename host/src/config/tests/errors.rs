//! Every way a config can be wrong, and the key and message it is reported with.

use std::path::Path;

use super::*;

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
        "[cache]\nmax_entries = 100000001\n",
        "cache.max_entries",
        "from 0 to 100000000",
    );
    fails(
        "[cache]\nplugin_verdicts = 10000001\n",
        "cache.plugin_verdicts",
        "from 0 to 10000000",
    );
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
        &format!("{PLUGIN}instances = 0\n"),
        "plugin[0].instances",
        "from 1 to 1024, got 0",
    );
    fails(
        &format!("{PLUGIN}instances = \"2\"\n"),
        "plugin[0].instances",
        "expected i64",
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
