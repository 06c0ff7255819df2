//! All configured upstreams and the retry loop that spends a query's deadline on them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::{CancellationToken, DropGuard};

use super::error::{AttemptError, UpstreamError};
use super::server::Upstream;
use super::wire::Outgoing;
use super::UpstreamRequest;
use crate::config::UpstreamConfig;
use crate::metrics::Metrics;

/// Wait before going round again after an upstream refused: a burst of ICMP errors
/// must not turn into a busy loop. Exponential backoff with jitter is issue 5.
const RETRY_PAUSE: Duration = Duration::from_millis(20);
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
    /// A timed-out attempt moves straight on to the next upstream with a new ID. A
    /// refusing upstream is retried once after a short pause; when every upstream has
    /// refused that way the query fails at once instead of waiting out the deadline.
    pub async fn exchange(&self, request: &UpstreamRequest<'_>) -> Result<Vec<u8>, UpstreamError> {
        let mut query =
            Outgoing::new(request.message, request.question).ok_or(UpstreamError::InvalidQuery)?;
        let count = self.upstreams.len();
        let first = self.first();
        let mut failures = 0;
        for attempt in 0usize.. {
            let now = Instant::now();
            if now >= request.deadline {
                break;
            }
            let upstream = &self.upstreams[first.wrapping_add(attempt) % count];
            let attempt_deadline = (now + self.attempt_timeout).min(request.deadline);
            match upstream
                .attempt(&mut query, attempt_deadline, request.deadline)
                .await
            {
                Ok(answer) => return Ok(answer),
                Err(AttemptError::Timeout) => {}
                Err(AttemptError::Failed { source, .. }) => {
                    failures += 1;
                    if failures > count {
                        return Err(UpstreamError::Io {
                            upstream: upstream.addr(),
                            source,
                        });
                    }
                    if attempt + 1 >= count {
                        let resume = (Instant::now() + RETRY_PAUSE).min(request.deadline);
                        tokio::time::sleep_until(resume.into()).await;
                    }
                }
            }
        }
        Err(UpstreamError::Timeout)
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
