//! TCP listener (RFC 7766): accepts connections up to a limit and hands each to a
//! [`Connection`]; framing, pipelining and idle timeout live there.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener as TokioTcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::connection::{Connection, ConnectionLimits};
use super::Handler;
use crate::buffer::BufferPool;
use crate::metrics::{Dropped, Metrics};

/// Pause after an accept error such as EMFILE, so a full file table does not
/// turn the accept loop into a busy loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A listening TCP socket and the shared state of its connections.
pub struct TcpListener<H> {
    listener: TokioTcpListener,
    handler: Arc<H>,
    buffers: Arc<BufferPool>,
    metrics: Arc<Metrics>,
    tasks: TaskTracker,
    limits: ConnectionLimits,
    /// One permit per open connection, shared by every listening address.
    connections: Arc<Semaphore>,
}

impl<H: Handler> TcpListener<H> {
    pub fn new(
        listener: TokioTcpListener,
        handler: Arc<H>,
        buffers: Arc<BufferPool>,
        metrics: Arc<Metrics>,
        tasks: TaskTracker,
        limits: ConnectionLimits,
        connections: Arc<Semaphore>,
    ) -> TcpListener<H> {
        TcpListener {
            listener,
            handler,
            buffers,
            metrics,
            tasks,
            limits,
            connections,
        }
    }

