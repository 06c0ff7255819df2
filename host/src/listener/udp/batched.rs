//! The Linux receive loop: one recvmmsg per wakeup, every answer ready out in one sendmmsg.
//!
//! Per batch, not per packet: one shutdown check, one clock read (the batch's
//! receive time), one cooperative-budget tick. Each datagram goes through the
//! synchronous [`Handler::handle`]; replies are queued in the [`Batch`] and
//! flushed before the next receive together with the deferred answers the
//! resolve tasks left in the socket's outbox ([`crate::mmsg::Outbox`]); misses
//! are spawned exactly as in the portable loop. While the socket has nothing to
//! read the loop also waits on the outbox: woken by a deferred answer, it yields
//! for the rest of the scheduler turn, then sends all the turn's answers at once.
//! A short send is resumed where it stopped, EAGAIN waits for writability, and
//! an answer the kernel refuses is counted (`udp_send_errors`) and skipped: an
//! answer that is ready is never dropped silently.
//!
//! Measured (27 Nov, 04:54–04:57, shared harness, proxy pinned to CPU 1, no
//! plugins, W1 blast 5 s, `/tmp/udp-ab.sh` = `peers.sh custom` with
//! `GEN=blast WORKLOADS=W1 DURATION=5`): the machine was saturated by other
//! builds (1.6–1.8 other cores busy, the proxy got 0.1–0.23 of a core), so
//! only the per-core figure means anything, and little: before (per-packet
//! loop, multi-thread runtime) 147 kQPS/proxy-core; this loop 133 with the
//! multi-thread runtime, 137 with a current-thread one. Within noise: redo
//! on a quiet machine before drawing conclusions (or choosing a runtime).

use std::io;
use std::time::Instant;

use tokio::io::Interest;
use tokio_util::sync::CancellationToken;

use super::batch::Batch;
use super::UdpListener;
use crate::listener::{Handler, Outcome};
use crate::metrics::{Dropped, Proto};
use crate::mmsg::{Entry, SendBatch};
use crate::pipeline::Client;

/// Datagrams per recvmmsg. The load generator keeps a few hundred queries in
/// flight, so under load a wakeup finds dozens waiting; 32 already takes the
/// per-syscall cost below the per-datagram one.
const BATCH: usize = 32;

/// Deferred answers waiting for the loop's next send, per socket. A miss burst
/// answers a few dozen per scheduler turn; past this the resolve tasks send
/// their own (one `send_to` each), so a stalled loop costs speed, not answers.
pub(super) const OUTBOX: usize = 128;

impl<H: Handler> UdpListener<H> {
    pub(super) async fn run_batched(self, shutdown: CancellationToken) {
        let mut batch = Batch::new(BATCH, self.shared.buffers.buf_capacity(), OUTBOX);
        let mut scratch = self.outbox.scratch();
        while !shutdown.is_cancelled() {
            // Skips the syscall while tokio knows the socket is drained; a short
            // batch counts as drained (the socket is unconnected: no ICMP error
            // can be what cut it short).
            match self
                .socket
                .recv_batch(Interest::READABLE, BATCH, false, |fd| batch.recv(fd))
            {
                Ok(0) => {
                    let ready = tokio::select! {
                        biased;
                        _ = shutdown.cancelled() => break,
                        () = self.outbox.ready() => {
                            if self.outbox.worth_waiting() {
                                // Let the rest of this turn's resolve tasks queue theirs.
                                tokio::task::yield_now().await;
                            }
                            self.flush(batch.sends(), &mut scratch).await;
                            continue;
                        }
                        r = self.socket.ready(Interest::READABLE) => r.map(drop),
                    };
                    if let Err(e) = ready {
                        tracing::debug!(error = %e, "udp socket not readable");
                        tokio::task::yield_now().await;
                    }
                }
                Ok(received) => {
                    self.answer(&mut batch, received);
                    self.flush(batch.sends(), &mut scratch).await;
                    // Back to back full batches never wait on the socket: let
                    // this worker's other tasks (deferred answers) run now and then.
                    tokio::task::coop::consume_budget().await;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "udp receive failed");
                    // A persistent error must not starve the other tasks of this worker.
                    tokio::task::yield_now().await;
                }
            }
        }
        // Resolve tasks still running send their own answers from now on.
        self.outbox.close();
        self.flush(batch.sends(), &mut scratch).await;
    }

    /// Sends the inline answers in `sends` and every deferred one queued, together.
    async fn flush(&self, sends: &mut SendBatch, scratch: &mut Vec<Entry<()>>) {
        let errors = &self.shared.metrics.udp_send_errors;
        let failed = |b: &SendBatch, j, e: Option<&Entry<()>>, err: &io::Error| {
            errors.inc();
            let client = b.peer(j).or_else(|| e?.to.as_ref()?.as_socket());
            tracing::debug!(client = ?client, error = %err, "udp send failed");
        };
        self.outbox
            .flush(&*self.socket, sends, scratch, failed)
            .await;
    }

    /// Runs the handler on the `n` datagrams just received; queues inline answers.
    fn answer(&self, batch: &mut Batch, n: usize) {
        let received = Instant::now();
        for i in 0..n {
            let (datagram, out) = batch.datagram(i);
            let Some(peer) = datagram.peer else { continue };
            if datagram.truncated {
                // Bigger than any query we accept: its tail is gone, so is any answer.
                self.shared.metrics.record_dropped(Dropped::Unreadable);
                tracing::debug!(client = %peer, "truncated udp datagram dropped");
                continue;
            }
            let client = Client {
                addr: peer,
                proto: Proto::Udp,
            };
            match self.handler.handle(datagram.packet, client, received, out) {
                Outcome::Reply if !out.is_empty() => batch.queue(i),
                Outcome::Reply | Outcome::Drop => {}
                Outcome::Defer(deferred) => self.spawn_resolve(deferred, peer),
            }
        }
    }
}
