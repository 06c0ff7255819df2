//! [`VerdictMemo`]: on-query outcomes that plugins declared reusable (WIT v0.2
//! `reuse: question(n)`), kept per chain so that a hot name skips the Wasm calls.
//!
//! An entry belongs to one question (name, qtype, qclass) and records how far the
//! chain got with reusable verdicts only: the first `passed` plugins passed, and
//! `verdict` is the decision of the next one when that was reusable too. A chain
//! whose first plugins are reusable but a later one is not (say, a blocklist and
//! then a per-client policy) still skips the leading calls.
//!
//! Bounded and cheap: a few shards, each a mutex over two tables. New entries go
//! in `hot`; when it holds half the shard's share, `hot` becomes `cold` and the
//! old `cold` is dropped. A hit in `cold` moves the entry back to `hot`, so what
//! is asked again survives. A question is only admitted the second time it is
//! offered (a bit per hash in a small filter, cleared when an eighth full): one-off
//! names, a cache-miss workload or a random-subdomain flood, cost a bit test
//! instead of an entry, and never push hot names out.
//! Lifetimes count in whole seconds since the memo was made, rounded so that an
//! entry never outlives the plugin's `n` seconds. The memo dies with its chain:
//! a reload starts from an empty one.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use hashbrown::HashTable;

use super::types::{ChainQueryVerdict, PluginRData, PluginRecord, QuestionView};

mod filter;

use filter::SeenFilter;

/// Shards (a power of two): workers rarely wait on each other's lock.
const SHARDS: usize = 8;

/// Entries of a chain's memo unless configured otherwise. The hot set of a busy
/// resolver is a few thousand names; an entry costs about 80 bytes.
pub const DEFAULT_ENTRIES: usize = 8192;

/// Largest verdict the memo keeps, in bytes of names and record data: a hostile
/// or careless plugin answering with megabytes must not make the memo hold
/// `entries` copies of them (at the default bound this caps the memo's verdicts
/// at 16 MiB). Larger verdicts are still given, just not reused.
pub const MAX_VERDICT_BYTES: usize = 2048;

/// Whether `v` is small enough to keep (see [`MAX_VERDICT_BYTES`]).
pub fn fits(v: &ChainQueryVerdict) -> bool {
    let bytes = match v {
        ChainQueryVerdict::Pass
        | ChainQueryVerdict::Block { .. }
        | ChainQueryVerdict::Failed { .. } => 0,
        ChainQueryVerdict::Rewrite { name, .. } => name.len(),
        ChainQueryVerdict::Answer { records, .. } => records.iter().map(record_bytes).sum(),
    };
    bytes <= MAX_VERDICT_BYTES
}

fn record_bytes(r: &PluginRecord) -> usize {
    // A fixed part for the record's own fields (type, class, TTL, length).
    let data = match &r.data {
        PluginRData::A(_) => 4,
        PluginRData::Aaaa(_) => 16,
        PluginRData::Cname(n) => n.len(),
        PluginRData::Txt(t) => t.iter().map(|s| s.len() + 1).sum(),
        PluginRData::Other { data, .. } => data.len(),
    };
    10 + r.name.len() + data
}

/// What the memo knows about one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memo {
    /// This many on-query plugins, from the first, passed.
    pub passed: usize,
    /// The next plugin's decision, when it was reusable; `None` with `passed`
    /// short of the chain means that plugin must be called.
    pub verdict: Option<Arc<ChainQueryVerdict>>,
}

struct Entry {
    /// Name bytes, then qtype and qclass big-endian.
    key: Box<[u8]>,
    /// Valid while the memo's clock, in seconds, is below this.
    until: u32,
    passed: u8,
    verdict: Option<Arc<ChainQueryVerdict>>,
}

impl Entry {
    fn is(&self, q: &QuestionView) -> bool {
        self.parts() == (q.name.as_bytes(), type_class(q))
    }

    fn parts(&self) -> (&[u8], [u8; 4]) {
        let (name, tail) = self.key.split_at(self.key.len() - 4);
        (name, [tail[0], tail[1], tail[2], tail[3]])
    }
}

fn type_class(q: &QuestionView) -> [u8; 4] {
    let [a, b] = q.qtype.to_be_bytes();
    let [c, d] = q.qclass.to_be_bytes();
    [a, b, c, d]
}

struct Shard {
    hot: HashTable<Entry>,
    cold: HashTable<Entry>,
    seen: SeenFilter,
}

