//! One client TCP connection (RFC 7766): a reader that runs queries through the
//! handler and a writer task that sends answers as they complete.
//!
//! - Answers go through one writer task, so frames never interleave; answers to
//!   pipelined queries are written in completion order (RFC 7766 §6.2.1.1: clients
//!   match by ID).
//! - At most `max_pipelined` deferred queries are outstanding; beyond it the reader
//!   stops reading until one completes, and TCP flow control pushes back on the client.
//! - The connection closes when no query arrived for `idle_timeout` and nothing is
//!   outstanding; when a write stalls for `idle_timeout` (a client that does not
//!   read); on a framing error; at end of stream; or at shutdown. Outstanding
//!   answers are written before the socket is closed.
//! - A zero-length frame closes the connection: no DNS message is that short, so
//!   the stream is not DNS or has lost sync, and nothing after it can be trusted.
//!   A message the handler drops (unreadable, a response) is skipped; the
//!   connection stays open.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::frame::{FrameError, FrameReader};
use super::{Handler, Outcome};
use crate::buffer::{BufferPool, PooledBuf, MAX_MESSAGE};
use crate::metrics::{Dropped, Metrics, Proto};
use crate::pipeline::Client;

/// Per-connection limits (from `[server]`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub idle_timeout: Duration,
    pub max_pipelined: usize,
}

/// A client connection and what it needs to answer.
pub struct Connection<H> {
    pub handler: Arc<H>,
    pub buffers: Arc<BufferPool>,
    pub metrics: Arc<Metrics>,
    pub tasks: TaskTracker,
    pub limits: ConnectionLimits,
}

/// Why the reader stopped; logged at debug.
#[derive(Debug)]
enum Close {
    Eof,
    Idle,
    Shutdown,
    WriterGone,
    Frame(FrameError),
}

impl<H: Handler> Connection<H> {
    /// Serves `stream` until it closes; returns once every answer owed has been
    /// written (or the client stopped taking them) and the socket is closed.
    pub async fn run(self, stream: TcpStream, peer: SocketAddr, shutdown: CancellationToken) {
        let (read, write) = stream.into_split();
        let max_pipelined = self.limits.max_pipelined.max(1);
        let (tx, rx) = mpsc::channel(max_pipelined);
        let writer = self
            .tasks
            .spawn(write_answers(write, rx, self.limits.idle_timeout));
        let why = self.read_queries(read, peer, tx, shutdown).await;
        if let Close::Frame(FrameError::ZeroLength) = why {
            self.metrics.record_dropped(Dropped::Unreadable);
        }
        tracing::debug!(client = %peer, reason = ?why, "tcp connection stops reading");
        let _ = writer.await;
    }

    async fn read_queries(
        &self,
        mut read: OwnedReadHalf,
        peer: SocketAddr,
        tx: mpsc::Sender<PooledBuf>,
        shutdown: CancellationToken,
    ) -> Close {
        let client = Client {
            addr: peer,
            proto: Proto::Tcp,
        };
        let max_pipelined = self.limits.max_pipelined.max(1);
        let outstanding = Arc::new(Semaphore::new(max_pipelined));
        let mut frames = FrameReader::new(self.buffers.get());
        let mut idle_until = tokio::time::Instant::now() + self.limits.idle_timeout;
        loop {
            let frame = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Close::Shutdown,
                _ = tx.closed() => return Close::WriterGone,
                _ = tokio::time::sleep_until(idle_until) => {
                    if outstanding.available_permits() == max_pipelined {
                        return Close::Idle;
                    }
                    // Answers still owed: the client is waiting on us, not idle.
                    idle_until = tokio::time::Instant::now() + self.limits.idle_timeout;
                    continue;
                }
                f = frames.next_frame(&mut read) => f,
            };
            let query = match frame {
                Ok(Some(query)) => query,
                Ok(None) => return Close::Eof,
                Err(e) => return Close::Frame(e),
            };
            idle_until = tokio::time::Instant::now() + self.limits.idle_timeout;
            if let Err(why) = self.dispatch(query, client, &tx, &outstanding).await {
                return why;
            }
        }
    }

    /// Runs one query through the handler: an inline answer is queued for the
    /// writer, a deferred one resolved on its own task once a pipelining slot is free.
    async fn dispatch(
        &self,
        query: &[u8],
        client: Client,
        tx: &mpsc::Sender<PooledBuf>,
        outstanding: &Arc<Semaphore>,
    ) -> Result<(), Close> {
        let mut out = self.buffers.get();
        match self.handler.handle(query, client, Instant::now(), &mut out) {
            Outcome::Reply => tx.send(out).await.map_err(|_| Close::WriterGone),
            Outcome::Drop => Ok(()),
            Outcome::Defer(deferred) => {
                // Waiting here is the back-pressure: no reads until a slot frees,
                // and every outstanding query finishes within its deadline.
                let slot = Arc::clone(outstanding)
                    .acquire_owned()
                    .await
                    .map_err(|_| Close::Shutdown)?;
                let handler = Arc::clone(&self.handler);
                let tx = tx.clone();
                self.tasks.spawn(async move {
                    handler.resolve(deferred, &mut out).await;
                    let _ = tx.send(out).await;
                    drop(slot);
                });
                Ok(())
            }
        }
    }
}

/// Writes answers until every sender (the reader and its deferred queries) is
/// gone, then closes the write side. Pipelined answers that are ready together
/// leave in one flush.
async fn write_answers(
    write: OwnedWriteHalf,
    mut rx: mpsc::Receiver<PooledBuf>,
    stall_timeout: Duration,
) {
    let mut w = BufWriter::new(write);
    while let Some(first) = rx.recv().await {
        let batch = async {
            write_frame(&mut w, &first).await?;
            while let Ok(next) = rx.try_recv() {
                write_frame(&mut w, &next).await?;
            }
            w.flush().await
        };
        match tokio::time::timeout(stall_timeout, batch).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "tcp write failed");
                return;
            }
            Err(_) => {
                tracing::debug!("tcp write stalled past the idle timeout");
                return;
            }
        }
    }
    let _ = tokio::time::timeout(stall_timeout, w.shutdown()).await;
}

async fn write_frame(w: &mut BufWriter<OwnedWriteHalf>, answer: &[u8]) -> std::io::Result<()> {
    if answer.is_empty() || answer.len() > MAX_MESSAGE {
        // Nothing to send, or a message TCP cannot frame: the pipeline limits TCP
        // answers to MAX_MESSAGE, so this is a bug upstream of us, not a reason
        // to break the connection.
        return Ok(());
    }
    let len = answer.len() as u16;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(answer).await
}
