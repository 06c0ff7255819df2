//! Responses built from policy decisions: blocks, local answers, rewrites.
//!
//! The header and the client's question (exact case) come first; records are
//! appended section by section; `finish` adds the OPT record (with an RFC 8914
//! extended error when given) only if the client sent EDNS, and truncates to
//! header + question + OPT with TC=1 when the result exceeds the client's limit.

use super::header::{push_header, set_u16, CD, OPCODE_MASK, QR, RA, RCODE_MASK, RD, TC};
use super::{Query, ADVERTISED_UDP_PAYLOAD, HEADER_LEN};

/// RFC 8914 extended error codes the proxy sends.
pub mod ede {
    /// 15 "Blocked": the operator's policy blocked the name.
    pub const BLOCKED: u16 = 15;
}

/// EDNS option code of Extended DNS Errors (RFC 8914 §2).
const OPTION_EDE: u16 = 15;
/// Longest EDE extra text we send.
const EDE_TEXT_MAX: usize = 200;
/// Class IN.
const CLASS_IN: u16 = 1;
/// A compression pointer to the question name, which always sits at offset 12.
const QUESTION_NAME_PTR: [u8; 2] = [0xc0, HEADER_LEN as u8];

/// Where a record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
}

/// A response under construction in `out`.
pub struct LocalResponse<'a> {
    out: &'a mut Vec<u8>,
    question_end: usize,
    answers: u16,
    authorities: u16,
    rcode: u16,
}

impl<'a> LocalResponse<'a> {
    /// Header (client ID, opcode, RD, CD; QR and RA set) and the client's question.
    pub fn start(query: &Query, packet: &[u8], rcode: u16, out: &'a mut Vec<u8>) -> Self {
        out.clear();
        let flags = QR | (query.flags & (OPCODE_MASK | RD | CD)) | RA | (rcode & RCODE_MASK);
        push_header(out, query.id, flags, [1, 0, 0, 0]);
        out.extend_from_slice(query.question(packet));
        let question_end = out.len();
        LocalResponse {
            out,
            question_end,
            answers: 0,
            authorities: 0,
            rcode,
        }
    }

    /// Appends a class-IN record. `owner` is a wire name, or `None` for the
    /// question's name (a pointer, so the client's spelling is kept).
    pub fn record(
        &mut self,
        section: Section,
        owner: Option<&[u8]>,
        rtype: u16,
        ttl: u32,
        rdata: &[u8],
    ) {
        match owner {
            Some(name) => self.out.extend_from_slice(name),
            None => self.out.extend_from_slice(&QUESTION_NAME_PTR),
        }
        self.out.extend_from_slice(&rtype.to_be_bytes());
        self.out.extend_from_slice(&CLASS_IN.to_be_bytes());
        self.out.extend_from_slice(&ttl.to_be_bytes());
        // Callers keep rdata within a message: at most 65535 bytes.
        let len = u16::try_from(rdata.len()).unwrap_or(u16::MAX);
        self.out.extend_from_slice(&len.to_be_bytes());
        self.out.extend_from_slice(&rdata[..usize::from(len)]);
        self.count(section, 1);
    }

    /// The buffer, for encoders that append whole records themselves (then call [`count`](Self::count)).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// Accounts for `n` records appended through [`buffer`](Self::buffer).
    pub fn count(&mut self, section: Section, n: u16) {
        match section {
            Section::Answer => self.answers = self.answers.saturating_add(n),
            Section::Authority => self.authorities = self.authorities.saturating_add(n),
        }
    }

    /// Completes the message: counts, OPT (with `ede` = (info code, extra text given
    /// in parts, written one after the other so callers need not format a string)
    /// if the client sent EDNS, and TC=1 with the records dropped past `limit`.
    pub fn finish(self, query: &Query, ede: Option<(u16, &[&str])>, limit: usize) {
        let LocalResponse {
            out,
            question_end,
            answers,
            authorities,
            rcode,
        } = self;
        set_u16(out, 6, answers);
        set_u16(out, 8, authorities);
        let opt_start = out.len();
        if let Some(edns) = query.edns {
            push_opt(out, rcode, edns.dnssec_ok, ede);
        }
        if out.len() <= limit {
            return;
        }
        // Too big for this client: TC=1, keep header, question and OPT (RFC 6891 §7).
        let opt_len = out.len() - opt_start;
        out.copy_within(opt_start.., question_end);
        out.truncate(question_end + opt_len);
        let flags = u16::from_be_bytes([out[2], out[3]]) | TC;
        set_u16(out, 2, flags);
        set_u16(out, 6, 0);
        set_u16(out, 8, 0);
    }
}

