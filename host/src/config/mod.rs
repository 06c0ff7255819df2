//! Configuration: raw TOML (`raw.rs`, serde, unknown keys rejected) → validated [`Config`].
//!
//! Everything downstream of this module sees only validated values with units
//! (durations, socket addresses, networks); errors name the file and the key.

mod locate;
mod overrides;
mod plugin;
mod raw;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

pub use overrides::Overrides;
pub use validate::{ConfigError, BUILTIN};
pub use values::{
    parse_cache_entries, parse_duration, parse_listen_addr, parse_network, parse_size,
    parse_upstream_addr, MAX_CACHE_ENTRIES, MAX_PLUGIN_VERDICTS,
};

/// The validated configuration of one proxy instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// File the configuration was read from (`None` for built-in defaults).
    pub source: Option<PathBuf>,
    pub server: ServerConfig,
    pub upstream: UpstreamConfig,
    pub cache: CacheConfig,
    pub acl: AclConfig,
    pub admin: AdminConfig,
    pub log: LogConfig,
    pub reload: ReloadConfig,
    pub plugin_cache: PluginCacheConfig,
    pub plugins: Vec<PluginConfig>,
}

/// Listener and limit settings (`[server]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// UDP and TCP are both served on each address.
    pub listen: Vec<SocketAddr>,
    /// UDP sockets (SO_REUSEPORT) per address; 0 = one per CPU.
    pub udp_workers: usize,
    /// Largest UDP response we send, whatever the client advertises (RFC 9715 / flag day 2020: 1232).
    pub max_udp_payload: u16,
    pub tcp_idle_timeout: Duration,
    pub tcp_max_connections: usize,
    /// Queries a single TCP connection may have outstanding at once.
    pub tcp_max_pipelined: usize,
    /// Cache misses in flight at once; beyond it clients get a fast SERVFAIL.
    pub max_inflight: usize,
    /// RCODE of the fast answer to shed load (2 SERVFAIL or 5 REFUSED): past
    /// `max_inflight`, or when every upstream is at its own in-flight limit.
    pub shed_rcode: u16,
    /// Upper bound on draining in-flight queries at shutdown.
    pub shutdown_grace: Duration,
}

/// Upstream resolvers (`[upstream]`).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamConfig {
    pub servers: Vec<SocketAddr>,
    /// One attempt (UDP send → answer) before retrying.
    pub attempt_timeout: Duration,
    /// Overall budget of a query, retries included; SERVFAIL when spent.
    pub deadline: Duration,
    /// Pooled UDP sockets per upstream (each with its own random source port).
    pub udp_sockets: usize,
    /// EDNS payload size we advertise upstream.
    pub edns_payload: u16,
    /// Servers from `servers` spoken to over TCP only (written `tcp://ip:port`).
    pub tcp_only: Vec<SocketAddr>,
    pub strategy: Strategy,
    /// Queries outstanding at once on one upstream; beyond it the upstream is skipped,
    /// and when all are full the query is shed.
    pub max_inflight: usize,
    /// Reused, pipelined TCP connections per upstream (TC fallback and TCP-only servers).
    pub tcp_connections: usize,
    /// First pause before going round the upstreams again; doubles, with jitter.
    pub retry_backoff: Duration,
    /// Consecutive failures (timeouts, errors) that open an upstream's circuit.
    pub failure_threshold: u32,
    /// How long an open circuit keeps client traffic away before a probe may close it.
    pub cooldown: Duration,
    /// Active health probes to every upstream; `None` = off.
    pub health_interval: Option<Duration>,
    /// The name probed (type NS), e.g. `.`.
    pub health_name: String,
}

/// How the upstream tried first is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Lowest smoothed RTT, timeouts penalised, idle upstreams decaying back.
    Srtt,
    RoundRobin,
    /// In configured order: the first healthy one.
    Failover,
}

/// Response cache (`[cache]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// 0 disables the cache.
    pub max_entries: u64,
    pub min_ttl: u32,
    pub max_ttl: u32,
    /// Cap on negative (NXDOMAIN/NODATA) lifetimes, RFC 2308 §5.
    pub negative_max_ttl: u32,
    /// How long past expiry an answer may still be served when upstreams fail
    /// (RFC 8767); zero = off.
    pub serve_stale: Duration,
    /// TTL written into stale answers (RFC 8767 §5: 30 s).
    pub stale_ttl: u32,
    /// Refresh popular entries in the last tenth of their lifetime.
    pub prefetch: bool,
    /// Entries of each plugin chain's memo of reusable on-query verdicts (WIT
    /// v0.2 `reuse`); 0 = call the plugins for every query.
    pub plugin_verdicts: usize,
}

/// Who may query (`[acl]`).
#[derive(Debug, Clone, PartialEq)]
pub struct AclConfig {
    pub allow: Vec<IpNet>,
}

/// Admin HTTP endpoint (`[admin]`).
#[derive(Debug, Clone, PartialEq)]
pub struct AdminConfig {
    /// `None` disables the admin endpoint.
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logging (`[log]`).
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing_subscriber::EnvFilter` directive, e.g. `info` or `info,wasmdns::pipeline=debug`.
    pub level: String,
    /// Security events (malformed packets, ACL refusals) logged per second at most.
    pub security_rate: u32,
}

/// Reload triggers (`[reload]`); SIGHUP and `POST /reload` always work.
#[derive(Debug, Clone, PartialEq)]
pub struct ReloadConfig {
    /// Poll the config file, the plugin components and the files their configs
    /// name (every second) and reload when one changes (debounced).
    pub watch: bool,
}

/// Precompiled plugin code on disk (`[plugin_cache]`).
#[derive(Debug, Clone, PartialEq)]
pub struct PluginCacheConfig {
    pub enabled: bool,
    /// `None`: the default location, `$XDG_CACHE_HOME/wasmdns/precompiled` or
    /// `$HOME/.cache/wasmdns/precompiled` (no cache when neither is set).
    pub dir: Option<PathBuf>,
}

/// What the host answers when a plugin traps, times out or breaks its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    Pass,
    Servfail,
}

/// One `[[plugin]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfig {
    pub name: String,
    /// Resolved against the config file's directory.
    pub path: PathBuf,
    pub on_error: OnError,
    pub deadline: Duration,
    pub memory_limit: usize,
    /// Warm instances kept for calls; `None`: one per worker thread plus a spare.
    pub instances: Option<usize>,
    /// The `[plugin.config]` table, passed to the plugin's `init` as JSON.
    pub config_json: String,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            file: path.to_path_buf(),
            source: e,
        })?;
        Self::parse(&text, Some(path))
    }

    /// Validates TOML text; `path` names the file in errors and anchors relative plugin paths.
    pub fn parse(text: &str, path: Option<&Path>) -> Result<Config, ConfigError> {
        validate::parse(text, path)
    }

    /// Built-in defaults: what an empty file means.
    pub fn defaults() -> Config {
        Self::parse("", None).expect("defaults are valid")
    }
}
