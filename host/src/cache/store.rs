//! [`Store`]: the cache's table, in lock-sharded byte logs evicted with CLOCK.
//!
//! Replaces moka (DESIGN.md's first choice) because the numbers said so: in the
//! issue 6 profile of cache hits moka's `get` and its housekeeping took ~8% of
//! the proxy core, and its per-entry bookkeeping (~350 bytes) alone made the
//! ≤ 80 MiB per 1M entries target unreachable. The first replacement (slots of
//! `Arc<Entry>`) still cost two heap blocks, a slot and an index bucket per
//! entry: 213 MiB per 1M in the harness.
//!
//! So an entry is now a [record](super::record) written into its shard's
//! [`Ring`]: 17 bytes of header plus the answer's own bytes, no allocation, and
//! an index of `u32` ring offsets (a hashbrown table sized up front, with the
//! shard count chosen so the table is dense when the cache is full). The key is
//! the record's stored question, compared in the probe, so two keys with the
//! same hash simply both live.
//!
//! Eviction is CLOCK over the log: a shard over its entry bound or out of ring
//! space looks at its oldest record. Dead (replaced, or past its lifetime and
//! the serve-stale window) or not hit since the last pass: it goes. Hit: it is
//! copied to the head with its used bit cleared (second chance). New records
//! start unused, so a flood of one-off names cycles through the log while names
//! asked again survive a full turn.
//!
//! Time is [ticks](record::TICKS_PER_SEC) since the store's epoch (kept across
//! rebuilds), rounded down when stored: an answer ages a few ms early, never late.

use std::hash::RandomState;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hashbrown::HashTable;

use super::record::{self, Record, RecordMut, MAX_RECORD, USED};
use super::ring::Ring;
use super::KEY_PREFIX;

/// Entries per shard before a cache is split further; a small cache is one shard,
/// so its bound is exact.
const ENTRIES_PER_SHARD: u64 = 1024;
/// Enough that two or a few dozen workers rarely meet on a lock.
const MAX_SHARDS: u64 = 128;
/// Ring bytes per entry of bound: a cache holds `max_entries` answers of up to
/// this size on average. Typical answers take 60–200; the bound only matters
/// for caches full of very large answers, and keeps their memory bounded too.
const RING_BYTES_PER_ENTRY: usize = 512;
/// Ring offsets are `u32`; the config's entry bound keeps rings far below this.
const MAX_RING: usize = 1 << 31;

/// Hash → record, bounded, evicting with CLOCK.
pub(super) struct Store {
    shards: Box<[Mutex<Shard>]>,
    /// Entries one shard may hold.
    per_shard: usize,
    /// Ticks past expiry an entry still counts (serve-stale), rounded up.
    stale: u64,
    /// Time zero for the records' ticks.
    epoch: Instant,
    /// The cache's secret hash key (records are re-hashed when moved).
    keys: RandomState,
}

struct Shard {
    /// Ring offsets, found by hash and compared by key.
    index: HashTable<u32>,
    ring: Ring,
    /// Live records (in the index).
    count: usize,
    /// A record on its way from the tail to the head.
    moving: Vec<u8>,
}

/// A key's bytes as the cache builds them: flags, QTYPE and QCLASS, lower-cased name.
#[derive(Clone, Copy)]
pub(super) struct Key<'k>(&'k [u8]);

impl<'k> Key<'k> {
    /// `None` when too short to be a key.
    pub(super) fn new(bytes: &'k [u8]) -> Option<Key<'k>> {
        (bytes.len() >= KEY_PREFIX).then_some(Key(bytes))
    }

    fn matches(&self, record: Record<'_>) -> bool {
        let (prefix, name) = self.0.split_at(KEY_PREFIX);
        record.answers(prefix[0], &prefix[1..], name)
    }
}

impl Store {
    pub(super) fn new(
        max_entries: u64,
        stale: Duration,
        keys: RandomState,
        epoch: Instant,
    ) -> Store {
        let (shards, per_shard) = layout(max_entries);
        let ring = per_shard
            .saturating_mul(RING_BYTES_PER_ENTRY)
            .clamp(4 * MAX_RECORD, MAX_RING);
        // Rounded up: an entry is never taken for dead before it is.
        let stale = (stale.as_nanos() * u128::from(record::TICKS_PER_SEC)).div_ceil(1_000_000_000);
        let stale = u64::try_from(stale).unwrap_or(u64::MAX);
        Store {
            shards: (0..shards)
                .map(|_| Mutex::new(Shard::new(per_shard, ring)))
                .collect(),
            per_shard,
            stale,
            epoch,
            keys,
        }
    }

