//! Test fixtures shared by the cache's test modules: the TTL policy, A answers, keys.

use std::time::Instant;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::CacheKey;
use crate::dns::testutil::{self, a, Sections};
use crate::dns::{parse_query, Answer, TtlPolicy};

/// No floor, a day's ceiling, an hour for negative answers.
pub(super) const POLICY: TtlPolicy = TtlPolicy {
    min_ttl: 0,
    max_ttl: 86_400,
    negative_max_ttl: 3600,
};

/// The upstream's answer to `name`'s A question: `count` A records of `ttl`.
pub(super) fn a_answer(name: &str, ttl: u32, count: usize, now: Instant) -> Answer {
    let s = Sections {
        answers: (0..count).map(|i| a(name, ttl, i as u8)).collect(),
        ..Sections::default()
    };
    let wire = testutil::response(7, name, RecordType::A, ResponseCode::NoError, s);
    Answer::from_upstream(&wire, &POLICY, now).unwrap()
}

/// The cache key of a client query.
pub(super) fn key(packet: &[u8]) -> CacheKey {
    CacheKey::new(&parse_query(packet).unwrap(), packet)
}
