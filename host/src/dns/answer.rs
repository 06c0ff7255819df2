//! Wire-format answers: an upstream response walked once, served many times by
//! copying and patching ID, question case and TTLs.
//!
//! The stored message is the upstream's own bytes, so compression pointers stay
//! valid, minus the OPT record (per hop, RFC 6891 §6.1.1: never cached or
//! forwarded). Removing bytes from the middle of a message would break every
//! pointer that crosses them, so the additional section is cut at the OPT record:
//! records before it (usually none, or glue) are kept, the OPT and anything after
//! it (TSIG/SIG(0) must come last anyway, RFC 8945 §5.1) are dropped, and ARCOUNT
//! is lowered. Pointers only point backwards, so nothing kept points into the cut.
//! Losing glue is harmless for a forwarder: stub clients do not use it.

use std::time::{Duration, Instant};

use super::header::{
    get_u16, get_u32, push_opt, set_u16, AA, ANCOUNT_AT, ARCOUNT_AT, CD, FLAGS_AT, NSCOUNT_AT,
    OPCODE_MASK, QDCOUNT_AT, QR, RCODE_MASK, RD, TC, TYPE_OPT, TYPE_SOA,
};
use super::ttl::{sane_ttl, Facts};
use super::wire::{plain_name_end, Record, MIN_RR_LEN};
use super::{Query, ADVERTISED_UDP_PAYLOAD, HEADER_LEN};

pub use super::ttl::TtlPolicy;
pub use super::wire::WireError;

/// Largest DNS message (16-bit TCP length prefix); TTL offsets fit a `u16`.
const MAX_MESSAGE: usize = u16::MAX as usize;

/// An upstream response in wire form, ready to be served to any client asking the same question.
///
/// `B` holds the bytes: a `Box` for an answer just walked ([`Answer::from_upstream`]),
/// a borrowed slice ([`AnswerRef`]) for one read back from the cache, which keeps
/// the same bytes (see [`Answer::data`] and [`Answer::from_parts`]). One buffer
/// holds the message and, after it, the TTL offsets; the expiry is derived from
/// `stored_at` and `lifetime` rather than stored.
#[derive(Debug, Clone, Copy)]
pub struct Answer<B = Box<[u8]>> {
    /// Header, question and records (OPT stripped; TTLs already capped at
    /// `lifetime`), then every record's TTL offset in it as a native-endian `u16`.
    data: B,
    meta: AnswerMeta,
}

/// An answer whose bytes are borrowed (from a cache hit's copy).
pub type AnswerRef<'a> = Answer<&'a [u8]>;

/// What an answer is besides its bytes, for storing it in another form (the
/// cache's records) and rebuilding it with [`Answer::from_parts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerMeta {
    /// Length of the message at the start of the bytes.
    pub wire_len: u16,
    pub question_end: u16,
    /// Upper 8 bits of the upstream RCODE (from its OPT record).
    pub ext_rcode: u8,
    pub lifetime: u32,
    pub stored_at: Instant,
}

impl Answer {
    /// Walks an upstream response (already matched to our question): records TTL
    /// offsets, strips the OPT record, applies `policy`; `lifetime()` is 0 when it must not be cached.
    pub fn from_upstream(
        wire: &[u8],
        policy: &TtlPolicy,
        now: Instant,
    ) -> Result<Answer, WireError> {
        let walk = Walk::run(wire)?;
        let lifetime = policy.lifetime(&walk.facts);
        let kept = wire.get(..walk.kept_end).unwrap_or_default();
        let mut data = Vec::with_capacity(kept.len() + 2 * walk.ttl_offsets.len());
        data.extend_from_slice(kept);
        set_u16(&mut data, ARCOUNT_AT, walk.kept_additional);
        // Served TTLs never exceed what upstream gave nor the entry's lifetime; an
        // answer that is not cached is relayed with its TTLs as they are.
        let cap = if lifetime > 0 {
            lifetime
        } else {
            i32::MAX as u32
        };
        for &at in &walk.ttl_offsets {
            let at = usize::from(at);
            let ttl = sane_ttl(get_u32(&data, at).unwrap_or(0)).min(cap);
            if let Some(dst) = data.get_mut(at..at + 4) {
                dst.copy_from_slice(&ttl.to_be_bytes());
            }
        }
        for &at in &walk.ttl_offsets {
            data.extend_from_slice(&at.to_ne_bytes());
        }
        Ok(Answer {
            data: data.into_boxed_slice(),
            meta: AnswerMeta {
                // Walk::run refused messages over 65535 bytes.
                wire_len: kept.len() as u16,
                question_end: walk.question_end as u16,
                ext_rcode: walk.ext_rcode.unwrap_or(0),
                lifetime,
                stored_at: now,
            },
        })
    }
}

