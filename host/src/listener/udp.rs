//! UDP listener: one socket per worker (SO_REUSEPORT); hits answered inline, misses on spawned tasks.
//!
//! The receive loop owns one receive and one send buffer for its whole life, so
//! the cache-hit path allocates nothing. A miss's packet is copied by the
//! pipeline into its own pooled buffer, which frees the receive buffer at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Handler, Outcome};
use crate::buffer::BufferPool;
use crate::metrics::Proto;
use crate::pipeline::Client;

/// One UDP socket and what its receive loop needs.
pub struct UdpListener<H> {
    socket: Arc<UdpSocket>,
    handler: Arc<H>,
    buffers: Arc<BufferPool>,
    tasks: TaskTracker,
}

impl<H: Handler> UdpListener<H> {
    pub fn new(
        socket: UdpSocket,
        handler: Arc<H>,
        buffers: Arc<BufferPool>,
        tasks: TaskTracker,
    ) -> UdpListener<H> {
        UdpListener {
            socket: Arc::new(socket),
            handler,
            buffers,
            tasks,
        }
    }

    /// Receives until `shutdown` is cancelled. Bad packets and socket errors
    /// (ICMP errors surface as failed sends and receives) never end the loop.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut packet = self.buffers.get();
        let mut out = self.buffers.get();
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
                .handle(&packet, client, Instant::now(), &mut out)
            {
                Outcome::Reply => send(&self.socket, &out, peer).await,
                Outcome::Drop => {}
                Outcome::Defer(deferred) => self.spawn_resolve(deferred, peer),
            }
        }
    }

    fn spawn_resolve(&self, deferred: H::Deferred, peer: SocketAddr) {
        let socket = Arc::clone(&self.socket);
        let handler = Arc::clone(&self.handler);
        let mut out = self.buffers.get();
        self.tasks.spawn(async move {
            handler.resolve(deferred, &mut out).await;
            send(&socket, &out, peer).await;
        });
    }
}

async fn send(socket: &UdpSocket, answer: &[u8], peer: SocketAddr) {
    if answer.is_empty() {
        return;
    }
    if let Err(e) = socket.send_to(answer, peer).await {
        tracing::debug!(client = %peer, error = %e, "udp send failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listener::testing::{wait_msg, Script};
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    struct Fixture {
        addr: SocketAddr,
        script: Arc<Script>,
        tasks: TaskTracker,
        shutdown: CancellationToken,
        loop_done: tokio::task::JoinHandle<()>,
    }

    async fn start() -> Fixture {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let script = Arc::new(Script::default());
        let tasks = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let listener = UdpListener::new(
            socket,
            Arc::clone(&script),
            BufferPool::new(8, 512),
            tasks.clone(),
        );
        let loop_done = tokio::spawn(listener.run(shutdown.clone()));
        Fixture {
            addr,
            script,
            tasks,
            shutdown,
            loop_done,
        }
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
    async fn dropped_and_empty_packets_do_not_stop_the_loop() {
        let f = start().await;
        let c = client().await;
        c.send_to(b"", f.addr).await.unwrap();
        c.send_to(b"dropme", f.addr).await.unwrap();
        c.send_to(&[0xff; 600], f.addr).await.unwrap();
        c.send_to(b"ralive", f.addr).await.unwrap();
        assert_eq!(recv(&c).await, b"ralive");
        assert_eq!(f.script.handled.load(Ordering::SeqCst), 4);
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
        while f.script.resolved.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let c = client().await;
        c.send_to(b"rstill", f.addr).await.unwrap();
        assert_eq!(recv(&c).await, b"rstill");
        f.shutdown.cancel();
        f.loop_done.await.unwrap();
    }

    #[tokio::test]
    async fn shutdown_stops_receiving_but_lets_deferred_answers_finish() {
        let f = start().await;
        let c = client().await;
        c.send_to(&wait_msg(100, 7), f.addr).await.unwrap();
        while f.script.handled.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        f.shutdown.cancel();
        f.loop_done.await.unwrap();
        c.send_to(b"rlate", f.addr).await.unwrap();
        assert_eq!(
            recv(&c).await,
            wait_msg(100, 7),
            "in-flight answer still sent"
        );
        f.tasks.close();
        f.tasks.wait().await;
        assert_eq!(
            f.script.handled.load(Ordering::SeqCst),
            1,
            "nothing read after shutdown"
        );
    }
}
