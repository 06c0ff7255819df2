//! The bytes we send upstream and the checks a response must pass before anyone sees it.
//!
//! Anti-spoofing (RFC 5452 §9.1): an answer is accepted only when QR=1, its ID is one
//! we are waiting for, its opcode is the one we sent and its single question equals
//! ours, names compared case-insensitively. Nothing here panics on any input.

use std::sync::Arc;

/// Size of the DNS header.
pub(crate) const HEADER: usize = 12;

const QR: u8 = 0x80;
const TC: u8 = 0x02;
const OPCODE_MASK: u8 = 0x78;

/// A query ready to send: stored framed for TCP (2-byte length first, RFC 7766 §8);
/// the UDP datagram is everything after the length.
pub(crate) struct Outgoing {
    framed: Vec<u8>,
    question: Arc<[u8]>,
}

impl Outgoing {
    /// `None` unless `message` is a header followed by `question` (in any case), within
    /// 64 KiB. Answers are then checked against the question as sent.
    pub(crate) fn new(message: &[u8], question: &[u8]) -> Option<Outgoing> {
        let len = u16::try_from(message.len()).ok()?;
        let after_header = message.get(HEADER..)?;
        if !question_eq(question, after_header) {
            return None;
        }
        let mut framed = Vec::with_capacity(message.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(message);
        Some(Outgoing {
            framed,
            question: Arc::from(&after_header[..question.len()]),
        })
    }

    /// A copy to send independently (each sender sets its own ID).
    pub(crate) fn clone_of(other: &Outgoing) -> Outgoing {
        Outgoing {
            framed: other.framed.clone(),
            question: Arc::clone(&other.question),
        }
    }

    pub(crate) fn set_id(&mut self, id: u16) {
        self.framed[2..4].copy_from_slice(&id.to_be_bytes());
    }

    pub(crate) fn datagram(&self) -> &[u8] {
        &self.framed[2..]
    }

    pub(crate) fn framed(&self) -> &[u8] {
        &self.framed
    }

    pub(crate) fn question(&self) -> &Arc<[u8]> {
        &self.question
    }

    /// The opcode bits of the query, as they sit in the third header byte.
    pub(crate) fn opcode(&self) -> u8 {
        self.framed[4] & OPCODE_MASK
    }
}

/// Why a packet was not accepted, as counted in `upstream_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    /// Not a DNS response at all.
    Garbage,
    /// A response, but not to anything we asked (forged, late or confused).
    Mismatch,
}

impl Reject {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Reject::Garbage => "garbage",
            Reject::Mismatch => "mismatch",
        }
    }
}

/// The ID of a packet that at least looks like a response: a full header with QR=1.
pub(crate) fn response_id(packet: &[u8]) -> Result<u16, Reject> {
    match packet {
        [a, b, flags, ..] if packet.len() >= HEADER && flags & QR != 0 => {
            Ok(u16::from_be_bytes([*a, *b]))
        }
        _ => Err(Reject::Garbage),
    }
}

/// Whether `response` answers the query with `opcode` and `question` (ID checked elsewhere).
pub(crate) fn answers(response: &[u8], opcode: u8, question: &[u8]) -> bool {
    let (Some(flags), Some(qdcount)) = (response.get(2), response.get(4..6)) else {
        return false;
    };
    flags & OPCODE_MASK == opcode
        && qdcount == [0, 1]
        && response
            .get(HEADER..)
            .is_some_and(|rest| question_eq(question, rest))
}

/// Whether `got` starts with `expected` (an uncompressed question), label bytes compared
/// ASCII case-insensitively and everything else (lengths, type, class) exactly. Folding
/// case over the whole question would be wrong: type 65 (HTTPS) and 97 differ only in
/// the bit that ASCII case flips.
pub(crate) fn question_eq(expected: &[u8], got: &[u8]) -> bool {
    let mut at = 0;
    loop {
        let Some(&len) = expected.get(at) else {
            return false;
        };
        if len & 0xc0 != 0 {
            return false;
        }
        let end = at + 1 + usize::from(len);
        let (Some(e), Some(g)) = (expected.get(at..end), got.get(at..end)) else {
            return false;
        };
        if e[0] != g[0] || !e[1..].eq_ignore_ascii_case(&g[1..]) {
            return false;
        }
        at = end;
        if len == 0 {
            break;
        }
    }
    expected.len() == at + 4 && got.get(at..at + 4) == expected.get(at..)
}

pub(crate) fn truncated(response: &[u8]) -> bool {
    response.get(2).is_some_and(|flags| flags & TC != 0)
}

