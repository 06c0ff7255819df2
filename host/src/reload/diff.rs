//! What changed between two configurations, and which of it a reload cannot apply.

use crate::config::Config;

/// Keys whose new value only takes effect after a restart: sockets already bound,
/// limits captured by running listeners, the logger, the admin endpoint, and
/// the reload and compile-cache machinery itself. Listed by full key.
pub fn restart_required(running: &Config, new: &Config) -> Vec<&'static str> {
    let (a, b) = (&running.server, &new.server);
    let checks: [(&'static str, bool); 10] = [
        ("server.listen", a.listen != b.listen),
        ("server.udp_workers", a.udp_workers != b.udp_workers),
        (
            "server.tcp_idle_timeout",
            a.tcp_idle_timeout != b.tcp_idle_timeout,
        ),
        (
            "server.tcp_max_connections",
            a.tcp_max_connections != b.tcp_max_connections,
        ),
        (
            "server.tcp_max_pipelined",
            a.tcp_max_pipelined != b.tcp_max_pipelined,
        ),
        (
            "server.shutdown_grace",
            a.shutdown_grace != b.shutdown_grace,
        ),
        ("admin", running.admin != new.admin),
        ("log", running.log != new.log),
        ("reload", running.reload != new.reload),
        ("plugin_cache", running.plugin_cache != new.plugin_cache),
    ];
    checks
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect()
}

/// Sections a reload applies live, if they changed (for the log and the answer).
/// Plugins are listed when their configuration changed; the chain is rebuilt on
/// every reload anyway, so edited list files and components are picked up.
pub fn applied(current: &Config, new: &Config) -> Vec<&'static str> {
    let (a, b) = (&current.server, &new.server);
    let checks: [(&'static str, bool); 8] = [
        (
            "server.max_udp_payload",
            a.max_udp_payload != b.max_udp_payload,
        ),
        ("server.max_inflight", a.max_inflight != b.max_inflight),
        ("server.shed_rcode", a.shed_rcode != b.shed_rcode),
        ("upstream", current.upstream != new.upstream),
        ("cache", current.cache != new.cache),
        ("acl", current.acl != new.acl),
        ("plugin", current.plugins != new.plugins),
        // Not a key: the chain is always rebuilt, so say so.
        ("plugin chain rebuilt", true),
    ];
    checks
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect()
}

/// Whether the cache must be rebuilt: capacity and the stale window shape its table.
pub fn cache_rebuild(current: &Config, new: &Config) -> bool {
    let (a, b) = (&current.cache, &new.cache);
    a.max_entries != b.max_entries || a.serve_stale != b.serve_stale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        Config::parse(text, None).unwrap()
    }

    #[test]
    fn identical_configs_need_nothing() {
        let c = parse("");
        assert!(restart_required(&c, &c.clone()).is_empty());
        assert_eq!(applied(&c, &c.clone()), ["plugin chain rebuilt"]);
        assert!(!cache_rebuild(&c, &c.clone()));
    }

    #[test]
    fn bound_and_captured_settings_need_a_restart() {
        let old = parse("");
        let new = parse(
            "[server]\nlisten = [\"127.0.0.1:5454\"]\nudp_workers = 3\ntcp_max_connections = 9\n\
             [admin]\nlisten = \"127.0.0.1:9999\"\n[log]\nlevel = \"debug\"\n\
             [reload]\nwatch = true\n[plugin_cache]\nenabled = false\n",
        );
        assert_eq!(
            restart_required(&old, &new),
            [
                "server.listen",
                "server.udp_workers",
                "server.tcp_max_connections",
                "admin",
                "log",
                "reload",
                "plugin_cache"
            ]
        );
        assert_eq!(applied(&old, &new), ["plugin chain rebuilt"]);
    }

    #[test]
    fn live_settings_are_applied_not_reported_for_restart() {
        let old = parse("");
        let new = parse(
            "[server]\nmax_inflight = 10\nshed_rcode = \"refused\"\nmax_udp_payload = 1400\n\
             [upstream]\nservers = [\"127.0.0.1:5300\"]\n[cache]\nmin_ttl = 5\n\
             [acl]\nallow = [\"10.0.0.0/8\"]\n\
             [[plugin]]\nname = \"p\"\npath = \"p.wasm\"\n",
        );
        assert!(restart_required(&old, &new).is_empty());
        assert_eq!(
            applied(&old, &new),
            [
                "server.max_udp_payload",
                "server.max_inflight",
                "server.shed_rcode",
                "upstream",
                "cache",
                "acl",
                "plugin",
                "plugin chain rebuilt"
            ]
        );
        // TTL clamps apply in place; only size and serve-stale rebuild the cache.
        assert!(!cache_rebuild(&old, &new));
        assert!(cache_rebuild(&old, &parse("[cache]\nmax_entries = 7\n")));
        assert!(cache_rebuild(
            &old,
            &parse("[cache]\nserve_stale = \"0s\"\n")
        ));
    }
}
