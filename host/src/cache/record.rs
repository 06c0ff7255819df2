//! The byte layout of one cached answer in a shard's [`Ring`](super::ring): a
//! 17-byte header, then the answer's own bytes ([`Answer::data`]: the message,
//! then its TTL offsets).
//!
//! Nothing else is stored per entry: the key is the stored question (name
//! lower-cased at insert, QTYPE, QCLASS) plus the flags byte, and the time is
//! whole seconds since the store's epoch. So an entry costs its answer plus 17
//! bytes and ~7 bytes of index, instead of two heap blocks and a slot.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | record length (little-endian, as the ring requires) |
//! | 2 | 1 | state bits: live, used, refreshing, hits (0–3) |
//! | 3 | 1 | key flags (DO/CD) |
//! | 4 | 1 | upper RCODE bits |
//! | 5 | 2 | message length |
//! | 7 | 2 | end of the question in the message |
//! | 9 | 4 | lifetime (seconds) |
//! | 13 | 4 | stored at (whole seconds since the epoch, rounded down) |

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use crate::dns::{Answer, AnswerMeta, HEADER_LEN};

const STATE: usize = 2;
const FLAGS: usize = 3;
const EXT_RCODE: usize = 4;
const WIRE_LEN: usize = 5;
const QUESTION_END: usize = 7;
const LIFETIME: usize = 9;
const STORED: usize = 13;
pub(super) const HEADER: usize = 17;
/// Largest record kept: 16 KiB. Bigger answers (TCP only, rare) are served
/// but not cached, so one never crowds out hundreds of ordinary ones.
pub(super) const MAX_RECORD: usize = 16 * 1024;

/// Still in the index (a replaced or evicted record stays in the ring, dead,
/// until the tail passes it).
const LIVE: u8 = 0x01;
/// Hit since the eviction hand last passed.
pub(super) const USED: u8 = 0x02;
/// A prefetch of it is on its way.
const REFRESHING: u8 = 0x04;
const HITS_SHIFT: u8 = 3;
const HITS_MAX: u8 = 3;

/// The record for `answer` stored under `flags` at `stored` (seconds since the
/// epoch), with its question name lower-cased; `None` when over [`MAX_RECORD`].
pub(super) fn encode(answer: &Answer, flags: u8, stored: u32, out: &mut Vec<u8>) -> Option<()> {
    let data = answer.data();
    let len = HEADER + data.len();
    if len > MAX_RECORD {
        return None;
    }
    let meta = answer.meta();
    out.clear();
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&[LIVE, flags, meta.ext_rcode]);
    out.extend_from_slice(&meta.wire_len.to_le_bytes());
    out.extend_from_slice(&meta.question_end.to_le_bytes());
    out.extend_from_slice(&meta.lifetime.to_le_bytes());
    out.extend_from_slice(&stored.to_le_bytes());
    out.extend_from_slice(data);
    let name_end = HEADER + usize::from(meta.question_end) - 4;
    // An uncompressed name: length octets are ≤ 63, below b'A'.
    out[HEADER + HEADER_LEN..name_end].make_ascii_lowercase();
    Some(())
}

/// The hash a key is stored under, from its parts; [`Record::hash`] feeds the
/// same parts in the same order.
pub(super) fn key_hash(keys: &impl BuildHasher, flags: u8, type_class: &[u8], name: &[u8]) -> u64 {
    let mut h = keys.build_hasher();
    h.write_u8(flags);
    h.write(type_class);
    h.write(name);
    h.finish()
}

/// A record read in place.
#[derive(Clone, Copy)]
pub(super) struct Record<'a>(pub(super) &'a [u8]);

impl<'a> Record<'a> {
    fn u16_at(&self, at: usize) -> u16 {
        u16::from_le_bytes([self.0[at], self.0[at + 1]])
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes([self.0[at], self.0[at + 1], self.0[at + 2], self.0[at + 3]])
    }

    pub(super) fn state(&self) -> u8 {
        self.0[STATE]
    }

