//! Coalescing: identical queries in flight share one upstream exchange.
//!
//! Two queries are identical when their messages match byte for byte after the ID,
//! with the question's name compared case-insensitively: same name, type, class,
//! RD/CD flags and EDNS record (DO bit, payload size, options). The first becomes the
//! leader and runs the exchange in its own task (a task per exchange was a spawn and
//! a wakeup more per miss); the others wait for its outcome. A leader whose caller
//! is cancelled hands over: its followers join again and one of them leads.

use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use tokio::sync::Notify;

use super::error::UpstreamError;
use super::wire::HEADER;

/// The outcome every waiter of a flight gets: cheap to clone.
pub(crate) type Shared = Result<Arc<[u8]>, Failure>;

/// [`UpstreamError`] in a form that can be handed to many waiters.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    Timeout,
    Unavailable,
    Overloaded,
    InvalidQuery,
    NoUpstream,
    Io {
        upstream: SocketAddr,
        kind: io::ErrorKind,
    },
}

impl Failure {
    pub(crate) fn of(e: &UpstreamError) -> Failure {
        match e {
            UpstreamError::Timeout => Failure::Timeout,
            UpstreamError::Unavailable => Failure::Unavailable,
            UpstreamError::Overloaded => Failure::Overloaded,
            UpstreamError::InvalidQuery => Failure::InvalidQuery,
            UpstreamError::NoUpstream => Failure::NoUpstream,
            UpstreamError::Io { upstream, source } => Failure::Io {
                upstream: *upstream,
                kind: source.kind(),
            },
        }
    }

    pub(crate) fn error(&self) -> UpstreamError {
        match self {
            Failure::Timeout => UpstreamError::Timeout,
            Failure::Unavailable => UpstreamError::Unavailable,
            Failure::Overloaded => UpstreamError::Overloaded,
            Failure::InvalidQuery => UpstreamError::InvalidQuery,
            Failure::NoUpstream => UpstreamError::NoUpstream,
            Failure::Io { upstream, kind } => UpstreamError::Io {
                upstream: *upstream,
                source: io::Error::from(*kind),
            },
        }
    }
}

/// One exchange in flight, as its followers see it.
#[derive(Default)]
pub(crate) struct Flight {
    state: Mutex<State>,
    done: Notify,
}

#[derive(Default)]
enum State {
    #[default]
    Running,
    Done(Shared),
    /// The leader went away without an outcome (its caller was cancelled).
    Abandoned,
}

impl Flight {
    /// The leader's outcome, or `None` when the leader went away without one: the
    /// follower then joins again and may lead the exchange itself.
    pub(crate) async fn wait(&self) -> Option<Shared> {
        let notified = self.done.notified();
        tokio::pin!(notified);
        loop {
            // Registered before the state is read, so a finish in between still wakes us.
            notified.as_mut().enable();
            match &*self.lock() {
                State::Running => {}
                State::Done(outcome) => return Some(outcome.clone()),
                State::Abandoned => return None,
            }
            notified.as_mut().await;
            notified.set(self.done.notified());
        }
    }

