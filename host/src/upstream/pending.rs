//! Queries waiting on one socket, by ID: registered by the sender, claimed by the
//! socket's receive task, removed by a guard if the sender gives up first.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::mailbox::Mailbox;
use super::wire;

/// Most queries outstanding on one socket. Well below 65536 so a fresh random ID is
/// found in a try or two and IDs stay hard to guess.
pub(crate) const MAX_PENDING: usize = 8192;

/// What the receive task hands an exchange, for one of its attempts.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// The attempt's index within its exchange.
    pub(crate) attempt: usize,
    pub(crate) outcome: Outcome,
}

#[derive(Debug)]
pub(crate) enum Outcome {
    /// A response that passed every check, in the one allocation it is shared from
    /// (coalesced waiters, the pipeline) until it is cached.
    Answer(Arc<[u8]>),
    /// The socket reported an error (e.g. ICMP port unreachable); it cannot say for
    /// which query, so every waiter on the socket gets it.
    Failed(io::ErrorKind),
}

struct Waiter {
    /// Tells this registration from a later one that reused the ID.
    ticket: u64,
    opcode: u8,
    question: Arc<[u8]>,
    attempt: usize,
    /// Shared by all attempts of one exchange, so an answer to any of them ends it.
    /// Never holds more than one message per attempt: a waiter is removed when it is
    /// delivered to.
    mailbox: Arc<Mailbox>,
}

impl Waiter {
    /// Hands `outcome` to the waiting attempt (outside the map's lock).
    fn post(self, outcome: Outcome) {
        self.mailbox.post(Delivery {
            attempt: self.attempt,
            outcome,
        });
    }
}

/// Hashes a query ID. IDs are drawn at random, so SipHash's protection buys nothing
/// here; a Fibonacci multiply spreads the 16 bits over the high bits the table's
/// control bytes are taken from.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u16(&mut self, id: u16) {
        self.0 = u64::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[derive(Default)]
struct Inner {
    waiters: HashMap<u16, Waiter, BuildHasherDefault<IdHasher>>,
    tickets: u64,
}

/// The pending queries of one socket.
#[derive(Default)]
pub(crate) struct PendingMap {
    inner: Mutex<Inner>,
}

