//! The response cache: wire-format [`Answer`]s in a bounded moka cache.
//!
//! A key is the exact bytes (DO/CD flags, QTYPE, QCLASS, lower-cased QNAME) built on
//! the stack for all but very long names, so a lookup allocates nothing. moka hashes them with its per-cache
//! random SipHash key (no hash flooding) and compares the full bytes, so a hash
//! collision is a miss, never a wrong answer. Entries expire with their answer's
//! lifetime plus the serve-stale window (moka `Expiry`); `get` re-checks expiry against
//! the caller's clock and returns only fresh answers, `get_stale` also expired ones
//! still inside the window (RFC 8767).

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;

use crate::config::CacheConfig;
use crate::dns::{Answer, Query};

/// Flags (1) + QTYPE (2) + QCLASS (2) before the name.
const KEY_PREFIX: usize = 5;
/// Key bytes kept on the stack: names up to 57 bytes, the vast majority. Small enough
/// that a key travels cheaply inside the pipeline's `Miss`.
const KEY_INLINE: usize = 62;
const FLAG_DO: u8 = 0x01;
const FLAG_CD: u8 = 0x02;

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

impl Expiry<Box<[u8]>, Arc<Answer>> for AnswerExpiry {
    fn expire_after_create(
        &self,
        _key: &Box<[u8]>,
        answer: &Arc<Answer>,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(answer.remaining(created_at).saturating_add(self.stale))
    }

    fn expire_after_update(
        &self,
        _key: &Box<[u8]>,
        answer: &Arc<Answer>,
        updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(answer.remaining(updated_at).saturating_add(self.stale))
    }
}

/// Bounded answer cache.
pub struct Cache {
    entries: moka::sync::Cache<Box<[u8]>, Arc<Answer>>,
    /// How long past expiry an answer may still be served; zero = never.
    stale: Duration,
}

impl Cache {
    pub fn new(config: &CacheConfig) -> Cache {
        let entries = moka::sync::Cache::builder()
            .max_capacity(config.max_entries)
            .expire_after(AnswerExpiry {
                stale: config.serve_stale,
            })
            .build();
        Cache {
            entries,
            stale: config.serve_stale,
        }
    }

    /// A live (unexpired) answer for `key`.
    pub fn get(&self, key: &CacheKey, now: Instant) -> Option<Arc<Answer>> {
        self.entries
            .get(key.as_bytes())
            .filter(|answer| !answer.expired(now))
    }

    /// An answer for `key` expired less than the serve-stale window ago (or still
    /// fresh), for when no upstream can answer. `None` when serve-stale is off.
    pub fn get_stale(&self, key: &CacheKey, now: Instant) -> Option<Arc<Answer>> {
        if self.stale.is_zero() {
            return None;
        }
        self.entries
            .get(key.as_bytes())
            .filter(|answer| answer.stale_for(now) < self.stale)
    }

