//! [`Store`]: the cache's table, keyed hash → entry, in lock-sharded CLOCK sets.
//!
//! Replaces moka (DESIGN.md's first choice) because the numbers said so: in the
//! issue 6 profile of cache hits moka's `get` and its housekeeping (read-op
//! channel, access-order deque, pending tasks) took ~8% of the proxy core, about
//! 0.55 µs per hit, and its per-entry bookkeeping ~350 bytes, which alone made the
//! ≤ 80 MiB per 1M entries target unreachable. A DNS answer cache needs much
//! less: exact-size bounds, cheap hits, eviction that keeps popular names, and
//! expiry that is only ever checked against the answer itself.
//!
//! Each shard is a `Vec` of slots (hash, entry, a packed death time, a used bit)
//! plus a hashbrown table of `u32` slot numbers (4 bytes a bucket; the hash is
//! compared in the slot). A hit takes the shard's mutex for a table probe, sets
//! the used bit and clones the `Arc`: no allocation, no queue, no deferred work.
//! A full shard evicts with CLOCK (second chance): the hand clears used bits
//! until it finds an unused slot, and takes any dead slot (past its answer's
//! lifetime and the serve-stale window) on sight. New entries start unused, so a
//! flood of one-off names cycles through the unused slots while names that were
//! asked again survive a full turn of the hand.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hashbrown::HashTable;

use super::Entry;

/// Entries per shard before a cache is split further; a small cache is one shard,
/// so its bound is exact.
const ENTRIES_PER_SHARD: u64 = 1024;
/// Enough that two or a few dozen workers rarely meet on a lock.
const MAX_SHARDS: usize = 64;

/// Hash → [`Entry`], bounded, evicting with CLOCK.
pub(crate) struct Store {
    shards: Box<[Mutex<Shard>]>,
    /// `shards.len() - 1` (a power of two).
    mask: usize,
    /// Entries one shard may hold.
    per_shard: usize,
    /// How long past expiry an entry still counts (serve-stale).
    stale: Duration,
    /// Time zero for the slots' death times (whole seconds, see [`Slot::dies`]).
    epoch: Instant,
}

struct Shard {
    /// Slot numbers, found by hash.
    index: HashTable<u32>,
    slots: Vec<Slot>,
    /// The CLOCK hand: the next slot to consider for eviction.
    hand: usize,
}

struct Slot {
    hash: u64,
    entry: Arc<Entry>,
    /// Second after `epoch` from which the entry is dead; kept here so sweeps and
    /// the hand never chase the entry's pointer.
    dies: u32,
    /// Hit since the hand last passed.
    used: bool,
}

impl Store {
    pub(crate) fn new(max_entries: u64, stale: Duration) -> Store {
        let wanted = (max_entries / ENTRIES_PER_SHARD).max(1);
        let shards = usize::try_from(wanted)
            .unwrap_or(MAX_SHARDS)
            .min(MAX_SHARDS)
            .next_power_of_two()
            .min(MAX_SHARDS);
        // Rounded down: the shards together never hold more than `max_entries`.
        let per_shard = usize::try_from(max_entries / shards as u64).unwrap_or(usize::MAX);
        Store {
            shards: (0..shards).map(|_| Mutex::new(Shard::new())).collect(),
            mask: shards - 1,
            per_shard,
            stale,
            epoch: Instant::now(),
        }
    }

    /// The shard for `hash`. Bits 32.. choose it: hashbrown uses the low bits for
    /// the bucket and the top 7 for its tags, so neither is constant within a shard.
    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        let i = (hash >> 32) as usize & self.mask;
        // A panic while holding a shard cannot leave it inconsistent for readers:
        // every mutation below completes or does not start.
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry stored under `hash`, marked as used.
    pub(crate) fn get(&self, hash: u64) -> Option<Arc<Entry>> {
        let mut guard = self.shard(hash);
        let shard = &mut *guard;
        let &i = shard.find(hash)?;
        let slot = &mut shard.slots[i as usize];
        slot.used = true;
        Some(Arc::clone(&slot.entry))
    }

    /// Stores `entry` under `hash` (replacing what was there), evicting if the
    /// shard is full. Whatever left the table is dropped after the lock is released.
    pub(crate) fn insert(&self, hash: u64, entry: Arc<Entry>, now: Instant) {
        if self.per_shard == 0 {
            return;
        }
        let slot = Slot {
            hash,
            dies: self.death(&entry, now),
            entry,
            used: false,
        };
        let _gone = self
            .shard(hash)
            .put(slot, self.per_shard, self.seconds(now));
    }

