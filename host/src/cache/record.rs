//! The byte layout of one cached answer in a shard's [`Ring`](super::ring): a
//! 16-byte header, then the answer's own bytes ([`Answer::data`]: the message,
//! then its TTL offsets) less the message ID and QDCOUNT, which are the same
//! for every answer (a zero ID, one question) and are put back on the way out.
//!
//! Nothing else is stored per entry: the key is the stored question (name
//! lower-cased at insert, QTYPE, QCLASS) plus the flags bits, and the time is
//! [ticks](TICKS_PER_SEC) since the store's epoch. So an entry costs its answer
//! plus 12 bytes and ~6 bytes of index, instead of two heap blocks and a slot.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | record length (little-endian, as the ring requires) |
//! | 2 | 1 | state: live, used, refreshing, hits (0–3), key flags (DO/CD) |
//! | 3 | 1 | upper RCODE bits |
//! | 4 | 2 | message length |
//! | 6 | 1 | question name length |
//! | 7 | 4 | lifetime (seconds) |
//! | 11 | 5 | stored at: whole seconds since the epoch, then 1/256ths (rounded down) |
//! | 16 | … | message from byte 2 without bytes 4–5, then the TTL offsets |

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use super::{FLAG_CD, FLAG_DO, KEY_PREFIX};
use crate::dns::{Answer, AnswerMeta, HEADER_LEN};

const STATE: usize = 2;
const EXT_RCODE: usize = 3;
const WIRE_LEN: usize = 4;
const NAME_LEN: usize = 6;
const LIFETIME: usize = 7;
const STORED: usize = 11;
const STORED_FRACTION: usize = 15;
pub(super) const HEADER: usize = 16;
/// Message bytes not stored: the ID (0..2) and QDCOUNT (4..6).
const ELIDED: usize = 4;
/// Where the question name starts in the stored body (offset 12 in the message).
const NAME_AT: usize = HEADER + HEADER_LEN - ELIDED;
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
/// The key's flags byte (DO = 1, CD = 2) lives in the top bits.
const FLAGS_SHIFT: u8 = 5;
const FLAGS_MASK: u8 = FLAG_DO | FLAG_CD;

/// Time unit of the cache: 1/256 s, fine enough that short TTLs (and the last
/// tenth of them, for prefetch) are kept to within 4 ms, and a `u32` of whole
/// seconds plus a byte of fraction per record.
pub(super) const TICKS_PER_SEC: u64 = 256;

/// `d` in ticks, rounded down.
pub(super) fn ticks(d: Duration) -> u64 {
    d.as_secs() * TICKS_PER_SEC + u64::from(d.subsec_nanos()) * TICKS_PER_SEC / 1_000_000_000
}

fn duration(ticks: u64) -> Duration {
    Duration::from_secs(ticks / TICKS_PER_SEC)
        + Duration::from_nanos(ticks % TICKS_PER_SEC * 1_000_000_000 / TICKS_PER_SEC)
}

/// The record for `answer` stored under `flags` at `stored` (ticks since the
/// epoch), with its question name lower-cased; `None` when over [`MAX_RECORD`].
pub(super) fn encode(answer: &Answer, flags: u8, stored: u64, out: &mut Vec<u8>) -> Option<()> {
    let data = answer.data();
    let len = HEADER + data.len() - ELIDED;
    let meta = answer.meta();
    let name_len =
        u8::try_from(usize::from(meta.question_end).checked_sub(HEADER_LEN + 4)?).ok()?;
    if len > MAX_RECORD || flags & !FLAGS_MASK != 0 {
        return None;
    }
    let seconds = u32::try_from(stored / TICKS_PER_SEC).unwrap_or(u32::MAX);
    let mut header = [0u8; HEADER + 2];
    header[..2].copy_from_slice(&(len as u16).to_le_bytes());
    header[STATE] = LIVE | flags << FLAGS_SHIFT;
    header[EXT_RCODE] = meta.ext_rcode;
    header[WIRE_LEN..WIRE_LEN + 2].copy_from_slice(&meta.wire_len.to_le_bytes());
    header[NAME_LEN] = name_len;
    header[LIFETIME..LIFETIME + 4].copy_from_slice(&meta.lifetime.to_le_bytes());
    header[STORED..STORED + 4].copy_from_slice(&seconds.to_le_bytes());
    header[STORED_FRACTION] = (stored % TICKS_PER_SEC) as u8;
    header[HEADER..].copy_from_slice(data.get(2..4)?);
    out.clear();
    out.reserve(len);
    out.extend_from_slice(&header);
    out.extend_from_slice(data.get(6..)?);
    // An uncompressed name: length octets are ≤ 63, below b'A'.
    out[NAME_AT..NAME_AT + usize::from(name_len)].make_ascii_lowercase();
    Some(())
}

/// The hash a key is stored under: one SipHash pass over its bytes as
/// [`CacheKey`](super::CacheKey) lays them out (flags, QTYPE, QCLASS, name).
pub(super) fn key_hash(keys: &impl BuildHasher, key: &[u8]) -> u64 {
    let mut h = keys.build_hasher();
    h.write(key);
    h.finish()
}

/// Longest key: flags, QTYPE, QCLASS and a 255-byte name.
const KEY_MAX: usize = KEY_PREFIX + 255;

/// A record's key rebuilt on the stack.
pub(super) struct KeyBuf {
    bytes: [u8; KEY_MAX],
    len: usize,
}

