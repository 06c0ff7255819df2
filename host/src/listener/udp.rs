//! UDP listener: one socket per worker (SO_REUSEPORT); hits answered inline, misses on spawned tasks.
//!
//! On Linux the receive loop moves datagrams in batches (`batched.rs`: one
//! recvmmsg in, one sendmmsg out per wakeup, buffers in a [`batch::Batch`] owned
//! for the loop's life); elsewhere it is one `recv_from`/`send_to` per query. The
//! hit path allocates nothing either way. A miss's packet is copied by the
//! pipeline into its own pooled buffer, which frees the receive slot at once. Its
//! answer, written by the task that resolved it, goes (Linux) into the socket's
//! [`Outbox`] and out with the loop's next sendmmsg, beside other deferred and
//! inline answers; elsewhere, or when the outbox is full or the loop has stopped,
//! the task sends it itself.

#[cfg(target_os = "linux")]
mod batch;
#[cfg(target_os = "linux")]
mod batched;

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus::IntCounter;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Handler;
use crate::buffer::BufferPool;
use crate::metrics::Metrics;
#[cfg(target_os = "linux")]
use crate::mmsg::{Entry, Outbox};

/// The listening socket: on Linux registered for reading only, so answers sent
/// raise no writability wakeups ([`crate::mmsg::UdpFd`]).
#[cfg(target_os = "linux")]
type Socket = crate::mmsg::UdpFd;
#[cfg(not(target_os = "linux"))]
type Socket = tokio::net::UdpSocket;

/// What every UDP receive loop of one proxy shares.
#[derive(Clone)]
pub struct UdpShared {
    pub buffers: Arc<BufferPool>,
    /// Truncated datagrams (dropped, unreadable) and refused sends are counted here.
    pub metrics: Arc<Metrics>,
    /// Deferred answers run as tracked tasks, so shutdown drains them.
    pub tasks: TaskTracker,
}

impl UdpShared {
    pub fn new(buffers: Arc<BufferPool>, metrics: Arc<Metrics>, tasks: TaskTracker) -> UdpShared {
        UdpShared {
            buffers,
            metrics,
            tasks,
        }
    }
}

/// One UDP socket and what its receive loop needs.
pub struct UdpListener<H> {
    socket: Arc<Socket>,
    handler: Arc<H>,
    shared: UdpShared,
    /// Deferred answers for the receive loop's next send.
    #[cfg(target_os = "linux")]
    outbox: Arc<Outbox<()>>,
}

impl<H: Handler> UdpListener<H> {
    /// Registers `socket` with the current runtime.
    pub fn new(
        socket: std::net::UdpSocket,
        handler: Arc<H>,
        shared: UdpShared,
    ) -> std::io::Result<UdpListener<H>> {
        #[cfg(target_os = "linux")]
        let socket = Socket::new(socket, tokio::io::Interest::READABLE)?;
        #[cfg(not(target_os = "linux"))]
        let socket = {
            socket.set_nonblocking(true)?;
            Socket::from_std(socket)?
        };
        Ok(UdpListener {
            socket: Arc::new(socket),
            handler,
            shared,
            #[cfg(target_os = "linux")]
            outbox: Arc::new(Outbox::new(batched::OUTBOX)),
        })
    }

    /// Receives until `shutdown` is cancelled. Bad packets and socket errors
    /// (ICMP errors surface as failed sends and receives) never end the loop;
    /// answers already computed when it stops are still sent.
    pub async fn run(self, shutdown: CancellationToken) {
        #[cfg(target_os = "linux")]
        self.run_batched(shutdown).await;
        #[cfg(not(target_os = "linux"))]
        self.run_single(shutdown).await;
    }