    fn settle(&self, state: State) {
        *self.lock() = state;
        self.done.notify_waiters();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A coalescing key (see [`key`]) with its hash, taken once: a miss used to hash
/// its ~40-byte key four times with SipHash (join's lookup and insert, the leader's
/// lookup and removal), ~900 instructions of the 43k a W2 miss cost under callgrind.
#[derive(Clone)]
pub(crate) struct Key {
    hash: u64,
    bytes: Arc<[u8]>,
}

impl Key {
    fn is(&self, other: &Key) -> bool {
        // The leader's own key is found again by pointer, without comparing bytes.
        self.hash == other.hash
            && (Arc::ptr_eq(&self.bytes, &other.bytes) || self.bytes == other.bytes)
    }
}

/// Flights by key; the table takes each key's own hash.
type Map = HashTable<(Key, Arc<Flight>)>;

/// The flights in progress, by key. Holds one entry per leader, so it is bounded by
/// the queries in flight.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<Map>,
    /// Keys are client-chosen names: hashed with a per-process random key, as the
    /// standard map would, so nobody can aim queries at one bucket.
    hasher: RandomState,
}

/// What [`Flights::join`] made of the caller.
pub(crate) enum Role {
    /// Runs the exchange itself and publishes its outcome with [`Lead::finish`].
    Leader(Lead),
    Follower(Arc<Flight>),
}

/// The leader's end of a flight. Dropping it without finishing (the leader's caller
/// was cancelled) removes the flight and wakes the followers to take it over.
pub(crate) struct Lead {
    flights: Arc<Flights>,
    key: Key,
    flight: Arc<Flight>,
    finished: bool,
}

impl Lead {
    pub(crate) fn finish(mut self, outcome: Shared) {
        self.finished = true;
        self.flight.settle(State::Done(outcome));
        // Dropped here: the entry goes only after the outcome is published, so a
        // query joining in between still gets it.
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        {
            let mut map = self.flights.lock();
            let mine =
                |(k, f): &(Key, Arc<Flight>)| k.is(&self.key) && Arc::ptr_eq(f, &self.flight);
            if let Ok(entry) = map.find_entry(self.key.hash, mine) {
                entry.remove();
            }
        }
        // Removed first: a follower woken here must not find this flight again.
        if !self.finished {
            self.flight.settle(State::Abandoned);
        }
    }
}

impl Flights {
    /// The key of `message` (see [`key`]), hashed for this map.
    pub(crate) fn key(&self, message: &[u8], question_len: usize) -> Key {
        let bytes = key(message, question_len);
        Key {
            hash: self.hasher.hash_one(&*bytes),
            bytes,
        }
    }