impl<'a> AnswerRef<'a> {
    /// An answer over `data` as [`Answer::data`] gave it, with `meta` as
    /// [`Answer::meta`] gave it; `None` when they do not fit together.
    pub fn from_parts(data: &'a [u8], meta: AnswerMeta) -> Option<AnswerRef<'a>> {
        let wire_len = usize::from(meta.wire_len);
        let fits = wire_len <= data.len()
            && (data.len() - wire_len).is_multiple_of(2)
            && HEADER_LEN <= usize::from(meta.question_end)
            && usize::from(meta.question_end) <= wire_len;
        fits.then_some(Answer { data, meta })
    }
}

impl<B: AsRef<[u8]>> Answer<B> {
    /// The same answer, borrowed.
    pub fn borrowed(&self) -> AnswerRef<'_> {
        Answer {
            data: self.data.as_ref(),
            meta: self.meta,
        }
    }

    /// The message and then the TTL offsets: with [`Answer::meta`], all it takes
    /// to rebuild the answer.
    pub fn data(&self) -> &[u8] {
        self.data.as_ref()
    }

    pub fn meta(&self) -> AnswerMeta {
        self.meta
    }

    /// The stored message.
    fn wire(&self) -> &[u8] {
        &self.data.as_ref()[..usize::from(self.meta.wire_len)]
    }