    /// The portable loop: one datagram per receive and per send.
    #[cfg(not(target_os = "linux"))]
    async fn run_single(self, shutdown: CancellationToken) {
        use super::Outcome;
        use crate::metrics::Proto;
        use crate::pipeline::Client;
        let mut packet = self.shared.buffers.get();
        let mut out = self.shared.buffers.get();
        loop {
            packet.clear();
            let received = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                r = self.socket.recv_buf_from(&mut *packet) => r,
            };
            let peer = match received {
                Ok((_, peer)) => peer,
                Err(e) => {
                    tracing::debug!(error = %e, "udp receive failed");
                    // A persistent error must not starve the other tasks of this worker.
                    tokio::task::yield_now().await;
                    continue;
                }
            };
            let client = Client {
                addr: peer,
                proto: Proto::Udp,
            };
            out.clear();
            match self
                .handler
                .handle(&packet, client, std::time::Instant::now(), &mut out)
            {
                Outcome::Reply => {
                    send(
                        &self.socket,
                        &out,
                        peer,
                        &self.shared.metrics.udp_send_errors,
                    )
                    .await
                }
                Outcome::Drop => {}
                Outcome::Defer(deferred) => self.spawn_resolve(deferred, peer),
            }
        }
    }

    fn spawn_resolve(&self, deferred: H::Deferred, peer: SocketAddr) {
        let socket = Arc::clone(&self.socket);
        let handler = Arc::clone(&self.handler);
        let errors = self.shared.metrics.udp_send_errors.clone();
        #[cfg(target_os = "linux")]
        let outbox = self.outbox.expect();
        let mut out = self.shared.buffers.get();
        // Boxed: the resolve future is kilobytes (every await point's state down to
        // the upstream exchange), and spawning moves a task's future by value half a
        // dozen times (spawn, task cell, stage changes); behind a box each move is a
        // pointer. Callgrind on W2 (`CALLGRIND=1 benches/miss_profile.sh`): ~2,300
        // of the 42,000 user-space instructions of a miss were those copies.
        self.shared.tasks.spawn(Box::pin(async move {
            handler.resolve(deferred, &mut out).await;
            if out.is_empty() {
                return;
            }
            #[cfg(target_os = "linux")]
            let out = match outbox.push(Entry {
                buf: out,
                to: Some(peer.into()),
                tag: (),
            }) {
                Ok(()) => return,
                Err(out) => out,
            };
            send(&socket, &out, peer, &errors).await;
        }));
    }
}

