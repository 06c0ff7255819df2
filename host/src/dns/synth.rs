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

#[cfg(test)]
mod tests {
    use hickory_proto::op::{MessageType, OpCode, ResponseCode};
    use hickory_proto::rr::RecordType;

    use super::*;
    use crate::dns::testutil::{self, decode, TestEdns, EDNS};
    use crate::dns::{parse_query, rcode, Reject};

    fn error(client: &[u8], rc: u16) -> Vec<u8> {
        let mut out = vec![0xee; 3];
        error_response(&parse_query(client).unwrap(), client, rc, &mut out);
        out
    }

    #[test]
    fn error_echoes_id_flags_question_and_opt() {
        for id in [0, 0xffff] {
            let do_edns = Some(TestEdns {
                size: 512,
                dnssec_ok: true,
                version: 0,
            });
            let client = testutil::query(id, "MiXeD.example.", RecordType::MX, do_edns, true);
            let out = error(&client, rcode::SERVFAIL);
            assert_eq!(out[12..12 + 20], client[12..12 + 20]);
            let m = decode(&out);
            assert_eq!(m.metadata.id, id);
            assert_eq!(m.metadata.message_type, MessageType::Response);
            assert!(m.metadata.recursion_desired && m.metadata.checking_disabled);
            assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
            assert!(m.answers.is_empty());
            let edns = m.edns.expect("OPT when the client sent one");
            assert!(edns.flags().dnssec_ok);
            assert_eq!(
                (edns.version(), edns.max_payload()),
                (0, ADVERTISED_UDP_PAYLOAD)
            );
        }
        let plain = testutil::query(5, "a.example.", RecordType::A, None, false);
        let m = decode(&error(&plain, rcode::REFUSED));
        assert!(m.edns.is_none() && !m.metadata.checking_disabled);
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    }

    #[test]
    fn badvers_carries_the_extended_rcode_in_a_version_0_opt() {
        let e = TestEdns {
            size: 4096,
            dnssec_ok: true,
            version: 1,
        };
        let client = testutil::query(0xbeef, "example.com.", RecordType::A, Some(e), false);
        let Err(Reject::Answer(reject)) = parse_query(&client) else {
            panic!("BADVERS expected")
        };
        let mut out = Vec::new();
        reject_response(&client, &reject, &mut out);
        assert_eq!(out[3] & 0x0f, 0, "low bits of 16");
        assert_eq!(
            out[out.len() - 6..out.len() - 4],
            [1, 0],
            "extended rcode 1, version 0"
        );
        let m = decode(&out);
        assert_eq!(m.metadata.id, 0xbeef);
        // 16 is both BADVERS and BADSIG; hickory names it the latter.
        assert_eq!(u16::from(m.metadata.response_code), rcode::BADVERS);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.edns.expect("OPT").version(), 0);
    }

    #[test]
    fn formerr_and_notimp_echo_what_was_readable() {
        let mut two = testutil::query(7, "example.com.", RecordType::A, None, false);
        two[5] = 2;
        let Err(Reject::Answer(reject)) = parse_query(&two) else {
            panic!("FORMERR expected")
        };
        let mut out = Vec::new();
        reject_response(&two, &reject, &mut out);
        let m = decode(&out);
        assert_eq!(
            (m.metadata.id, m.metadata.response_code),
            (7, ResponseCode::FormErr)
        );
        assert!(m.queries.is_empty() && m.metadata.recursion_desired);

        let mut status = testutil::query(8, "example.com.", RecordType::A, EDNS, false);
        status[2] |= 2 << 3;
        let Err(Reject::Answer(reject)) = parse_query(&status) else {
            panic!("NOTIMP expected")
        };
        reject_response(&status, &reject, &mut out);
        let m = decode(&out);
        assert_eq!(m.metadata.op_code, OpCode::Status);
        assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
        assert_eq!((m.queries.len(), m.edns.is_some()), (1, true));
    }

    #[test]
    fn upstream_query_forwards_rd_cd_do_and_question() {
        let do_edns = Some(TestEdns {
            size: 600,
            dnssec_ok: true,
            version: 0,
        });
        let client = testutil::query(1, "wWw.Example.", RecordType::AAAA, do_edns, true);
        let query = parse_query(&client).unwrap();
        let mut out = vec![1, 2, 3];
        upstream_query(&query, &client, 0xffff, 1400, &mut out);
        assert_eq!(out[12..12 + 17], client[12..12 + 17]);
        let m = decode(&out);
        assert_eq!(
            (m.metadata.id, m.metadata.message_type),
            (0xffff, MessageType::Query)
        );
        assert!(m.metadata.recursion_desired && m.metadata.checking_disabled);
        let edns = m.edns.expect("OPT");
        assert_eq!(edns.max_payload(), 1400);
        assert!(edns.flags().dnssec_ok);
        let parsed = parse_query(&out).unwrap();
        assert_eq!((parsed.id, parsed.qtype, parsed.cd()), (0xffff, 28, true));

        let mut plain = testutil::query(1, "a.", RecordType::A, None, false);
        plain[2] &= !0x01; // RD=0 is the client's choice too
        upstream_query(&parse_query(&plain).unwrap(), &plain, 0, 1232, &mut out);
        let m = decode(&out);
        assert!(!m.metadata.checking_disabled && !m.metadata.recursion_desired);
        assert!(!m.edns.expect("always EDNS upstream").flags().dnssec_ok);
    }
}
