//! One upstream server: its pooled UDP sockets and TCP connections, sending an attempt
//! (over TCP only for `tcp://` servers), the TCP retry of a truncated answer, its
//! health (SRTT, circuit) and its metrics.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::timeout_at;
use tokio_util::sync::CancellationToken;

use super::error::{AttemptError, UpstreamError};
use super::health::{Health, Transition};
use super::mailbox::Mailbox;
use super::pending::Registration;
use super::tcp_pool::TcpPool;
use super::udp::UdpChannel;
use super::wire::{self, Outgoing};
use crate::metrics::{Metrics, Proto, UpstreamRequests};

const RCODE_SERVFAIL: u8 = 2;
const RCODE_REFUSED: u8 = 5;

pub(crate) struct Upstream {
    addr: SocketAddr,
    /// `ip:port`, the metrics label, formatted once.
    label: Arc<str>,
    /// Empty for a TCP-only upstream.
    sockets: Box<[Arc<UdpChannel>]>,
    next_socket: AtomicUsize,
    tcp: TcpPool,
    tcp_only: bool,
    metrics: Arc<Metrics>,
    requests: UpstreamRequests,
    pub(crate) health: Health,
    /// Attempts holding an ID here (late answers included), against `max_inflight`.
    inflight: AtomicUsize,
    max_inflight: usize,
}

/// One unit of an upstream's in-flight budget, returned on drop.
pub(crate) struct InflightGuard<'a>(&'a AtomicUsize);

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Limits and circuit settings every upstream shares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) sockets: usize,
    pub(crate) max_inflight: usize,
    pub(crate) failure_threshold: u32,
    pub(crate) cooldown: Duration,
    pub(crate) tcp_connections: usize,
    /// Our own idle close of an upstream TCP connection, ahead of the upstream's.
    pub(crate) tcp_idle: Duration,
}

impl Upstream {
    /// Opens `sockets` UDP sockets to `addr` (at least one; none when `tcp_only`);
    /// their receive tasks and the TCP connections end with `shutdown`.
    pub(crate) fn open(
        addr: SocketAddr,
        tcp_only: bool,
        limits: Limits,
        metrics: &Arc<Metrics>,
        shutdown: &CancellationToken,
    ) -> Result<Upstream, UpstreamError> {
        let label: Arc<str> = Arc::from(addr.to_string());
        let udp_sockets = if tcp_only { 0 } else { limits.sockets.max(1) };
        let sockets = (0..udp_sockets)
            .map(|_| {
                UdpChannel::open(
                    addr,
                    Arc::clone(&label),
                    Arc::clone(metrics),
                    shutdown.clone(),
                )
            })
            .collect::<Result<Box<[_]>, _>>()
            .map_err(|source| UpstreamError::Io {
                upstream: addr,
                source,
            })?;
        let tcp = TcpPool::new(
            addr,
            limits.tcp_connections,
            limits.tcp_idle,
            Arc::clone(&label),
            Arc::clone(metrics),
            shutdown.clone(),
        );
        let requests = metrics.upstream_requests(&label);
        let upstream = Upstream {
            addr,
            label,
            sockets,
            next_socket: AtomicUsize::new(0),
            tcp,
            tcp_only,
            metrics: Arc::clone(metrics),
            requests,
            health: Health::new(limits.failure_threshold, limits.cooldown),
            inflight: AtomicUsize::new(0),
            max_inflight: limits.max_inflight.max(1),
        };
        upstream.publish_health();
        Ok(upstream)
    }

    /// Whether client queries may be sent here now: circuit closed and room left.
    pub(crate) fn available(&self) -> bool {
        self.has_room() && self.health.is_up()
    }

    pub(crate) fn has_room(&self) -> bool {
        self.inflight.load(Ordering::Relaxed) < self.max_inflight
    }

    /// Takes one unit of the in-flight budget (checked by the caller beforehand, so
    /// concurrent queries may overshoot by a few, never without bound).
    pub(crate) fn hold(&self) -> InflightGuard<'_> {
        self.inflight.fetch_add(1, Ordering::Relaxed);
        InflightGuard(&self.inflight)
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// Sets the health gauges. On every answer this was two label lookups per miss;
    /// now on circuit changes and on the prober's tick, so the SRTT gauge lags by at
    /// most a tick (≤ 500 ms).
    pub(crate) fn publish_health(&self) {
        let srtt = Duration::from_secs_f64(self.health.srtt());
        self.metrics
            .set_upstream_health(&self.label, self.health.is_up(), srtt);
    }