    /// Where every record's TTL is in the message.
    fn ttl_offsets(&self) -> impl Iterator<Item = usize> + '_ {
        self.data.as_ref()[usize::from(self.meta.wire_len)..]
            .chunks_exact(2)
            .map(|at| usize::from(u16::from_ne_bytes([at[0], at[1]])))
    }

    fn expires(&self) -> Instant {
        let lifetime = Duration::from_secs(self.meta.lifetime.into());
        self.meta
            .stored_at
            .checked_add(lifetime)
            .unwrap_or(self.meta.stored_at)
    }

    /// Response code (low 4 bits from the header).
    pub fn rcode(&self) -> u16 {
        let low = get_u16(self.wire(), FLAGS_AT).unwrap_or(0) & RCODE_MASK;
        (u16::from(self.meta.ext_rcode) << 4) | low
    }

    /// Seconds this answer may be cached from when it was stored (0 = never).
    pub fn lifetime(&self) -> u32 {
        self.meta.lifetime
    }

    /// Whether the answer has expired at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        now >= self.expires()
    }

    /// Time left before the answer expires at `now` (zero once expired).
    pub fn remaining(&self, now: Instant) -> Duration {
        self.expires().saturating_duration_since(now)
    }

    /// How long ago the answer expired at `now` (zero while it is fresh).
    pub fn stale_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.expires())
    }

    /// Like [`Answer::write_response`], for serving the answer past its expiry
    /// (RFC 8767 §4): every record's TTL is written as `stale_ttl`.
    pub fn write_stale_response(
        &self,
        query: &Query,
        packet: &[u8],
        stale_ttl: u32,
        limit: usize,
        out: &mut Vec<u8>,
    ) {
        self.write_response(query, packet, self.meta.stored_at, limit, out);
        let ttl = stale_ttl.to_be_bytes();
        for at in self.ttl_offsets() {
            // Beyond `out` when the response was truncated: nothing to patch.
            if let Some(dst) = out.get_mut(at..at + 4) {
                dst.copy_from_slice(&ttl);
            }
        }
    }

    /// The stored question (header excluded), as the upstream spelled it.
    pub fn question(&self) -> &[u8] {
        self.wire()
            .get(HEADER_LEN..usize::from(self.meta.question_end))
            .unwrap_or_default()
    }

    /// Writes the response to `query` into `out` (cleared first): the client's ID,
    /// RD/CD and question bytes (exact case), TTLs reduced by the time since storing,
    /// an OPT record only when the client sent one (DO echoed), and TC=1 with the
    /// records dropped when the result would exceed `limit` bytes.
    pub fn write_response(
        &self,
        query: &Query,
        packet: &[u8],
        now: Instant,
        limit: usize,
        out: &mut Vec<u8>,
    ) {
        let stored_question = self.question();
        let client_question = query.question(packet);
        // Equal ignoring case whenever the cache key matched; the length check keeps
        // every offset valid even if a caller got that wrong.
        let question = if client_question.len() == stored_question.len() {
            client_question
        } else {
            stored_question
        };
        let wire = self.wire();
        out.clear();
        out.reserve(wire.len() + super::header::OPT_LEN);
        out.extend_from_slice(wire.get(..HEADER_LEN).unwrap_or_default());
        out.extend_from_slice(question);
        out.extend_from_slice(
            wire.get(usize::from(self.meta.question_end)..)
                .unwrap_or_default(),
        );

        let stored_flags = get_u16(wire, FLAGS_AT).unwrap_or(0);
        // A forwarder is never authoritative (RFC 1035 §4.1.1): AA is cleared.
        let flags = (stored_flags & !(RD | CD | AA)) | (query.flags & (RD | CD)) | QR;
        set_u16(out, 0, query.id);
        set_u16(out, FLAGS_AT, flags);
        self.age_ttls(out, now);

        if let Some(edns) = query.edns {
            let arcount = get_u16(out, ARCOUNT_AT).unwrap_or(0);
            set_u16(out, ARCOUNT_AT, arcount.saturating_add(1));
            push_opt(
                out,
                ADVERTISED_UDP_PAYLOAD,
                self.meta.ext_rcode,
                edns.dnssec_ok,
            );
        }
        if out.len() > limit {
            // RFC 2181 §9 / RFC 1035 §4.2.1: signal truncation, keep header and question,
            // and the OPT so the client still learns our EDNS parameters.
            out.truncate(HEADER_LEN + question.len());
            set_u16(out, FLAGS_AT, flags | TC);
            for at in [ANCOUNT_AT, NSCOUNT_AT, ARCOUNT_AT] {
                set_u16(out, at, 0);
            }
            if let Some(edns) = query.edns {
                set_u16(out, ARCOUNT_AT, 1);
                push_opt(
                    out,
                    ADVERTISED_UDP_PAYLOAD,
                    self.meta.ext_rcode,
                    edns.dnssec_ok,
                );
            }
        }
    }

    /// Lowers every TTL in `out` (a copy of `wire`) by the whole seconds since storing.
    fn age_ttls(&self, out: &mut [u8], now: Instant) {
        let elapsed = now.saturating_duration_since(self.meta.stored_at).as_secs();
        let elapsed = u32::try_from(elapsed).unwrap_or(u32::MAX);
        if elapsed == 0 {
            return;
        }
        for at in self.ttl_offsets() {
            if let Some(ttl) = out.get_mut(at..at + 4) {
                let old = u32::from_be_bytes([ttl[0], ttl[1], ttl[2], ttl[3]]);
                ttl.copy_from_slice(&old.saturating_sub(elapsed).to_be_bytes());
            }
        }
    }
}

/// The single pass over an upstream response.
struct Walk {
    question_end: usize,
    /// End of the bytes kept (the OPT record and what follows it are cut).
    kept_end: usize,
    kept_additional: u16,
    ttl_offsets: Vec<u16>,
    ext_rcode: Option<u8>,
    facts: Facts,
}