/// OPT record: our payload size, the extended RCODE bits, DO echoed, an optional EDE option.
fn push_opt(out: &mut Vec<u8>, rcode: u16, dnssec_ok: bool, ede: Option<(u16, &[&str])>) {
    let arcount = u16::from_be_bytes([out[10], out[11]]).saturating_add(1);
    set_u16(out, 10, arcount);
    let ttl = (u32::from((rcode >> 4) as u8) << 24) | if dnssec_ok { 0x8000 } else { 0 };
    out.push(0);
    out.extend_from_slice(&41u16.to_be_bytes());
    out.extend_from_slice(&ADVERTISED_UDP_PAYLOAD.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    match ede {
        None => out.extend_from_slice(&[0, 0]),
        Some((code, parts)) => {
            let len_at = out.len();
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&OPTION_EDE.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&code.to_be_bytes());
            // Extra text is for humans; keep the option small. Cutting bytes (not
            // chars) may split a UTF-8 sequence: RFC 8914 §2 says receivers must
            // cope, and names in plugin IDs are ASCII anyway.
            let mut room = EDE_TEXT_MAX;
            for part in parts {
                let take = &part.as_bytes()[..part.len().min(room)];
                out.extend_from_slice(take);
                room -= take.len();
            }
            let option_len = (2 + EDE_TEXT_MAX - room) as u16;
            set_u16(out, len_at, 4 + option_len);
            set_u16(out, len_at + 4, option_len);
        }
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
    use hickory_proto::rr::{RData, RecordType};

    use super::*;
    use crate::dns::parse_query;

    fn query_packet(name: &[u8], qtype: u16, edns: bool) -> Vec<u8> {
        let mut p = vec![0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)];
        p.extend_from_slice(name);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        if edns {
            p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
        }
        p
    }

    #[test]
    fn records_with_question_pointer_and_ede() {
        let packet = query_packet(b"\x03WwW\x07example\x03com\x00", 1, true);
        let query = parse_query(&packet).unwrap();
        let mut out = Vec::new();
        let mut r = LocalResponse::start(&query, &packet, 0, &mut out);
        r.record(Section::Answer, None, 1, 60, &[0, 0, 0, 0]);
        r.finish(
            &query,
            Some((ede::BLOCKED, &["blocked by plugin ", "ads"])),
            1232,
        );

        assert_eq!(
            &out[12..12 + 17],
            &packet[12..12 + 17],
            "question case kept"
        );
        let msg = Message::from_vec(&out).unwrap();
        assert_eq!(msg.metadata.id, 0xbeef);
        assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
        assert_eq!(msg.answers.len(), 1);
        assert_eq!(msg.answers[0].name.to_ascii(), "WwW.example.com.");
        assert!(matches!(&msg.answers[0].data, RData::A(a) if a.0.is_unspecified()));
        let edns = msg.edns.as_ref().expect("OPT echoed");
        assert!(edns.flags().dnssec_ok);
        let Some(EdnsOption::Unknown(15, bytes)) = edns.option(EdnsCode::Unknown(15)) else {
            panic!("EDE option missing: {edns:?}");
        };
        assert_eq!(&bytes[..2], &[0, 15]);
        assert_eq!(&bytes[2..], b"blocked by plugin ads");
        assert_eq!(msg.queries[0].query_type(), RecordType::A);
    }

    #[test]
    fn ede_text_parts_are_joined_and_capped() {
        let packet = query_packet(b"\x01a\x00", 1, true);
        let query = parse_query(&packet).unwrap();
        let long = "p".repeat(300);
        let mut out = Vec::new();
        LocalResponse::start(&query, &packet, 3, &mut out).finish(
            &query,
            Some((ede::BLOCKED, &["blocked by plugin ", &long])),
            4096,
        );
        let msg = Message::from_vec(&out).unwrap();
        let edns = msg.edns.as_ref().expect("OPT");
        let Some(EdnsOption::Unknown(15, bytes)) = edns.option(EdnsCode::Unknown(15)) else {
            panic!("EDE option missing: {edns:?}");
        };
        assert_eq!(bytes.len(), 2 + EDE_TEXT_MAX);
        assert!(bytes[2..].starts_with(b"blocked by plugin ppp"));
        assert!(bytes[2..].iter().skip(18).all(|&b| b == b'p'));
    }

    #[test]
    fn no_opt_without_client_edns() {
        let packet = query_packet(b"\x01a\x00", 1, false);
        let query = parse_query(&packet).unwrap();
        let mut out = Vec::new();
        LocalResponse::start(&query, &packet, 3, &mut out).finish(&query, Some((15, &["x"])), 512);
        let msg = Message::from_vec(&out).unwrap();
        assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
        assert!(msg.edns.is_none());
        assert_eq!(u16::from_be_bytes([out[10], out[11]]), 0);
    }

    #[test]
    fn oversize_is_truncated_with_tc() {
        let packet = query_packet(b"\x01a\x00", 16, true);
        let query = parse_query(&packet).unwrap();
        let mut out = Vec::new();
        let mut r = LocalResponse::start(&query, &packet, 0, &mut out);
        for _ in 0..10 {
            r.record(Section::Answer, None, 16, 60, &[255; 256]);
        }
        r.finish(&query, None, 512);
        assert!(out.len() <= 512);
        let msg = Message::from_vec(&out).unwrap();
        assert!(msg.metadata.truncation);
        assert!(msg.answers.is_empty());
        assert!(msg.edns.is_some(), "OPT kept when truncating");
    }
}
