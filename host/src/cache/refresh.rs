//! [`Refresh`]: a request handed to the prefetch worker for an entry about to
//! expire, and the query a key stands for.

use std::sync::Arc;

use super::store::{Key, Store};
use super::{CacheKey, FLAG_CD, FLAG_DO, KEY_PREFIX};

/// The EDNS payload in a rebuilt query; the upstream query gets our own anyway.
const PAYLOAD: [u8; 2] = 1232u16.to_be_bytes();

/// A request to ask the upstreams again for an entry about to expire. Dropping it,
/// refreshed or not, lets a later hit ask again (a refreshed entry is a new record).
pub struct Refresh {
    key: CacheKey,
    hash: u64,
    store: Arc<Store>,
}

impl Refresh {
    pub(super) fn new(key: CacheKey, hash: u64, store: Arc<Store>) -> Refresh {
        Refresh { key, hash, store }
    }

    pub fn key(&self) -> &CacheKey {
        &self.key
    }
}

impl Drop for Refresh {
    fn drop(&mut self) {
        if let Some(key) = Key::new(self.key.as_bytes()) {
            self.store.with(self.hash, key, |mut r| r.end_refresh());
        }
    }
}

impl CacheKey {
    /// Writes a client query this key stands for into `out`: RD, the question with
    /// the lower-cased name, CD and DO as keyed, an OPT record.
    pub fn write_query(&self, out: &mut Vec<u8>) {
        let bytes = self.as_bytes();
        let (flags, name) = (bytes[0], &bytes[KEY_PREFIX..]);
        let cd = if flags & FLAG_CD != 0 { 0x10 } else { 0 };
        let dnssec_ok = if flags & FLAG_DO != 0 { 0x80 } else { 0 };
        out.clear();
        out.extend_from_slice(&[0, 0, 0x01, cd, 0, 1, 0, 0, 0, 0, 0, 1]);
        out.extend_from_slice(name);
        // QTYPE and QCLASS, stored right after the flags.
        out.extend_from_slice(&bytes[1..KEY_PREFIX]);
        out.extend_from_slice(&[0, 0, 41, PAYLOAD[0], PAYLOAD[1], 0, 0, dnssec_ok, 0, 0, 0]);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use hickory_proto::rr::RecordType;

    use crate::cache::fixtures::{a_answer, key};
    use crate::cache::Cache;
    use crate::config::CacheConfig;
    use crate::dns::testutil::{self, TestEdns};
    use crate::dns::{parse_query, Answer};

    fn prefetching() -> Cache {
        Cache::new(&CacheConfig {
            max_entries: 100,
            min_ttl: 0,
            max_ttl: 86_400,
            negative_max_ttl: 3600,
            serve_stale: Duration::ZERO,
            stale_ttl: 30,
            prefetch: true,
            plugin_verdicts: 0,
        })
    }

    fn answer(name: &str, ttl: u32, now: Instant) -> Answer {
        a_answer(name, ttl, 1, now)
    }

    #[test]
    fn the_rebuilt_query_has_the_same_key() {
        let edns = |dnssec_ok| {
            Some(TestEdns {
                size: 4096,
                dnssec_ok,
                version: 0,
            })
        };
        let cases = [
            ("WwW.Example.COM.", RecordType::A, None, false),
            ("example.org.", RecordType::AAAA, edns(true), false),
            ("x.example.", RecordType::TXT, edns(false), true),
            (".", RecordType::NS, edns(true), true),
            (
                &format!("{}.example.", "a".repeat(63)),
                RecordType::MX,
                None,
                false,
            ),
        ];
        for (name, qtype, e, cd) in cases {
            let original = key(&testutil::query(0xffff, name, qtype, e, cd));
            let mut rebuilt = Vec::new();
            original.write_query(&mut rebuilt);
            let query = parse_query(&rebuilt).unwrap();
            assert_eq!(query.qtype, u16::from(qtype), "{name}");
            assert!(query.flags & 0x0100 != 0, "RD set for {name}");
            assert_eq!(key(&rebuilt), original, "{name} {qtype} cd={cd}");
        }
    }

    #[test]
    fn popular_entry_near_expiry_queues_one_refresh_at_a_time() {
        let cache = prefetching();
        let mut queue = cache.take_refreshes().unwrap();
        assert!(cache.take_refreshes().is_none(), "one worker only");
        let now = Instant::now();
        let q = testutil::query(1, "hot.example.", RecordType::A, None, false);
        cache.insert(&key(&q), &answer("hot.example.", 100, now));
        let at = |secs: f64| now + Duration::from_secs_f64(secs);
        // Hit twice, but early in its life: nothing to do yet.
        assert!(cache.get(&key(&q), at(1.0), &mut Vec::new()).is_some());
        assert!(cache.get(&key(&q), at(50.0), &mut Vec::new()).is_some());
        assert!(queue.try_recv().is_err());
        // Last tenth: one refresh, and no second while it runs.
        assert!(cache.get(&key(&q), at(90.5), &mut Vec::new()).is_some());
        let refresh = queue.try_recv().unwrap();
        assert_eq!(refresh.key(), &key(&q));
        assert!(cache.get(&key(&q), at(91.0), &mut Vec::new()).is_some());
        assert!(queue.try_recv().is_err());
        // A refresh that came to nothing lets the next hit ask again.
        drop(refresh);
        assert!(cache.get(&key(&q), at(92.0), &mut Vec::new()).is_some());
        assert!(queue.try_recv().is_ok());
        // Expired: a miss, never a refresh.
        assert!(cache.get(&key(&q), at(100.0), &mut Vec::new()).is_none());
    }

    #[test]
    fn a_single_hit_near_expiry_is_not_refreshed() {
        let cache = prefetching();
        let mut queue = cache.take_refreshes().unwrap();
        let now = Instant::now();
        let q = testutil::query(1, "once.example.", RecordType::A, None, false);
        cache.insert(&key(&q), &answer("once.example.", 10, now));
        assert!(cache
            .get(&key(&q), now + Duration::from_millis(9500), &mut Vec::new())
            .is_some());
        assert!(queue.try_recv().is_err());
    }

    #[test]
    fn prefetch_off_has_no_queue() {
        let mut config = CacheConfig {
            max_entries: 10,
            min_ttl: 0,
            max_ttl: 60,
            negative_max_ttl: 60,
            serve_stale: Duration::ZERO,
            stale_ttl: 30,
            prefetch: false,
            plugin_verdicts: 0,
        };
        assert!(Cache::new(&config).take_refreshes().is_none());
        config.prefetch = true;
        assert!(Cache::new(&config).take_refreshes().is_some());
    }
}
