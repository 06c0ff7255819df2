//! Wire-format answers: an upstream response walked once, served many times by
//! copying and patching ID, question case and TTLs.

use std::time::Instant;

use super::Query;

/// TTL rules applied when an upstream answer is stored (from `[cache]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlPolicy {
    pub min_ttl: u32,
    pub max_ttl: u32,
    pub negative_max_ttl: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("message truncated at byte {0}")]
    Truncated(usize),
    #[error("bad label at byte {0}")]
    BadLabel(usize),
    #[error("compression pointer loop at byte {0}")]
    PointerLoop(usize),
    #[error("{0}")]
    Malformed(&'static str),
}

/// An upstream response in wire form, ready to be served to any client asking the same question.
#[derive(Debug)]
pub struct Answer {
    _private: (),
}

impl Answer {
    /// Walks an upstream response (already matched to our question): records TTL
    /// offsets, strips the OPT record, applies `policy`; `lifetime()` is 0 when it must not be cached.
    pub fn from_upstream(
        _wire: &[u8],
        _policy: &TtlPolicy,
        _now: Instant,
    ) -> Result<Answer, WireError> {
        todo!()
    }

    /// Response code (low 4 bits from the header).
    pub fn rcode(&self) -> u16 {
        todo!()
    }

    /// Seconds this answer may be cached from when it was stored (0 = never).
    pub fn lifetime(&self) -> u32 {
        todo!()
    }

    /// Whether the answer has expired at `now`.
    pub fn expired(&self, _now: Instant) -> bool {
        todo!()
    }

    /// Writes the response to `query` into `out` (cleared first): the client's ID,
    /// RD/CD and question bytes (exact case), TTLs reduced by the time since storing,
    /// an OPT record only when the client sent one (DO echoed), and TC=1 with the
    /// records dropped when the result would exceed `limit` bytes.
    pub fn write_response(
        &self,
        _query: &Query,
        _packet: &[u8],
        _now: Instant,
        _limit: usize,
        _out: &mut Vec<u8>,
    ) {
        todo!()
    }
}
