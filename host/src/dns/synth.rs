//! Responses the proxy makes itself: error answers and the queries it sends upstream.
//!
//! Every response echoes the client's ID, opcode, RD and CD and its question bytes
//! (exact case), and carries an OPT record exactly when the client sent one
//! (RFC 6891 §6.1.1), with DO echoed (RFC 3225 §3) and the upper 8 bits of an
//! extended RCODE (RFC 6891 §6.1.3).

use super::header::{push_header, push_opt, CD, OPCODE_MASK, QR, RA, RCODE_MASK, RD};
use super::{Edns, Query, RejectAnswer, ADVERTISED_UDP_PAYLOAD, HEADER_LEN};

/// Header + the client's question (exact case) + OPT when the client sent EDNS; `rcode` may be extended.
pub fn error_response(query: &Query, packet: &[u8], rcode: u16, out: &mut Vec<u8>) {
    write_error(
        out,
        query.id,
        query.flags,
        rcode,
        query.question(packet),
        query.edns,
    );
}

/// The answer to a rejected packet (FORMERR, NOTIMP, BADVERS), echoing what was readable.
pub fn reject_response(packet: &[u8], reject: &RejectAnswer, out: &mut Vec<u8>) {
    let [id_hi, id_lo, flags_hi, flags_lo, ..] = reject.header;
    let question = reject
        .question_end
        .and_then(|end| packet.get(HEADER_LEN..end))
        .unwrap_or_default();
    write_error(
        out,
        u16::from_be_bytes([id_hi, id_lo]),
        u16::from_be_bytes([flags_hi, flags_lo]),
        reject.rcode,
        question,
        reject.edns,
    );
}

/// The query we send upstream for `query`: ID `id`, RD and CD as the client set them,
/// the client's question, and an OPT advertising `edns_payload` with DO as the client set it.
pub fn upstream_query(query: &Query, packet: &[u8], id: u16, edns_payload: u16, out: &mut Vec<u8>) {
    out.clear();
    let flags = query.flags & (RD | CD);
    push_header(out, id, flags, [1, 0, 0, 1]);
    out.extend_from_slice(query.question(packet));
    push_opt(out, edns_payload, 0, query.dnssec_ok());
}

/// An error response; `question` may be empty (then QDCOUNT is 0).
fn write_error(
    out: &mut Vec<u8>,
    id: u16,
    client_flags: u16,
    rcode: u16,
    question: &[u8],
    edns: Option<Edns>,
) {
    out.clear();
    let flags = QR | (client_flags & (OPCODE_MASK | RD | CD)) | RA | (rcode & RCODE_MASK);
    let qdcount = u16::from(!question.is_empty());
    let arcount = u16::from(edns.is_some());
    push_header(out, id, flags, [qdcount, 0, 0, arcount]);
    out.extend_from_slice(question);
    if let Some(edns) = edns {
        push_opt(
            out,
            ADVERTISED_UDP_PAYLOAD,
            (rcode >> 4) as u8,
            edns.dnssec_ok,
        );
    }
}