    /// Drops every dead entry; how many entries are left.
    pub(crate) fn purge(&self, now: Instant) -> u64 {
        let second = self.seconds(now);
        let mut left = 0;
        for shard in self.shards.iter() {
            let gone = {
                let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
                let gone = shard.purge(second);
                left += shard.slots.len() as u64;
                gone
            };
            drop(gone);
        }
        left
    }

    /// Every (hash, entry) pair, shard by shard (for rebuilding the cache).
    pub(crate) fn entries(&self) -> Vec<(u64, Arc<Entry>)> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            all.extend(shard.slots.iter().map(|s| (s.hash, Arc::clone(&s.entry))));
        }
        all
    }

    /// Whole seconds since `epoch` at `now`, rounded down.
    fn seconds(&self, now: Instant) -> u32 {
        let secs = now.saturating_duration_since(self.epoch).as_secs();
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    /// When `entry` dies: its expiry plus the stale window, rounded up, so an
    /// entry is never taken for dead before it is (a second late at worst).
    fn death(&self, entry: &Entry, now: Instant) -> u32 {
        let life = entry.remaining(now).saturating_add(self.stale);
        let at = now
            .saturating_duration_since(self.epoch)
            .saturating_add(life);
        let secs = at.as_secs() + u64::from(at.subsec_nanos() > 0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }
}

impl Shard {
    fn new() -> Shard {
        Shard {
            index: HashTable::new(),
            slots: Vec::new(),
            hand: 0,
        }
    }

    fn find(&self, hash: u64) -> Option<&u32> {
        let slots = &self.slots;
        self.index.find(hash, |&i| slots[i as usize].hash == hash)
    }

    /// Puts `slot` in: over the entry with its hash, in a free place, or over the
    /// CLOCK victim. Returns the entry that left, if any.
    fn put(&mut self, slot: Slot, cap: usize, second: u32) -> Option<Arc<Entry>> {
        if let Some(&i) = self.find(slot.hash) {
            let old = &mut self.slots[i as usize];
            old.dies = slot.dies;
            // A refreshed answer keeps its popularity.
            return Some(std::mem::replace(&mut old.entry, slot.entry));
        }
        if self.slots.len() < cap {
            let i = self.slots.len() as u32;
            self.link(slot.hash, i);
            self.slots.push(slot);
            return None;
        }
        let victim = self.victim(second);
        self.unlink(victim);
        self.link(slot.hash, victim as u32);
        let old = std::mem::replace(&mut self.slots[victim], slot);
        Some(old.entry)
    }

    /// CLOCK: the first dead or unused slot from the hand on, clearing used bits
    /// on the way. Ends within two turns (the first clears every bit).
    fn victim(&mut self, second: u32) -> usize {
        let len = self.slots.len();
        loop {
            let i = self.hand;
            self.hand = if i + 1 == len { 0 } else { i + 1 };
            let slot = &mut self.slots[i];
            if slot.dies <= second || !slot.used {
                return i;
            }
            slot.used = false;
        }
    }

    /// Removes dead slots (swap-remove, re-linking the slot moved into the hole).
    fn purge(&mut self, second: u32) -> Vec<Arc<Entry>> {
        let mut gone = Vec::new();
        let mut i = 0;
        while i < self.slots.len() {
            if self.slots[i].dies > second {
                i += 1;
                continue;
            }
            self.unlink(i);
            gone.push(self.slots.swap_remove(i).entry);
            if let Some(moved) = self.slots.get(i) {
                let (hash, from) = (moved.hash, self.slots.len() as u32);
                if let Some(at) = self.index.find_mut(hash, |&j| j == from) {
                    *at = i as u32;
                }
            }
        }
        if self.hand >= self.slots.len() {
            self.hand = 0;
        }
        gone
    }

    fn link(&mut self, hash: u64, i: u32) {
        let slots = &self.slots;
        // The hasher re-hashes on growth: each slot number's hash is its slot's.
        // A number not pushed yet (`i == len`) is never rehashed during this call.
        self.index
            .insert_unique(hash, i, |&j| slots.get(j as usize).map_or(hash, |s| s.hash));
    }

    /// Removes slot `i`'s number from the index (the slot itself stays).
    fn unlink(&mut self, i: usize) {
        let hash = self.slots[i].hash;
        if let Ok(entry) = self.index.find_entry(hash, |&j| j as usize == i) {
            entry.remove();
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