pub struct VerdictMemo {
    shards: Box<[Mutex<Shard>]>,
    hasher: std::hash::RandomState,
    epoch: Instant,
    /// Entries `hot` may hold before it rotates (half a shard's share).
    half: usize,
}

impl VerdictMemo {
    /// A memo of at most `max_entries` entries (rounded up to a whole number per
    /// shard); `None` for 0.
    pub fn new(max_entries: usize) -> Option<VerdictMemo> {
        if max_entries == 0 {
            return None;
        }
        let half = max_entries.div_ceil(SHARDS * 2);
        Some(VerdictMemo {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        hot: HashTable::new(),
                        cold: HashTable::new(),
                        seen: SeenFilter::new(half),
                    })
                })
                .collect(),
            hasher: std::hash::RandomState::new(),
            epoch: Instant::now(),
            half,
        })
    }

    /// The memo of `q` if it is still valid at `now`.
    pub fn get(&self, q: &QuestionView, now: Instant) -> Option<Memo> {
        let hash = self.hash(q.name.as_bytes(), type_class(q));
        let secs = self.secs(now);
        let mut shard = self.shard(hash);
        let shard = &mut *shard;
        let live = |e: &Entry| secs < e.until;
        if let Some(e) = shard.hot.find(hash, |e| e.is(q)) {
            return live(e).then(|| memo(e));
        }
        let Ok(found) = shard.cold.find_entry(hash, |e| e.is(q)) else {
            return None;
        };
        let (e, _) = found.remove();
        if !live(&e) {
            return None;
        }
        let m = memo(&e);
        self.admit(shard, hash, e);
        Some(m)
    }

    /// Offers a memo for `q`, to keep for `secs` seconds from `now` (replacing
    /// what was there). It is kept from the second offer for the same question
    /// on; `make` builds it only then, so a one-off question copies no verdict.
    pub fn offer(&self, q: &QuestionView, now: Instant, secs: u32, make: impl FnOnce() -> Memo) {
        let tail = type_class(q);
        let hash = self.hash(q.name.as_bytes(), tail);
        // Whole seconds of the memo's clock: from the current second's start, so
        // the entry lives at most `secs` (up to a second less), never longer.
        let until = self.secs(now).saturating_add(secs);
        let mut shard = self.shard(hash);
        let shard = &mut *shard;
        if !shard.seen.seen_before(hash) {
            return;
        }
        let m = make();
        let Ok(passed) = u8::try_from(m.passed) else {
            return;
        };
        let mut key = Vec::with_capacity(q.name.len() + 4);
        key.extend_from_slice(q.name.as_bytes());
        key.extend_from_slice(&tail);
        let e = Entry {
            key: key.into_boxed_slice(),
            until,
            passed,
            verdict: m.verdict,
        };
        if let Ok(old) = shard.cold.find_entry(hash, |x| x.is(q)) {
            old.remove();
        }
        self.admit(shard, hash, e);
    }

    /// Entries held now (for tests).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = lock(s);
                s.hot.len() + s.cold.len()
            })
            .sum()
    }

    /// Puts `e` in `hot` (replacing an entry for the same question), rotating the
    /// generations first when `hot` is full.
    fn admit(&self, shard: &mut Shard, hash: u64, e: Entry) {
        let hasher = |x: &Entry| {
            let (name, tail) = x.parts();
            self.hash(name, tail)
        };
        let (name, tail) = e.parts();
        let same = |x: &Entry| x.parts() == (name, tail);
        if let Ok(old) = shard.hot.find_entry(hash, same) {
            *old.into_mut() = e;
            return;
        }
        if shard.hot.len() >= self.half {
            shard.cold.clear();
            std::mem::swap(&mut shard.hot, &mut shard.cold);
        }
        shard.hot.insert_unique(hash, e, hasher);
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        // The top bits: hashbrown probes with the low ones and tags with bits 57..64,
        // so the shard index uses bits just below the tag's.
        lock(&self.shards[(hash >> 48) as usize % SHARDS])
    }

    fn hash(&self, name: &[u8], tail: [u8; 4]) -> u64 {
        self.hasher.hash_one((name, tail))
    }

    fn secs(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.epoch).as_secs()).unwrap_or(u32::MAX)
    }
}

fn memo(e: &Entry) -> Memo {
    Memo {
        passed: usize::from(e.passed),
        verdict: e.verdict.clone(),
    }
}

/// A poisoned shard only means another thread panicked mid-update of a plain
/// table; its entries are still whole, so keep using it.
fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
