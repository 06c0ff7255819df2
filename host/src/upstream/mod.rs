//! Upstream resolvers: pooled UDP sockets, pooled pipelined TCP connections (on TC,
//! and for `tcp://` servers), matching of answers to queries, retries inside the
//! query's deadline.
//!
//! | file | role |
//! |---|---|
//! | `pool.rs` | [`UpstreamPool`]: the upstreams, per-query choice, coalescing |
//! | `strategy.rs` | the order to try them: SRTT, round-robin, failover; skips down or full ones |
//! | `flight.rs` | identical in-flight queries sharing one exchange |
//! | `exchange.rs` | one query: attempts, retries with backoff, answers within its deadline |
//! | `server.rs` | one upstream: its sockets, one attempt (UDP, then TCP on TC), metrics |
//! | `health.rs` | one upstream's SRTT and circuit breaker |
//! | `probe.rs` | active health checks and half-open probes |
//! | `udp.rs` | one connected UDP socket and its receive task |
//! | `pending.rs` | queries waiting on a socket, by random ID |
//! | `mailbox.rs` | where answers to one exchange's attempts are left for it |
//! | `tcp_pool.rs` | one upstream's TCP connections, opened lazily, reopened once closed |
//! | `tcp.rs` | one reused, pipelined TCP connection and its reader and writer tasks (RFC 7766) |
//! | `wire.rs` | the query as sent, and the checks an answer must pass |
//! | `error.rs` | [`UpstreamError`] |

mod error;
mod exchange;
mod flight;
mod health;
mod mailbox;
mod pending;
mod pool;
mod probe;
mod server;
mod strategy;
mod tcp;
mod tcp_pool;
mod udp;
mod wire;

#[cfg(test)]
mod tests;

pub use error::UpstreamError;
pub use pool::UpstreamPool;

use std::time::Instant;

/// What the pipeline asks of the upstream side: one question, answered or failed by `deadline`.
pub struct UpstreamRequest<'a> {
    /// A complete query message (built by `dns::synth::upstream_query`); its ID is replaced.
    pub message: &'a [u8],
    /// The question section inside `message`, which the answer must echo (case-insensitively).
    pub question: &'a [u8],
    pub deadline: Instant,
}
