//! Raw → validated config, with errors that name the file and the key.
//!
//! Every check knows its full dotted key (`upstream.servers[1]`); serde errors
//! (unknown keys, wrong types) are mapped to a key by [`super::locate`].

use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::{
    AddrText, DurationText, RawAcl, RawAdmin, RawCache, RawConfig, RawLog, RawLogFormat,
    RawPluginCache, RawServer, RawShedRcode, RawStrategy, RawUpstream,
};
use super::{locate, values};
use super::{
    AclConfig, AdminConfig, CacheConfig, Config, LogConfig, LogFormat, PluginCacheConfig,
    ReloadConfig, ServerConfig, Strategy, UpstreamConfig,
};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {key}: {message}")]
    Invalid {
        file: String,
        key: String,
        message: String,
    },
}

/// The name used in errors for configuration that did not come from a file.
pub const BUILTIN: &str = "<builtin>";

/// Longest TTL a record may carry (RFC 2181 §8: 2^31 - 1 seconds).
const MAX_TTL: i64 = i32::MAX as i64;

pub(super) fn parse(text: &str, path: Option<&Path>) -> Result<Config, ConfigError> {
    let v = Validator::new(path);
    let raw: RawConfig = toml::from_str(text).map_err(|e| v.toml_error(text, &e))?;
    v.config(raw, path)
}

/// Validation context: which file errors name and where relative paths start.
pub(super) struct Validator {
    pub(super) file: String,
    pub(super) base_dir: Option<PathBuf>,
}

pub(super) type Checked<T> = Result<T, ConfigError>;

impl Validator {
    fn new(path: Option<&Path>) -> Validator {
        Validator {
            file: path.map_or_else(|| BUILTIN.to_owned(), |p| p.display().to_string()),
            base_dir: path.and_then(Path::parent).map(Path::to_path_buf),
        }
    }

