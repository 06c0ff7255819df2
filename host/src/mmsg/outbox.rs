//! A bounded queue of datagrams for one socket, sent together by the socket's own
//! loop: one sendmmsg per scheduler turn instead of one send per datagram.
//!
//! Many tasks push (a resolve task its client answer, an exchange its upstream
//! query); one loop flushes (the listener's receive loop, the upstream socket's
//! receive task). Pushing never waits and never allocates: a full or closed
//! outbox hands the datagram back, and the pusher sends it itself.
//!
//! **When to flush.** The flushing loop waits on [`Outbox::ready`] beside its
//! socket's readiness. Woken by a push while more datagrams are on their way
//! (resolve tasks announced with [`Outbox::expect`]; for upstream queries, other
//! queries pending on the socket), it first yields (`tokio::task::yield_now`),
//! which tokio defers until the tasks already ready have run, so everything
//! pushed in the same turn goes in one send; with nothing else coming (low load)
//! it sends at once. The busy listener also flushes before each receive,
//! together with its inline answers. The alternative, a flush task spawned by
//! the first pusher into an empty outbox, gathers the same turn's datagrams but
//! allocates a task per flush (per datagram at low load), and cannot share a
//! send with the inline answers.
//!
//! Measured 27 Nov 10:05–10:25 (W2: 200k distinct names, all misses, NSD
//! upstream, blast `-c 8 -q 128 -b 32` for 2 s, proxy pinned to one core;
//! `benches/miss_profile.sh`, 16 back-to-back pairs against main, machine shared
//! with other builds, so single runs vary ±15%): 0.11–0.15 sendmmsg per query
//! (about 15 datagrams each) instead of 1.95 sendto; proxy CPU per miss ~10%
//! lower (median ratio 0.89–0.91, lower in 13 of 16 pairs). The kernel's
//! per-datagram loopback work (delivery to the peer's socket, its wakeup) stays
//! in the sender's syscall and was most of `sendto`'s 41%: batching removes the
//! syscalls, not that. Yielding unconditionally added ~20 µs to the minimum
//! latency at 2k QPS (two extra scheduler passes, an `epoll_wait` each, per
//! miss), hence the low-load shortcut; with it, no difference was measurable.

use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use socket2::SockAddr;

use super::send::{flush, SendBatch, SendSocket};
use crate::buffer::PooledBuf;

/// One queued datagram: its bytes, where it goes, and whom to tell if it fails.
pub(crate) struct Entry<T> {
    pub(crate) buf: PooledBuf,
    /// `None`: the socket's connected peer.
    pub(crate) to: Option<SockAddr>,
    pub(crate) tag: T,
}

pub(crate) struct Outbox<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    /// Datagrams announced with [`Outbox::expect`] and not yet pushed.
    expected: AtomicUsize,
}

/// A datagram on its way to an outbox (a resolve task running); dropping it
/// without pushing (no answer) withdraws it.
pub(crate) struct Expected<T>(Arc<Outbox<T>>);

impl<T> Expected<T> {
    /// [`Outbox::push`], then no longer expected.
    pub(crate) fn push(self, entry: Entry<T>) -> Result<(), PooledBuf> {
        self.0.push(entry)
    }
}

impl<T> Drop for Expected<T> {
    fn drop(&mut self) {
        self.0.expected.fetch_sub(1, Ordering::Relaxed);
    }
}

struct State<T> {
    /// Allocated once at `capacity`; swapped with the flusher's, never grown.
    queue: Vec<Entry<T>>,
    /// The flusher, while it waits for something to send.
    waker: Option<Waker>,
    /// The flusher is gone: pushes are refused.
    closed: bool,
}

impl<T> Outbox<T> {
    /// At most `capacity` datagrams wait between two flushes.
    pub(crate) fn new(capacity: usize) -> Outbox<T> {
        let capacity = capacity.max(1);
        Outbox {
            state: Mutex::new(State {
                queue: Vec::with_capacity(capacity),
                waker: None,
                closed: false,
            }),
            capacity,
            expected: AtomicUsize::new(0),
        }
    }