    pub(crate) fn join(self: &Arc<Self>, key: &Key) -> Role {
        let mut map = self.lock();
        let same = |(k, _): &(Key, Arc<Flight>)| k.is(key);
        let flight = match map.entry(key.hash, same, |(k, _)| k.hash) {
            Entry::Occupied(e) => return Role::Follower(Arc::clone(&e.get().1)),
            Entry::Vacant(e) => Arc::clone(&e.insert((key.clone(), Arc::default())).get().1),
        };
        drop(map);
        Role::Leader(Lead {
            flights: Arc::clone(self),
            key: key.clone(),
            flight,
            finished: false,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, Map> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The coalescing key of `message` whose question (at the header's end) is
/// `question_len` bytes: everything but the ID, with the name's letters lower-cased
/// (only label bytes: type 65 and 97 differ in the bit ASCII case flips).
pub(crate) fn key(message: &[u8], question_len: usize) -> Arc<[u8]> {
    let mut key: Arc<[u8]> = message.get(2..).unwrap_or_default().into();
    let Some(bytes) = Arc::get_mut(&mut key) else {
        return key; // Never: the Arc was made just now.
    };
    lower_name(bytes, question_len);
    key
}

fn lower_name(key: &mut [u8], question_len: usize) {
    let name_start = HEADER - 2;
    let mut at = name_start;
    while let Some(&len) = key.get(at) {
        if len == 0 || len & 0xc0 != 0 || at >= name_start + question_len {
            break;
        }
        let end = (at + 1 + usize::from(len)).min(key.len());
        key[at + 1..end].make_ascii_lowercase();
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: u16, name: &[u8], qtype: u16, flags: u8) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&[flags, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        m.extend_from_slice(name);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m
    }

    #[test]
    fn key_ignores_id_and_name_case_only() {
        let name = b"\x03WwW\x07example\x00";
        let lower = b"\x03www\x07example\x00";
        let q = name.len() + 4;
        let a = key(&message(0, name, 1, 1), q);
        assert_eq!(a, key(&message(0xffff, lower, 1, 1), q));
        assert_ne!(a, key(&message(0, lower, 28, 1), q), "type differs");
        assert_ne!(a, key(&message(0, lower, 1, 0), q), "RD differs");
        // 65 (HTTPS) and 97 are one ASCII case bit apart: never folded together.
        assert_ne!(
            key(&message(0, lower, 65, 1), q),
            key(&message(0, lower, 97, 1), q)
        );
    }

    #[test]
    fn key_survives_truncated_messages() {
        for len in 0..20 {
            let m = message(1, b"\x3fabc", 1, 0);
            let _ = key(&m[..len.min(m.len())], 40);
        }
    }

    fn k(bytes: &[u8]) -> Key {
        // Fixed keys: the same bytes must hash the same in every call.
        let hash =
            std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default().hash_one(bytes);
        Key {
            hash,
            bytes: Arc::from(bytes),
        }
    }

    #[test]
    fn hashed_keys_match_when_the_queries_coalesce() {
        let flights = Flights::default();
        let name = b"\x03WwW\x07example\x00";
        let q = name.len() + 4;
        let a = flights.key(&message(1, name, 1, 1), q);
        let b = flights.key(&message(2, b"\x03www\x07EXAMPLE\x00", 1, 1), q);
        assert!(a.is(&b) && !Arc::ptr_eq(&a.bytes, &b.bytes));
        assert_eq!(a.hash, b.hash);
        let other = flights.key(&message(1, name, 28, 1), q);
        assert!(!a.is(&other));
        // Equal hashes alone never make keys equal.
        let forged = Key {
            hash: a.hash,
            bytes: Arc::clone(&other.bytes),
        };
        assert!(!a.is(&forged));
    }

    #[tokio::test]
    async fn an_equal_key_in_another_allocation_follows() {
        let flights = Arc::new(Flights::default());
        let a = k(b"k");
        let Role::Leader(_lead) = flights.join(&a) else {
            panic!("leader");
        };
        let same = Key {
            hash: a.hash,
            bytes: Arc::from(&b"k"[..]),
        };
        assert!(matches!(flights.join(&same), Role::Follower(..)));
        assert_eq!(flights.len(), 1);
    }

    #[tokio::test]
    async fn followers_share_the_leaders_outcome_and_the_flight_ends() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(lead) = flights.join(&k(b"k")) else {
            panic!("first is the leader");
        };
        let Role::Follower(other) = flights.join(&k(b"k")) else {
            panic!("second follows");
        };
        assert!(matches!(flights.join(&k(b"j")), Role::Leader(..)));
        assert_eq!(flights.len(), 1, "a dropped leader removes its flight");
        let waiting = tokio::spawn(async move { other.wait().await });
        tokio::task::yield_now().await;
        lead.finish(Ok(Arc::from(&b"answer"[..])));
        assert_eq!(flights.len(), 0);
        let got = waiting.await.unwrap().expect("an outcome, not a hand-over");
        assert_eq!(&*got.unwrap(), b"answer");
    }

    #[tokio::test]
    async fn a_follower_joining_after_the_finish_gets_the_outcome_at_once() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(lead) = flights.join(&k(b"k")) else {
            panic!("leader");
        };
        let Role::Follower(late) = flights.join(&k(b"k")) else {
            panic!("follower");
        };
        lead.finish(Err(Failure::Overloaded));
        let got = late.wait().await.expect("outcome");
        assert!(matches!(got, Err(Failure::Overloaded)));
    }

    #[tokio::test]
    async fn a_vanished_leader_hands_over_to_a_follower() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(lead) = flights.join(&k(b"k")) else {
            panic!("leader");
        };
        let Role::Follower(follower) = flights.join(&k(b"k")) else {
            panic!("follower");
        };
        let waiting = tokio::spawn(async move { follower.wait().await });
        tokio::task::yield_now().await;
        drop(lead);
        assert!(waiting.await.unwrap().is_none(), "told to take over");
        assert_eq!(flights.len(), 0, "the old flight is gone");
        let Role::Leader(new_lead) = flights.join(&k(b"k")) else {
            panic!("the follower joining again leads");
        };
        let Role::Follower(_) = flights.join(&k(b"k")) else {
            panic!("others follow the new leader");
        };
        new_lead.finish(Ok(Arc::from(&b"x"[..])));
        assert_eq!(flights.len(), 0);
    }
}
