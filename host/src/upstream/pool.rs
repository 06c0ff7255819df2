//! All configured upstreams and the retry loop that spends a query's deadline on them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::{CancellationToken, DropGuard};

use super::error::UpstreamError;
use super::exchange::Exchange;
use super::server::Upstream;
use super::wire::Outgoing;
use super::UpstreamRequest;
use crate::config::UpstreamConfig;
use crate::metrics::Metrics;

/// Floor on the attempt timeout, so a zero in a config cannot spin the retry loop.
const MIN_ATTEMPT: Duration = Duration::from_millis(10);

/// All configured upstreams. Dropping the pool stops every socket's receive task.
pub struct UpstreamPool {
    upstreams: Box<[Upstream]>,
    /// Rotates the first upstream tried, query by query.
    next: AtomicUsize,
    attempt_timeout: Duration,
    _shutdown: DropGuard,
}

impl UpstreamPool {
    /// Binds the pooled sockets. Must be called inside a tokio runtime.
    pub async fn new(
        config: &UpstreamConfig,
        metrics: Arc<Metrics>,
    ) -> Result<UpstreamPool, UpstreamError> {
        if config.servers.is_empty() {
            return Err(UpstreamError::NoUpstream);
        }
        let shutdown = CancellationToken::new();
        let upstreams = config
            .servers
            .iter()
            .map(|&addr| Upstream::open(addr, config.udp_sockets, &metrics, &shutdown))
            .collect::<Result<Box<[_]>, _>>()?;
        Ok(UpstreamPool {
            upstreams,
            next: AtomicUsize::new(0),
            attempt_timeout: config.attempt_timeout.max(MIN_ATTEMPT),
            _shutdown: shutdown.drop_guard(),
        })
    }

    /// Sends the query and returns a validated response (ID, source and question
    /// matched; TC answers retried over TCP), or an error once `deadline` passes.
    ///
    /// Each attempt has a new ID and goes to the next upstream when it times out; an
    /// answer to an earlier attempt is still taken. A refusing upstream is retried once
    /// after a short pause; when every upstream refused, the query fails at once
    /// instead of waiting out the deadline.
    pub async fn exchange(&self, request: &UpstreamRequest<'_>) -> Result<Vec<u8>, UpstreamError> {
        let query =
            Outgoing::new(request.message, request.question).ok_or(UpstreamError::InvalidQuery)?;
        Exchange::new(
            &self.upstreams,
            self.first(),
            query,
            request.deadline,
            self.attempt_timeout,
        )
        .run()
        .await
    }

    /// Queries currently waiting for a UDP answer, over all upstreams and sockets.
    pub fn pending(&self) -> usize {
        self.upstreams.iter().map(Upstream::pending).sum()
    }

    /// The upstream a query tries first; the rest follow in configured order.
    /// Issue 5 replaces this rotation with a strategy (lowest decayed SRTT by default,
    /// round-robin, ordered failover) that also skips upstreams whose circuit is open.
    fn first(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
impl UpstreamPool {
    pub(crate) fn sockets_for_test(&self) -> Vec<std::sync::Weak<super::udp::UdpChannel>> {
        self.upstreams
            .iter()
            .flat_map(Upstream::sockets_for_test)
            .collect()
    }
}
