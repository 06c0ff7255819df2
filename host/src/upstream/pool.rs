//! All configured upstreams: choosing them per query (strategy, health, load),
//! coalescing identical queries, and the background health prober.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::timeout_at;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::error::UpstreamError;
use super::exchange::Exchange;
use super::flight::{self, Failure, Flights, Role, Shared};
use super::server::{Limits, Upstream};
use super::strategy;
use super::wire::Outgoing;
use super::{probe, UpstreamRequest};
use crate::config::{Strategy, UpstreamConfig};
use crate::metrics::Metrics;

/// Floor on the attempt timeout, so a zero in a config cannot spin the retry loop.
const MIN_ATTEMPT: Duration = Duration::from_millis(10);
/// We close an idle upstream TCP connection first: servers commonly drop them after
/// about 10 s, and a query written just as they do is one wasted round trip.
const TCP_IDLE: Duration = Duration::from_secs(8);

/// What the exchanges and the prober share.
pub(crate) struct PoolInner {
    pub(crate) upstreams: Box<[Upstream]>,
    strategy: Strategy,
    /// Rotates the first upstream tried, query by query (round-robin, SRTT ties).
    next: AtomicUsize,
    pub(crate) attempt_timeout: Duration,
    pub(crate) backoff: Duration,
    pub(crate) cooldown: Duration,
    pub(crate) health_name: String,
    flights: Arc<Flights>,
    metrics: Arc<Metrics>,
}

/// All configured upstreams. Dropping the pool stops every socket's receive task and
/// the prober.
pub struct UpstreamPool {
    inner: Arc<PoolInner>,
    _shutdown: DropGuard,
}

impl UpstreamPool {
    /// Binds the pooled sockets and starts the prober. Must be called inside a tokio runtime.
    pub async fn new(
        config: &UpstreamConfig,
        metrics: Arc<Metrics>,
    ) -> Result<UpstreamPool, UpstreamError> {
        if config.servers.is_empty() {
            return Err(UpstreamError::NoUpstream);
        }
        let shutdown = CancellationToken::new();
        let limits = Limits {
            sockets: config.udp_sockets,
            max_inflight: config.max_inflight,
            failure_threshold: config.failure_threshold,
            cooldown: config.cooldown,
            tcp_connections: config.tcp_connections,
            tcp_idle: TCP_IDLE,
        };
        let upstreams = config
            .servers
            .iter()
            .map(|&addr| {
                let tcp_only = config.tcp_only.contains(&addr);
                Upstream::open(addr, tcp_only, limits, &metrics, &shutdown)
            })
            .collect::<Result<Box<[_]>, _>>()?;
        let inner = Arc::new(PoolInner {
            upstreams,
            strategy: config.strategy,
            next: AtomicUsize::new(0),
            attempt_timeout: config.attempt_timeout.max(MIN_ATTEMPT),
            backoff: config.retry_backoff,
            cooldown: config.cooldown,
            health_name: config.health_name.clone(),
            flights: Arc::new(Flights::default()),
            metrics,
        });
        tokio::spawn(probe::run(
            Arc::clone(&inner),
            config.health_interval,
            shutdown.clone(),
        ));
        Ok(UpstreamPool {
            inner,
            _shutdown: shutdown.drop_guard(),
        })
    }

    /// Sends the query and returns a validated response (ID, source and question
    /// matched; TC answers retried over TCP), or an error once `deadline` passes.
    ///
    /// Identical queries already in flight share that exchange. When every upstream is
    /// down the query fails at once (`Unavailable`); when every healthy one is full it
    /// is shed (`Overloaded`). Otherwise attempts go to the upstreams in the
    /// strategy's order, each with a new ID; an answer to an earlier attempt is still
    /// taken, and rounds over all upstreams are separated by an exponential backoff.
    pub async fn exchange(&self, request: &UpstreamRequest<'_>) -> Result<Vec<u8>, UpstreamError> {
        let query =
            Outgoing::new(request.message, request.question).ok_or(UpstreamError::InvalidQuery)?;
        let key = flight::key(request.message, request.question.len());
        let mut slot = match self.inner.flights.join(key) {
            Role::Follower(slot) => {
                self.inner.metrics.upstream_coalesced.inc();
                slot
            }
            Role::Leader(lead, slot) => {
                // Checked before spawning: a shed or all-down query costs no task.
                let now = Instant::now();
                if let Err(e) = self.inner.order(now) {
                    self.inner.count(&e);
                    lead.finish(Err(Failure::of(&e)));
                    return Err(e);
                }
                let inner = Arc::clone(&self.inner);
                let deadline = request.deadline;
                tokio::spawn(async move {
                    let outcome = inner.run(query, deadline).await;
                    lead.finish(outcome);
                });
                slot
            }
        };
        let shared = timeout_at(request.deadline.into(), slot.wait_for(Option::is_some)).await;
        match shared {
            Ok(Ok(outcome)) => match outcome.as_ref() {
                Some(Ok(answer)) => Ok(answer.to_vec()),
                Some(Err(failure)) => Err(failure.error()),
                None => Err(UpstreamError::Timeout),
            },
            // Deadline passed, or the leader's task ended without an outcome.
            Ok(Err(_)) | Err(_) => Err(UpstreamError::Timeout),
        }
    }

    /// Queries currently waiting for a UDP answer, over all upstreams and sockets.
    pub fn pending(&self) -> usize {
        self.inner.upstreams.iter().map(Upstream::pending).sum()
    }

    /// Exchanges in flight that identical queries can join.
    pub fn flights(&self) -> usize {
        self.inner.flights.len()
    }
}

impl PoolInner {
    fn order(&self, now: Instant) -> Result<Vec<&Upstream>, UpstreamError> {
        let rotation = self.next.fetch_add(1, Ordering::Relaxed);
        strategy::order(self.strategy, &self.upstreams, rotation, now)
    }

    fn count(&self, e: &UpstreamError) {
        if matches!(e, UpstreamError::Overloaded) {
            self.metrics.upstream_shed.inc();
        }
    }

    async fn run(&self, query: Outgoing, deadline: Instant) -> Shared {
        let order = match self.order(Instant::now()) {
            Ok(order) => order,
            Err(e) => {
                self.count(&e);
                return Err(Failure::of(&e));
            }
        };
        Exchange::new(order, query, deadline, self.attempt_timeout, self.backoff)
            .run()
            .await
            .map(Arc::from)
            .map_err(|e| Failure::of(&e))
    }
}

#[cfg(test)]
impl UpstreamPool {
    pub(crate) fn sockets_for_test(&self) -> Vec<std::sync::Weak<super::udp::UdpChannel>> {
        self.inner
            .upstreams
            .iter()
            .flat_map(Upstream::sockets_for_test)
            .collect()
    }

    pub(crate) fn upstream_up_for_test(&self, index: usize) -> bool {
        self.inner.upstreams[index].health.is_up()
    }
}