    /// Stores `answer` if its lifetime is > 0.
    pub fn insert(&self, key: CacheKey, answer: Arc<Answer>) {
        if answer.lifetime() > 0 {
            self.entries.insert(key.into_boxed(), answer);
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
mod tests {
    use std::time::Duration;

    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::RecordType;

    use super::*;
    use crate::dns::testutil::{self, a, decode, soa, Sections, TestEdns, EDNS};
    use crate::dns::{parse_query, TtlPolicy};

    const POLICY: TtlPolicy = TtlPolicy {
        min_ttl: 0,
        max_ttl: 86_400,
        negative_max_ttl: 3600,
    };

    #[test]
    fn rebuilt_keeps_entries_under_new_limits() {
        let old = cache(100);
        let now = Instant::now();
        let keys: Vec<CacheKey> = (0..10)
            .map(|i| {
                let name = format!("n{i}.example.");
                let k = key(&client(&name, RecordType::A, None, false));
                old.insert(k.clone(), positive(&name, 300, now));
                k
            })
            .collect();
        let bigger = old.rebuilt(&CacheConfig {
            max_entries: 1000,
            serve_stale: Duration::from_secs(60),
            ..config(100)
        });
        assert_eq!(bigger.entry_count(), 10);
        assert!(keys.iter().all(|k| bigger.get(k, now).is_some()));
        assert!(
            bigger.get_stale(&keys[0], now).is_some(),
            "new window applies"
        );
        let smaller = old.rebuilt(&CacheConfig {
            max_entries: 3,
            ..config(100)
        });
        assert!(smaller.entry_count() <= 3, "{}", smaller.entry_count());
        assert_eq!(old.entry_count(), 10, "the old cache is untouched");
    }

    fn config(max_entries: u64) -> CacheConfig {
        CacheConfig {
            max_entries,
            min_ttl: POLICY.min_ttl,
            max_ttl: POLICY.max_ttl,
            negative_max_ttl: POLICY.negative_max_ttl,
            serve_stale: Duration::ZERO,
            stale_ttl: 30,
            prefetch: false,
        }
    }

    fn cache(max_entries: u64) -> Cache {
        Cache::new(&CacheConfig {
            max_entries,
            min_ttl: POLICY.min_ttl,
            max_ttl: POLICY.max_ttl,
            negative_max_ttl: POLICY.negative_max_ttl,
            serve_stale: Duration::ZERO,
            stale_ttl: 30,
            prefetch: false,
        })
    }

    fn key(packet: &[u8]) -> CacheKey {
        CacheKey::new(&parse_query(packet).unwrap(), packet)
    }

    fn client(name: &str, qtype: RecordType, edns: Option<TestEdns>, cd: bool) -> Vec<u8> {
        testutil::query(0x4242, name, qtype, edns, cd)
    }

    fn answer(name: &str, rcode: ResponseCode, s: Sections, now: Instant) -> Arc<Answer> {
        let wire = testutil::response(1, name, RecordType::A, rcode, s);
        Arc::new(Answer::from_upstream(&wire, &POLICY, now).unwrap())
    }

    fn positive(name: &str, ttl: u32, now: Instant) -> Arc<Answer> {
        let s = Sections {
            answers: vec![a(name, ttl, 1)],
            ..Sections::default()
        };
        answer(name, ResponseCode::NoError, s, now)
    }

    #[test]
    fn hit_and_miss() {
        let (cache, now) = (cache(100), Instant::now());
        let q = client("www.example.com.", RecordType::A, None, false);
        assert!(cache.get(&key(&q), now).is_none());
        cache.insert(key(&q), positive("www.example.com.", 300, now));
        assert!(cache.get(&key(&q), now).is_some());
        let other_name = client("ww.example.com.", RecordType::A, None, false);
        let other_type = client("www.example.com.", RecordType::AAAA, None, false);
        assert!(cache.get(&key(&other_name), now).is_none());
        assert!(cache.get(&key(&other_type), now).is_none());
        assert_eq!(cache.entry_count(), 1);
    }

    #[test]
    fn expired_answers_are_served_stale_only_within_the_window() {
        let mut config = CacheConfig {
            max_entries: 100,
            min_ttl: POLICY.min_ttl,
            max_ttl: POLICY.max_ttl,
            negative_max_ttl: POLICY.negative_max_ttl,
            serve_stale: Duration::from_secs(10),
            stale_ttl: 30,
            prefetch: false,
        };
        let stale = Cache::new(&config);
        config.serve_stale = Duration::ZERO;
        let off = Cache::new(&config);
        let now = Instant::now();
        let q = client("www.example.com.", RecordType::A, None, false);
        for c in [&stale, &off] {
            c.insert(key(&q), positive("www.example.com.", 1, now));
        }
        let later = now + Duration::from_secs(2);
        assert!(stale.get(&key(&q), later).is_none(), "get is fresh only");
        assert!(off.get_stale(&key(&q), later).is_none(), "serve-stale off");
        let answer = stale
            .get_stale(&key(&q), later)
            .expect("stale within window");
        assert!(stale
            .get_stale(&key(&q), now + Duration::from_secs(12))
            .is_none());

        let mut out = Vec::new();
        answer.write_stale_response(&parse_query(&q).unwrap(), &q, 30, 512, &mut out);
        let m = decode(&out);
        assert_eq!(m.answers.len(), 1);
        assert!(m.answers.iter().all(|r| r.ttl == 30), "{m:?}");
        assert_eq!(m.metadata.id, 0x4242);
    }

    #[test]
    fn key_ignores_case_and_keeps_label_boundaries() {
        let upper = client("WWW.ExAmple.COM.", RecordType::A, None, false);
        let lower = client("www.example.com.", RecordType::A, None, false);
        assert_eq!(key(&upper), key(&lower));
        let split = client("a.bc.", RecordType::A, None, false);
        let joined = client("ab.c.", RecordType::A, None, false);
        assert_ne!(key(&split), key(&joined));

        let (cache, now) = (cache(100), Instant::now());
        cache.insert(key(&lower), positive("www.example.com.", 300, now));
        let hit = cache.get(&key(&upper), now).expect("case-insensitive hit");
        let mut out = Vec::new();
        hit.write_response(&parse_query(&upper).unwrap(), &upper, now, 512, &mut out);
        assert_eq!(
            out[12..12 + 21],
            upper[12..12 + 21],
            "served in the asker's case"
        );
    }

    #[test]
    fn long_names_use_heap_keys_with_the_same_rules() {
        let long = format!("{}Example.COM.", "LabeL.".repeat(20));
        let q_upper = client(&long, RecordType::A, None, false);
        let q_lower = client(&long.to_ascii_lowercase(), RecordType::A, None, false);
        assert!(matches!(key(&q_upper).0, KeyBytes::Heap(_)));
        assert_eq!(key(&q_upper), key(&q_lower));
        let (cache, now) = (cache(100), Instant::now());
        cache.insert(
            key(&q_lower),
            positive(&long.to_ascii_lowercase(), 300, now),
        );
        assert!(cache.get(&key(&q_upper), now).is_some());
        let short = client("a.example.", RecordType::A, None, false);
        assert!(matches!(key(&short).0, KeyBytes::Inline { .. }));
    }

    #[test]
    fn do_and_cd_are_separate_entries() {
        let (cache, now) = (cache(100), Instant::now());
        let do_edns = Some(TestEdns {
            size: 1232,
            dnssec_ok: true,
            version: 0,
        });
        let variants = [
            client("example.com.", RecordType::A, None, false),
            client("example.com.", RecordType::A, do_edns, false),
            client("example.com.", RecordType::A, None, true),
            client("example.com.", RecordType::A, do_edns, true),
        ];
        cache.insert(key(&variants[0]), positive("example.com.", 300, now));
        for v in &variants[1..] {
            assert!(cache.get(&key(v), now).is_none());
        }
        // EDNS without DO shares the plain entry: the answer does not depend on it.
        let edns_no_do = client("example.com.", RecordType::A, EDNS, false);
        assert!(cache.get(&key(&edns_no_do), now).is_some());
    }

    #[test]
    fn expiry_follows_the_injected_clock() {
        let (cache, now) = (cache(100), Instant::now());
        let q = client("example.com.", RecordType::A, None, false);
        cache.insert(key(&q), positive("example.com.", 60, now));
        assert!(cache.get(&key(&q), now + Duration::from_secs(59)).is_some());
        assert!(cache.get(&key(&q), now + Duration::from_secs(60)).is_none());
    }

    #[test]
    fn ttls_decrease_on_hits() {
        let (cache, now) = (cache(100), Instant::now());
        let q = client("example.com.", RecordType::A, None, false);
        cache.insert(key(&q), positive("example.com.", 300, now));
        let later = now + Duration::from_secs(42);
        let hit = cache.get(&key(&q), later).unwrap();
        let mut out = Vec::new();
        hit.write_response(&parse_query(&q).unwrap(), &q, later, 512, &mut out);
        assert_eq!(decode(&out).answers[0].ttl, 258);
    }

    #[test]
    fn negative_answers_are_cached_uncacheable_ones_are_not() {
        let (cache, now) = (cache(100), Instant::now());
        let nx = client("nope.example.com.", RecordType::A, None, false);
        let s = Sections {
            authority: vec![soa("example.com.", 600, 120)],
            ..Sections::default()
        };
        let negative = answer("nope.example.com.", ResponseCode::NXDomain, s, now);
        cache.insert(key(&nx), negative);
        assert!(cache
            .get(&key(&nx), now + Duration::from_secs(119))
            .is_some());
        assert!(cache
            .get(&key(&nx), now + Duration::from_secs(120))
            .is_none());

        let zero = client("zero.example.com.", RecordType::A, None, false);
        cache.insert(key(&zero), positive("zero.example.com.", 0, now));
        let fail = client("fail.example.com.", RecordType::A, None, false);
        let servfail = answer(
            "fail.example.com.",
            ResponseCode::ServFail,
            Sections::default(),
            now,
        );
        cache.insert(key(&fail), servfail);
        assert!(cache.get(&key(&zero), now).is_none());
        assert!(cache.get(&key(&fail), now).is_none());
        assert_eq!(cache.entry_count(), 1);
    }

    #[test]
    fn replacing_an_entry_takes_the_new_lifetime() {
        let (cache, now) = (cache(100), Instant::now());
        let q = client("example.com.", RecordType::A, None, false);
        cache.insert(key(&q), positive("example.com.", 10, now));
        cache.insert(key(&q), positive("example.com.", 600, now));
        assert!(cache
            .get(&key(&q), now + Duration::from_secs(300))
            .is_some());
        assert_eq!(cache.entry_count(), 1);
    }

    #[test]
    fn size_is_bounded() {
        let (cache, now) = (cache(10), Instant::now());
        for i in 0..200 {
            let name = format!("host{i}.example.com.");
            let q = client(&name, RecordType::A, None, false);
            cache.insert(key(&q), positive(&name, 300, now));
        }
        let count = cache.entry_count();
        assert!(count <= 10 && count > 0, "{count} entries");
    }
}