    pub(super) fn epoch(&self) -> Instant {
        self.epoch
    }

    pub(super) fn keys(&self) -> &RandomState {
        &self.keys
    }

    pub(super) fn hash(&self, key: Key<'_>) -> u64 {
        record::key_hash(&self.keys, key.0)
    }

    /// Ticks since the epoch at `now`, rounded down.
    pub(super) fn ticks(&self, now: Instant) -> u64 {
        record::ticks(now.saturating_duration_since(self.epoch))
    }

    /// Serve-stale window in ticks (rounded up).
    pub(super) fn stale_ticks(&self) -> u64 {
        self.stale
    }

    /// The shard for `hash`. Bits 16..48 choose it: hashbrown uses the low bits
    /// for the bucket and the top 7 for its tags, so neither is skewed within a shard.
    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        let mid = u64::from((hash >> 16) as u32);
        let i = ((mid * self.shards.len() as u64) >> 32) as usize;
        // A panic while holding a shard cannot leave it inconsistent for readers:
        // every mutation below completes or does not start.
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the record stored for `key` (under the shard's lock: keep it short).
    pub(super) fn with<R>(
        &self,
        hash: u64,
        key: Key<'_>,
        f: impl FnOnce(RecordMut<'_>) -> R,
    ) -> Option<R> {
        let mut guard = self.shard(hash);
        let shard = &mut *guard;
        let ring = &shard.ring;
        let &at = shard
            .index
            .find(hash, |&at| key.matches(Record(ring.record(at))))?;
        Some(f(RecordMut(shard.ring.record_mut(at))))
    }

    /// Stores `record` (from [`record::encode`]) for `key`, replacing what was
    /// there and evicting as needed; false when it cannot be held at all.
    pub(super) fn insert(&self, hash: u64, key: Key<'_>, record: &[u8], now: Instant) -> bool {
        if self.per_shard == 0 {
            return false;
        }
        let rules = self.rules(self.ticks(now));
        self.shard(hash)
            .put(hash, key, record, self.per_shard, rules)
    }

    /// Drops every dead entry; how many entries are left.
    pub(super) fn purge(&self, now: Instant) -> u64 {
        let rules = self.rules(self.ticks(now));
        let mut left = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            shard.purge(rules);
            left += shard.count as u64;
        }
        left
    }

    /// Copies every live record of `from` (same epoch and hash key) into this store.
    pub(super) fn adopt(&self, from: &Store, now: Instant) {
        for shard in from.shards.iter() {
            let records: Vec<Vec<u8>> = {
                let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
                let ring = &shard.ring;
                let live = ring.offsets().into_iter().map(|at| ring.record(at));
                live.filter(|r| Record(r).live())
                    .map(<[u8]>::to_vec)
                    .collect()
            };
            for bytes in records {
                let key = Record(&bytes).key();
                if let Some(parts) = Key::new(key.as_slice()) {
                    self.insert(self.hash(parts), parts, &bytes, now);
                }
            }
        }
    }

    fn rules(&self, now: u64) -> Rules<'_> {
        Rules {
            now,
            stale: self.stale,
            keys: &self.keys,
        }
    }
}

/// What eviction needs to know: the time, the stale window, how to re-hash.
#[derive(Clone, Copy)]
struct Rules<'a> {
    now: u64,
    stale: u64,
    keys: &'a RandomState,
}

impl Rules<'_> {
    fn dead(&self, record: Record<'_>) -> bool {
        record.expires().saturating_add(self.stale) <= self.now
    }
}

impl Shard {
    fn new(per_shard: usize, ring: usize) -> Shard {
        Shard {
            index: HashTable::with_capacity(per_shard),
            ring: Ring::new(if per_shard == 0 { 0 } else { ring }),
            count: 0,
            moving: Vec::new(),
        }
    }

