//! The response cache: wire-format [`Answer`]s in a bounded moka cache.
//!
//! A key is the exact bytes (DO/CD flags, QTYPE, QCLASS, lower-cased QNAME) built on
//! the stack for all but very long names, so a lookup allocates nothing. moka hashes them with its per-cache
//! random SipHash key (no hash flooding) and compares the full bytes, so a hash
//! collision is a miss, never a wrong answer. Entries expire with their answer's
//! lifetime plus the serve-stale window (moka `Expiry`); `get` re-checks expiry against
//! the caller's clock and returns only fresh answers, `get_stale` also expired ones
//! still inside the window (RFC 8767).
//!
//! With prefetch on, a hit on an entry hit before and in the last tenth of its
//! lifetime queues a [`Refresh`] (bounded; dropped when full) for the pipeline's
//! prefetch worker, so popular names are renewed before they expire.

mod entry;

pub use entry::Refresh;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use moka::Expiry;
use tokio::sync::mpsc;

use entry::Entry;

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

    fn into_boxed(self) -> Box<[u8]> {
        match self.0 {
            KeyBytes::Heap(bytes) => bytes,
            KeyBytes::Inline { .. } => self.as_bytes().into(),
        }
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

/// Entries live as long as their answer, plus the serve-stale window.
struct AnswerExpiry {
    stale: Duration,
}

impl Expiry<Box<[u8]>, Arc<Entry>> for AnswerExpiry {
    fn expire_after_create(
        &self,
        _key: &Box<[u8]>,
        entry: &Arc<Entry>,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(
            entry
                .answer
                .remaining(created_at)
                .saturating_add(self.stale),
        )
    }

    fn expire_after_update(
        &self,
        _key: &Box<[u8]>,
        entry: &Arc<Entry>,
        updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(
            entry
                .answer
                .remaining(updated_at)
                .saturating_add(self.stale),
        )
    }
}

/// Bounded answer cache.
pub struct Cache {
    entries: moka::sync::Cache<Box<[u8]>, Arc<Entry>>,
    /// How long past expiry an answer may still be served; zero = never.
    stale: Duration,
    /// Where hits queue refreshes; `None` with prefetch off.
    refreshes: Option<mpsc::Sender<Refresh>>,
    /// The worker's end of the queue, until it takes it.
    queue: Mutex<Option<mpsc::Receiver<Refresh>>>,
}

impl Cache {
    pub fn new(config: &CacheConfig) -> Cache {
        let entries = moka::sync::Cache::builder()
            .max_capacity(config.max_entries)
            .expire_after(AnswerExpiry {
                stale: config.serve_stale,
            })
            .build();
        let (refreshes, queue) = if config.prefetch {
            let (tx, rx) = mpsc::channel(REFRESH_QUEUE);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        Cache {
            entries,
            stale: config.serve_stale,
            refreshes,
            queue: Mutex::new(queue),
        }
    }

    /// A live (unexpired) answer for `key`; may queue a refresh of it (prefetch).
    pub fn get(&self, key: &CacheKey, now: Instant) -> Option<Arc<Answer>> {
        let entry = self.entries.get(key.as_bytes())?;
        if entry.answer.expired(now) {
            return None;
        }
        if let Some(refreshes) = &self.refreshes {
            if entry.hit_wants_refresh(now) {
                // A full queue drops the request, which frees the entry to ask again.
                let _ = refreshes.try_send(Refresh::new(key.clone(), Arc::clone(&entry)));
            }
        }
        Some(Arc::clone(&entry.answer))
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
    pub fn get_stale(&self, key: &CacheKey, now: Instant) -> Option<Arc<Answer>> {
        if self.stale.is_zero() {
            return None;
        }
        self.entries
            .get(key.as_bytes())
            .map(|entry| Arc::clone(&entry.answer))
            .filter(|answer| answer.stale_for(now) < self.stale)
    }

    /// Stores `answer` if its lifetime is > 0.
    pub fn insert(&self, key: CacheKey, answer: Arc<Answer>) {
        if answer.lifetime() > 0 {
            self.entries
                .insert(key.into_boxed(), Arc::new(Entry::new(answer)));
        }
    }

    /// A cache built for `config` holding this one's entries, for a reload that
    /// changes the size or the serve-stale window (moka fixes both at build time).
    /// Expiry restarts from each answer's remaining lifetime, so nothing lives
    /// longer than its TTL. When shrinking, the new cache evicts down to size.
    /// Slow (a copy of every entry): call it off the query path.
    pub fn rebuilt(&self, config: &CacheConfig) -> Cache {
        let next = Cache::new(config);
        for (key, answer) in self.entries.iter() {
            next.entries.insert(Box::<[u8]>::clone(&key), answer);
        }
        next
    }

    /// Entries currently held. Runs moka's pending maintenance first, so call it
    /// for metrics, not per query.
    pub fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}

#[cfg(test)]
mod tests;