impl Walk {
    fn run(wire: &[u8]) -> Result<Walk, WireError> {
        let count = |at| get_u16(wire, at).ok_or(WireError::Truncated(wire.len()));
        let flags = count(FLAGS_AT)?;
        if wire.len() > MAX_MESSAGE {
            return Err(WireError::Malformed("message longer than 65535 bytes"));
        }
        if flags & QR == 0 || flags & OPCODE_MASK != 0 {
            return Err(WireError::Malformed("not a response to a standard query"));
        }
        if count(QDCOUNT_AT)? != 1 {
            return Err(WireError::Malformed("question count is not 1"));
        }
        let question_end = plain_name_end(wire, HEADER_LEN)? + 4;
        if question_end > wire.len() {
            return Err(WireError::Truncated(wire.len()));
        }
        let (answers, authority) = (count(ANCOUNT_AT)?, count(NSCOUNT_AT)?);
        let records =
            usize::from(answers) + usize::from(authority) + usize::from(count(ARCOUNT_AT)?);
        let mut walk = Walk {
            question_end,
            kept_end: question_end,
            kept_additional: 0,
            // Counts are untrusted: never reserve more than the bytes could hold.
            ttl_offsets: Vec::with_capacity(records.min((wire.len() - question_end) / MIN_RR_LEN)),
            ext_rcode: None,
            facts: Facts {
                rcode: flags & RCODE_MASK,
                truncated: flags & TC != 0,
                answers,
                min_ttl: u32::MAX,
                soa: None,
            },
        };
        let pos = walk.answer_and_authority(wire, answers, authority)?;
        let pos = walk.additional(wire, pos, count(ARCOUNT_AT)?)?;
        if pos != wire.len() {
            return Err(WireError::Malformed("trailing bytes after the last record"));
        }
        walk.facts.rcode |= u16::from(walk.ext_rcode.unwrap_or(0)) << 4;
        Ok(walk)
    }

    fn answer_and_authority(
        &mut self,
        wire: &[u8],
        answers: u16,
        authority: u16,
    ) -> Result<usize, WireError> {
        let mut pos = self.question_end;
        for i in 0..usize::from(answers) + usize::from(authority) {
            let rr = Record::read(wire, pos)?;
            if rr.rtype == TYPE_OPT {
                return Err(WireError::Malformed(
                    "OPT record outside the additional section",
                ));
            }
            self.ttl_offsets.push(rr.ttl_at as u16);
            let ttl = sane_ttl(rr.ttl);
            self.facts.min_ttl = self.facts.min_ttl.min(ttl);
            if i >= usize::from(answers) && rr.rtype == TYPE_SOA && self.facts.soa.is_none() {
                self.facts.soa = Some((ttl, soa_minimum(rr.rdata(wire))?));
            }
            pos = rr.end;
        }
        self.kept_end = pos;
        Ok(pos)
    }

    fn additional(
        &mut self,
        wire: &[u8],
        mut pos: usize,
        additional: u16,
    ) -> Result<usize, WireError> {
        for _ in 0..additional {
            let rr = Record::read(wire, pos)?;
            if rr.rtype == TYPE_OPT {
                if self.ext_rcode.is_some() {
                    return Err(WireError::Malformed("more than one OPT record"));
                }
                if rr.owner_len != 1 {
                    return Err(WireError::Malformed("OPT owner is not the root"));
                }
                self.ext_rcode = Some((rr.ttl >> 24) as u8);
            } else if self.ext_rcode.is_none() {
                self.ttl_offsets.push(rr.ttl_at as u16);
                self.kept_additional += 1;
                self.kept_end = rr.end;
            }
            pos = rr.end;
        }
        Ok(pos)
    }
}

/// MINIMUM, the last field of SOA RDATA (two names, then five 32-bit fields).
fn soa_minimum(rdata: &[u8]) -> Result<u32, WireError> {
    const SOA_MIN_RDATA: usize = 2 + 20;
    if rdata.len() < SOA_MIN_RDATA {
        return Err(WireError::Malformed("SOA record too short"));
    }
    get_u32(rdata, rdata.len() - 4).ok_or(WireError::Malformed("SOA record too short"))
}

#[cfg(test)]
mod tests;