impl PendingMap {
    /// Reserves a random ID not in use on this socket for `attempt`, whose outcome goes
    /// to `mailbox`; `None` when the socket is full.
    pub(crate) fn register(
        &self,
        opcode: u8,
        question: &Arc<[u8]>,
        attempt: usize,
        mailbox: &Arc<Mailbox>,
    ) -> Option<Registration<'_>> {
        let (id, ticket) = self.reserve(opcode, question, attempt, mailbox)?;
        Some(Registration {
            map: MapRef::Borrowed(self),
            id,
            ticket,
        })
    }

    /// As [`register`](Self::register), for a map that may outlive its owner's borrow
    /// (a TCP connection replaced while its queries still wait).
    pub(crate) fn register_shared(
        self: &Arc<Self>,
        opcode: u8,
        question: &Arc<[u8]>,
        attempt: usize,
        mailbox: &Arc<Mailbox>,
    ) -> Option<Registration<'static>> {
        let (id, ticket) = self.reserve(opcode, question, attempt, mailbox)?;
        Some(Registration {
            map: MapRef::Shared(Arc::clone(self)),
            id,
            ticket,
        })
    }

    fn reserve(
        &self,
        opcode: u8,
        question: &Arc<[u8]>,
        attempt: usize,
        mailbox: &Arc<Mailbox>,
    ) -> Option<(u16, u64)> {
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
            attempt,
            mailbox: Arc::clone(mailbox),
        };
        inner.waiters.insert(id, waiter);
        Some((id, ticket))
    }

    /// Frees `id` if it is still held by the registration with `ticket`.
    fn release(&self, id: u16, ticket: u64) {
        let mut inner = self.lock();
        if inner.waiters.get(&id).is_some_and(|w| w.ticket == ticket) {
            inner.waiters.remove(&id);
        }
    }

    /// Hands `response` to the waiter of its ID if it answers that query; otherwise
    /// leaves the map alone (the real answer may still come) and returns false.
    pub(crate) fn deliver(&self, id: u16, response: &[u8]) -> bool {
        let Some(waiter) = self.take(id, |w| wire::answers(response, w.opcode, &w.question)) else {
            return false;
        };
        // The copy is made outside the lock. The exchange may have just ended; then
        // nobody reads the mailbox, which is fine.
        waiter.post(Outcome::Answer(Arc::from(response)));
        true
    }

    /// Fails the waiter of `id` with `kind`, if it is still the registration with
    /// `ticket` (its query could not be sent).
    #[cfg(target_os = "linux")]
    pub(crate) fn fail(&self, id: u16, ticket: u64, kind: io::ErrorKind) {
        if let Some(waiter) = self.take(id, |w| w.ticket == ticket) {
            waiter.post(Outcome::Failed(kind));
        }
    }

    /// Fails every waiter with `kind`.
    pub(crate) fn fail_all(&self, kind: io::ErrorKind) {
        let waiters = std::mem::take(&mut self.lock().waiters);
        for (_, waiter) in waiters {
            waiter.post(Outcome::Failed(kind));
        }
    }

    /// Removes and returns the waiter of `id` when `claims` says the outcome is its.
    fn take(&self, id: u16, claims: impl FnOnce(&Waiter) -> bool) -> Option<Waiter> {
        let mut inner = self.lock();
        match inner.waiters.get(&id) {
            Some(w) if claims(w) => inner.waiters.remove(&id),
            _ => None,
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

/// The map a registration lives in: borrowed from a socket the pool owns, or shared
/// with a TCP connection that may be replaced.
enum MapRef<'a> {
    Borrowed(&'a PendingMap),
    Shared(Arc<PendingMap>),
}

/// A reserved ID; dropping it (exchange over or cancelled) frees the ID.
pub(crate) struct Registration<'a> {
    map: MapRef<'a>,
    id: u16,
    ticket: u64,
}

impl Registration<'_> {
    pub(crate) fn id(&self) -> u16 {
        self.id
    }

    /// Tells this registration from a later one of the same ID.
    #[cfg(target_os = "linux")]
    pub(crate) fn ticket(&self) -> u64 {
        self.ticket
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let map = match &self.map {
            MapRef::Borrowed(map) => map,
            MapRef::Shared(map) => &**map,
        };
        map.release(self.id, self.ticket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUESTION: &[u8] = b"\x01a\x00\x00\x01\x00\x01";

    fn answer(id: u16, question: &[u8]) -> Vec<u8> {
        let mut a = id.to_be_bytes().to_vec();
        a.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]);
        a.extend_from_slice(question);
        a
    }

    #[test]
    fn id_hashes_are_distinct_and_fill_the_control_bits() {
        use std::collections::HashSet;
        let hash = |id: u16| {
            let mut h = IdHasher::default();
            h.write_u16(id);
            h.finish()
        };
        let all: HashSet<u64> = (0..=u16::MAX).map(hash).collect();
        assert_eq!(all.len(), 65_536, "two IDs share a hash");
        // The table's control byte comes from the top 7 bits: IDs must spread over them.
        let top: HashSet<u64> = (0..=u16::MAX).map(|id| hash(id) >> 57).collect();
        assert_eq!(top.len(), 128);
    }

    #[test]
    fn answer_reaches_its_attempt_once() {
        let map = PendingMap::default();
        let question: Arc<[u8]> = Arc::from(QUESTION);
        let tx = Arc::new(Mailbox::default());
        let registration = map.register(0, &question, 7, &tx).unwrap();
        let id = registration.id();
        assert!(
            !map.deliver(id ^ 1, &answer(id ^ 1, QUESTION)),
            "unknown ID"
        );
        assert!(
            !map.deliver(id, &answer(id, b"\x01b\x00\x00\x01\x00\x01")),
            "other question"
        );
        assert_eq!(map.len(), 1, "a mismatch must not evict the real waiter");
        assert!(map.deliver(id, &answer(id, b"\x01A\x00\x00\x01\x00\x01")));
        assert!(
            !map.deliver(id, &answer(id, QUESTION)),
            "a duplicate finds nobody"
        );
        let delivery = tx.try_take().unwrap();
        assert_eq!(delivery.attempt, 7);
        assert!(matches!(delivery.outcome, Outcome::Answer(ref a) if a[..2] == id.to_be_bytes()));
        assert!(tx.try_take().is_none());
        assert_eq!(map.len(), 0);
    }

    #[test]
    fn dropped_registration_frees_its_id_but_not_a_reused_one() {
        let map = PendingMap::default();
        let question: Arc<[u8]> = Arc::from(QUESTION);
        let tx = Arc::new(Mailbox::default());
        let first = map.register(0, &question, 0, &tx).unwrap();
        let id = first.id();
        assert!(map.deliver(id, &answer(id, QUESTION)));
        // The ID is free again; pretend the next query drew it.
        map.lock().tickets += 1;
        let ticket = map.lock().tickets;
        map.lock().waiters.insert(
            id,
            Waiter {
                ticket,
                opcode: 0,
                question: Arc::clone(&question),
                attempt: 1,
                mailbox: Arc::clone(&tx),
            },
        );
        drop(first);
        assert_eq!(map.len(), 1, "the old guard removed someone else's entry");
        let second = map.register(0, &question, 2, &tx).unwrap();
        assert_ne!(second.id(), id, "an ID in use was handed out twice");
        drop(second);
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn fail_all_reaches_every_waiter() {
        let map = PendingMap::default();
        let question: Arc<[u8]> = Arc::from(QUESTION);
        let tx = Arc::new(Mailbox::default());
        let _a = map.register(0, &question, 0, &tx).unwrap();
        let _b = map.register(0, &question, 1, &tx).unwrap();
        map.fail_all(io::ErrorKind::ConnectionRefused);
        assert_eq!(map.len(), 0);
        let mut attempts = Vec::new();
        while let Some(d) = tx.try_take() {
            assert!(matches!(
                d.outcome,
                Outcome::Failed(io::ErrorKind::ConnectionRefused)
            ));
            attempts.push(d.attempt);
        }
        attempts.sort_unstable();
        assert_eq!(attempts, [0, 1]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_send_reaches_its_own_attempt_only() {
        let (map, tx) = (PendingMap::default(), Arc::new(Mailbox::default()));
        let question: Arc<[u8]> = Arc::from(QUESTION);
        let [a, b] = [4, 5].map(|attempt| map.register(0, &question, attempt, &tx).unwrap());
        let refused = io::ErrorKind::ConnectionRefused;
        map.fail(b.id(), b.ticket() + 1, refused);
        assert!(tx.try_take().is_none(), "another registration's ticket");
        map.fail(b.id(), b.ticket(), refused);
        let delivery = tx.try_take().unwrap();
        assert_eq!(delivery.attempt, 5);
        assert!(matches!(
            delivery.outcome,
            Outcome::Failed(io::ErrorKind::ConnectionRefused)
        ));
        assert!(tx.try_take().is_none());
        assert_eq!(map.len(), 1, "only the failed one left the map");
        assert!(map.deliver(a.id(), &answer(a.id(), QUESTION)));
        drop(b);
        map.fail(a.id(), a.ticket(), refused);
        assert_eq!(tx.try_take().unwrap().attempt, 4, "its answer, no failure");
        assert!(tx.try_take().is_none());
    }

    #[test]
    fn a_full_socket_refuses_more() {
        let map = PendingMap::default();
        let question: Arc<[u8]> = Arc::from(QUESTION);
        let tx = Arc::new(Mailbox::default());
        let held: Vec<_> = (0..MAX_PENDING)
            .map(|i| map.register(0, &question, i, &tx).unwrap())
            .collect();
        assert!(map.register(0, &question, MAX_PENDING, &tx).is_none());
        drop(held);
        assert_eq!(map.len(), 0);
        assert!(map.register(0, &question, 0, &tx).is_some());
    }
}
