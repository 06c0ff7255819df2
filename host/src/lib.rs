//! wasmdns: a DNS forwarding proxy whose policies are sandboxed WebAssembly components.
//!
//! # Request flow
//!
//! ```text
//! listener::{udp,tcp}        bytes + peer + pooled buffer (buffer)
//!   │
//!   ▼
//! pipeline::Pipeline::handle      (synchronous, on the receive loop)
//!   ├─ dns::parse_query           header-first; drop responses; FORMERR / NOTIMP / BADVERS
//!   ├─ acl                        REFUSED outside the allowed networks
//!   ├─ plugin chain: on-query     pass | block | answer | rewrite   (policy writes the answers)
//!   ├─ cache::Cache::get          hit → dns::Answer::write_response (patch ID, case, TTLs)
//!   └─ miss → pipeline::Pipeline::resolve   (own task, bounded in-flight)
//!        ├─ upstream::UpstreamPool::exchange   pooled sockets, matched answers, TC → TCP
//!        ├─ dns::Answer::from_upstream + cache insert (TTL clamps, RFC 2308 negatives)
//!        └─ plugin chain: on-response          (on cache hits too)
//!   ▼
//! listener sends (TC=1 when over the client's UDP limit)
//! ```
//!
//! # Modules
//!
//! | module | role |
//! |---|---|
//! | [`app`] | wiring, start, graceful drain |
//! | [`config`] | raw TOML → validated [`config::Config`] |
//! | [`listener`] | UDP and TCP sockets; bytes only |
//! | [`pipeline`] | the hot path, top to bottom |
//! | [`dns`] | wire format: query decoding, wire answers, synthesized responses |
//! | [`cache`] | bounded wire-format answer cache (records in sharded byte logs, CLOCK eviction) |
//! | [`upstream`] | upstream exchanges |
//! | [`acl`] | client networks allowed to query |
//! | [`buffer`] | pooled packet buffers |
//! | `mmsg` | batched datagram receive and send (recvmmsg/sendmmsg, per-socket outboxes) for the listener and the upstream sockets, which are registered for reading only |
//! | [`metrics`] | Prometheus metrics |
//! | [`admin`] | admin HTTP endpoint |
//! | [`logging`] | tracing set-up, rate-limited security events |
//! | [`signal`] | SIGTERM/SIGINT → shutdown, SIGHUP → reload |
//! | [`plugin`] | Wasm policy plugins: engine, sandbox, instance pools, the chain |
//! | [`policy`] | plugin verdicts turned into DNS answers |
//! | [`reload`] | configuration and plugin reloads: build all, swap atomically, report |

pub mod acl;
pub mod admin;
pub mod app;
pub mod buffer;
pub mod cache;
pub mod config;
pub mod dns;
pub mod listener;
pub mod logging;
pub mod metrics;
#[cfg(target_os = "linux")]
pub(crate) mod mmsg;
pub mod pipeline;
pub mod plugin;
pub mod policy;
pub mod reload;
pub mod signal;
pub mod upstream;