impl KeyBuf {
    pub(super) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A record read in place.
#[derive(Clone, Copy)]
pub(super) struct Record<'a>(pub(super) &'a [u8]);

impl<'a> Record<'a> {
    fn u16_at(&self, at: usize) -> u16 {
        u16::from_le_bytes(self.0[at..at + 2].try_into().unwrap_or_default())
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.0[at..at + 4].try_into().unwrap_or_default())
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

    /// When it was stored, in ticks since the epoch.
    pub(super) fn stored(&self) -> u64 {
        u64::from(self.u32_at(STORED)) * TICKS_PER_SEC + u64::from(self.0[STORED_FRACTION])
    }

    pub(super) fn lifetime_ticks(&self) -> u64 {
        u64::from(self.lifetime()) * TICKS_PER_SEC
    }

    /// First tick at which it is expired.
    pub(super) fn expires(&self) -> u64 {
        self.stored() + self.lifetime_ticks()
    }

    /// Writes the answer's bytes, as [`Answer::data`] gave them (ID zero), into `out`.
    pub(super) fn copy_data(&self, out: &mut Vec<u8>) {
        let body = &self.0[HEADER..];
        out.clear();
        out.extend_from_slice(&[0, 0, body[0], body[1], 0, 1]);
        out.extend_from_slice(&body[2..]);
    }

    fn flags(&self) -> u8 {
        (self.state() >> FLAGS_SHIFT) & FLAGS_MASK
    }

    /// What rebuilds the answer over the bytes [`Record::copy_data`] wrote.
    pub(super) fn meta(&self, epoch: Instant) -> AnswerMeta {
        AnswerMeta {
            wire_len: self.u16_at(WIRE_LEN),
            question_end: (HEADER_LEN + usize::from(self.0[NAME_LEN]) + 4) as u16,
            ext_rcode: self.0[EXT_RCODE],
            lifetime: self.lifetime(),
            stored_at: epoch + duration(self.stored()),
        }
    }

    /// The stored question: lower-cased name, QTYPE and QCLASS.
    fn question(&self) -> (&'a [u8], &'a [u8]) {
        let name_end = NAME_AT + usize::from(self.0[NAME_LEN]);
        (&self.0[NAME_AT..name_end], &self.0[name_end..name_end + 4])
    }

    /// Its key, laid out as [`CacheKey`](super::CacheKey) does (to hash or store it again).
    pub(super) fn key(&self) -> KeyBuf {
        let (name, type_class) = self.question();
        let mut key = KeyBuf {
            bytes: [0; KEY_MAX],
            len: KEY_PREFIX + name.len(),
        };
        key.bytes[0] = self.flags();
        key.bytes[1..KEY_PREFIX].copy_from_slice(type_class);
        key.bytes[KEY_PREFIX..key.len].copy_from_slice(name);
        key
    }

    /// Whether this is the answer for the key with these parts.
    pub(super) fn answers(&self, flags: u8, type_class: &[u8], name: &[u8]) -> bool {
        let (stored_name, stored_type_class) = self.question();
        self.flags() == flags && stored_type_class == type_class && stored_name == name
    }

    /// The hash of its key (see [`key_hash`]), for moving and evicting it.
    pub(super) fn hash(&self, keys: &impl BuildHasher) -> u64 {
        key_hash(keys, self.key().as_slice())
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
        let kept = self.0[STATE] & (HITS_MAX << HITS_SHIFT | FLAGS_MASK << FLAGS_SHIFT);
        self.0[STATE] = kept | LIVE | if used { USED } else { 0 };
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

    use super::*;
    use crate::cache::fixtures::a_answer;
    use crate::dns::AnswerRef;

    fn answer(name: &str, now: Instant) -> Answer {
        a_answer(name, 300, 2, now)
    }

    #[test]
    fn a_record_gives_back_the_answer_it_was_made_from() {
        let epoch = Instant::now();
        let answer = answer("WwW.Example.", epoch + Duration::from_millis(2500));
        let mut bytes = Vec::new();
        // 2.5 s and a bit: 640 ticks and a fraction, stored as 640.
        let stored = ticks(Duration::from_millis(2501));
        assert_eq!(stored, 640);
        encode(&answer, 0x01, stored, &mut bytes).unwrap();
        let record = Record(&bytes);
        assert_eq!(bytes.len(), HEADER + answer.data().len() - ELIDED);
        assert_eq!(usize::from(record.u16_at(0)), bytes.len());
        assert!(record.live() && !record.used());
        let meta = record.meta(epoch);
        assert_eq!(meta.stored_at, epoch + Duration::from_millis(2500));
        let mut held = Vec::new();
        record.copy_data(&mut held);
        assert_eq!(held.len(), answer.data().len());
        assert_eq!(held[..2], [0, 0], "no ID stored");
        assert_eq!(
            held[2..HEADER_LEN],
            answer.data()[2..HEADER_LEN],
            "the rest of the header"
        );
        let back = AnswerRef::from_parts(&held, meta).unwrap();
        assert_eq!(back.rcode(), answer.rcode());
        assert_eq!(back.lifetime(), 300);
        assert_eq!(record.expires(), 640 + 300 * TICKS_PER_SEC);
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
        let mut key = vec![0x02, 0, 1, 0, 1];
        key.extend_from_slice(name);
        assert_eq!(record.hash(&keys), key_hash(&keys, &key));
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
        let big = a_answer("big.example.", 300, 1200, Instant::now());
        assert!(encode(&big, 0, 0, &mut Vec::new()).is_none());
    }
}
