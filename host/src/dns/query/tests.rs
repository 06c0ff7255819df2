//! Tests of [`parse_query`] and [`Query`]: hand-made packets and hickory-built ones.

use hickory_proto::rr::RecordType;

use super::*;
use crate::dns::testutil::{self, TestEdns, EDNS};

/// A hand-made query: header with the given flags and counts, then `body`.
fn raw(flags: u16, counts: [u16; 4], body: &[u8]) -> Vec<u8> {
    let mut p = vec![0xab, 0xcd];
    p.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        p.extend_from_slice(&c.to_be_bytes());
    }
    p.extend_from_slice(body);
    p
}

const QUESTION: &[u8] = b"\x07ExAmPle\x03com\x00\x00\x01\x00\x01";
const OPT: &[u8] = b"\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00";

fn answer(r: Result<Query, Reject>) -> RejectAnswer {
    match r {
        Err(Reject::Answer(a)) => a,
        other => panic!("expected an error answer, got {other:?}"),
    }
}

#[test]
fn decodes_a_hickory_query() {
    let packet = testutil::query(0x1234, "WwW.Example.COM.", RecordType::AAAA, EDNS, true);
    let q = parse_query(&packet).unwrap();
    assert_eq!((q.id, q.opcode, q.qtype, q.qclass), (0x1234, 0, 28, 1));
    assert!(q.rd() && q.cd() && !q.dnssec_ok());
    assert_eq!(q.qname(&packet), b"\x03WwW\x07Example\x03COM\x00");
    assert_eq!(q.question(&packet), &packet[12..12 + 21]);
    let edns = Edns {
        udp_size: 1232,
        version: 0,
        dnssec_ok: false,
    };
    assert_eq!(q.edns, Some(edns));
}

#[test]
fn ids_0_and_ffff() {
    for id in [0, 0xffff] {
        let packet = testutil::query(id, "a.", RecordType::A, None, false);
        let q = parse_query(&packet).unwrap();
        assert_eq!(q.id, id);
        assert!(!q.cd() && q.edns.is_none());
    }
}

#[test]
fn no_header_or_response_is_dropped() {
    for len in 0..HEADER_LEN {
        assert_eq!(
            parse_query(&[0u8; 11][..len]),
            Err(Reject::Drop(Dropped::Unreadable))
        );
    }
    let response = raw(0x8100, [1, 0, 0, 0], QUESTION);
    assert_eq!(parse_query(&response), Err(Reject::Drop(Dropped::Response)));
}

#[test]
fn every_prefix_is_dropped_or_formerr() {
    let packet = testutil::query(7, "www.example.com.", RecordType::A, EDNS, false);
    for cut in 0..packet.len() {
        match parse_query(&packet[..cut]) {
            Err(Reject::Drop(Dropped::Unreadable)) => assert!(cut < HEADER_LEN),
            Err(Reject::Answer(a)) => {
                assert!(cut >= HEADER_LEN, "prefix {cut}");
                assert_eq!(a.rcode, rcode::FORMERR, "prefix {cut}");
                assert_eq!(a.header, packet[..12]);
            }
            other => panic!("prefix {cut}: {other:?}"),
        }
    }
    assert!(parse_query(&packet).is_ok());
}

#[test]
fn other_opcodes_are_notimp_with_the_question() {
    for opcode in [1u16, 2, 4, 5, 15] {
        let a = answer(parse_query(&raw(opcode << 11 | RD, [1, 0, 0, 0], QUESTION)));
        assert_eq!(a.rcode, rcode::NOTIMP);
        assert_eq!(a.question_end, Some(12 + QUESTION.len()));
    }
    let a = answer(parse_query(&raw(5 << 11, [0, 0, 0, 0], b"")));
    assert_eq!((a.rcode, a.question_end), (rcode::NOTIMP, None));
}

#[test]
fn question_count_must_be_one() {
    for counts in [[0, 0, 0, 0], [2, 0, 0, 0]] {
        let body = [QUESTION, QUESTION].concat();
        let a = answer(parse_query(&raw(
            RD,
            counts,
            &body[..QUESTION.len() * usize::from(counts[0])],
        )));
        assert_eq!((a.rcode, a.question_end), (rcode::FORMERR, None));
    }
}

#[test]
fn bad_names_are_formerr() {
    let long = [&[63u8][..], &[b'a'; 63]].concat().repeat(4);
    let cases: [(&[u8], &str); 5] = [
        (b"\xc0\x0c\x00\x01\x00\x01", "bad compression pointer"),
        (b"\x40abc\x00\x00\x01\x00\x01", "bad label type"),
        (b"\x80abc\x00\x00\x01\x00\x01", "bad label type"),
        (&long, "name longer than 255 bytes"),
        (b"\x03abc\x00\x00\x01", "truncated question"),
    ];
    for (body, reason) in cases {
        let a = answer(parse_query(&raw(RD, [1, 0, 0, 0], body)));
        assert_eq!(
            (a.rcode, a.reason, a.question_end),
            (rcode::FORMERR, reason, None)
        );
    }
}