/// The 4-bit header RCODE (extended bits live in OPT and do not matter here).
pub(crate) fn rcode(response: &[u8]) -> u8 {
    response.get(3).map_or(0, |b| b & 0x0f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `www.Example.com. A IN`
    const QUESTION: &[u8] = b"\x03www\x07Example\x03com\x00\x00\x01\x00\x01";

    fn message(id: u16, flags: [u8; 2], qdcount: u16, question: &[u8]) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&flags);
        m.extend_from_slice(&qdcount.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        m.extend_from_slice(question);
        m
    }

    fn response(id: u16) -> Vec<u8> {
        let mut r = message(
            id,
            [0x81, 0x80],
            1,
            b"\x03WWW\x07example\x03COM\x00\x00\x01\x00\x01",
        );
        r[7] = 1;
        r.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03\x04");
        r
    }

    #[test]
    fn question_matches_whatever_the_case() {
        assert!(question_eq(QUESTION, QUESTION));
        assert!(question_eq(
            QUESTION,
            b"\x03WWW\x07eXAMPLE\x03cOm\x00\x00\x01\x00\x01"
        ));
        // What follows the question (answers) does not matter.
        assert!(question_eq(QUESTION, &response(1)[HEADER..]));
    }

    #[test]
    fn question_differences_are_caught() {
        let other_name = b"\x03www\x07Example\x03org\x00\x00\x01\x00\x01";
        let other_type = b"\x03www\x07Example\x03com\x00\x00\x1c\x00\x01";
        let other_class = b"\x03www\x07Example\x03com\x00\x00\x01\x00\x03";
        let other_split = b"\x03www\x08Example.\x02co\x00\x00\x01\x00\x01";
        for got in [&other_name[..], other_type, other_class, other_split] {
            assert!(!question_eq(QUESTION, got), "{got:?}");
        }
    }

    #[test]
    fn case_folding_does_not_touch_type_or_lengths() {
        // Type 65 (HTTPS) is 'A' and type 97 is 'a': they must not compare equal.
        let https = b"\x01a\x00\x00\x41\x00\x01";
        assert!(!question_eq(https, b"\x01a\x00\x00\x61\x00\x01"));
        assert!(question_eq(https, b"\x01A\x00\x00\x41\x00\x01"));
        // A length byte is never case-folded either ('A' = 65 would be a pointer anyway).
        assert!(!question_eq(
            b"\x01a\x00\x00\x01\x00\x01",
            b"\x01a\x01\x00\x01\x00\x01"
        ));
    }

    #[test]
    fn truncated_question_never_matches_nor_panics() {
        for cut in 0..QUESTION.len() {
            assert!(!question_eq(QUESTION, &QUESTION[..cut]), "cut at {cut}");
            assert!(
                !question_eq(&QUESTION[..cut], QUESTION),
                "expected cut at {cut}"
            );
        }
    }

    #[test]
    fn compressed_or_overlong_expected_question_never_matches() {
        let pointer = b"\xc0\x0c\x00\x01\x00\x01";
        assert!(!question_eq(pointer, pointer));
        // A trailing byte after type and class: not a question we would have sent.
        let long = b"\x01a\x00\x00\x01\x00\x01\x00";
        assert!(!question_eq(long, long));
    }

    #[test]
    fn response_id_needs_a_full_header_with_qr() {
        let r = response(0xffff);
        for cut in 0..HEADER {
            assert_eq!(response_id(&r[..cut]), Err(Reject::Garbage), "cut at {cut}");
        }
        assert_eq!(response_id(&r[..HEADER]), Ok(0xffff));
        assert_eq!(response_id(&response(0)), Ok(0));
        let query = message(7, [0x01, 0x00], 1, QUESTION);
        assert_eq!(response_id(&query), Err(Reject::Garbage));
    }

    #[test]
    fn answers_checks_count_opcode_and_question() {
        assert!(answers(&response(1), 0, QUESTION));
        let mut two = response(1);
        two[5] = 2;
        assert!(!answers(&two, 0, QUESTION));
        let mut none = response(1);
        none[5] = 0;
        assert!(!answers(&none, 0, QUESTION));
        let mut notify = response(1);
        notify[2] |= 4 << 3;
        assert!(!answers(&notify, 0, QUESTION));
        assert!(answers(&notify, 4 << 3, QUESTION));
        let r = response(1);
        for cut in 0..HEADER + QUESTION.len() {
            assert!(!answers(&r[..cut], 0, QUESTION), "cut at {cut}");
        }
    }

    #[test]
    fn outgoing_frames_and_patches_the_id() {
        let m = message(0, [0x01, 0x00], 1, QUESTION);
        let mut q = Outgoing::new(&m, QUESTION).expect("valid query");
        assert_eq!(q.framed()[..2], (m.len() as u16).to_be_bytes());
        assert_eq!(q.datagram(), &m[..]);
        q.set_id(0xffff);
        assert_eq!(q.datagram()[..2], [0xff, 0xff]);
        assert_eq!(q.datagram()[2..], m[2..]);
        q.set_id(0);
        assert_eq!(q.datagram()[..2], [0, 0]);
        assert_eq!(&q.question()[..], QUESTION);
        assert_eq!(q.opcode(), 0);
        // The caller's copy of the question may differ in case; what was sent counts.
        let lower = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01";
        let q = Outgoing::new(&m, lower).expect("same question");
        assert_eq!(&q.question()[..], QUESTION);
    }

    #[test]
    fn outgoing_rejects_what_is_not_a_query() {
        let m = message(0, [0x01, 0x00], 1, QUESTION);
        for cut in 0..HEADER + QUESTION.len() {
            assert!(Outgoing::new(&m[..cut], QUESTION).is_none(), "cut at {cut}");
        }
        assert!(Outgoing::new(&m, b"\x00\x00\x01\x00").is_none());
        assert!(Outgoing::new(&m, b"").is_none());
        assert!(Outgoing::new(&m, b"\x03www\x07Example\x03org\x00\x00\x01\x00\x01").is_none());
        let root = b"\x00\x00\x01\x00\x01";
        let mut huge = vec![0u8; 65_536];
        huge[HEADER..HEADER + root.len()].copy_from_slice(root);
        assert!(Outgoing::new(&huge, root).is_none());
        assert!(Outgoing::new(&huge[..65_535], root).is_some());
    }

    #[test]
    fn flags_and_rcode() {
        let mut r = response(1);
        assert!(!truncated(&r));
        assert_eq!(rcode(&r), 0);
        r[2] |= TC;
        r[3] |= 5;
        assert!(truncated(&r));
        assert_eq!(rcode(&r), 5);
        assert!(!truncated(&[]));
        assert_eq!(rcode(&[]), 0);
    }
}
