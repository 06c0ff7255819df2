//! The response cache: wire-format [`Answer`]s stored as records in byte logs.
//!
//! A [`CacheKey`] is the exact question bytes (DO/CD flags, QTYPE, QCLASS,
//! lower-cased QNAME), built on the stack for all but very long names. The
//! [`Store`](store) finds a record by the key's 64-bit hash under the cache's
//! random SipHash key and compares the key with the record's own stored
//! question and flags, so a hash collision is never a wrong answer (the two
//! keys just both live) and, without the hash key, collisions cannot be aimed.
//! A hit copies the record's answer into the caller's buffer under the shard's
//! lock and serves from that copy ([`AnswerRef`]), so plugins and response
//! writing never run under a lock and nothing is allocated.
//!
//! Entries die with their answer's lifetime plus the serve-stale window (the
//! store evicts dead ones first and sweeps them when counted); `get` returns only
//! fresh answers, `get_stale` also expired ones still inside the window (RFC
//! 8767). Time is kept to 1/256 s, rounded so answers age early, never late. With prefetch on, a hit on an entry hit before and in the last tenth
//! of its lifetime queues a [`Refresh`] (bounded; dropped when full) for the
//! pipeline's prefetch worker, so popular names are renewed before they expire.

#[cfg(test)]
mod fixtures;
mod record;
mod refresh;
mod ring;
mod store;

pub use refresh::Refresh;

use std::cell::RefCell;
use std::hash::RandomState;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::mpsc;

use record::RecordMut;
use store::{Key, Store};

use crate::buffer::with_thread_buffer;
use crate::config::CacheConfig;
use crate::dns::{Answer, AnswerRef, Query};

/// Flags (1) + QTYPE (2) + QCLASS (2) before the name.
const KEY_PREFIX: usize = 5;
/// Key bytes kept on the stack: names up to 57 bytes, the vast majority. Small enough
/// that a key travels cheaply inside the pipeline's `Miss`.
const KEY_INLINE: usize = 62;
const FLAG_DO: u8 = 0x01;
const FLAG_CD: u8 = 0x02;
/// Refreshes waiting for the worker; beyond it a hit simply does not queue one.
const REFRESH_QUEUE: usize = 1024;
/// Hits before an entry is worth refreshing: one-off names are left to expire.
const MIN_HITS: u8 = 2;

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
    /// Records by the hash of their [`CacheKey`] (shared with pending refreshes).
    entries: Arc<Store>,
    /// Where hits queue refreshes; `None` with prefetch off.
    refreshes: Option<mpsc::Sender<Refresh>>,
    /// The worker's end of the queue, until it takes it.
    queue: Mutex<Option<mpsc::Receiver<Refresh>>>,
}

impl Cache {
    pub fn new(config: &CacheConfig) -> Cache {
        Cache::with_store(config, RandomState::new(), Instant::now())
    }