    pub(super) fn live(&self) -> bool {
        self.state() & LIVE != 0
    }

    pub(super) fn used(&self) -> bool {
        self.state() & USED != 0
    }

    pub(super) fn lifetime(&self) -> u32 {
        self.u32_at(LIFETIME)
    }

    pub(super) fn stored(&self) -> u32 {
        self.u32_at(STORED)
    }

    /// First second it is expired.
    pub(super) fn expires(&self) -> u32 {
        self.stored().saturating_add(self.lifetime())
    }

    /// The answer's bytes, as [`Answer::data`] gave them.
    pub(super) fn data(&self) -> &'a [u8] {
        &self.0[HEADER..]
    }

    /// What rebuilds the answer over a copy of [`Record::data`].
    pub(super) fn meta(&self, epoch: Instant) -> AnswerMeta {
        AnswerMeta {
            wire_len: self.u16_at(WIRE_LEN),
            question_end: self.u16_at(QUESTION_END),
            ext_rcode: self.0[EXT_RCODE],
            lifetime: self.lifetime(),
            stored_at: epoch + Duration::from_secs(self.stored().into()),
        }
    }

    /// The stored question: lower-cased name, QTYPE and QCLASS.
    fn question(&self) -> (&'a [u8], &'a [u8]) {
        let end = HEADER + usize::from(self.u16_at(QUESTION_END));
        let question = &self.0[HEADER + HEADER_LEN..end];
        question.split_at(question.len() - 4)
    }

    /// Its key's parts: lower-cased name, QTYPE and QCLASS, flags.
    pub(super) fn key(&self) -> (&'a [u8], &'a [u8], u8) {
        let (name, type_class) = self.question();
        (name, type_class, self.0[FLAGS])
    }

    /// Whether this is the answer for the key with these parts.
    pub(super) fn answers(&self, flags: u8, type_class: &[u8], name: &[u8]) -> bool {
        let (stored_name, stored_type_class) = self.question();
        self.0[FLAGS] == flags && stored_type_class == type_class && stored_name == name
    }

    /// The hash of its key (see [`key_hash`]).
    pub(super) fn hash(&self, keys: &impl BuildHasher) -> u64 {
        let (name, type_class) = self.question();
        key_hash(keys, self.0[FLAGS], type_class, name)
    }
}

/// Changes to a record's state bits in place.
pub(super) struct RecordMut<'a>(pub(super) &'a mut [u8]);

impl RecordMut<'_> {
    pub(super) fn read(&self) -> Record<'_> {
        Record(self.0)
    }

    pub(super) fn set(&mut self, bits: u8, on: bool) {
        if on {
            self.0[STATE] |= bits;
        } else {
            self.0[STATE] &= !bits;
        }
    }

    /// A record just (re)stored: live, used as given, no refresh running,
    /// hits as they were.
    pub(super) fn reset(&mut self, used: bool) {
        let hits = self.0[STATE] & (HITS_MAX << HITS_SHIFT);
        self.0[STATE] = hits | LIVE | if used { USED } else { 0 };
    }

    pub(super) fn kill(&mut self) {
        self.set(LIVE, false);
    }

    /// Counts a hit (saturating at 3); the count so far, this one included.
    pub(super) fn hit(&mut self) -> u8 {
        let state = self.0[STATE];
        let hits = ((state >> HITS_SHIFT) & HITS_MAX)
            .saturating_add(1)
            .min(HITS_MAX);
        self.0[STATE] = (state & !(HITS_MAX << HITS_SHIFT)) | (hits << HITS_SHIFT) | USED;
        hits
    }

    /// Marks a refresh as started; false when one already is.
    pub(super) fn start_refresh(&mut self) -> bool {
        let idle = self.0[STATE] & REFRESHING == 0;
        self.set(REFRESHING, true);
        idle
    }

    pub(super) fn end_refresh(&mut self) {
        self.set(REFRESHING, false);
    }
}

