//! DNS wire format, no I/O: header-first query decoding, wire-format answers with
//! patchable ID/case/TTLs, and synthesized responses.
//!
//! The hot path never builds a full `hickory_proto::op::Message`: [`query`] reads the
//! header and question only, [`answer`] walks an upstream response once to record
//! where its TTLs are, and serving an answer is a copy plus a few patches.
//!
//! | file | role |
//! |---|---|
//! | `query.rs` | [`parse_query`]: header, question, OPT; the reject decisions |
//! | `answer.rs` | [`Answer`]: stored upstream response, `write_response` |
//! | `ttl.rs` | [`TtlPolicy`]: cache lifetime, clamps, RFC 2308 negatives |
//! | `synth.rs` | error responses and the upstream query |
//! | `wire.rs` | bounds-checked name and record walking ([`WireError`]) |
//! | `header.rs` | header flag bits, integer access, header and OPT writers |
//! | `testutil.rs` | (tests) hickory-built messages |

pub mod answer;
mod header;
pub mod local;
pub mod name;
pub mod query;
pub mod synth;
#[cfg(test)]
pub(crate) mod testutil;
mod ttl;
mod wire;

pub use answer::{Answer, AnswerMeta, AnswerRef, TtlPolicy};
pub use query::{parse_query, Edns, Query, Reject, RejectAnswer};
pub use wire::WireError;

/// Response codes used by the proxy (RFC 1035 §4.1.1, RFC 6891 §9 for BADVERS).
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    /// Extended (12-bit) RCODE: upper 8 bits travel in the OPT record.
    pub const BADVERS: u16 = 16;
}

/// Header size in bytes.
pub const HEADER_LEN: usize = 12;
/// Classic UDP limit without EDNS (RFC 1035 §4.2.1).
pub const CLASSIC_UDP_LIMIT: usize = 512;
/// UDP payload size we advertise in the OPT records of our responses to clients
/// (DNS flag day 2020, RFC 9715: small enough to avoid IP fragmentation).
pub const ADVERTISED_UDP_PAYLOAD: u16 = 1232;
