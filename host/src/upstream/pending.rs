//! Queries waiting on one socket, by ID: registered by the sender, claimed by the
//! socket's receive task, removed by a guard if the sender gives up first.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use super::wire;

/// Most queries outstanding on one socket. Well below 65536 so a fresh random ID is
/// found in a try or two and IDs stay hard to guess.
pub(crate) const MAX_PENDING: usize = 8192;

/// What the receive task hands a waiter.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// A response that passed every check.
    Answer(Vec<u8>),
    /// The socket reported an error (e.g. ICMP port unreachable); it cannot say for
    /// which query, so every waiter on the socket gets it.
    Failed(io::ErrorKind),
}

struct Waiter {
    /// Tells this registration from a later one that reused the ID.
    ticket: u64,
    opcode: u8,
    question: Arc<[u8]>,
    tx: oneshot::Sender<Delivery>,
}

#[derive(Default)]
struct Inner {
    waiters: HashMap<u16, Waiter>,
    tickets: u64,
}

/// The pending queries of one socket.
#[derive(Default)]
pub(crate) struct PendingMap {
    inner: Mutex<Inner>,
}

impl PendingMap {
    /// Reserves a random ID not in use on this socket; `None` when the socket is full.
    pub(crate) fn register(
        &self,
        opcode: u8,
        question: &Arc<[u8]>,
    ) -> Option<(Registration<'_>, oneshot::Receiver<Delivery>)> {
        let (tx, rx) = oneshot::channel();
        let mut inner = self.lock();
        if inner.waiters.len() >= MAX_PENDING {
            return None;
        }
        let id = loop {
            let id = rand::random::<u16>();
            if !inner.waiters.contains_key(&id) {
                break id;
            }
        };
        inner.tickets += 1;
        let ticket = inner.tickets;
        let waiter = Waiter {
            ticket,
            opcode,
            question: Arc::clone(question),
            tx,
        };
        inner.waiters.insert(id, waiter);
        drop(inner);
        let registration = Registration {
            map: self,
            id,
            ticket,
        };
        Some((registration, rx))
    }

    /// Takes the waiter for `response` if its ID is pending and the response answers
    /// that query; otherwise leaves the map alone (the real answer may still come).
    pub(crate) fn claim(&self, id: u16, response: &[u8]) -> Option<oneshot::Sender<Delivery>> {
        let mut inner = self.lock();
        let waiter = inner.waiters.get(&id)?;
        if !wire::answers(response, waiter.opcode, &waiter.question) {
            return None;
        }
        inner.waiters.remove(&id).map(|w| w.tx)
    }

    /// Fails every waiter with `kind`.
    pub(crate) fn fail_all(&self, kind: io::ErrorKind) {
        let waiters = std::mem::take(&mut self.lock().waiters);
        for (_, waiter) in waiters {
            let _ = waiter.tx.send(Delivery::Failed(kind));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().waiters.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock; if something ever did, the map is
        // still consistent, so carry on rather than take the proxy down.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A reserved ID; dropping it (answer, timeout or cancelled future) frees the ID.
pub(crate) struct Registration<'a> {
    map: &'a PendingMap,
    id: u16,
    ticket: u64,
}

impl Registration<'_> {
    pub(crate) fn id(&self) -> u16 {
        self.id
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut inner = self.map.lock();
        if inner
            .waiters
            .get(&self.id)
            .is_some_and(|w| w.ticket == self.ticket)
        {
            inner.waiters.remove(&self.id);
        }
    }
}
