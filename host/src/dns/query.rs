//! Header-first decoding of client queries: header, one question, the OPT record.

use crate::metrics::Dropped;

/// EDNS(0) parameters from the client's OPT record (RFC 6891).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// Advertised UDP payload size as sent (may be < 512).
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

/// A client query, decoded header-first: header fields and the question, nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    pub opcode: u8,
    /// The raw header flags word (bytes 2..4).
    pub flags: u16,
    pub qtype: u16,
    pub qclass: u16,
    /// The question is `packet[12..question_end]`; its QNAME is `packet[12..question_end - 4]`.
    pub question_end: usize,
    pub edns: Option<Edns>,
}

impl Query {
    pub fn rd(&self) -> bool {
        todo!()
    }
    pub fn cd(&self) -> bool {
        todo!()
    }
    pub fn dnssec_ok(&self) -> bool {
        todo!()
    }
    /// The question section exactly as the client sent it (case included).
    pub fn question<'a>(&self, _packet: &'a [u8]) -> &'a [u8] {
        todo!()
    }
    /// QNAME in wire form (uncompressed labels, terminating zero included).
    pub fn qname<'a>(&self, _packet: &'a [u8]) -> &'a [u8] {
        todo!()
    }
    /// Largest UDP response this client accepts: 512 without EDNS, else its size
    /// (values < 512 count as 512), never above `server_max`.
    pub fn udp_limit(&self, _server_max: u16) -> usize {
        todo!()
    }
}

/// An error answer to a query that could not be served (FORMERR, NOTIMP, BADVERS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectAnswer {
    pub rcode: u16,
    /// Short, static: logged on the `security` target.
    pub reason: &'static str,
    /// Header of the offending packet (its ID, opcode and RD are echoed).
    pub header: [u8; 12],
    /// End of the question when it was readable, so it can be echoed.
    pub question_end: Option<usize>,
    pub edns: Option<Edns>,
}

/// Why a packet is not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// Say nothing: no readable header, or QR=1.
    Drop(Dropped),
    /// Answer with an error code.
    Answer(RejectAnswer),
}

/// Decodes a client query header-first. Never panics, whatever the bytes.
pub fn parse_query(_packet: &[u8]) -> Result<Query, Reject> {
    todo!()
}
