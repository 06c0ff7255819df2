//! Header-first decoding of client queries: header, one question, the OPT record.
//!
//! Order of decisions: no header → drop; QR=1 → drop; opcode ≠ QUERY → NOTIMP; any
//! structural fault (question count, labels, pointers, truncation, trailing bytes,
//! duplicate or misplaced OPT) → FORMERR; EDNS version ≠ 0 → BADVERS. Answer and
//! authority records in a query are tolerated (RFC 1035 gives them no meaning in a
//! query; being liberal costs nothing) but must be well-formed.

use super::header::{
    get_u16, ANCOUNT_AT, ARCOUNT_AT, CD, NSCOUNT_AT, OPCODE_MASK, OPT_DO, QDCOUNT_AT, QR, RD,
    TYPE_OPT,
};
use super::wire::{check_opt_options, plain_name_end, Record, WireError};
use super::{rcode, CLASSIC_UDP_LIMIT, HEADER_LEN};
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
        self.flags & RD != 0
    }
    pub fn cd(&self) -> bool {
        self.flags & CD != 0
    }
    pub fn dnssec_ok(&self) -> bool {
        self.edns.is_some_and(|e| e.dnssec_ok)
    }
    /// The question section exactly as the client sent it (case included).
    pub fn question<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        packet.get(HEADER_LEN..self.question_end).unwrap_or(&[])
    }
    /// QNAME in wire form (uncompressed labels, terminating zero included).
    pub fn qname<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        let end = self.question_end.saturating_sub(4);
        packet.get(HEADER_LEN..end).unwrap_or(&[])
    }
    /// Largest UDP response this client accepts: 512 without EDNS, else its size
    /// (values < 512 count as 512), never above `server_max`.
    pub fn udp_limit(&self, server_max: u16) -> usize {
        let floor = CLASSIC_UDP_LIMIT;
        match self.edns {
            None => floor,
            Some(e) => usize::from(e.udp_size)
                .min(usize::from(server_max))
                .max(floor),
        }
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
pub fn parse_query(packet: &[u8]) -> Result<Query, Reject> {
    let Some(header) = packet.first_chunk::<HEADER_LEN>() else {
        return Err(Reject::Drop(Dropped::Unreadable));
    };
    let flags = u16::from_be_bytes([header[2], header[3]]);
    if flags & QR != 0 {
        return Err(Reject::Drop(Dropped::Response));
    }
    let opcode = ((flags & OPCODE_MASK) >> 11) as u8;
    let body = Body::parse(packet);
    let reject = |rcode, reason, question_end, edns| {
        Err(Reject::Answer(RejectAnswer {
            rcode,
            reason,
            header: *header,
            question_end,
            edns,
        }))
    };
    if opcode != 0 {
        let (question_end, edns) = match &body {
            Ok(b) => (Some(b.question_end), b.edns),
            Err(e) => (e.question_end, None),
        };
        return reject(rcode::NOTIMP, "opcode not implemented", question_end, edns);
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => return reject(rcode::FORMERR, e.reason, e.question_end, e.edns),
    };
    if let Some(edns) = body.edns.filter(|e| e.version != 0) {
        let reason = "unsupported EDNS version";
        return reject(rcode::BADVERS, reason, Some(body.question_end), Some(edns));
    }
    Ok(Query {
        id: u16::from_be_bytes([header[0], header[1]]),
        opcode,
        flags,
        qtype: body.qtype,
        qclass: body.qclass,
        question_end: body.question_end,
        edns: body.edns,
    })
}

/// What follows the header of a well-formed query.
struct Body {
    qtype: u16,
    qclass: u16,
    question_end: usize,
    edns: Option<Edns>,
}

/// A structural fault, with what was readable before it (echoed in the FORMERR).
struct BodyError {
    reason: &'static str,
    question_end: Option<usize>,
    edns: Option<Edns>,
}

impl Body {
    fn parse(packet: &[u8]) -> Result<Body, BodyError> {
        let count = |at| get_u16(packet, at).unwrap_or(0);
        let fault = |reason, question_end, edns| BodyError {
            reason,
            question_end,
            edns,
        };
        if count(QDCOUNT_AT) != 1 {
            return Err(fault("question count is not 1", None, None));
        }
        let name_end =
            plain_name_end(packet, HEADER_LEN).map_err(|e| fault(e.reason(), None, None))?;
        let (Some(qtype), Some(qclass)) =
            (get_u16(packet, name_end), get_u16(packet, name_end + 2))
        else {
            return Err(fault("truncated question", None, None));
        };
        let question_end = name_end + 4;
        let mut body = Body {
            qtype,
            qclass,
            question_end,
            edns: None,
        };
        let skipped = usize::from(count(ANCOUNT_AT)) + usize::from(count(NSCOUNT_AT));
        match body.walk_records(packet, skipped, count(ARCOUNT_AT).into()) {
            Ok(()) => Ok(body),
            Err(reason) => Err(fault(reason, Some(question_end), body.edns)),
        }
    }

    /// Walks answer + authority (`skipped` records) and the additional section
    /// (`additional` records), picking up the OPT record; the records must end the packet.
    fn walk_records(
        &mut self,
        packet: &[u8],
        skipped: usize,
        additional: usize,
    ) -> Result<(), &'static str> {
        let mut pos = self.question_end;
        for _ in 0..skipped {
            pos = Record::read(packet, pos).map_err(|e| e.reason())?.end;
        }
        for _ in 0..additional {
            let rr = Record::read(packet, pos).map_err(|e| e.reason())?;
            if rr.rtype == TYPE_OPT {
                if self.edns.take().is_some() {
                    return Err("more than one OPT record");
                }
                self.edns = Some(opt_edns(packet, &rr)?);
            }
            pos = rr.end;
        }
        if pos != packet.len() {
            return Err("trailing bytes after the last record");
        }
        Ok(())
    }
}

/// EDNS parameters of an OPT record (RFC 6891 §6.1): root owner, well-formed options.
fn opt_edns(packet: &[u8], rr: &Record) -> Result<Edns, &'static str> {
    if rr.owner_len != 1 {
        return Err("OPT owner is not the root");
    }
    check_opt_options(rr.rdata(packet)).map_err(|e: WireError| e.reason())?;
    Ok(Edns {
        udp_size: rr.class,
        version: (rr.ttl >> 16) as u8,
        dnssec_ok: rr.ttl & OPT_DO != 0,
    })
}

#[cfg(test)]
mod tests;
