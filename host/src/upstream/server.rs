//! One upstream server: its pooled UDP sockets, and one attempt at an exchange with it
//! (UDP, then TCP when the answer is truncated). Health and SRTT (issue 5) live here.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::time::timeout_at;
use tokio_util::sync::CancellationToken;

use super::error::{AttemptError, UpstreamError};
use super::tcp;
use super::udp::UdpChannel;
use super::wire::{self, Outgoing};
use crate::metrics::{Metrics, Proto};

const RCODE_SERVFAIL: u8 = 2;
const RCODE_REFUSED: u8 = 5;

pub(crate) struct Upstream {
    addr: SocketAddr,
    /// `ip:port`, the metrics label, formatted once.
    label: Arc<str>,
    sockets: Box<[Arc<UdpChannel>]>,
    next_socket: AtomicUsize,
    metrics: Arc<Metrics>,
}

impl Upstream {
    /// Opens `sockets` UDP sockets to `addr` (at least one); their receive tasks end
    /// with `shutdown`.
    pub(crate) fn open(
        addr: SocketAddr,
        sockets: usize,
        metrics: &Arc<Metrics>,
        shutdown: &CancellationToken,
    ) -> Result<Upstream, UpstreamError> {
        let label: Arc<str> = Arc::from(addr.to_string());
        let sockets = (0..sockets.max(1))
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
        Ok(Upstream {
            addr,
            label,
            sockets,
            next_socket: AtomicUsize::new(0),
            metrics: Arc::clone(metrics),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// One try: the UDP exchange gets until `attempt_deadline`; a TCP retry after a
    /// truncated answer gets until `deadline`, the query's overall budget.
    pub(crate) async fn attempt(
        &self,
        query: &mut Outgoing,
        attempt_deadline: Instant,
        deadline: Instant,
    ) -> Result<Vec<u8>, AttemptError> {
        let started = Instant::now();
        let socket = self.pick_socket();
        let udp = timeout_at(attempt_deadline.into(), socket.exchange(query)).await;
        let answer = self.finish(Proto::Udp, started, udp)?;
        if !wire::truncated(&answer) {
            return Ok(self.counted(answer));
        }
        self.metrics.record_upstream_error(&self.label, "truncated");
        let started = Instant::now();
        let tcp = timeout_at(deadline.into(), tcp::exchange(self.addr, query)).await;
        self.finish(Proto::Tcp, started, tcp)
            .map(|a| self.counted(a))
    }

    /// Queries waiting on this upstream's UDP sockets.
    pub(crate) fn pending(&self) -> usize {
        self.sockets.iter().map(|s| s.pending()).sum()
    }

    /// Round-robin: spreads load over the sockets, so over their source ports.
    fn pick_socket(&self) -> &UdpChannel {
        let n = self.next_socket.fetch_add(1, Ordering::Relaxed);
        &self.sockets[n % self.sockets.len()]
    }

    /// Records the outcome of one exchange on `proto` in the metrics.
    fn finish(
        &self,
        proto: Proto,
        started: Instant,
        outcome: Result<Result<Vec<u8>, AttemptError>, tokio::time::error::Elapsed>,
    ) -> Result<Vec<u8>, AttemptError> {
        match outcome {
            Ok(Ok(answer)) => {
                self.metrics
                    .record_upstream(&self.label, proto, Some(started.elapsed()));
                Ok(answer)
            }
            Ok(Err(e)) => {
                self.metrics.record_upstream(&self.label, proto, None);
                if let AttemptError::Failed { kind, .. } = &e {
                    self.metrics.record_upstream_error(&self.label, kind);
                }
                Err(e)
            }
            Err(_) => {
                self.metrics.record_upstream(&self.label, proto, None);
                self.metrics.record_upstream_error(&self.label, "timeout");
                Err(AttemptError::Timeout)
            }
        }
    }

    /// SERVFAIL and REFUSED are answers to relay, but they say the upstream is unwell.
    fn counted(&self, answer: Vec<u8>) -> Vec<u8> {
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