    fn put(
        &mut self,
        hash: u64,
        key: Key<'_>,
        record: &[u8],
        cap: usize,
        rules: Rules<'_>,
    ) -> bool {
        let ring = &self.ring;
        let mut used = false;
        if let Ok(old) = self
            .index
            .find_entry(hash, |&at| key.matches(Record(ring.record(at))))
        {
            let (at, _) = old.remove();
            let mut old = RecordMut(self.ring.record_mut(at));
            // A refreshed answer keeps its popularity.
            used = old.read().used();
            old.kill();
            self.count -= 1;
        }
        while self.count >= cap || !self.ring.fits(record.len()) {
            if !self.evict_one(rules) {
                return false;
            }
        }
        let at = self.ring.push(record);
        RecordMut(self.ring.record_mut(at)).reset(used);
        let ring = &self.ring;
        self.index
            .insert_unique(hash, at, |&at| Record(ring.record(at)).hash(rules.keys));
        self.count += 1;
        true
    }

    /// One step of the hand at the ring's tail; false when the ring is empty.
    fn evict_one(&mut self, rules: Rules<'_>) -> bool {
        let Some(at) = self.ring.front() else {
            return false;
        };
        let record = Record(self.ring.record(at));
        if !record.live() {
            self.ring.pop();
            return true;
        }
        let hash = record.hash(rules.keys);
        if record.used() && !rules.dead(record) {
            self.moving.clear();
            self.moving.extend_from_slice(record.0);
            self.ring.pop();
            if self.ring.fits(self.moving.len()) {
                let to = self.ring.push(&self.moving);
                RecordMut(self.ring.record_mut(to)).set(USED, false);
                if let Some(slot) = self.index.find_mut(hash, |&x| x == at) {
                    *slot = to;
                }
                return true;
            }
        } else {
            self.ring.pop();
        }
        // Gone: dead, unused, or no room to move it.
        if let Ok(slot) = self.index.find_entry(hash, |&x| x == at) {
            slot.remove();
        }
        self.count -= 1;
        true
    }

    /// Unlinks every dead record and frees the dead ones at the tail.
    fn purge(&mut self, rules: Rules<'_>) {
        for at in self.ring.offsets() {
            let record = Record(self.ring.record(at));
            if !record.live() || !rules.dead(record) {
                continue;
            }
            let hash = record.hash(rules.keys);
            if let Ok(slot) = self.index.find_entry(hash, |&x| x == at) {
                slot.remove();
            }
            RecordMut(self.ring.record_mut(at)).kill();
            self.count -= 1;
        }
        while let Some(at) = self.ring.front() {
            if Record(self.ring.record(at)).live() {
                break;
            }
            self.ring.pop();
        }
    }
}

/// Shards and entries per shard for `max_entries`. The shard count is chosen
/// among the candidates so each shard's index, sized for `per_shard`, is as
/// dense as possible (hashbrown rounds buckets up to a power of two: a bad
/// count wastes nearly half of them).
fn layout(max_entries: u64) -> (usize, usize) {
    let least = max_entries
        .div_ceil(ENTRIES_PER_SHARD)
        .clamp(1, MAX_SHARDS / 2);
    let candidates = if least == 1 {
        1..=1
    } else {
        least..=(2 * least).min(MAX_SHARDS)
    };
    let density = |shards: u64| {
        let per = max_entries / shards;
        per as f64 / buckets(per) as f64
    };
    let shards = candidates
        .max_by(|&a, &b| density(a).total_cmp(&density(b)).then(b.cmp(&a)))
        .unwrap_or(1);
    // Rounded down: the shards together never hold more than `max_entries`.
    let per = usize::try_from(max_entries / shards).unwrap_or(usize::MAX);
    (shards as usize, per)
}

/// hashbrown's bucket count for a table of `capacity` (7/8 load, powers of two).
fn buckets(capacity: u64) -> u64 {
    match capacity {
        0 => 1,
        1..4 => 4,
        4..8 => 8,
        _ => (capacity * 8 / 7).next_power_of_two(),
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
