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
        let (name, tail) = self.key.split_at(self.key.len() - 4);
        name == q.name.as_bytes() && tail == type_class(q)
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
    /// Questions offered once since the filter was last cleared, a bit per hash.
    seen: Box<[u64]>,
    /// Bits set in `seen`.
    seen_bits: usize,
}

impl Shard {
    fn new(half: usize) -> Shard {
        // 16 bits per entry the shard holds, cleared at an eighth full: at most
        // one one-off name in eight is admitted by a false hit (~2 KiB a shard
        // at the default size).
        let words = (half * 32).div_ceil(64).next_power_of_two();
        Shard {
            hot: HashTable::new(),
            cold: HashTable::new(),
            seen: vec![0; words].into_boxed_slice(),
            seen_bits: 0,
        }
    }

    /// Whether `hash` was offered before; remembers it if not.
    fn seen_before(&mut self, hash: u64) -> bool {
        // Bits 16..: the table uses the low bits and the top 7, the shard 48..51.
        let bit = (hash >> 16) as usize % (self.seen.len() * 64);
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        if self.seen[word] & mask != 0 {
            return true;
        }
        if self.seen_bits >= self.seen.len() * 8 {
            self.seen.fill(0);
            self.seen_bits = 0;
        }
        self.seen[word] |= mask;
        self.seen_bits += 1;
        false
    }
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
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new(half))).collect(),
            hasher: std::hash::RandomState::new(),
            epoch: Instant::now(),
            half,
        })
    }

    /// The memo of `q` if it is still valid at `now`.
    pub fn get(&self, q: &QuestionView, now: Instant) -> Option<Memo> {
        let hash = self.hash(&q.name, type_class(q));
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

    /// Offers `m` for `q`, to keep for `secs` seconds from `now` (replacing what
    /// was there). It is kept from the second offer for the same question on.
    pub fn offer(&self, q: &QuestionView, now: Instant, secs: u32, m: Memo) {
        let Ok(passed) = u8::try_from(m.passed) else {
            return;
        };
        let tail = type_class(q);
        let hash = self.hash(&q.name, tail);
        // Whole seconds of the memo's clock: from the current second's start, so
        // the entry lives at most `secs` (up to a second less), never longer.
        let until = self.secs(now).saturating_add(secs);
        let mut shard = self.shard(hash);
        let shard = &mut *shard;
        if !shard.seen_before(hash) {
            return;
        }
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

    /// Entries held now (for tests and the admin API).
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
            self.hash_bytes(name, tail)
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

    fn hash(&self, name: &str, tail: [u8; 4]) -> u64 {
        self.hash_bytes(name.as_bytes(), tail)
    }

    fn hash_bytes(&self, name: &[u8], tail: [u8; 4]) -> u64 {
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
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::plugin::types::BlockKind;

    fn q(name: &str, qtype: u16) -> QuestionView {
        QuestionView {
            name: name.into(),
            qtype,
            qclass: 1,
        }
    }

    fn blocked() -> Memo {
        Memo {
            passed: 1,
            verdict: Some(Arc::new(ChainQueryVerdict::Block {
                plugin: "blocklist".into(),
                kind: BlockKind::Nxdomain,
            })),
        }
    }

    /// Offers `m` twice, as a question asked again would be: then it is kept.
    fn keep(memo: &VerdictMemo, q: &QuestionView, now: Instant, secs: u32, m: Memo) {
        memo.offer(q, now, secs, m.clone());
        memo.offer(q, now, secs, m);
    }

    fn passed(n: usize) -> Memo {
        Memo {
            passed: n,
            verdict: None,
        }
    }

    #[test]
    fn a_memo_is_found_by_its_own_question_only() {
        let memo = VerdictMemo::new(64).unwrap();
        let now = Instant::now();
        keep(&memo, &q("ads.example", 1), now, 60, blocked());
        assert_eq!(memo.get(&q("ads.example", 1), now), Some(blocked()));
        assert_eq!(memo.get(&q("ads.example", 28), now), None);
        assert_eq!(memo.get(&q("ads.exampl", 1), now), None);
        assert_eq!(memo.get(&q("ads.example.com", 1), now), None);
        let mut chaos = q("ads.example", 1);
        chaos.qclass = 3;
        assert_eq!(memo.get(&chaos, now), None);
        assert_eq!(memo.len(), 1);
    }

    #[test]
    fn entries_expire_after_their_seconds_never_later() {
        let memo = VerdictMemo::new(64).unwrap();
        let t0 = memo.epoch + Duration::from_millis(900);
        keep(&memo, &q("a", 1), t0, 2, passed(2));
        assert_eq!(memo.get(&q("a", 1), t0), Some(passed(2)));
        // Made in the memo's second 0, it lives through second 1: 1.1 s, not 2.
        let last = memo.epoch + Duration::from_millis(1_999);
        assert_eq!(memo.get(&q("a", 1), last), Some(passed(2)));
        let end = memo.epoch + Duration::from_secs(2);
        assert_eq!(memo.get(&q("a", 1), end), None);
        assert_eq!(memo.get(&q("a", 1), t0 + Duration::from_secs(60)), None);
    }

    #[test]
    fn a_new_memo_replaces_the_old_one() {
        let memo = VerdictMemo::new(64).unwrap();
        let now = Instant::now();
        keep(&memo, &q("a", 1), now, 60, blocked());
        memo.offer(&q("a", 1), now, 60, passed(3));
        assert_eq!(memo.get(&q("a", 1), now), Some(passed(3)));
        assert_eq!(memo.len(), 1);
    }

    #[test]
    fn never_holds_more_than_its_bound_and_keeps_what_is_asked_again() {
        // 64 entries per shard's hot half: the 16 inserts between two rounds of
        // asking cannot rotate a shard twice, whatever the hash spreads where.
        let bound = 1024;
        let memo = VerdictMemo::new(bound).unwrap();
        let now = Instant::now();
        let hot: Vec<_> = (0..8).map(|i| q(&format!("hot{i}"), 1)).collect();
        for h in &hot {
            keep(&memo, h, now, 60, passed(1));
        }
        for i in 0..10_000 {
            // A flood of names each asked twice: the filter lets them all in.
            keep(
                &memo,
                &q(&format!("flood{i}.example"), 1),
                now,
                60,
                passed(1),
            );
            assert!(memo.len() <= bound, "{} entries after {i}", memo.len());
            if i % 16 == 0 {
                for h in &hot {
                    assert_eq!(memo.get(h, now), Some(passed(1)), "{} after {i}", h.name);
                }
            }
        }
        // Flood names asked once are mostly gone, the hot ones all there.
        assert!(memo.len() > bound / 4, "{} entries", memo.len());
    }

    #[test]
    fn names_offered_once_are_not_kept() {
        let memo = VerdictMemo::new(DEFAULT_ENTRIES).unwrap();
        let now = Instant::now();
        for i in 0..1000 {
            memo.offer(&q(&format!("once{i}.example"), 1), now, 60, passed(1));
        }
        // Only false hits in the filter get in: ~1% at this fill.
        assert!(memo.len() < 50, "{} one-off names kept", memo.len());
        let again = q("once7.example", 1);
        memo.offer(&again, now, 60, passed(1));
        assert_eq!(memo.get(&again, now), Some(passed(1)), "asked again: kept");
    }

    #[test]
    fn the_filter_is_cleared_and_keeps_working_after_a_flood() {
        let memo = VerdictMemo::new(64).unwrap();
        let now = Instant::now();
        for i in 0..100_000 {
            memo.offer(&q(&format!("f{i}"), 1), now, 60, passed(1));
        }
        assert!(memo.len() <= 64);
        keep(&memo, &q("hot", 1), now, 60, passed(1));
        assert_eq!(memo.get(&q("hot", 1), now), Some(passed(1)));
    }

    #[test]
    fn only_verdicts_up_to_the_size_bound_are_kept() {
        let answer = |n: usize| ChainQueryVerdict::Answer {
            plugin: "p".into(),
            records: vec![
                PluginRecord {
                    name: String::new(),
                    ttl: 60,
                    data: PluginRData::Txt(vec!["x".repeat(254)]),
                };
                n
            ],
        };
        // 265 bytes a record: 7 fit in 2048, 8 do not.
        assert!(fits(&answer(7)));
        assert!(!fits(&answer(8)));
        let rewrite = |len| ChainQueryVerdict::Rewrite {
            plugin: "p".into(),
            name: "a".repeat(len),
        };
        assert!(fits(&rewrite(MAX_VERDICT_BYTES)));
        assert!(!fits(&rewrite(MAX_VERDICT_BYTES + 1)));
        assert!(fits(&ChainQueryVerdict::Pass));
        assert!(fits(&blocked().verdict.unwrap()));
    }

    #[test]
    fn zero_entries_means_no_memo() {
        assert!(VerdictMemo::new(0).is_none());
        let one = VerdictMemo::new(1).unwrap();
        let now = Instant::now();
        keep(&one, &q("a", 1), now, 60, passed(1));
        assert_eq!(one.get(&q("a", 1), now), Some(passed(1)));
    }

    #[test]
    fn a_prefix_longer_than_a_byte_is_not_kept() {
        let memo = VerdictMemo::new(8).unwrap();
        let now = Instant::now();
        keep(&memo, &q("a", 1), now, 60, passed(300));
        assert_eq!(memo.get(&q("a", 1), now), None);
    }
}