    /// Accepts until `shutdown` is cancelled. Open connections see the same token:
    /// they stop reading, write what they owe, and close.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let accepted = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                a = self.listener.accept() => a,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    self.accept_failed(e, &shutdown).await;
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&self.connections).try_acquire_owned() else {
                // Over the limit: close at once rather than queue, so the client
                // can retry elsewhere instead of hanging.
                self.metrics.record_dropped(Dropped::TcpLimit);
                tracing::debug!(client = %peer, "tcp connection limit reached");
                drop(stream);
                continue;
            };
            // Answers are whole messages written at once: Nagle would only delay them.
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(client = %peer, error = %e, "TCP_NODELAY not set");
            }
            let connection = Connection {
                handler: Arc::clone(&self.handler),
                buffers: Arc::clone(&self.buffers),
                metrics: Arc::clone(&self.metrics),
                tasks: self.tasks.clone(),
                limits: self.limits,
            };
            let metrics = Arc::clone(&self.metrics);
            let shutdown = shutdown.clone();
            self.tasks.spawn(async move {
                metrics.tcp_connections.inc();
                connection.run(stream, peer, shutdown).await;
                metrics.tcp_connections.dec();
                drop(permit);
            });
        }
    }

    async fn accept_failed(&self, e: io::Error, shutdown: &CancellationToken) {
        tracing::debug!(error = %e, "tcp accept failed");
        if matches!(
            e.kind(),
            io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
        ) {
            return; // the peer gave up before we accepted: nothing to wait for
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listener::testing::{wait_msg, Script};
    use std::net::SocketAddr;
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    struct Fixture {
        addr: SocketAddr,
        script: Arc<Script>,
        metrics: Arc<Metrics>,
        tasks: TaskTracker,
        shutdown: CancellationToken,
        accept_done: tokio::task::JoinHandle<()>,
    }

    async fn start(max_connections: usize, idle_ms: u64, max_pipelined: usize) -> Fixture {
        let listener = TokioTcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let script = Arc::new(Script::default());
        let metrics = Arc::new(Metrics::new());
        let tasks = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let tcp = TcpListener::new(
            listener,
            Arc::clone(&script),
            BufferPool::new(8, 512),
            Arc::clone(&metrics),
            tasks.clone(),
            ConnectionLimits {
                idle_timeout: Duration::from_millis(idle_ms),
                max_pipelined,
            },
            Arc::new(Semaphore::new(max_connections)),
        );
        let accept_done = tokio::spawn(tcp.run(shutdown.clone()));
        Fixture {
            addr,
            script,
            metrics,
            tasks,
            shutdown,
            accept_done,
        }
    }

    fn frame(m: &[u8]) -> Vec<u8> {
        let mut f = (m.len() as u16).to_be_bytes().to_vec();
        f.extend_from_slice(m);
        f
    }

    /// The next answer, or `None` when the server closed the connection.
    async fn answer(s: &mut TcpStream) -> Option<Vec<u8>> {
        let read = async {
            let mut len = [0u8; 2];
            s.read_exact(&mut len).await.ok()?;
            let mut body = vec![0; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut body).await.ok()?;
            Some(body)
        };
        tokio::time::timeout(Duration::from_secs(3), read)
            .await
            .expect("server answers or closes in time")
    }

    async fn until(cond: impl Fn() -> bool) {
        for _ in 0..1000 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("condition not reached");
    }

    #[tokio::test]
    async fn pipelined_answers_come_back_as_they_complete() {
        let f = start(8, 5_000, 8).await;
        let mut s = TcpStream::connect(f.addr).await.unwrap();
        let mut wire = frame(&wait_msg(200, 1));
        wire.extend(frame(&wait_msg(20, 2)));
        wire.extend(frame(b"r3"));
        s.write_all(&wire).await.unwrap();
        assert_eq!(answer(&mut s).await.unwrap(), b"r3");
        assert_eq!(answer(&mut s).await.unwrap(), wait_msg(20, 2));
        assert_eq!(answer(&mut s).await.unwrap(), wait_msg(200, 1));
    }

    #[tokio::test]
    async fn a_query_sent_byte_by_byte_is_answered() {
        let f = start(8, 5_000, 8).await;
        let mut s = TcpStream::connect(f.addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        for b in frame(b"rslowly") {
            s.write_all(&[b]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        assert_eq!(answer(&mut s).await.unwrap(), b"rslowly");
    }

    #[tokio::test]
    async fn dropped_messages_keep_the_connection_and_zero_length_closes_it() {
        let f = start(8, 5_000, 8).await;
        let mut s = TcpStream::connect(f.addr).await.unwrap();
        let mut wire = frame(b"dignored");
        wire.extend(frame(b"r1"));
        wire.extend([0, 0]);
        wire.extend(frame(b"rnever"));
        s.write_all(&wire).await.unwrap();
        assert_eq!(answer(&mut s).await.unwrap(), b"r1");
        assert_eq!(answer(&mut s).await, None);
        assert_eq!(f.script.handled.load(Ordering::SeqCst), 2);
        assert!(f
            .metrics
            .render()
            .contains("wasmdns_dropped_total{reason=\"unreadable\"} 1"));
    }

    #[tokio::test]
    async fn a_half_closed_client_still_gets_every_answer() {
        let f = start(8, 5_000, 8).await;
        let mut s = TcpStream::connect(f.addr).await.unwrap();
        let mut wire = frame(&wait_msg(80, 1));
        wire.extend(frame(b"r2"));
        s.write_all(&wire).await.unwrap();
        s.shutdown().await.unwrap(); // FIN after the last query, as RFC 7766 allows
        assert_eq!(answer(&mut s).await.unwrap(), b"r2");
        assert_eq!(answer(&mut s).await.unwrap(), wait_msg(80, 1));
        assert_eq!(answer(&mut s).await, None);
    }

    #[tokio::test]
    async fn a_client_that_never_reads_is_dropped_after_the_timeout() {
        let f = start(8, 100, 4).await;
        let s = TcpStream::connect(f.addr).await.unwrap();
        let (_read, mut write) = s.into_split();
        let mut big = vec![b'r'];
        big.resize(60_000, 0);
        let flood = tokio::spawn(async move {
            for _ in 0..200 {
                if write.write_all(&frame(&big)).await.is_err() {
                    return;
                }
            }
        });
        until(|| f.metrics.tcp_connections.get() == 1).await;
        // Answers pile up in the socket buffers, the writer stalls, the reader
        // stops: the connection ends on the stall timeout, not never.
        until(|| f.metrics.tcp_connections.get() == 0).await;
        flood.abort();
    }

    #[tokio::test]
    async fn connections_beyond_the_limit_are_closed_at_once() {
        let f = start(1, 5_000, 8).await;
        let mut first = TcpStream::connect(f.addr).await.unwrap();
        first.write_all(&frame(b"rone")).await.unwrap();
        assert_eq!(answer(&mut first).await.unwrap(), b"rone");
        assert_eq!(f.metrics.tcp_connections.get(), 1);

        let mut second = TcpStream::connect(f.addr).await.unwrap();
        let _ = second.write_all(&frame(b"rtwo")).await;
        assert_eq!(answer(&mut second).await, None);
        assert!(f
            .metrics
            .render()
            .contains("wasmdns_dropped_total{reason=\"tcp_limit\"} 1"));

        drop(first);
        until(|| f.metrics.tcp_connections.get() == 0).await;
        let mut third = TcpStream::connect(f.addr).await.unwrap();
        third.write_all(&frame(b"rthree")).await.unwrap();
        assert_eq!(answer(&mut third).await.unwrap(), b"rthree");
    }

    #[tokio::test]
    async fn idle_connections_close_but_not_while_answers_are_owed() {
        let f = start(8, 100, 8).await;
        let mut idle = TcpStream::connect(f.addr).await.unwrap();
        let started = std::time::Instant::now();
        assert_eq!(answer(&mut idle).await, None);
        assert!(started.elapsed() >= Duration::from_millis(100));

        let mut busy = TcpStream::connect(f.addr).await.unwrap();
        busy.write_all(&frame(&wait_msg(300, 9))).await.unwrap();
        assert_eq!(answer(&mut busy).await.unwrap(), wait_msg(300, 9));
        assert_eq!(answer(&mut busy).await, None, "then idle again, closed");
    }

    #[tokio::test]
    async fn reading_pauses_at_the_pipelining_limit() {
        let f = start(8, 5_000, 2).await;
        let mut s = TcpStream::connect(f.addr).await.unwrap();
        let mut wire = Vec::new();
        for tag in 0..4 {
            wire.extend(frame(&wait_msg(150, tag)));
        }
        s.write_all(&wire).await.unwrap();
        until(|| f.script.handled.load(Ordering::SeqCst) >= 2).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Two outstanding, the third read and waiting for a slot, the fourth unread.
        assert_eq!(f.script.handled.load(Ordering::SeqCst), 3);
        let mut tags: Vec<u8> = Vec::new();
        for _ in 0..4 {
            tags.push(answer(&mut s).await.unwrap()[3]);
        }
        tags.sort_unstable();
        assert_eq!(tags, vec![0, 1, 2, 3]);
    }

    #[tokio::test]
    async fn shutdown_stops_accepting_and_drains_connections() {
        let f = start(8, 5_000, 8).await;
        let mut s = TcpStream::connect(f.addr).await.unwrap();
        s.write_all(&frame(&wait_msg(150, 5))).await.unwrap();
        until(|| f.script.handled.load(Ordering::SeqCst) == 1).await;
        f.shutdown.cancel();
        f.accept_done.await.unwrap();
        let _ = s.write_all(&frame(b"rafter")).await;
        assert_eq!(answer(&mut s).await.unwrap(), wait_msg(150, 5));
        assert_eq!(answer(&mut s).await, None);
        f.tasks.close();
        tokio::time::timeout(Duration::from_secs(2), f.tasks.wait())
            .await
            .expect("every task finishes");
        assert_eq!(f.script.handled.load(Ordering::SeqCst), 1);
        assert_eq!(f.metrics.tcp_connections.get(), 0);
        assert!(TcpStream::connect(f.addr).await.is_err(), "listener closed");
    }
}