    fn transition(&self, t: Transition) {
        match t {
            Transition::None => return,
            Transition::Opened => {
                self.metrics.record_circuit_open(&self.label);
                tracing::warn!(upstream = %self.label, "upstream marked down after consecutive failures");
            }
            Transition::Closed => {
                tracing::info!(upstream = %self.label, "upstream answering again, marked up");
            }
        }
        self.publish_health();
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What an attempt here goes over.
    pub(crate) fn proto(&self) -> Proto {
        if self.tcp_only {
            Proto::Tcp
        } else {
            Proto::Udp
        }
    }

    /// Sends `query` as `attempt` (over UDP, or TCP for a TCP-only upstream), the
    /// outcome going to `mailbox`. Gives up at `until` if it cannot be sent by then.
    pub(crate) async fn send(
        &self,
        query: &mut Outgoing,
        attempt: usize,
        mailbox: &Arc<Mailbox>,
        until: Instant,
    ) -> Result<Registration<'_>, AttemptError> {
        let sent = if self.tcp_only {
            timeout_at(until.into(), self.tcp.send(query, attempt, mailbox)).await
        } else {
            let socket = self.pick_socket();
            timeout_at(until.into(), socket.send(query, attempt, mailbox)).await
        };
        match sent {
            Ok(Ok(registration)) => Ok(registration),
            Ok(Err(e)) => {
                self.failed(self.proto(), e.kind());
                Err(e)
            }
            Err(_) => {
                self.timed_out(self.proto());
                Err(AttemptError::Timeout)
            }
        }
    }

    /// Asks again over TCP after a truncated UDP answer, within `deadline`.
    pub(crate) async fn over_tcp(
        &self,
        query: &mut Outgoing,
        deadline: Instant,
    ) -> Result<Arc<[u8]>, AttemptError> {
        self.metrics.record_upstream_error(&self.label, "truncated");
        let started = Instant::now();
        match timeout_at(deadline.into(), self.tcp.exchange(query)).await {
            Ok(Ok(answer)) => {
                self.answered(Proto::Tcp, started);
                Ok(self.counted(answer))
            }
            Ok(Err(e)) => {
                self.failed(Proto::Tcp, e.kind());
                Err(e)
            }
            Err(_) => {
                self.timed_out(Proto::Tcp);
                Err(AttemptError::Timeout)
            }
        }
    }

    /// Queries waiting on this upstream's sockets and connections.
    pub(crate) fn pending(&self) -> usize {
        self.sockets.iter().map(|s| s.pending()).sum::<usize>() + self.tcp.pending()
    }

    pub(crate) fn tcp_only(&self) -> bool {
        self.tcp_only
    }

    /// Round-robin: spreads load over the sockets, so over their source ports.
    fn pick_socket(&self) -> &UdpChannel {
        let n = self.next_socket.fetch_add(1, Ordering::Relaxed);
        &self.sockets[n % self.sockets.len()]
    }

    /// Each request is counted once, by whichever of these three ends it.
    pub(crate) fn answered(&self, proto: Proto, started: Instant) {
        let now = Instant::now();
        let rtt = now.saturating_duration_since(started);
        self.requests.record(proto, Some(rtt));
        self.transition(self.health.success(rtt, now));
    }

    pub(crate) fn failed(&self, proto: Proto, kind: &'static str) {
        self.requests.record(proto, None);
        self.metrics.record_upstream_error(&self.label, kind);
        let timeout = kind == "timeout";
        self.transition(self.health.failure(timeout, Instant::now()));
    }

    /// Sent, but the exchange ended before it could be answered or time out.
    pub(crate) fn abandoned(&self, proto: Proto) {
        self.requests.record(proto, None);
    }

    pub(crate) fn timed_out(&self, proto: Proto) {
        self.failed(proto, "timeout");
    }

    /// SERVFAIL and REFUSED are answers to relay, but they say the upstream is unwell.
    pub(crate) fn counted(&self, answer: Arc<[u8]>) -> Arc<[u8]> {
        match wire::rcode(&answer) {
            RCODE_SERVFAIL => self.metrics.record_upstream_error(&self.label, "servfail"),
            RCODE_REFUSED => self.metrics.record_upstream_error(&self.label, "refused"),
            _ => {}
        }
        answer
    }
}

#[cfg(test)]
impl Upstream {
    pub(crate) fn sockets_for_test(&self) -> Vec<std::sync::Weak<UdpChannel>> {
        self.sockets.iter().map(Arc::downgrade).collect()
    }
}
