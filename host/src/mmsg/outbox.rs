//! A bounded queue of datagrams for one socket, sent together by the socket's own
//! loop: one sendmmsg per scheduler turn instead of one send per datagram.
//!
//! Many tasks push (a resolve task its client answer, an exchange its upstream
//! query); one loop flushes (the listener's receive loop, the upstream socket's
//! receive task). Pushing never waits and never allocates: a full or closed
//! outbox hands the datagram back, and the pusher sends it itself.
//!
//! **When to flush.** The flushing loop waits on [`Outbox::ready`] beside its
//! socket's readiness; woken by the first push, it first yields
//! (`tokio::task::yield_now`), which tokio defers until the tasks already ready
//! have run, so everything pushed in the same turn goes in one send. The busy
//! listener also flushes before each receive, together with its inline answers.
//! The alternative, a flush task spawned by the first pusher into an empty
//! outbox, gathers the same turn's datagrams but allocates a task per flush
//! (per datagram at low load), and cannot share a send with the inline answers.
//! At low load the yield costs one extra scheduler pass (a zero-timeout
//! `epoll_wait` before the deferred loop resumes), microseconds, not a timer.

use std::future::poll_fn;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
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
        }
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
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::net::UdpSocket;

    /// A real socket that counts its sendmmsg calls that sent something, or
    /// refuses datagram `refuse`.
    struct Counting {
        socket: UdpSocket,
        sends: AtomicUsize,
        refuse: Option<usize>,
    }

    impl SendSocket for Counting {
        fn try_send(&self, batch: &mut SendBatch, from: usize) -> io::Result<usize> {
            let sent = match self.refuse {
                Some(r) if r == from => Err(io::ErrorKind::ConnectionRefused.into()),
                // Those before the refused one count as sent (not really sent).
                Some(r) if from < r => Ok(r - from),
                _ => SendSocket::try_send(&self.socket, batch, from),
            };
            if sent.is_ok() {
                self.sends.fetch_add(1, Ordering::Relaxed);
            }
            sent
        }

        fn writable(&self) -> impl std::future::Future<Output = io::Result<()>> {
            self.socket.writable()
        }
    }

    async fn counting(refuse: Option<usize>) -> Counting {
        Counting {
            socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            sends: AtomicUsize::new(0),
            refuse,
        }
    }

    fn entry(data: &[u8], to: SocketAddr, tag: u32) -> Entry<u32> {
        Entry {
            buf: PooledBuf::detached(data.to_vec()),
            to: Some(to.into()),
            tag,
        }
    }

    /// An outbox of `capacity` holding `tags` (each a one-byte datagram) for the
    /// client socket returned.
    async fn filled(capacity: usize, tags: &[u32]) -> (Outbox<u32>, UdpSocket) {
        let outbox = Outbox::new(capacity);
        let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = c.local_addr().unwrap();
        for &tag in tags {
            assert!(outbox.push(entry(&[tag as u8], to, tag)).is_ok());
        }
        (outbox, c)
    }

    async fn recv_all(c: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut b = [0u8; 64];
        for _ in 0..n {
            let got = tokio::time::timeout(Duration::from_secs(2), c.recv(&mut b));
            let len = got.await.expect("datagram in time").unwrap();
            out.push(b[..len].to_vec());
        }
        out
    }

    #[tokio::test]
    async fn pushes_of_one_turn_go_in_one_send_in_order() {
        let outbox = Arc::new(Outbox::<u32>::new(16));
        let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = c.local_addr().unwrap();
        // The flusher as the listener and the upstream socket run it: wait, yield, flush.
        let flusher = {
            let outbox = Arc::clone(&outbox);
            tokio::spawn(async move {
                let socket = counting(None).await;
                let (mut batch, mut scratch) = (SendBatch::new(16), outbox.scratch());
                outbox.ready().await;
                tokio::task::yield_now().await;
                outbox
                    .flush(&socket, &mut batch, &mut scratch, |_, _, _, _| panic!())
                    .await;
                (
                    socket.sends.load(Ordering::Relaxed),
                    batch.len(),
                    scratch.len(),
                )
            })
        };
        tokio::task::yield_now().await; // the flusher now waits
        let pushers: Vec<_> = (0..10u8)
            .map(|i| {
                let outbox = Arc::clone(&outbox);
                tokio::spawn(async move { outbox.push(entry(&[b'a' + i], to, 0)).is_ok() })
            })
            .collect();
        for p in pushers {
            assert!(p.await.unwrap());
        }
        assert_eq!(flusher.await.unwrap(), (1, 0, 0), "one send, all cleared");
        let got = recv_all(&c, 10).await;
        let want: Vec<Vec<u8>> = (0..10u8).map(|i| vec![b'a' + i]).collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn a_full_or_closed_outbox_hands_the_datagram_back() {
        let (outbox, c) = filled(2, &[1, 2]).await;
        let to = c.local_addr().unwrap();
        let back = outbox.push(entry(b"3", to, 3)).unwrap_err();
        assert_eq!(&back[..], b"3");
        outbox.close();
        assert!(outbox.push(entry(b"4", to, 4)).is_err(), "closed");
        // Closed, but what was queued still goes.
        let (mut batch, mut scratch) = (SendBatch::new(2), outbox.scratch());
        let socket = counting(None).await;
        let no_failure = |_: &SendBatch, _, _: Option<&Entry<u32>>, _: &io::Error| panic!();
        outbox
            .flush(&socket, &mut batch, &mut scratch, no_failure)
            .await;
        assert_eq!(recv_all(&c, 2).await, [vec![1], vec![2]]);
        assert!(outbox.lock().queue.is_empty() && scratch.is_empty());
    }

    #[tokio::test]
    async fn a_batch_too_small_fails_the_rest_rather_than_dropping_them() {
        let (outbox, c) = filled(3, &[1, 2, 3]).await;
        let (mut batch, mut scratch) = (SendBatch::new(2), outbox.scratch());
        let mut failed = Vec::new();
        let socket = counting(None).await;
        outbox
            .flush(&socket, &mut batch, &mut scratch, |_, _, e, _| {
                failed.push(e.map(|e| e.tag))
            })
            .await;
        assert_eq!(failed, [Some(3)]);
        assert_eq!(recv_all(&c, 2).await.len(), 2);
    }

    #[tokio::test]
    async fn a_refused_datagram_reaches_its_own_entry_after_the_inline_ones() {
        let (outbox, c) = filled(4, &[10, 11, 12]).await;
        let to = c.local_addr().unwrap();
        let inline = SockAddr::from(to);
        let mut batch = SendBatch::new(1 + outbox.capacity());
        // SAFETY: static data; `inline` outlives the flush.
        assert!(unsafe { batch.push(b"i", inline.as_ptr().cast(), inline.len()) });
        // Batch index 2 is the outbox's second entry, tag 11.
        let socket = counting(Some(2)).await;
        let mut scratch = outbox.scratch();
        let mut failed = Vec::new();
        outbox
            .flush(&socket, &mut batch, &mut scratch, |b, j, e, err| {
                failed.push((j, b.peer(j), e.map(|e| e.tag), err.kind()));
            })
            .await;
        assert_eq!(
            failed,
            [(2, Some(to), Some(11), io::ErrorKind::ConnectionRefused)]
        );
        assert_eq!(recv_all(&c, 1).await, [vec![12]]);
    }

    #[tokio::test]
    async fn ready_waits_for_a_push_and_wakes_on_it() {
        let outbox = Arc::new(Outbox::<u32>::new(2));
        let waiting = tokio::time::timeout(Duration::from_millis(10), outbox.ready());
        assert!(waiting.await.is_err(), "nothing queued");
        let pusher = Arc::clone(&outbox);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let to = "127.0.0.1:9".parse().unwrap();
            assert!(pusher.push(entry(b"x", to, 0)).is_ok());
        });
        let woken = tokio::time::timeout(Duration::from_secs(2), outbox.ready());
        woken.await.expect("woken by the push");
    }
}
