//! All configured upstreams: choosing them per query (strategy, health, load),
//! coalescing identical queries, and the background health prober.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::timeout_at;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::error::UpstreamError;
use super::exchange::Exchange;
use super::flight::{Failure, Flights, Role};
use super::server::{Limits, Upstream};
use super::strategy::{self, Order};
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
    ///
    /// The answer is the one allocation the receive task made: followers, the caller
    /// and the cache share it.
    pub async fn exchange(
        &self,
        request: &UpstreamRequest<'_>,
    ) -> Result<Arc<[u8]>, UpstreamError> {
        let query =
            Outgoing::new(request.message, request.question).ok_or(UpstreamError::InvalidQuery)?;
        let key = self
            .inner
            .flights
            .key(request.message, request.question.len());
        let mut counted = false;
        loop {
            let flight = match self.inner.flights.join(&key) {
                Role::Leader(lead) => {
                    let outcome = self.inner.run(query, request.deadline).await;
                    lead.finish(outcome.as_ref().map(Arc::clone).map_err(Failure::of));
                    return outcome;
                }
                Role::Follower(flight) => flight,
            };
            if !counted {
                counted = true;
                self.inner.metrics.upstream_coalesced.inc();
            }
            match timeout_at(request.deadline.into(), flight.wait()).await {
                Ok(Some(Ok(answer))) => return Ok(answer),
                Ok(Some(Err(failure))) => return Err(failure.error()),
                // The leader's caller went away: join again, maybe as the leader.
                Ok(None) => {}
                Err(_) => return Err(UpstreamError::Timeout),
            }
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
    fn order(&self, now: Instant) -> Result<Order<'_>, UpstreamError> {
        let rotation = self.next.fetch_add(1, Ordering::Relaxed);
        strategy::order(self.strategy, &self.upstreams, rotation, now)
    }

    fn count(&self, e: &UpstreamError) {
        if matches!(e, UpstreamError::Overloaded) {
            self.metrics.upstream_shed.inc();
        }
    }

    async fn run(&self, query: Outgoing, deadline: Instant) -> Result<Arc<[u8]>, UpstreamError> {
        let now = Instant::now();
        let order = self.order(now).inspect_err(|e| self.count(e))?;
        Exchange::new(
            order,
            query,
            now,
            deadline,
            self.attempt_timeout,
            self.backoff,
        )
        .run()
        .await
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
