//! The response cache: wire-format [`Answer`]s in a bounded table of CLOCK shards.
//!
//! A [`CacheKey`] is the exact question bytes (DO/CD flags, QTYPE, QCLASS,
//! lower-cased QNAME), built on the stack for all but very long names. The
//! [`Store`](store) holds only its 64-bit hash under the cache's random SipHash
//! key: no key bytes are stored twice or compared in the table, which keeps an
//! entry small and a lookup cheap. A hit is then checked
//! against the entry's own question and flags, so a hash collision is a miss (and
//! at worst two names evicting each other), never a wrong answer; without the
//! hash key, collisions cannot be aimed. Entries die with their answer's
//! lifetime plus the serve-stale window (the store evicts dead ones first and
//! sweeps them when counted); `get` checks expiry against the caller's clock and returns only fresh answers, `get_stale` also
//! expired ones still inside the window (RFC 8767).
//!
//! With prefetch on, a hit on an entry hit before and in the last tenth of its
//! lifetime queues a [`Refresh`] (bounded; dropped when full) for the pipeline's
//! prefetch worker, so popular names are renewed before they expire.

mod entry;
mod store;

pub use entry::{Entry, Refresh};

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use store::Store;

use crate::config::CacheConfig;
use crate::dns::{Answer, Query};

/// Flags (1) + QTYPE (2) + QCLASS (2) before the name.
const KEY_PREFIX: usize = 5;
/// Key bytes kept on the stack: names up to 57 bytes, the vast majority. Small enough
/// that a key travels cheaply inside the pipeline's `Miss`.
const KEY_INLINE: usize = 62;
const FLAG_DO: u8 = 0x01;
const FLAG_CD: u8 = 0x02;
/// Refreshes waiting for the worker; beyond it a hit simply does not queue one.
const REFRESH_QUEUE: usize = 1024;

/// Lookup key of a query: its exact bytes, inline when they fit.
#[derive(Clone)]
pub struct CacheKey(KeyBytes);

#[derive(Clone)]
enum KeyBytes {
    Inline {
        len: u8,
        bytes: [u8; KEY_INLINE],
    },
    /// Long names; the only case where building a key allocates.
    Heap(Box<[u8]>),
}

impl CacheKey {
    pub fn new(query: &Query, packet: &[u8]) -> CacheKey {
        let flags =
            if query.dnssec_ok() { FLAG_DO } else { 0 } | if query.cd() { FLAG_CD } else { 0 };
        let [t0, t1] = query.qtype.to_be_bytes();
        let [c0, c1] = query.qclass.to_be_bytes();
        let prefix = [flags, t0, t1, c0, c1];
        let name = query.qname(packet);
        let len = KEY_PREFIX + name.len();
        // Length octets are ≤ 63, below b'A', so lower-casing the whole wire name only touches letters.
        let fill = |dst: &mut [u8]| {
            dst[..KEY_PREFIX].copy_from_slice(&prefix);
            for (d, s) in dst[KEY_PREFIX..].iter_mut().zip(name) {
                *d = s.to_ascii_lowercase();
            }
        };
        if len <= KEY_INLINE {
            let mut bytes = [0u8; KEY_INLINE];
            fill(&mut bytes[..len]);
            CacheKey(KeyBytes::Inline {
                len: len as u8,
                bytes,
            })
        } else {
            let mut bytes = vec![0u8; len].into_boxed_slice();
            fill(&mut bytes);
            CacheKey(KeyBytes::Heap(bytes))
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            KeyBytes::Inline { len, bytes } => &bytes[..usize::from(*len)],
            KeyBytes::Heap(bytes) => bytes,
        }
    }

    /// The DO/CD flags byte.
    fn flags(&self) -> u8 {
        self.as_bytes()[0]
    }
}

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CacheKey").field(&self.as_bytes()).finish()
    }
}

impl PartialEq for CacheKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for CacheKey {}

