//! One upstream's TCP connections: a fixed number of slots, each holding at most one
//! pipelined connection, opened when first needed and again after it closed (the
//! upstream timing it out, an error, our own idle close).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::error::AttemptError;
use super::pending::{Delivery, Outcome, Registration};
use super::tcp::{TcpConn, CLOSED};
use super::wire::Outgoing;
use crate::metrics::Metrics;

pub(crate) struct TcpPool {
    peer: SocketAddr,
    /// Locked across a connect, so queries arriving meanwhile share that connection
    /// rather than each opening one.
    slots: Box<[Mutex<Option<Arc<TcpConn>>>]>,
    next: AtomicUsize,
    idle: Duration,
    label: Arc<str>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
}

impl TcpPool {
    /// Up to `connections` (at least one) connections to `peer`, none opened yet.
    pub(crate) fn new(
        peer: SocketAddr,
        connections: usize,
        idle: Duration,
        label: Arc<str>,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> TcpPool {
        TcpPool {
            peer,
            slots: (0..connections.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            idle,
            label,
            metrics,
            shutdown,
        }
    }

    /// Sends `query` as `attempt` on the next slot's connection, opening it if need
    /// be; the outcome goes to `mailbox`. Unbounded in time: the caller bounds it.
    pub(crate) async fn send(
        &self,
        query: &mut Outgoing,
        attempt: usize,
        mailbox: &UnboundedSender<Delivery>,
    ) -> Result<Registration<'static>, AttemptError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = &self.slots[n % self.slots.len()];
        // A connection found open may close before the query is written; once more on
        // a fresh one, then the caller's retry logic takes over.
        for _ in 0..2 {
            let conn = self.open(slot).await?;
            match conn.send(query, attempt, mailbox) {
                Err(AttemptError::Failed { source, .. }) if source.kind() == CLOSED => continue,
                sent => return sent,
            }
        }
        Err(AttemptError::io(CLOSED.into()))
    }

    /// Sends `query` and waits for its answer, once more on a fresh connection if the
    /// one it went out on closed before answering.
    pub(crate) async fn exchange(&self, query: &mut Outgoing) -> Result<Vec<u8>, AttemptError> {
        let (mailbox, mut inbox) = mpsc::unbounded_channel();
        let mut kind = CLOSED;
        for _ in 0..2 {
            let _registration = self.send(query, 0, &mailbox).await?;
            match inbox.recv().await.map(|d| d.outcome) {
                Some(Outcome::Answer(answer)) => return Ok(answer),
                Some(Outcome::Failed(k)) if k == CLOSED => kind = k,
                Some(Outcome::Failed(k)) => return Err(AttemptError::io(k.into())),
                // Cannot happen while `mailbox` lives; treated as a lost connection.
                None => {}
            }
        }
        Err(AttemptError::io(kind.into()))
    }

    /// Queries waiting on any of the connections (a slot busy connecting has none).
    pub(crate) fn pending(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|s| s.try_lock().ok()?.as_ref().map(|c| c.pending()))
            .sum()
    }

    async fn open(&self, slot: &Mutex<Option<Arc<TcpConn>>>) -> Result<Arc<TcpConn>, AttemptError> {
        let mut held = slot.lock().await;
        if let Some(conn) = held.as_ref().filter(|c| c.is_open()) {
            return Ok(Arc::clone(conn));
        }
        // The old connection, if any, is dead: dropping it lets its tasks go.
        *held = None;
        let conn = TcpConn::connect(
            self.peer,
            self.idle,
            Arc::clone(&self.label),
            Arc::clone(&self.metrics),
            &self.shutdown,
        )
        .await
        .map_err(AttemptError::io)?;
        *held = Some(Arc::clone(&conn));
        Ok(conn)
    }
}
