//! The response cache: wire-format [`Answer`]s in a bounded moka cache.
//!
//! Keys are a keyed hash of (lower-cased QNAME, QTYPE, QCLASS, DO, CD) so a lookup
//! allocates nothing; the entry keeps the full key bytes and a hit is only a hit
//! when they match (a hash collision is a miss, never a wrong answer).

use std::sync::Arc;
use std::time::Instant;

use crate::config::CacheConfig;
use crate::dns::{Answer, Query};

/// Lookup key of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    _private: (),
}

impl CacheKey {
    pub fn new(_query: &Query, _packet: &[u8]) -> CacheKey {
        todo!()
    }
}

/// Bounded answer cache.
pub struct Cache {
    _private: (),
}

impl Cache {
    pub fn new(_config: &CacheConfig) -> Cache {
        todo!()
    }

    /// A live (unexpired) answer for `key`.
    pub fn get(&self, _key: &CacheKey, _now: Instant) -> Option<Arc<Answer>> {
        todo!()
    }

    /// Stores `answer` if its lifetime is > 0.
    pub fn insert(&self, _key: CacheKey, _answer: Arc<Answer>) {
        todo!()
    }

    pub fn entry_count(&self) -> u64 {
        todo!()
    }
}