    /// A cache with this hash key and time zero (a rebuild keeps both, so its
    /// records stay valid as they are).
    fn with_store(config: &CacheConfig, keys: RandomState, epoch: Instant) -> Cache {
        let entries = Store::new(config.max_entries, config.serve_stale, keys, epoch);
        let (refreshes, queue) = if config.prefetch {
            let (tx, rx) = mpsc::channel(REFRESH_QUEUE);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        Cache {
            entries: Arc::new(entries),
            refreshes,
            queue: Mutex::new(queue),
        }
    }

    /// A live (unexpired) answer for `key`, copied into `held`; may queue a
    /// refresh of it (prefetch).
    pub fn get<'h>(
        &self,
        key: &CacheKey,
        now: Instant,
        held: &'h mut Vec<u8>,
    ) -> Option<AnswerRef<'h>> {
        let now = self.entries.ticks(now);
        let prefetch = self.refreshes.is_some();
        let (answer, refresh) = self.copy_out(key, held, |record| {
            let expires = record.read().expires();
            if now >= expires {
                return None;
            }
            let hits = record.hit();
            // A popular entry in the last tenth of its lifetime; one refresh at a time.
            Some(
                prefetch
                    && hits >= MIN_HITS
                    && expires - now <= record.read().lifetime_ticks() / 10
                    && record.start_refresh(),
            )
        })?;
        if let (true, Some(refreshes)) = (refresh, &self.refreshes) {
            // A full queue drops the request, which frees the entry to ask again.
            let hash = self.entries.hash(Key::new(key.as_bytes())?);
            let _ = refreshes.try_send(Refresh::new(key.clone(), hash, Arc::clone(&self.entries)));
        }
        Some(answer)
    }

    /// The record stored for `key`, copied into `held` under the shard's lock when
    /// `serve` (which may update its state) says yes; with what `serve` returned.
    fn copy_out<'h, R>(
        &self,
        key: &CacheKey,
        held: &'h mut Vec<u8>,
        serve: impl FnOnce(&mut RecordMut<'_>) -> Option<R>,
    ) -> Option<(AnswerRef<'h>, R)> {
        let parts = Key::new(key.as_bytes())?;
        let (meta, served) =
            self.entries
                .with(self.entries.hash(parts), parts, |mut record| {
                    let served = serve(&mut record)?;
                    let r = record.read();
                    r.copy_data(held);
                    Some((r.meta(self.entries.epoch()), served))
                })??;
        Some((AnswerRef::from_parts(held, meta)?, served))
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
    /// fresh), copied into `held`, for when no upstream can answer. `None` when
    /// serve-stale is off.
    pub fn get_stale<'h>(
        &self,
        key: &CacheKey,
        now: Instant,
        held: &'h mut Vec<u8>,
    ) -> Option<AnswerRef<'h>> {
        let (now, window) = (self.entries.ticks(now), self.entries.stale_ticks());
        if window == 0 {
            return None;
        }
        let fresh_enough = |record: &mut RecordMut<'_>| {
            (now.saturating_sub(record.read().expires()) < window).then_some(())
        };
        Some(self.copy_out(key, held, fresh_enough)?.0)
    }

    /// Stores `answer` for `key` when its lifetime is > 0; whether it was stored
    /// (answers over 16 KiB are not).
    pub fn insert(&self, key: &CacheKey, answer: &Answer) -> bool {
        let Some(parts) = Key::new(key.as_bytes()) else {
            return false;
        };
        if answer.lifetime() == 0 {
            return false;
        }
        let stored = self.entries.ticks(answer.meta().stored_at);
        with_thread_buffer(&SCRATCH, |bytes| {
            if record::encode(answer, key.flags(), stored, bytes).is_none() {
                return false;
            }
            let hash = self.entries.hash(parts);
            self.entries.insert(hash, parts, bytes, Instant::now())
        })
    }

    /// A cache built for `config` holding this one's entries, for a reload that
    /// changes the size or the serve-stale window (both shape the table). Nothing
    /// lives longer than its TTL: expiry stays each answer's own. When shrinking,
    /// the new cache evicts down to size. Slow (a copy of every entry): call it
    /// off the query path.
    pub fn rebuilt(&self, config: &CacheConfig) -> Cache {
        let next = Cache::with_store(config, self.entries.keys().clone(), self.entries.epoch());
        next.entries.adopt(&self.entries, Instant::now());
        next
    }

    /// Entries currently held, after dropping the dead ones (past their lifetime
    /// and the serve-stale window): a linear sweep, so call it for metrics, not
    /// per query.
    pub fn entry_count(&self) -> u64 {
        self.entries.purge(Instant::now())
    }
}

thread_local! {
    /// Each thread's buffer for encoding a record before it is copied into its
    /// shard: a fresh `Vec` was a malloc and a free on every insert (every
    /// forwarded miss). Never larger than the largest record (16 KiB).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests;