#[test]
fn trailing_bytes_are_formerr_with_the_question() {
    let a = answer(parse_query(&raw(
        RD,
        [1, 0, 0, 1],
        &[QUESTION, OPT, b"x"].concat(),
    )));
    assert_eq!(a.rcode, rcode::FORMERR);
    assert_eq!(a.question_end, Some(12 + QUESTION.len()));
    assert!(a.edns.is_some(), "the OPT was readable: echo it");
}

#[test]
fn opt_rules() {
    let two = answer(parse_query(&raw(
        0,
        [1, 0, 0, 2],
        &[QUESTION, OPT, OPT].concat(),
    )));
    assert_eq!(
        (two.rcode, two.reason, two.edns),
        (rcode::FORMERR, "more than one OPT record", None)
    );
    let named_opt = [b"\x01a".as_slice(), OPT].concat();
    let named = answer(parse_query(&raw(
        0,
        [1, 0, 0, 1],
        &[QUESTION, &named_opt].concat(),
    )));
    assert_eq!(named.reason, "OPT owner is not the root");
    let mut bad_option = OPT.to_vec();
    bad_option[10] = 3;
    bad_option.extend_from_slice(b"\x00\x0a\x00");
    let bad = answer(parse_query(&raw(
        0,
        [1, 0, 0, 1],
        &[QUESTION, &bad_option].concat(),
    )));
    assert_eq!(bad.reason, "truncated EDNS option");
}

#[test]
fn opt_options_and_other_records_are_skipped() {
    // Cookie option, plus an A record whose owner points at the question name, once
    // as an answer (tolerated in a query) and once as additional data.
    let mut opt = OPT.to_vec();
    opt[10] = 12;
    opt.extend_from_slice(b"\x00\x0a\x00\x08clientck");
    let glue = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01";
    let packet = raw(RD, [1, 1, 0, 2], &[QUESTION, glue, glue, &opt].concat());
    let q = parse_query(&packet).unwrap();
    assert!(q.dnssec_ok());
    assert_eq!(q.question_end, 12 + QUESTION.len());
}

#[test]
fn pointers_in_records_must_point_backwards() {
    let forward = b"\xc0\x40\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01";
    let a = answer(parse_query(&raw(
        RD,
        [1, 0, 0, 1],
        &[QUESTION, forward].concat(),
    )));
    assert_eq!(
        (a.rcode, a.reason),
        (rcode::FORMERR, "compression pointer loop")
    );
}

#[test]
fn badvers() {
    let e = TestEdns {
        size: 4096,
        dnssec_ok: true,
        version: 1,
    };
    let packet = testutil::query(9, "example.com.", RecordType::A, Some(e), false);
    let a = answer(parse_query(&packet));
    assert_eq!(a.rcode, rcode::BADVERS);
    assert_eq!(a.edns.map(|e| (e.version, e.dnssec_ok)), Some((1, true)));
    assert_eq!(a.question_end, Some(12 + 17));
}

#[test]
fn udp_limit() {
    let limit = |e: Option<TestEdns>, max| {
        let packet = testutil::query(1, "a.", RecordType::A, e, false);
        parse_query(&packet).unwrap().udp_limit(max)
    };
    let size = |size| {
        Some(TestEdns {
            size,
            dnssec_ok: true,
            version: 0,
        })
    };
    assert_eq!(limit(None, 1232), 512);
    assert_eq!(limit(size(100), 1232), 512);
    assert_eq!(limit(size(0), 1232), 512);
    assert_eq!(limit(size(1000), 1232), 1000);
    assert_eq!(limit(size(4096), 1232), 1232);
    assert_eq!(limit(size(4096), 100), 512);
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = testutil::Rng(0x9e37_79b9_7f4a_7c15);
    let valid = testutil::query(3, "www.example.com.", RecordType::A, EDNS, false);
    for i in 0..20_000 {
        let packet: Vec<u8> = if i % 2 == 0 {
            let len = (rng.next() % 96) as usize;
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            // Mutations of a valid packet reach deeper than pure noise.
            let mut p = valid.clone();
            for _ in 0..1 + rng.next() % 4 {
                let at = (rng.next() as usize) % p.len();
                p[at] = rng.next() as u8;
            }
            p
        };
        if let Ok(q) = parse_query(&packet) {
            assert!(q.question_end <= packet.len());
            assert!(q.qname(&packet).len() <= 255);
        }
    }
}
