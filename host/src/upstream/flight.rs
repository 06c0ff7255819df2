//! Coalescing: identical queries in flight share one upstream exchange.
//!
//! Two queries are identical when their messages match byte for byte after the ID,
//! with the question's name compared case-insensitively: same name, type, class,
//! RD/CD flags and EDNS record (DO bit, payload size, options). The first becomes the
//! leader and runs the exchange on its own task, so a leader whose client gives up
//! does not cancel it for the others; everyone waits on a watch channel.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

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

type Slot = watch::Receiver<Option<Shared>>;

/// The flights in progress, by key. Holds one entry per leader, so it is bounded by
/// the queries in flight.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<Box<[u8]>, Slot>>,
}

/// What [`Flights::join`] made of the caller.
pub(crate) enum Role {
    /// Runs the exchange and publishes its outcome with [`Lead::finish`].
    Leader(Lead, Slot),
    Follower(Slot),
}

/// The leader's end of a flight; dropping it without finishing wakes the followers
/// with nothing (they fail as timed out) and removes the flight.
pub(crate) struct Lead {
    flights: Arc<Flights>,
    key: Box<[u8]>,
    tx: watch::Sender<Option<Shared>>,
}

impl Lead {
    pub(crate) fn finish(self, outcome: Shared) {
        self.tx.send_replace(Some(outcome));
        // Dropped here: the entry goes only after the outcome is published.
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        self.flights.lock().remove(&self.key);
    }
}

impl Flights {
    pub(crate) fn join(self: &Arc<Self>, key: Box<[u8]>) -> Role {
        let mut map = self.lock();
        if let Some(slot) = map.get(&key) {
            return Role::Follower(slot.clone());
        }
        let (tx, rx) = watch::channel(None);
        map.insert(key.clone(), rx.clone());
        drop(map);
        let lead = Lead {
            flights: Arc::clone(self),
            key,
            tx,
        };
        Role::Leader(lead, rx)
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Box<[u8]>, Slot>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The coalescing key of `message` whose question (at the header's end) is
/// `question_len` bytes: everything but the ID, with the name's letters lower-cased
/// (only label bytes: type 65 and 97 differ in the bit ASCII case flips).
pub(crate) fn key(message: &[u8], question_len: usize) -> Box<[u8]> {
    let mut key: Box<[u8]> = message.get(2..).unwrap_or_default().into();
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
    key
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

    #[tokio::test]
    async fn followers_share_the_leaders_outcome_and_the_flight_ends() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(lead, mut rx) = flights.join(Box::from(&b"k"[..])) else {
            panic!("first is the leader");
        };
        let Role::Follower(mut other) = flights.join(Box::from(&b"k"[..])) else {
            panic!("second follows");
        };
        assert!(matches!(
            flights.join(Box::from(&b"j"[..])),
            Role::Leader(..)
        ));
        assert_eq!(flights.len(), 1, "a dropped leader removes its flight");
        lead.finish(Ok(Arc::from(&b"answer"[..])));
        assert_eq!(flights.len(), 0);
        for rx in [&mut rx, &mut other] {
            let got = rx.wait_for(Option::is_some).await.unwrap().clone();
            assert_eq!(&*got.unwrap().unwrap(), b"answer");
        }
    }
}
