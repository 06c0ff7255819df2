//! Where the receive tasks leave the outcomes of one exchange's attempts, and where
//! the exchange waits for them.
//!
//! A tokio mpsc channel did this before; it allocates a 32-slot block per channel and
//! goes through its semaphore and list machinery for what is, on the miss path, one
//! message per exchange. This is a mutex around a short queue and one waker; the
//! first delivery waiting sits inline, so the usual single answer allocates no
//! queue (a `VecDeque`'s first push was a malloc and a free per miss).

use std::future::poll_fn;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use smallvec::SmallVec;

use super::pending::Delivery;

/// One exchange's mailbox: many posters (receive tasks), one reader (the exchange).
#[derive(Default)]
pub(crate) struct Mailbox {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Oldest first. Never more than one per attempt: a waiter leaves the pending
    /// map when delivered, so the queue stays a few long and taking from its front
    /// costs nothing worth a deque.
    queue: SmallVec<[Delivery; 1]>,
    waker: Option<Waker>,
}

/// The oldest delivery in `queue`, if any.
fn pop(queue: &mut SmallVec<[Delivery; 1]>) -> Option<Delivery> {
    (!queue.is_empty()).then(|| queue.remove(0))
}

impl Mailbox {
    /// Leaves `delivery` and wakes the reader. The waker is called outside the lock.
    pub(crate) fn post(&self, delivery: Delivery) {
        let waker = {
            let mut state = self.lock();
            state.queue.push(delivery);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The next delivery, in the order posted.
    pub(crate) async fn next(&self) -> Delivery {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Delivery> {
        let mut state = self.lock();
        if let Some(delivery) = pop(&mut state.queue) {
            return Poll::Ready(delivery);
        }
        match &mut state.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next delivery if one is there, without waiting.
    #[cfg(test)]
    pub(crate) fn try_take(&self) -> Option<Delivery> {
        pop(&mut self.lock().queue)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics under this lock; a poisoned queue is still a valid queue.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::pending::Outcome;
    use std::io;
    use std::sync::Arc;
    use std::time::Duration;

    fn failed(attempt: usize) -> Delivery {
        Delivery {
            attempt,
            outcome: Outcome::Failed(io::ErrorKind::ConnectionRefused),
        }
    }

    #[tokio::test]
    async fn deliveries_come_out_in_order() {
        let mailbox = Mailbox::default();
        mailbox.post(failed(3));
        mailbox.post(failed(1));
        assert_eq!(mailbox.next().await.attempt, 3);
        assert_eq!(mailbox.next().await.attempt, 1);
        let none = tokio::time::timeout(Duration::from_millis(20), mailbox.next()).await;
        assert!(none.is_err(), "an empty mailbox must wait");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_post_from_another_thread_wakes_the_reader() {
        let mailbox = Arc::new(Mailbox::default());
        let poster = Arc::clone(&mailbox);
        let post = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            poster.post(failed(9));
        });
        let got = tokio::time::timeout(Duration::from_secs(2), mailbox.next()).await;
        assert_eq!(got.expect("woken").attempt, 9);
        post.await.unwrap();
    }

    #[test]
    fn the_queue_stays_in_order_across_pushes_and_pops() {
        let mailbox = Mailbox::default();
        mailbox.post(failed(1));
        mailbox.post(failed(2));
        assert_eq!(mailbox.try_take().map(|d| d.attempt), Some(1));
        mailbox.post(failed(3));
        mailbox.post(failed(4));
        assert_eq!(mailbox.try_take().map(|d| d.attempt), Some(2));
        assert_eq!(mailbox.try_take().map(|d| d.attempt), Some(3));
        mailbox.post(failed(5));
        for want in [4, 5] {
            assert_eq!(mailbox.try_take().map(|d| d.attempt), Some(want));
        }
        assert!(mailbox.try_take().is_none());
        mailbox.post(failed(6));
        assert_eq!(mailbox.try_take().map(|d| d.attempt), Some(6));
    }

    #[test]
    fn one_delivery_allocates_no_queue() {
        let mailbox = Mailbox::default();
        mailbox.post(failed(0));
        assert!(!mailbox.lock().queue.spilled());
        assert_eq!(mailbox.try_take().map(|d| d.attempt), Some(0));
    }

    #[tokio::test]
    async fn a_cancelled_wait_loses_nothing() {
        let mailbox = Mailbox::default();
        let gave_up = tokio::time::timeout(Duration::from_millis(5), mailbox.next()).await;
        assert!(gave_up.is_err());
        mailbox.post(failed(2));
        assert_eq!(mailbox.next().await.attempt, 2);
    }
}