/// Sends one answer (empty means none), waiting for the socket if it is full.
async fn send(socket: &Socket, answer: &[u8], peer: SocketAddr, errors: &IntCounter) {
    if answer.is_empty() {
        return;
    }
    if let Err(e) = socket.send_to(answer, peer).await {
        errors.inc();
        tracing::debug!(client = %peer, error = %e, "udp send failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listener::testing::{wait_msg, Script};
    use std::sync::atomic::Ordering;
    use std::time::Duration;
    use tokio::net::UdpSocket;

    struct Fixture {
        addr: SocketAddr,
        script: Arc<Script>,
        shared: UdpShared,
        shutdown: CancellationToken,
        loop_done: tokio::task::JoinHandle<()>,
    }

    /// Serves `socket`; datagrams queued on it before this call arrive together.
    fn start_on(socket: UdpSocket) -> Fixture {
        let addr = socket.local_addr().unwrap();
        let socket = socket.into_std().unwrap();
        let script = Arc::new(Script::default());
        let shared = UdpShared::new(
            BufferPool::new(8, 512),
            Arc::new(Metrics::new()),
            TaskTracker::new(),
        );
        // The script's `s` packets stop the loop, like any other shutdown.
        let shutdown = script.stop.clone();
        let listener = UdpListener::new(socket, Arc::clone(&script), shared.clone()).unwrap();
        let loop_done = tokio::spawn(listener.run(shutdown.clone()));
        Fixture {
            addr,
            script,
            shared,
            shutdown,
            loop_done,
        }
    }

    async fn start() -> Fixture {
        start_on(UdpSocket::bind("127.0.0.1:0").await.unwrap())
    }

    async fn client() -> UdpSocket {
        UdpSocket::bind("127.0.0.1:0").await.unwrap()
    }

    async fn recv(c: &UdpSocket) -> Vec<u8> {
        let mut b = [0u8; 600];
        let n = tokio::time::timeout(Duration::from_secs(2), c.recv(&mut b))
            .await
            .expect("answer in time")
            .unwrap();
        b[..n].to_vec()
    }

    async fn until(cond: impl Fn() -> bool) {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn replies_inline_and_deferred_answers_arrive() {
        let f = start().await;
        let c = client().await;
        c.send_to(&wait_msg(50, 1), f.addr).await.unwrap();
        c.send_to(b"rhit", f.addr).await.unwrap();
        // The inline answer overtakes the deferred one: the loop never waits on a miss.
        assert_eq!(recv(&c).await, b"rhit");
        assert_eq!(recv(&c).await, wait_msg(50, 1));
        assert_eq!(f.script.resolved.load(Ordering::SeqCst), 1);
        f.shutdown.cancel();
        f.loop_done.await.unwrap();
    }

    #[tokio::test]
    async fn queued_datagrams_are_all_answered_in_order_with_misses_interleaved() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let c = client().await;
        let to = socket.local_addr().unwrap();
        // Queued before the loop starts: one receive takes them all.
        for q in [&b"r1"[..], b"dx", &wait_msg(20, 9), b"r2", b"r3"] {
            c.send_to(q, to).await.unwrap();
        }
        let f = start_on(socket);
        for want in [&b"r1"[..], b"r2", b"r3", &wait_msg(20, 9)] {
            assert_eq!(recv(&c).await, want);
        }
        assert_eq!(f.script.handled.load(Ordering::SeqCst), 5);
        assert_eq!(f.shared.metrics.udp_send_errors.get(), 0);
        f.shutdown.cancel();
        f.loop_done.await.unwrap();
    }

    #[tokio::test]
    async fn a_burst_of_deferred_answers_past_the_outbox_all_arrive() {
        let f = start().await;
        let c = client().await;
        // Resolved in the same turn (same timer deadline): more than the outbox
        // holds, so some are sent by their own tasks.
        for tag in 0..200u8 {
            c.send_to(&wait_msg(30, tag), f.addr).await.unwrap();
        }
        let mut tags = Vec::new();
        for _ in 0..200 {
            let answer = recv(&c).await;
            assert_eq!(answer[..3], wait_msg(30, 0)[..3]);
            tags.push(answer[3]);
        }
        tags.sort_unstable();
        assert_eq!(tags, (0..200u8).collect::<Vec<_>>(), "each answered once");
        assert_eq!(f.shared.metrics.udp_send_errors.get(), 0);
        f.shutdown.cancel();
        f.loop_done.await.unwrap();
    }

    #[tokio::test]
    async fn ipv6_clients_get_their_answers() {
        let Ok(socket) = UdpSocket::bind("[::1]:0").await else {
            return; // no IPv6 on this host
        };
        let f = start_on(socket);
        let c = UdpSocket::bind("[::1]:0").await.unwrap();
        c.send_to(b"rsix", f.addr).await.unwrap();
        c.send_to(&wait_msg(5, 6), f.addr).await.unwrap();
        assert_eq!(recv(&c).await, b"rsix");
        assert_eq!(recv(&c).await, wait_msg(5, 6));
        f.shutdown.cancel();
        f.loop_done.await.unwrap();
    }

    #[tokio::test]
    async fn dropped_empty_and_oversized_packets_do_not_stop_the_loop() {
        let f = start().await;
        let c = client().await;
        c.send_to(b"", f.addr).await.unwrap();
        c.send_to(b"dropme", f.addr).await.unwrap();
        c.send_to(&[b'r'; 600], f.addr).await.unwrap(); // over the 512-byte slot
        c.send_to(b"ralive", f.addr).await.unwrap();
        assert_eq!(recv(&c).await, b"ralive");
        if cfg!(target_os = "linux") {
            // MSG_TRUNC: never handed to the pipeline, counted as unreadable.
            assert_eq!(f.script.handled.load(Ordering::SeqCst), 3);
            let text = f.shared.metrics.render();
            assert!(
                text.contains("wasmdns_dropped_total{reason=\"unreadable\"} 1"),
                "{text}"
            );
        }
        f.shutdown.cancel();
        f.loop_done.await.unwrap();
    }

    #[tokio::test]
    async fn answers_to_a_closed_port_do_not_stop_the_loop() {
        let f = start().await;
        for tag in 0..3 {
            let gone = client().await;
            gone.send_to(&wait_msg(10, tag), f.addr).await.unwrap();
            // Closed before its answer: the host answers that send with ICMP port unreachable.
        }
        until(|| f.script.resolved.load(Ordering::SeqCst) == 3).await;
        let c = client().await;
        c.send_to(b"rstill", f.addr).await.unwrap();
        assert_eq!(recv(&c).await, b"rstill");
        f.shutdown.cancel();
        f.loop_done.await.unwrap();
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn shutdown_mid_batch_still_sends_that_batch_then_reads_nothing() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let c = client().await;
        let to = socket.local_addr().unwrap();
        for q in [&b"r1"[..], &wait_msg(30, 2), b"sstop", b"r3"] {
            c.send_to(q, to).await.unwrap();
        }
        let f = start_on(socket);
        f.loop_done.await.unwrap(); // `sstop` cancelled the token
        c.send_to(b"rlate", f.addr).await.unwrap();
        for want in [&b"r1"[..], b"sstop", b"r3", &wait_msg(30, 2)] {
            assert_eq!(
                recv(&c).await,
                want,
                "answers computed before the stop go out"
            );
        }
        f.shared.tasks.close();
        f.shared.tasks.wait().await;
        // The batch in hand is finished (`r3`), nothing later is read (`rlate`).
        assert_eq!(f.script.handled.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn shutdown_stops_receiving_but_lets_deferred_answers_finish() {
        let f = start().await;
        let c = client().await;
        c.send_to(&wait_msg(100, 7), f.addr).await.unwrap();
        until(|| f.script.handled.load(Ordering::SeqCst) == 1).await;
        f.shutdown.cancel();
        f.loop_done.await.unwrap();
        c.send_to(b"rlate", f.addr).await.unwrap();
        assert_eq!(
            recv(&c).await,
            wait_msg(100, 7),
            "in-flight answer still sent"
        );
        f.shared.tasks.close();
        f.shared.tasks.wait().await;
        assert_eq!(
            f.script.handled.load(Ordering::SeqCst),
            1,
            "nothing read after shutdown"
        );
    }
}
