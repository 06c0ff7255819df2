//! One pooled UDP socket to one upstream: connected, on a port the OS picked at random,
//! with the pending map of its queries and the task that hands answers to their waiters
//! (on Linux a batch of them per receive, [`crate::mmsg`]).
//!
//! On Linux queries go out in batches too: [`UdpChannel::send`] copies the datagram
//! into the socket's [`Outbox`] and returns; the receive task, woken by the first
//! query of a scheduler turn, yields until the turn's other queries are queued and
//! sends them all with one sendmmsg. A query the kernel refuses is failed to its own
//! attempt through the pending map (the registration's mailbox), exactly as an ICMP
//! error is, so the exchange fails over at once rather than waiting out its timeout.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Type};
#[cfg(target_os = "linux")]
use tokio::io::Interest;
use tokio_util::sync::CancellationToken;

use super::error::AttemptError;
use super::mailbox::Mailbox;
use super::pending::{PendingMap, Registration};
use super::wire::{self, Outgoing};
#[cfg(target_os = "linux")]
use crate::buffer::BufferPool;
use crate::metrics::Metrics;
#[cfg(target_os = "linux")]
use crate::mmsg::{Entry, Outbox, RecvBatch, SendBatch};

/// Room for any datagram, so an oversized answer is seen whole rather than cut short.
const RECV_BUFFER: usize = 65_535;
/// Answers per receive (Linux). A miss burst brings a few dozen answers per
/// wakeup; 16 already makes the syscall cheaper than the datagrams it carries.
#[cfg(target_os = "linux")]
const RECV_BATCH: usize = 16;
/// Queries waiting for the receive task's next send (Linux); past this a query
/// is sent on its own. A miss burst brings a few dozen per socket and turn.
#[cfg(target_os = "linux")]
const OUTBOX: usize = 64;
/// Room reserved per queued query: a question with EDNS fits; a larger one grows
/// its buffer, which the pool then keeps (up to twice this) or frees.
#[cfg(target_os = "linux")]
const QUERY_BUFFER: usize = 512;
/// Kernel receive buffer asked for: bursts of answers must not overflow it.
const SO_RCVBUF: usize = 1 << 20;
/// The socket: on Linux registered for reading and errors only, so queries sent
/// raise no writability wakeups ([`crate::mmsg::UdpFd`]).
#[cfg(target_os = "linux")]
type Socket = crate::mmsg::UdpFd;
#[cfg(not(target_os = "linux"))]
type Socket = tokio::net::UdpSocket;

/// After an unexpected receive error, so a socket stuck in error cannot spin a core.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

pub(crate) struct UdpChannel {
    socket: Socket,
    peer: SocketAddr,
    label: Arc<str>,
    pending: PendingMap,
    metrics: Arc<Metrics>,
    /// Queries for the next sendmmsg, tagged with their registration (ID, ticket).
    #[cfg(target_os = "linux")]
    outbox: Outbox<(u16, u64)>,
    #[cfg(target_os = "linux")]
    buffers: Arc<BufferPool>,
}

impl UdpChannel {
    /// Binds an ephemeral port, connects it to `peer` (the kernel then drops datagrams
    /// from anyone else) and starts the receive task, which ends with `shutdown`.
    pub(crate) fn open(
        peer: SocketAddr,
        label: Arc<str>,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> io::Result<Arc<UdpChannel>> {
        let channel = Arc::new(UdpChannel {
            socket: connected_socket(peer)?,
            peer,
            label,
            pending: PendingMap::default(),
            metrics,
            #[cfg(target_os = "linux")]
            outbox: Outbox::new(OUTBOX),
            #[cfg(target_os = "linux")]
            buffers: BufferPool::new(OUTBOX, QUERY_BUFFER),
        });
        tokio::spawn(Arc::clone(&channel).receive(shutdown));
        Ok(channel)
    }

    /// Sends `query` as `attempt` under a fresh random ID; its answer or error goes to
    /// `mailbox` for as long as the returned registration lives.
    ///
    /// On Linux this returns once the query is queued for the socket's next sendmmsg
    /// (within this scheduler turn); if the kernel then refuses it, the error
    /// reaches `mailbox` as this attempt's `Failed`. An error returned here is one
    /// the query met before it could be queued, or on its own send when the outbox
    /// was full.
    pub(crate) async fn send(
        &self,
        query: &mut Outgoing,
        attempt: usize,
        mailbox: &Arc<Mailbox>,
    ) -> Result<Registration<'_>, AttemptError> {
        let registration = self
            .pending
            .register(query.opcode(), query.question(), attempt, mailbox)
            .ok_or_else(|| AttemptError::io(io::ErrorKind::ResourceBusy.into()))?;
        query.set_id(registration.id());
        #[cfg(target_os = "linux")]
        if self.queue(query.datagram(), &registration) {
            return Ok(registration);
        }
        self.socket
            .send(query.datagram())
            .await
            .map_err(AttemptError::io)?;
        Ok(registration)
    }