#[cfg(test)]
mod tests {
    use std::hash::RandomState;

    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::RecordType;

    use super::*;
    use crate::dns::testutil::{self, a, Sections};
    use crate::dns::{AnswerRef, TtlPolicy};

    const POLICY: TtlPolicy = TtlPolicy {
        min_ttl: 0,
        max_ttl: 86_400,
        negative_max_ttl: 3600,
    };

    fn answer(name: &str, now: Instant) -> Answer {
        let s = Sections {
            answers: vec![a(name, 300, 1), a(name, 300, 2)],
            ..Sections::default()
        };
        let wire = testutil::response(7, name, RecordType::A, ResponseCode::NoError, s);
        Answer::from_upstream(&wire, &POLICY, now).unwrap()
    }

    #[test]
    fn a_record_gives_back_the_answer_it_was_made_from() {
        let epoch = Instant::now();
        let answer = answer("WwW.Example.", epoch + Duration::from_millis(2500));
        let mut bytes = Vec::new();
        encode(&answer, 0x01, 2, &mut bytes).unwrap();
        let record = Record(&bytes);
        assert_eq!(bytes.len(), HEADER + answer.data().len());
        assert_eq!(usize::from(record.u16_at(0)), bytes.len());
        assert!(record.live() && !record.used());
        let meta = record.meta(epoch);
        assert_eq!(
            meta.stored_at,
            epoch + Duration::from_secs(2),
            "whole seconds"
        );
        let back = AnswerRef::from_parts(record.data(), meta).unwrap();
        assert_eq!(back.rcode(), answer.rcode());
        assert_eq!(back.lifetime(), 300);
        assert_eq!(record.expires(), 302);
        // The name is lower-cased in the record, not in the answer.
        assert_eq!(&back.question()[..4], b"\x03www");
        assert_eq!(&answer.question()[..4], b"\x03WwW");
    }

    #[test]
    fn keys_match_and_hash_by_their_parts() {
        let keys = RandomState::new();
        let mut bytes = Vec::new();
        encode(&answer("a.example.", Instant::now()), 0x02, 0, &mut bytes).unwrap();
        let record = Record(&bytes);
        let name = b"\x01a\x07example\x00";
        assert!(record.answers(0x02, &[0, 1, 0, 1], name));
        assert!(!record.answers(0x00, &[0, 1, 0, 1], name), "other flags");
        assert!(!record.answers(0x02, &[0, 28, 0, 1], name), "other type");
        assert!(!record.answers(0x02, &[0, 1, 0, 1], b"\x01b\x07example\x00"));
        assert_eq!(
            record.hash(&keys),
            key_hash(&keys, 0x02, &[0, 1, 0, 1], name)
        );
    }

    #[test]
    fn state_bits_count_hits_and_refreshes() {
        let mut bytes = Vec::new();
        encode(&answer("a.example.", Instant::now()), 0, 0, &mut bytes).unwrap();
        let mut record = RecordMut(&mut bytes);
        assert_eq!(
            [record.hit(), record.hit(), record.hit(), record.hit()],
            [1, 2, 3, 3]
        );
        assert!(record.read().used() && record.read().live());
        assert!(record.start_refresh());
        assert!(!record.start_refresh(), "one at a time");
        record.end_refresh();
        assert!(record.start_refresh());
        record.set(USED, false);
        record.kill();
        assert!(!record.read().used() && !record.read().live());
        assert_eq!(record.hit(), 3, "the count survives the used bit");
    }

    #[test]
    fn oversized_answers_are_not_encoded() {
        let name = "big.example.";
        let s = Sections {
            answers: (0..1200).map(|i| a(name, 300, i as u8)).collect(),
            ..Sections::default()
        };
        let wire = testutil::response(7, name, RecordType::A, ResponseCode::NoError, s);
        let big = Answer::from_upstream(&wire, &POLICY, Instant::now()).unwrap();
        assert!(encode(&big, 0, 0, &mut Vec::new()).is_none());
    }
}
