//! The response cache: wire-format [`Answer`]s in a bounded moka cache.
//!
//! A key is the exact bytes (DO/CD flags, QTYPE, QCLASS, lower-cased QNAME) built on
//! the stack, so a lookup allocates nothing. moka hashes them with its per-cache
//! random SipHash key (no hash flooding) and compares the full bytes, so a hash
//! collision is a miss, never a wrong answer. Entries expire with their answer's
//! lifetime (moka `Expiry`), and `get` re-checks expiry against the caller's clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;

use crate::config::CacheConfig;
use crate::dns::{Answer, Query};

/// Flags (1) + QTYPE (2) + QCLASS (2) + the longest name (255).
const KEY_CAPACITY: usize = 5 + 255;
const FLAG_DO: u8 = 0x01;
const FLAG_CD: u8 = 0x02;

/// Lookup key of a query.
#[derive(Clone)]
pub struct CacheKey {
    bytes: [u8; KEY_CAPACITY],
    len: u8,
}

impl CacheKey {
    pub fn new(query: &Query, packet: &[u8]) -> CacheKey {
        let mut bytes = [0u8; KEY_CAPACITY];
        let flags =
            if query.dnssec_ok() { FLAG_DO } else { 0 } | if query.cd() { FLAG_CD } else { 0 };
        bytes[0] = flags;
        bytes[1..3].copy_from_slice(&query.qtype.to_be_bytes());
        bytes[3..5].copy_from_slice(&query.qclass.to_be_bytes());
        let name = query.qname(packet);
        let name = name.get(..KEY_CAPACITY - 5).unwrap_or(name);
        // Length octets are ≤ 63, below b'A', so lower-casing the whole wire name only touches letters.
        for (dst, src) in bytes[5..].iter_mut().zip(name) {
            *dst = src.to_ascii_lowercase();
        }
        CacheKey {
            bytes,
            len: (5 + name.len()) as u8,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
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

/// Entries live as long as their answer.
struct AnswerExpiry;

impl Expiry<Box<[u8]>, Arc<Answer>> for AnswerExpiry {
    fn expire_after_create(
        &self,
        _key: &Box<[u8]>,
        answer: &Arc<Answer>,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(answer.remaining(created_at))
    }

    fn expire_after_update(
        &self,
        _key: &Box<[u8]>,
        answer: &Arc<Answer>,
        updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(answer.remaining(updated_at))
    }
}

/// Bounded answer cache.
pub struct Cache {
    entries: moka::sync::Cache<Box<[u8]>, Arc<Answer>>,
}

impl Cache {
    pub fn new(config: &CacheConfig) -> Cache {
        let entries = moka::sync::Cache::builder()
            .max_capacity(config.max_entries)
            .expire_after(AnswerExpiry)
            .build();
        Cache { entries }
    }

    /// A live (unexpired) answer for `key`.
    pub fn get(&self, key: &CacheKey, now: Instant) -> Option<Arc<Answer>> {
        self.entries
            .get(key.as_bytes())
            .filter(|answer| !answer.expired(now))
    }

    /// Stores `answer` if its lifetime is > 0.
    pub fn insert(&self, key: CacheKey, answer: Arc<Answer>) {
        if answer.lifetime() > 0 {
            self.entries.insert(key.as_bytes().into(), answer);
        }
    }

    /// Entries currently held. Runs moka's pending maintenance first, so call it
    /// for metrics, not per query.
    pub fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}