    /// Queues `datagram` for the receive task's next send; false when the outbox
    /// is full or closed (the caller sends it itself).
    #[cfg(target_os = "linux")]
    fn queue(&self, datagram: &[u8], registration: &Registration<'_>) -> bool {
        let mut buf = self.buffers.get();
        buf.extend_from_slice(datagram);
        let entry = Entry {
            buf,
            to: None,
            tag: (registration.id(), registration.ticket()),
        };
        self.outbox.push(entry).is_ok()
    }

    /// Sends every queued query; one refused fails its own attempt.
    #[cfg(target_os = "linux")]
    async fn flush(&self, batch: &mut SendBatch, scratch: &mut Vec<Entry<(u16, u64)>>) {
        let failed = |_: &SendBatch, _, e: Option<&Entry<(u16, u64)>>, err: &io::Error| {
            if let Some(&Entry {
                tag: (id, ticket), ..
            }) = e
            {
                self.pending.fail(id, ticket, err.kind());
            }
        };
        self.outbox
            .flush(&self.socket, batch, scratch, failed)
            .await;
    }

    /// Queries waiting on this socket.
    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Hands every answer to its waiter until `shutdown`; answers come in batches,
    /// one recvmmsg per wakeup.
    #[cfg(target_os = "linux")]
    async fn receive(self: Arc<Self>, shutdown: CancellationToken) {
        let mut batch = RecvBatch::new(RECV_BATCH, RECV_BUFFER);
        let (mut sends, mut scratch) = (SendBatch::new(OUTBOX), self.outbox.scratch());
        // ICMP errors raise only the error readiness, never the read one.
        let interest = Interest::READABLE | Interest::ERROR;
        loop {
            let ready = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = self.outbox.ready() => {
                    // Other queries waiting on this socket mean load: let the rest
                    // of this turn's exchanges queue theirs. A lone query goes at once.
                    if self.pending.len() > self.outbox.len() {
                        tokio::task::yield_now().await;
                    }
                    self.flush(&mut sends, &mut scratch).await;
                    continue;
                }
                r = self.socket.ready(interest) => r,
            };
            match ready.and_then(|ready| self.receive_batch(&mut batch, ready)) {
                Ok(n) => {
                    for i in 0..n {
                        let (packet, from) = batch.datagram(i);
                        self.dispatch(packet, from);
                    }
                    // Answers arriving back to back never make the socket wait:
                    // let the exchanges they woke run now and then.
                    tokio::task::coop::consume_budget().await;
                }
                Err(e) => {
                    if !self.receive_failed(e, &shutdown).await {
                        break;
                    }
                }
            }
        }
        // Exchanges still running send their own queries from now on.
        self.outbox.close();
        self.flush(&mut sends, &mut scratch).await;
    }

    /// One recvmmsg into `batch` under `ready`, what tokio last saw of the
    /// socket; returns the answers received, 0 when there were none after all.
    ///
    /// A short batch counts as drained ([`UdpFd::recv_batch`]) unless epoll
    /// reported an error pending: recvmmsg that meets a pending ICMP error after
    /// some answers returns those and puts the error back, with no new edge.
    /// That error was there before epoll reported the socket, so the report
    /// carries it (`ready.is_error()`), and then the readiness is kept: the next
    /// round reads the error at once and fails its queries over. An error
    /// arriving later raises its own edge.
    ///
    /// [`UdpFd::recv_batch`]: crate::mmsg::UdpFd::recv_batch
    #[cfg(target_os = "linux")]
    fn receive_batch(&self, batch: &mut RecvBatch, ready: tokio::io::Ready) -> io::Result<usize> {
        let error_pending = ready.is_error();
        // A receive runs only under an interest whose readiness is set.
        let which = if error_pending {
            Interest::ERROR
        } else {
            Interest::READABLE
        };
        self.socket
            .recv_batch(which, RECV_BATCH, error_pending, |fd| batch.recv(fd))
    }

    /// The portable loop: one answer per receive.
    #[cfg(not(target_os = "linux"))]
    async fn receive(self: Arc<Self>, shutdown: CancellationToken) {
        let mut buf = vec![0u8; RECV_BUFFER];
        loop {
            let received = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                r = self.socket.recv_from(&mut buf) => r,
            };
            match received {
                Ok((len, from)) => self.dispatch(&buf[..len], Some(from)),
                Err(e) => {
                    if !self.receive_failed(e, &shutdown).await {
                        return;
                    }
                }
            }
        }
    }

    /// A receive error; false once `shutdown` came while pausing after it.
    async fn receive_failed(&self, e: io::Error, shutdown: &CancellationToken) -> bool {
        // ICMP errors on a connected socket name no query: every waiter here was
        // sent to the same refusing upstream, so all fail fast.
        self.pending.fail_all(e.kind());
        if is_icmp_error(e.kind()) {
            return true;
        }
        tracing::debug!(upstream = %self.label, error = %e, "upstream socket error");
        tokio::select! {
            () = shutdown.cancelled() => false,
            () = tokio::time::sleep(ERROR_PAUSE) => true,
        }
    }

    fn dispatch(&self, packet: &[u8], from: Option<SocketAddr>) {
        // connect() makes the kernel filter sources already; checked again because it
        // costs nothing and the answer is trusted on the strength of it.
        let Some(from) = from else {
            return self.reject(wire::Reject::Mismatch);
        };
        if from.ip() != self.peer.ip() || from.port() != self.peer.port() {
            self.reject(wire::Reject::Mismatch);
            return;
        }
        let id = match wire::response_id(packet) {
            Ok(id) => id,
            Err(why) => return self.reject(why),
        };
        if !self.pending.deliver(id, packet) {
            self.reject(wire::Reject::Mismatch);
        }
    }

    fn reject(&self, why: wire::Reject) {
        self.metrics.record_upstream_error(&self.label, why.label());
    }
}