    /// Announces a datagram that a task will push later. While any is announced
    /// a flusher waits out the turn ([`Outbox::worth_waiting`]).
    pub(crate) fn expect(self: &Arc<Self>) -> Expected<T> {
        self.expected.fetch_add(1, Ordering::Relaxed);
        Expected(Arc::clone(self))
    }

    /// Whether a flusher woken by a push should yield first, to gather more: yes
    /// while announced datagrams are still to come. At low load nothing else is
    /// coming, and flushing at once saves the yield's extra scheduler pass.
    pub(crate) fn worth_waiting(&self) -> bool {
        self.expected.load(Ordering::Relaxed) > 0
    }

    /// Datagrams queued now.
    pub(crate) fn len(&self) -> usize {
        self.lock().queue.len()
    }

    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// A scratch queue for [`Outbox::flush`], allocated once by the flusher.
    pub(crate) fn scratch(&self) -> Vec<Entry<T>> {
        Vec::with_capacity(self.capacity)
    }

    /// Queues `entry`, waking the flusher if it waits; hands its buffer back when
    /// the outbox is full or closed.
    pub(crate) fn push(&self, entry: Entry<T>) -> Result<(), PooledBuf> {
        let waker = {
            let mut state = self.lock();
            if state.closed || state.queue.len() >= self.capacity {
                return Err(entry.buf);
            }
            state.queue.push(entry);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Resolves once something is queued.
    pub(crate) async fn ready(&self) {
        poll_fn(|cx| {
            let mut state = self.lock();
            if !state.queue.is_empty() {
                return Poll::Ready(());
            }
            match &mut state.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await;
    }

    /// Refuses further pushes; what is queued is still there for a last flush.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
    }

    /// Sends everything queued after what `batch` already holds, in one sendmmsg
    /// when the socket takes it. `failed` hears of every datagram refused, by its
    /// index in `batch` and, for the outbox's own, its entry. `scratch` (from
    /// [`Outbox::scratch`], empty) takes the entries for the send's duration; the
    /// batch and scratch are left empty, the entries' buffers back in their pool.
    pub(crate) async fn flush(
        &self,
        socket: &impl SendSocket,
        batch: &mut SendBatch,
        scratch: &mut Vec<Entry<T>>,
        mut failed: impl FnMut(&SendBatch, usize, Option<&Entry<T>>, &io::Error),
    ) {
        let before = batch.len();
        {
            let mut state = self.lock();
            if scratch.is_empty() && scratch.capacity() >= self.capacity {
                std::mem::swap(&mut state.queue, scratch);
            } else {
                // Misuse (a scratch not from `scratch()`): correct, just not free.
                scratch.append(&mut state.queue);
            }
        }
        let mut unsent = scratch.len();
        for entry in scratch.iter() {
            let (name, namelen) = match &entry.to {
                Some(to) => (to.as_ptr().cast(), to.len()),
                None => (std::ptr::null(), 0),
            };
            // SAFETY: `scratch` is not touched until the batch is cleared below,
            // so each entry's buffer and address stay where they are.
            if !unsafe { batch.push(&entry.buf, name, namelen) } {
                break;
            }
            unsent -= 1;
        }
        flush(socket, batch, |b, j, e| {
            failed(b, j, j.checked_sub(before).map(|k| &scratch[k]), e)
        })
        .await;
        batch.clear();
        // A batch too small for the outbox (never, as sized by its users): those
        // left out are failed, not lost silently.
        let full = io::Error::from(io::ErrorKind::OutOfMemory);
        for entry in &scratch[scratch.len() - unsent..] {
            failed(batch, usize::MAX, Some(entry), &full);
        }
        scratch.clear();
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics under this lock; a poisoned queue is still a valid queue.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