    pub(super) fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.clone(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn toml_error(&self, text: &str, e: &toml::de::Error) -> ConfigError {
        let loc = locate::locate(text, e.span().unwrap_or(0..0));
        let message = format!(
            "{} (line {}, column {})",
            e.message().trim_end(),
            loc.line,
            loc.column
        );
        let key = loc.key.unwrap_or_else(|| "(document)".to_owned());
        self.invalid(&key, message)
    }

    /// Sections are checked in the order the reference file lists them, so the
    /// first error reported is the first one an operator reading the file meets.
    fn config(&self, raw: RawConfig, path: Option<&Path>) -> Checked<Config> {
        let server = self.server(raw.server)?;
        let upstream = self.upstream(raw.upstream)?;
        let cache = self.cache(raw.cache)?;
        let acl = self.acl(raw.acl)?;
        let admin = self.admin(raw.admin, &server.listen)?;
        let log = self.log(raw.log)?;
        let reload = ReloadConfig {
            watch: raw.reload.watch,
        };
        let plugin_cache = self.plugin_cache(raw.plugin_cache)?;
        let mut names = HashSet::new();
        let plugins = raw
            .plugin
            .into_iter()
            .enumerate()
            .map(|(i, p)| self.plugin(i, p, &mut names))
            .collect::<Checked<Vec<_>>>()?;
        Ok(Config {
            source: path.map(Path::to_path_buf),
            server,
            upstream,
            cache,
            acl,
            admin,
            log,
            reload,
            plugin_cache,
            plugins,
        })
    }

    fn plugin_cache(&self, raw: RawPluginCache) -> Checked<PluginCacheConfig> {
        let dir = raw.dir.trim();
        if dir.is_empty() {
            return Ok(PluginCacheConfig {
                enabled: raw.enabled,
                dir: None,
            });
        }
        let path = PathBuf::from(dir);
        let path = match &self.base_dir {
            Some(base) if path.is_relative() => base.join(path),
            _ if path.is_relative() => {
                return Err(self.invalid(
                    "plugin_cache.dir",
                    format!("expected an absolute path (no config file to anchor {dir:?})"),
                ))
            }
            _ => path,
        };
        Ok(PluginCacheConfig {
            enabled: raw.enabled,
            dir: Some(path),
        })
    }

    fn server(&self, raw: RawServer) -> Checked<ServerConfig> {
        let listen = self.addr_list("server.listen", &raw.listen, values::parse_listen_addr)?;
        Ok(ServerConfig {
            listen,
            udp_workers: self.int("server.udp_workers", raw.udp_workers, 0..=1024)?,
            max_udp_payload: self.int(
                "server.max_udp_payload",
                raw.max_udp_payload,
                512..=65535,
            )?,
            tcp_idle_timeout: self.duration(
                "server.tcp_idle_timeout",
                &raw.tcp_idle_timeout,
                Duration::from_millis(1)..=Duration::from_secs(3600),
            )?,
            tcp_max_connections: self.int(
                "server.tcp_max_connections",
                raw.tcp_max_connections,
                1..=1_000_000,
            )?,
            tcp_max_pipelined: self.int(
                "server.tcp_max_pipelined",
                raw.tcp_max_pipelined,
                1..=65535,
            )?,
            max_inflight: self.int("server.max_inflight", raw.max_inflight, 1..=10_000_000)?,
            shed_rcode: match raw.shed_rcode {
                RawShedRcode::Servfail => 2,
                RawShedRcode::Refused => 5,
            },
            shutdown_grace: self.duration(
                "server.shutdown_grace",
                &raw.shutdown_grace,
                Duration::ZERO..=Duration::from_secs(600),
            )?,
        })
    }

    fn upstream(&self, raw: RawUpstream) -> Checked<UpstreamConfig> {
        // `tcp://` marks a TCP-only server; `udp://` (UDP, TCP on TC) is the default.
        let mut tcp = Vec::new();
        let bare: Vec<AddrText> = raw
            .servers
            .iter()
            .map(|t| {
                let text = t.0.trim();
                let (is_tcp, rest) =
                    match (text.strip_prefix("tcp://"), text.strip_prefix("udp://")) {
                        (Some(rest), _) => (true, rest),
                        (None, Some(rest)) => (false, rest),
                        (None, None) => (false, text),
                    };
                tcp.push(is_tcp);
                AddrText(rest.to_owned())
            })
            .collect();
        let servers = self.addr_list("upstream.servers", &bare, values::parse_upstream_addr)?;
        let tcp_only = servers
            .iter()
            .zip(&tcp)
            .filter_map(|(addr, &is_tcp)| is_tcp.then_some(*addr))
            .collect();
        let attempt_timeout = self.duration(
            "upstream.attempt_timeout",
            &raw.attempt_timeout,
            Duration::from_millis(1)..=Duration::from_secs(30),
        )?;
        let deadline = self.duration(
            "upstream.deadline",
            &raw.deadline,
            Duration::from_millis(1)..=Duration::from_secs(30),
        )?;
        if deadline < attempt_timeout {
            return Err(self.invalid(
                "upstream.deadline",
                format!(
                    "expected at least upstream.attempt_timeout ({attempt_timeout:?}), got {:?}",
                    raw.deadline.0
                ),
            ));
        }
        let health_interval = self.duration(
            "upstream.health_interval",
            &raw.health_interval,
            Duration::ZERO..=Duration::from_secs(3600),
        )?;
        Ok(UpstreamConfig {
            servers,
            attempt_timeout,
            deadline,
            udp_sockets: self.int("upstream.udp_sockets", raw.udp_sockets, 1..=1024)?,
            edns_payload: self.int("upstream.edns_payload", raw.edns_payload, 512..=65535)?,
            tcp_only,
            strategy: match raw.strategy {
                RawStrategy::Srtt => Strategy::Srtt,
                RawStrategy::RoundRobin => Strategy::RoundRobin,
                RawStrategy::Failover => Strategy::Failover,
            },
            max_inflight: self.int("upstream.max_inflight", raw.max_inflight, 1..=1_000_000)?,
            tcp_connections: self.int("upstream.tcp_connections", raw.tcp_connections, 1..=64)?,
            retry_backoff: self.duration(
                "upstream.retry_backoff",
                &raw.retry_backoff,
                Duration::ZERO..=Duration::from_secs(5),
            )?,
            failure_threshold: self.int(
                "upstream.failure_threshold",
                raw.failure_threshold,
                1..=10_000,
            )?,
            cooldown: self.duration(
                "upstream.cooldown",
                &raw.cooldown,
                Duration::from_millis(1)..=Duration::from_secs(3600),
            )?,
            health_interval: (!health_interval.is_zero()).then_some(health_interval),
            health_name: self.dns_name("upstream.health_name", raw.health_name)?,
        })
    }

    /// A domain name in presentation form: dot-separated labels of 1 to 63 bytes,
    /// at most 253 characters (255 on the wire); letters, digits, `-` and `_`.
    fn dns_name(&self, key: &str, name: String) -> Checked<String> {
        let trimmed = name.strip_suffix('.').unwrap_or(&name);
        let ok = name == "."
            || (!trimmed.is_empty()
                && trimmed.len() <= 253
                && trimmed.split('.').all(|label| {
                    (1..=63).contains(&label.len())
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                }));
        if !ok {
            return Err(self.invalid(
                key,
                format!("expected a domain name such as \".\" or \"example.com\", got {name:?}"),
            ));
        }
        Ok(name)
    }

    fn cache(&self, raw: RawCache) -> Checked<CacheConfig> {
        let min_ttl = self.int("cache.min_ttl", raw.min_ttl, 0..=MAX_TTL)?;
        let max_ttl: u32 = self.int("cache.max_ttl", raw.max_ttl, 0..=MAX_TTL)?;
        if min_ttl > max_ttl {
            return Err(self.invalid(
                "cache.min_ttl",
                format!("expected at most cache.max_ttl ({max_ttl}), got {min_ttl}"),
            ));
        }
        Ok(CacheConfig {
            max_entries: self.int(
                "cache.max_entries",
                raw.max_entries,
                0..=super::MAX_CACHE_ENTRIES as i64,
            )?,
            min_ttl,
            max_ttl,
            negative_max_ttl: self.int(
                "cache.negative_max_ttl",
                raw.negative_max_ttl,
                0..=MAX_TTL,
            )?,
            serve_stale: self.duration(
                "cache.serve_stale",
                &raw.serve_stale,
                Duration::ZERO..=Duration::from_secs(30 * 86_400),
            )?,
            stale_ttl: self.int("cache.stale_ttl", raw.stale_ttl, 1..=3600)?,
            prefetch: raw.prefetch,
            plugin_verdicts: self.int(
                "cache.plugin_verdicts",
                raw.plugin_verdicts,
                0..=super::MAX_PLUGIN_VERDICTS as i64,
            )?,
        })
    }

    fn acl(&self, raw: RawAcl) -> Checked<AclConfig> {
        if raw.allow.is_empty() {
            return Err(self.invalid(
                "acl.allow",
                "expected at least one network: an empty list refuses every client \
                 (an open resolver, which is rarely wanted, is [\"0.0.0.0/0\", \"::/0\"])",
            ));
        }
        let allow = raw
            .allow
            .iter()
            .enumerate()
            .map(|(i, n)| {
                values::parse_network(&n.0).map_err(|m| self.invalid(&format!("acl.allow[{i}]"), m))
            })
            .collect::<Checked<Vec<_>>>()?;
        Ok(AclConfig { allow })
    }

    fn admin(&self, raw: RawAdmin, dns: &[SocketAddr]) -> Checked<AdminConfig> {
        if !raw.enabled {
            return Ok(AdminConfig { listen: None });
        }
        let addr = values::parse_listen_addr(&raw.listen.0)
            .map_err(|m| self.invalid("admin.listen", m))?;
        // Both speak TCP: the same address for both would fail at bind time, later and vaguer.
        if addr.port() != 0 && dns.contains(&addr) {
            return Err(self.invalid(
                "admin.listen",
                format!("{addr} is also in server.listen; expected a different address"),
            ));
        }
        Ok(AdminConfig { listen: Some(addr) })
    }

    fn log(&self, raw: RawLog) -> Checked<LogConfig> {
        self.log_level(&raw.level)?;
        Ok(LogConfig {
            format: match raw.format {
                RawLogFormat::Text => LogFormat::Text,
                RawLogFormat::Json => LogFormat::Json,
            },
            level: raw.level,
            security_rate: self.int("log.security_rate", raw.security_rate, 0..=1_000_000)?,
        })
    }

    /// Accepts an `EnvFilter` directive list, but not a bare word that is no level.
    ///
    /// `EnvFilter` reads `"verbose"` as "everything from target `verbose`", which
    /// silences the proxy; a misspelt level must be an error instead.
    fn log_level(&self, level: &str) -> Checked<()> {
        let expected = "expected a level (off, error, warn, info, debug, trace) or a filter \
                        such as \"info,wasmdns::pipeline=debug\"";
        if level.trim().is_empty() {
            return Err(self.invalid("log.level", format!("{expected}, got \"\"")));
        }
        if let Some(word) = level.split(',').map(str::trim).find(|d| {
            !d.is_empty()
                && !d.contains(['=', '[', ':'])
                && d.parse::<tracing_subscriber::filter::LevelFilter>()
                    .is_err()
        }) {
            return Err(self.invalid(
                "log.level",
                format!(
                    "{expected}; {word:?} is not a level (for a target write \"{word}=debug\")"
                ),
            ));
        }
        tracing_subscriber::EnvFilter::builder()
            .parse(level)
            .map(drop)
            .map_err(|e| self.invalid("log.level", format!("{expected}, got {level:?}: {e}")))
    }

    /// Parses a non-empty list of addresses without duplicates.
    fn addr_list(
        &self,
        key: &str,
        raw: &[AddrText],
        parse: fn(&str) -> Result<SocketAddr, String>,
    ) -> Checked<Vec<SocketAddr>> {
        if raw.is_empty() {
            return Err(self.invalid(key, "expected at least one address"));
        }
        let mut out: Vec<SocketAddr> = Vec::with_capacity(raw.len());
        for (i, text) in raw.iter().enumerate() {
            let item = format!("{key}[{i}]");
            let addr = parse(&text.0).map_err(|m| self.invalid(&item, m))?;
            // Port 0 asks for any free port: several of those are not duplicates.
            if addr.port() != 0 && out.contains(&addr) {
                return Err(self.invalid(&item, format!("{addr} is listed twice")));
            }
            out.push(addr);
        }
        Ok(out)
    }

    /// An integer in `range`, converted to the validated field's type.
    pub(super) fn int<T: TryFrom<i64>>(
        &self,
        key: &str,
        value: i64,
        range: RangeInclusive<i64>,
    ) -> Checked<T> {
        if !range.contains(&value) {
            let (lo, hi) = (range.start(), range.end());
            return Err(self.invalid(
                key,
                format!("expected an integer from {lo} to {hi}, got {value}"),
            ));
        }
        T::try_from(value)
            .map_err(|_| self.invalid(key, format!("{value} does not fit on this platform")))
    }

    /// A duration in `range`.
    pub(super) fn duration(
        &self,
        key: &str,
        text: &DurationText,
        range: RangeInclusive<Duration>,
    ) -> Checked<Duration> {
        let d = values::parse_duration(&text.0).map_err(|m| self.invalid(key, m))?;
        if !range.contains(&d) {
            let (lo, hi) = (range.start(), range.end());
            return Err(self.invalid(
                key,
                format!(
                    "expected a duration from {lo:?} to {hi:?}, got {:?}",
                    text.0
                ),
            ));
        }
        Ok(d)
    }
}