fn is_icmp_error(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    )
}

fn connected_socket(peer: SocketAddr) -> io::Result<Socket> {
    let socket = socket2::Socket::new(Domain::for_address(peer), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: a smaller buffer only costs drops under bursts, which retries cover.
    let _ = socket.set_recv_buffer_size(SO_RCVBUF);
    socket.set_nonblocking(true)?;
    let any: IpAddr = match peer {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    // Port 0: the OS picks a random ephemeral port, which is the source-port entropy.
    socket.bind(&SocketAddr::new(any, 0).into())?;
    socket.connect(&peer.into())?;
    #[cfg(target_os = "linux")]
    return Socket::new(socket.into(), Interest::READABLE | Interest::ERROR);
    #[cfg(not(target_os = "linux"))]
    Socket::from_std(socket.into())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::upstream::pending::{Delivery, Outcome};

    /// A query for `a.` with `pad` bytes after it (an IPv4 datagram holds 65,507).
    fn query(pad: usize) -> Outgoing {
        let mut q = vec![0, 0, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
        let question = q[wire::HEADER..].to_vec();
        q.resize(q.len() + pad, 0);
        Outgoing::new(&q, &question).unwrap()
    }

    async fn next(mailbox: &Mailbox) -> Delivery {
        let got = tokio::time::timeout(Duration::from_secs(2), mailbox.next()).await;
        got.expect("a delivery in time")
    }

    #[tokio::test]
    async fn a_query_the_kernel_refuses_fails_its_own_attempt_and_the_others_go() {
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = peer.local_addr().unwrap();
        let metrics = Arc::new(Metrics::new());
        let shutdown = CancellationToken::new();
        let channel = UdpChannel::open(addr, Arc::from("t"), metrics, shutdown.clone()).unwrap();
        let mailbox = Arc::new(Mailbox::default());
        let (mut ok, mut big, mut after) = (query(0), query(65_520 - 19), query(0));
        // Queued in one turn: one sendmmsg, whose second datagram is too big.
        let r0 = channel.send(&mut ok, 0, &mailbox).await.unwrap();
        let _r1 = channel.send(&mut big, 1, &mailbox).await.unwrap();
        let r2 = channel.send(&mut after, 2, &mailbox).await.unwrap();
        let failed = next(&mailbox).await;
        assert_eq!(failed.attempt, 1);
        assert!(matches!(failed.outcome, Outcome::Failed(_)), "{failed:?}");
        assert_eq!(channel.pending(), 2, "only the refused one left the map");
        // Both others reached the upstream, in order, with their own IDs.
        peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut b = [0u8; 512];
        for id in [r0.id(), r2.id()] {
            let n = peer.recv(&mut b).unwrap();
            assert_eq!((n, &b[..2]), (19, &id.to_be_bytes()[..]));
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(20), mailbox.next())
                .await
                .is_err()
        );
        shutdown.cancel();
    }

    #[tokio::test]
    async fn after_the_receive_task_stops_queries_are_sent_directly() {
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = peer.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let metrics = Arc::new(Metrics::new());
        let channel = UdpChannel::open(addr, Arc::from("t"), metrics, shutdown.clone()).unwrap();
        shutdown.cancel();
        // The receive task (the only flusher) ends, closing the outbox.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mailbox = Arc::new(Mailbox::default());
        let registration = channel.send(&mut query(0), 0, &mailbox).await.unwrap();
        // Queued, it would never go: nobody flushes any more.
        peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut b = [0u8; 512];
        let n = peer.recv(&mut b).unwrap();
        assert_eq!((n, &b[..2]), (19, &registration.id().to_be_bytes()[..]));
    }
}
