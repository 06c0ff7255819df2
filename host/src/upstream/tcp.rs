//! One reused, pipelined DNS-over-TCP connection to an upstream (RFC 7766 §6.2.1):
//! queries go out back to back under distinct IDs, answers come back in any order and
//! are matched through the connection's pending map. A writer task owns the sending
//! half (a cancelled query can never leave half a frame on the wire), a reader task
//! the receiving half; when either ends, every query still waiting fails at once.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

use super::error::AttemptError;
use super::pending::{Delivery, PendingMap, Registration};
use super::wire::{self, Outgoing, HEADER};
use crate::metrics::Metrics;

/// How waiters learn that the connection went away under them (EOF, reset, idle
/// close, shutdown): the query never got an answer and is worth one more try on a
/// fresh connection.
pub(crate) const CLOSED: io::ErrorKind = io::ErrorKind::ConnectionAborted;
/// Room asked for per read: a few answers at a time, or most of a large one.
const READ_CHUNK: usize = 16 * 1024;

pub(crate) struct TcpConn {
    pending: Arc<PendingMap>,
    frames: UnboundedSender<Box<[u8]>>,
    /// Cancelled when the connection is dead; checked before it is reused.
    closed: CancellationToken,
}

/// What the reader task needs besides the stream.
struct Reader {
    pending: Arc<PendingMap>,
    closed: CancellationToken,
    idle: Duration,
    label: Arc<str>,
    metrics: Arc<Metrics>,
}

impl TcpConn {
    /// Connects to `peer` and starts the connection's tasks. It closes itself after
    /// `idle` with nothing pending, or when `shutdown` is cancelled.
    pub(crate) async fn connect(
        peer: SocketAddr,
        idle: Duration,
        label: Arc<str>,
        metrics: Arc<Metrics>,
        shutdown: &CancellationToken,
    ) -> io::Result<Arc<TcpConn>> {
        let stream = TcpStream::connect(peer).await?;
        // Each frame is one write: no small segment held back by Nagle.
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        let (frames, outbox) = mpsc::unbounded_channel();
        let closed = shutdown.child_token();
        let pending = Arc::new(PendingMap::default());
        tokio::spawn(write_frames(write, outbox, closed.clone()));
        let reader = Reader {
            pending: Arc::clone(&pending),
            closed: closed.clone(),
            idle,
            label,
            metrics,
        };
        tokio::spawn(reader.run(read));
        Ok(Arc::new(TcpConn {
            pending,
            frames,
            closed,
        }))
    }

    pub(crate) fn is_open(&self) -> bool {
        !self.closed.is_cancelled()
    }

    /// Sends `query` as `attempt` under a fresh ID; the answer, or [`CLOSED`] if the
    /// connection dies first, goes to `mailbox` while the registration lives.
    pub(crate) fn send(
        &self,
        query: &mut Outgoing,
        attempt: usize,
        mailbox: &UnboundedSender<Delivery>,
    ) -> Result<Registration<'static>, AttemptError> {
        let registration = self
            .pending
            .register_shared(query.opcode(), query.question(), attempt, mailbox)
            .ok_or_else(|| AttemptError::io(io::ErrorKind::ResourceBusy.into()))?;
        // Registered before this check, so a reader closing from here on fails it.
        if !self.is_open() {
            return Err(AttemptError::io(CLOSED.into()));
        }
        query.set_id(registration.id());
        self.frames
            .send(query.framed().into())
            .map_err(|_| AttemptError::io(CLOSED.into()))?;
        Ok(registration)
    }

    /// Queries waiting for an answer here.
    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// The first complete length-prefixed message in `buf`, if there is one.
fn next_frame(buf: &[u8]) -> Option<&[u8]> {
    let (prefix, rest) = buf.split_first_chunk::<2>()?;
    rest.get(..usize::from(u16::from_be_bytes(*prefix)))
}

async fn write_frames(
    mut write: OwnedWriteHalf,
    mut outbox: UnboundedReceiver<Box<[u8]>>,
    closed: CancellationToken,
) {
    loop {
        let frame = tokio::select! {
            () = closed.cancelled() => break,
            frame = outbox.recv() => frame,
        };
        let Some(frame) = frame else { break };
        // Not raced against `closed`: a frame is written whole or the connection dies.
        if write.write_all(&frame).await.is_err() {
            break;
        }
    }
    closed.cancel();
    let _ = write.shutdown().await;
}

impl Reader {
    async fn run(self, mut read: OwnedReadHalf) {
        let why = self.read_answers(&mut read).await;
        // Cancel before failing the waiters: a sender that registers after fail_all
        // then sees the connection closed.
        self.closed.cancel();
        self.pending.fail_all(CLOSED);
        if let Err(e) = why {
            tracing::debug!(upstream = %self.label, error = %e, "upstream TCP connection lost");
        }
    }

    /// Reads answers until EOF, an error, a close, or `idle` with nothing pending.
    /// Reads are raced against idle and close, so they go through a buffer
    /// (`read_buf` is cancel-safe) rather than `read_exact`.
    async fn read_answers(&self, read: &mut OwnedReadHalf) -> io::Result<()> {
        let mut buf = Vec::with_capacity(READ_CHUNK);
        loop {
            let mut at = 0;
            while let Some(frame) = next_frame(&buf[at..]) {
                self.dispatch(frame);
                at += 2 + frame.len();
            }
            buf.drain(..at);
            buf.reserve(READ_CHUNK);
            let read = tokio::select! {
                () = self.closed.cancelled() => return Ok(()),
                read = tokio::time::timeout(self.idle, read.read_buf(&mut buf)) => read,
            };
            match read {
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                // Quiet with queries outstanding: their deadlines decide, not idleness.
                Err(_) if self.pending.len() > 0 => {}
                Err(_) => return Ok(()),
            }
        }
    }

    fn dispatch(&self, message: &[u8]) {
        if message.len() < HEADER {
            return self.reject(wire::Reject::Garbage);
        }
        let id = match wire::response_id(message) {
            Ok(id) => id,
            Err(why) => return self.reject(why),
        };
        // Unknown IDs are usually answers to queries that gave up already.
        if !self.pending.deliver(id, message) {
            self.reject(wire::Reject::Mismatch);
        }
    }

    fn reject(&self, why: wire::Reject) {
        self.metrics.record_upstream_error(&self.label, why.label());
    }
}
