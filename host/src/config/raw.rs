//! Raw TOML shape of the config file (serde; `deny_unknown_fields` everywhere).
//!
//! Values with units (durations, sizes, addresses, networks) stay text here so
//! that `validate.rs` can parse them knowing the exact key, and integers stay
//! `i64` (TOML's integer) so that a negative or oversized number gets a range
//! message instead of serde's generic "invalid value".
//! The defaults here are the documented defaults (`config/wasmdns.toml`).

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Declares a string newtype whose type error says what kind of text was expected.
macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $expecting:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub String);

        impl $name {
            fn from(s: &str) -> $name {
                $name(s.to_owned())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$name, E> {
                        Ok($name::from(s))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

text_type!(
    /// `"<integer><unit>"`, unit one of `us`, `ms`, `s`, `m`, `h`.
    DurationText,
    "a duration string such as \"2s\" or \"500ms\""
);
text_type!(
    /// `"<integer><unit>"`, unit one of `B`, `KiB`, `MiB`, `GiB`.
    SizeText,
    "a size string such as \"64MiB\""
);
text_type!(
    /// `"ip:port"` (IPv6 in brackets); for upstreams the port may be omitted.
    AddrText,
    "an address string such as \"127.0.0.1:53\" or \"[::1]:53\""
);
text_type!(
    /// `"ip/prefix"` or a bare address (a single host).
    NetText,
    "a network string such as \"10.0.0.0/8\" or \"::1/128\""
);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub server: RawServer,
    pub upstream: RawUpstream,
    pub cache: RawCache,
    pub acl: RawAcl,
    pub admin: RawAdmin,
    pub log: RawLog,
    pub reload: RawReload,
    pub plugin_cache: RawPluginCache,
    pub plugin: Vec<RawPlugin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub listen: Vec<AddrText>,
    pub udp_workers: i64,
    pub max_udp_payload: i64,
    pub tcp_idle_timeout: DurationText,
    pub tcp_max_connections: i64,
    pub tcp_max_pipelined: i64,
    pub max_inflight: i64,
    pub shed_rcode: RawShedRcode,
    pub shutdown_grace: DurationText,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawShedRcode {
    Servfail,
    Refused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawStrategy {
    Srtt,
    RoundRobin,
    Failover,
}

impl Default for RawServer {
    fn default() -> RawServer {
        RawServer {
            listen: vec![
                AddrText::from("127.0.0.1:5353"),
                AddrText::from("[::1]:5353"),
            ],
            udp_workers: 0,
            max_udp_payload: 1232,
            tcp_idle_timeout: DurationText::from("10s"),
            tcp_max_connections: 1024,
            tcp_max_pipelined: 64,
            max_inflight: 4096,
            shed_rcode: RawShedRcode::Servfail,
            shutdown_grace: DurationText::from("5s"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUpstream {
    pub servers: Vec<AddrText>,
    pub attempt_timeout: DurationText,
    pub deadline: DurationText,
    pub udp_sockets: i64,
    pub edns_payload: i64,
    pub strategy: RawStrategy,
    pub max_inflight: i64,
    pub tcp_connections: i64,
    pub retry_backoff: DurationText,
    pub failure_threshold: i64,
    pub cooldown: DurationText,
    pub health_interval: DurationText,
    pub health_name: String,
}

impl Default for RawUpstream {
    fn default() -> RawUpstream {
        RawUpstream {
            servers: vec![AddrText::from("9.9.9.9:53"), AddrText::from("1.1.1.1:53")],
            attempt_timeout: DurationText::from("700ms"),
            deadline: DurationText::from("2s"),
            udp_sockets: 4,
            edns_payload: 1232,
            strategy: RawStrategy::Srtt,
            max_inflight: 4096,
            tcp_connections: 2,
            retry_backoff: DurationText::from("10ms"),
            failure_threshold: 5,
            cooldown: DurationText::from("1s"),
            health_interval: DurationText::from("5s"),
            health_name: ".".to_owned(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCache {
    pub max_entries: i64,
    pub min_ttl: i64,
    pub max_ttl: i64,
    pub negative_max_ttl: i64,
    pub serve_stale: DurationText,
    pub stale_ttl: i64,
    pub prefetch: bool,
    pub plugin_verdicts: i64,
}

impl Default for RawCache {
    fn default() -> RawCache {
        RawCache {
            max_entries: 100_000,
            min_ttl: 0,
            max_ttl: 86_400,
            negative_max_ttl: 3_600,
            serve_stale: DurationText::from("1d"),
            stale_ttl: 30,
            prefetch: true,
            plugin_verdicts: 8192,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAcl {
    pub allow: Vec<NetText>,
}

impl Default for RawAcl {
    fn default() -> RawAcl {
        // Loopback, RFC 1918, RFC 4193 ULA, link-local: never an open resolver by default.
        let nets = [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "fc00::/7",
            "fe80::/10",
            "169.254.0.0/16",
        ];
        RawAcl {
            allow: nets.iter().map(|n| NetText::from(n)).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAdmin {
    pub enabled: bool,
    pub listen: AddrText,
}

impl Default for RawAdmin {
    fn default() -> RawAdmin {
        RawAdmin {
            enabled: true,
            listen: AddrText::from("127.0.0.1:9153"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawLogFormat {
    Text,
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    pub format: RawLogFormat,
    pub level: String,
    pub security_rate: i64,
}

impl Default for RawLog {
    fn default() -> RawLog {
        RawLog {
            format: RawLogFormat::Text,
            level: "info".to_owned(),
            security_rate: 10,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawReload {
    pub watch: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPluginCache {
    pub enabled: bool,
    /// Empty: the default location (see `plugin::default_precompiled_dir`).
    pub dir: String,
}

impl Default for RawPluginCache {
    fn default() -> RawPluginCache {
        RawPluginCache {
            enabled: true,
            dir: String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawOnError {
    Pass,
    Servfail,
}

/// `name` and `path` have no sensible default: they are required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlugin {
    pub name: String,
    pub path: String,
    #[serde(default = "default_on_error")]
    pub on_error: RawOnError,
    #[serde(default = "default_plugin_deadline")]
    pub deadline: DurationText,
    #[serde(default = "default_memory_limit")]
    pub memory_limit: SizeText,
    #[serde(default)]
    pub instances: Option<i64>,
    #[serde(default)]
    pub config: toml::Table,
}

fn default_on_error() -> RawOnError {
    RawOnError::Pass
}

fn default_plugin_deadline() -> DurationText {
    DurationText::from("2ms")
}

fn default_memory_limit() -> SizeText {
    SizeText::from("64MiB")
}