/// Bounded answer cache.
pub struct Cache {
    /// Keyed by the hash of a [`CacheKey`] under `keys`.
    entries: Store,
    /// The secret hash key; a rebuilt cache keeps it, so its hashes stay valid.
    keys: RandomState,
    /// How long past expiry an answer may still be served; zero = never.
    stale: Duration,
    /// Where hits queue refreshes; `None` with prefetch off.
    refreshes: Option<mpsc::Sender<Refresh>>,
    /// The worker's end of the queue, until it takes it.
    queue: Mutex<Option<mpsc::Receiver<Refresh>>>,
}

impl Cache {
    pub fn new(config: &CacheConfig) -> Cache {
        Cache::with_keys(config, RandomState::new())
    }

    fn with_keys(config: &CacheConfig, keys: RandomState) -> Cache {
        let entries = Store::new(config.max_entries, config.serve_stale);
        let (refreshes, queue) = if config.prefetch {
            let (tx, rx) = mpsc::channel(REFRESH_QUEUE);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        Cache {
            entries,
            keys,
            stale: config.serve_stale,
            refreshes,
            queue: Mutex::new(queue),
        }
    }

    fn hash(&self, key: &CacheKey) -> u64 {
        self.keys.hash_one(key.as_bytes())
    }

    /// The entry stored for `key`, if it is really `key`'s (see the module docs).
    fn lookup(&self, key: &CacheKey) -> Option<Arc<Entry>> {
        self.entries
            .get(self.hash(key))
            .filter(|entry| entry.answers(key))
    }

    /// A live (unexpired) answer for `key`; may queue a refresh of it (prefetch).
    pub fn get(&self, key: &CacheKey, now: Instant) -> Option<Arc<Entry>> {
        let entry = self.lookup(key)?;
        if entry.expired(now) {
            return None;
        }
        if let Some(refreshes) = &self.refreshes {
            if entry.hit_wants_refresh(now) {
                // A full queue drops the request, which frees the entry to ask again.
                let _ = refreshes.try_send(Refresh::new(key.clone(), Arc::clone(&entry)));
            }
        }
        Some(entry)
    }

    /// The queue of refreshes for the prefetch worker: `Some` once, and only with
    /// prefetch on.
    pub fn take_refreshes(&self) -> Option<mpsc::Receiver<Refresh>> {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// An answer for `key` expired less than the serve-stale window ago (or still
    /// fresh), for when no upstream can answer. `None` when serve-stale is off.
    pub fn get_stale(&self, key: &CacheKey, now: Instant) -> Option<Arc<Entry>> {
        if self.stale.is_zero() {
            return None;
        }
        self.lookup(key)
            .filter(|entry| entry.stale_for(now) < self.stale)
    }

    /// Stores `answer` for `key` when its lifetime is > 0, and returns it ready to serve.
    pub fn insert(&self, key: CacheKey, answer: Answer) -> Arc<Entry> {
        let entry = Arc::new(Entry::new(answer, key.flags()));
        if entry.lifetime() > 0 {
            self.entries
                .insert(self.hash(&key), Arc::clone(&entry), Instant::now());
        }
        entry
    }

    /// A cache built for `config` holding this one's entries, for a reload that
    /// changes the size or the serve-stale window (both shape the table). Nothing
    /// lives longer than its TTL: expiry stays each answer's own. When shrinking,
    /// the new cache evicts down to size. Slow (a copy of every entry pointer):
    /// call it off the query path.
    pub fn rebuilt(&self, config: &CacheConfig) -> Cache {
        let next = Cache::with_keys(config, self.keys.clone());
        let now = Instant::now();
        for (hash, entry) in self.entries.entries() {
            next.entries.insert(hash, entry, now);
        }
        next
    }

    /// Entries currently held, after dropping the dead ones (past their lifetime
    /// and the serve-stale window): a linear sweep, so call it for metrics, not
    /// per query.
    pub fn entry_count(&self) -> u64 {
        self.entries.purge(Instant::now())
    }
}

#[cfg(test)]
mod tests;
