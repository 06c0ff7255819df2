//! Tests of [`Answer`]: upstream messages built by hickory, our responses decoded by hickory.

use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use super::*;
use crate::dns::testutil::{self, a, cname, decode, soa, Sections, TestEdns, EDNS};
use crate::dns::{parse_query, rcode};

const POLICY: TtlPolicy = TtlPolicy {
    min_ttl: 30,
    max_ttl: 3600,
    negative_max_ttl: 900,
};

fn sections(answers: Vec<hickory_proto::rr::Record>) -> Sections {
    Sections {
        answers,
        edns_do: Some(false),
        ..Sections::default()
    }
}

fn upstream(rc: ResponseCode, s: Sections) -> Vec<u8> {
    testutil::response(0x5555, "www.example.com.", RecordType::A, rc, s)
}

/// Serves `answer` to a fresh client query; returns the raw response.
fn serve(answer: &Answer, client: &[u8], at: Instant, limit: usize) -> Vec<u8> {
    let query = parse_query(client).unwrap();
    let mut out = Vec::new();
    answer.write_response(&query, client, at, limit, &mut out);
    out
}

fn ttls(wire: &[u8]) -> Vec<u32> {
    decode(wire).all_sections().map(|r| r.ttl).collect()
}

#[test]
fn serves_with_client_id_case_flags_and_opt() {
    let now = Instant::now();
    let mut wire = upstream(
        ResponseCode::NoError,
        sections(vec![a("www.example.com.", 300, 1)]),
    );
    wire[2] |= 0x04; // AA from an authoritative upstream
    let answer = Answer::from_upstream(&wire, &POLICY, now).unwrap();
    assert_eq!((answer.lifetime(), answer.rcode()), (300, rcode::NOERROR));
    for id in [0u16, 0xffff, 0x1234] {
        let do_edns = Some(TestEdns {
            size: 4096,
            dnssec_ok: true,
            version: 0,
        });
        let client = testutil::query(id, "wWw.ExAmple.cOM.", RecordType::A, do_edns, true);
        let out = serve(&answer, &client, now, 1232);
        assert_eq!(
            out[12..12 + 21],
            client[12..12 + 21],
            "question bytes, case included"
        );
        let m = decode(&out);
        assert_eq!(m.metadata.id, id);
        assert!(m.metadata.recursion_desired && m.metadata.checking_disabled);
        assert!(m.metadata.recursion_available && !m.metadata.authoritative);
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].ttl, 300);
        let edns = m.edns.expect("OPT echoed");
        assert_eq!((edns.max_payload(), edns.version()), (1232, 0));
        assert!(edns.flags().dnssec_ok);
    }
}

#[test]
fn opt_is_stripped_and_only_added_for_edns_clients() {
    let now = Instant::now();
    let wire = upstream(
        ResponseCode::NoError,
        sections(vec![a("www.example.com.", 300, 1)]),
    );
    let answer = Answer::from_upstream(&wire, &POLICY, now).unwrap();
    assert_eq!(get_u16(answer.wire(), ARCOUNT_AT), Some(0));
    assert_eq!(answer.wire().len(), wire.len() - 11);
    let plain = testutil::query(1, "www.example.com.", RecordType::A, None, false);
    let m = decode(&serve(&answer, &plain, now, 512));
    assert!(m.edns.is_none() && m.additionals.is_empty());
    assert!(!m.metadata.checking_disabled);
}

/// Header + question, then `additional` raw records with ARCOUNT set to match.
fn with_additional(records: &[&[u8]]) -> Vec<u8> {
    let mut wire = upstream(ResponseCode::NoError, Sections::default());
    wire.extend(records.concat());
    set_u16(&mut wire, ARCOUNT_AT, records.len() as u16);
    wire
}

const GLUE: &[u8] = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x05";
const UPSTREAM_OPT: &[u8] = b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00";

#[test]
fn additional_is_cut_at_the_opt_record() {
    let now = Instant::now();
    let before =
        Answer::from_upstream(&with_additional(&[GLUE, UPSTREAM_OPT]), &POLICY, now).unwrap();
    assert_eq!(
        decode(before.wire()).additionals.len(),
        1,
        "glue before OPT kept"
    );
    assert_eq!(before.ttl_offsets().count(), 1);
    let after =
        Answer::from_upstream(&with_additional(&[UPSTREAM_OPT, GLUE]), &POLICY, now).unwrap();
    let m = decode(after.wire());
    assert!(
        m.additionals.is_empty() && m.edns.is_none(),
        "OPT and what follows dropped"
    );
    assert!(after.ttl_offsets().next().is_none());
    let two = Answer::from_upstream(
        &with_additional(&[UPSTREAM_OPT, UPSTREAM_OPT]),
        &POLICY,
        now,
    );
    assert_eq!(
        two.unwrap_err(),
        WireError::Malformed("more than one OPT record")
    );
}

#[test]
fn ttls_decrease_with_whole_seconds_and_saturate() {
    let t0 = Instant::now();
    let records = vec![
        cname("www.example.com.", 600, "web.example.com."),
        a("web.example.com.", 120, 1),
    ];
    let wire = upstream(ResponseCode::NoError, sections(records));
    let answer = Answer::from_upstream(&wire, &POLICY, t0).unwrap();
    assert_eq!(answer.lifetime(), 120);
    let client = testutil::query(2, "www.example.com.", RecordType::A, EDNS, false);
    // CNAME capped at the lifetime: never served longer than the entry lives.
    assert_eq!(ttls(&serve(&answer, &client, t0, 1232)), [120, 120]);
    assert_eq!(
        ttls(&serve(
            &answer,
            &client,
            t0 + Duration::from_millis(1900),
            1232
        )),
        [119, 119]
    );
    assert_eq!(
        ttls(&serve(
            &answer,
            &client,
            t0 + Duration::from_secs(100),
            1232
        )),
        [20, 20]
    );
    assert_eq!(
        ttls(&serve(
            &answer,
            &client,
            t0 + Duration::from_secs(500),
            1232
        )),
        [0, 0]
    );
    assert!(!answer.expired(t0 + Duration::from_secs(119)));
    assert!(answer.expired(t0 + Duration::from_secs(120)));
    assert_eq!(
        answer.remaining(t0 + Duration::from_secs(100)),
        Duration::from_secs(20)
    );
}

#[test]
fn clamps_extend_lifetime_but_never_served_ttls() {
    let now = Instant::now();
    let client = testutil::query(2, "www.example.com.", RecordType::A, None, false);
    let short = upstream(
        ResponseCode::NoError,
        sections(vec![a("www.example.com.", 5, 1)]),
    );
    let short = Answer::from_upstream(&short, &POLICY, now).unwrap();
    assert_eq!(short.lifetime(), 30);
    assert_eq!(ttls(&serve(&short, &client, now, 512)), [5]);
    let long = upstream(
        ResponseCode::NoError,
        sections(vec![a("www.example.com.", 86_400, 1)]),
    );
    let long = Answer::from_upstream(&long, &POLICY, now).unwrap();
    assert_eq!(long.lifetime(), 3600);
    assert_eq!(ttls(&serve(&long, &client, now, 512)), [3600]);
}

#[test]
fn ttl_zero_and_errors_are_relayed_not_cached() {
    let now = Instant::now();
    let client = testutil::query(2, "www.example.com.", RecordType::A, None, false);
    let zero = upstream(
        ResponseCode::NoError,
        sections(vec![
            a("www.example.com.", 0, 1),
            a("www.example.com.", 60, 2),
        ]),
    );
    let zero = Answer::from_upstream(&zero, &POLICY, now).unwrap();
    assert_eq!(zero.lifetime(), 0);
    assert_eq!(
        ttls(&serve(&zero, &client, now, 512)),
        [0, 60],
        "relayed as given"
    );
    for rc in [ResponseCode::ServFail, ResponseCode::Refused] {
        let wire = upstream(
            rc,
            Sections {
                authority: vec![soa("example.com.", 60, 60)],
                ..Sections::default()
            },
        );
        let answer = Answer::from_upstream(&wire, &POLICY, now).unwrap();
        assert_eq!(answer.lifetime(), 0);
        assert_eq!(answer.rcode(), u16::from(rc));
        assert_eq!(
            decode(&serve(&answer, &client, now, 512))
                .metadata
                .response_code,
            rc
        );
    }
}

#[test]
fn negative_answers_use_the_soa_minimum() {
    let now = Instant::now();
    let client = testutil::query(2, "www.example.com.", RecordType::A, None, false);
    let nx = upstream(
        ResponseCode::NXDomain,
        Sections {
            authority: vec![soa("example.com.", 3600, 60)],
            ..Sections::default()
        },
    );
    let nx = Answer::from_upstream(&nx, &POLICY, now).unwrap();
    assert_eq!((nx.lifetime(), nx.rcode()), (60, rcode::NXDOMAIN));
    let m = decode(&serve(&nx, &client, now + Duration::from_secs(10), 512));
    assert_eq!(
        m.authorities[0].ttl, 50,
        "SOA TTL served as the negative TTL, aged"
    );
    assert!(matches!(m.authorities[0].data, RData::SOA(_)));
    let nodata = upstream(
        ResponseCode::NoError,
        Sections {
            authority: vec![soa("example.com.", 300, 3600)],
            ..Sections::default()
        },
    );
    assert_eq!(
        Answer::from_upstream(&nodata, &POLICY, now)
            .unwrap()
            .lifetime(),
        300
    );
    let bare = upstream(ResponseCode::NXDomain, Sections::default());
    assert_eq!(
        Answer::from_upstream(&bare, &POLICY, now)
            .unwrap()
            .lifetime(),
        0
    );
}

#[test]
fn oversize_sets_tc_and_keeps_question_and_opt() {
    let now = Instant::now();
    let records = (0..40).map(|i| a("www.example.com.", 300, i)).collect();
    let answer = Answer::from_upstream(
        &upstream(ResponseCode::NoError, sections(records)),
        &POLICY,
        now,
    )
    .unwrap();
    let plain = testutil::query(0xffff, "WWW.example.com.", RecordType::A, None, false);
    let out = serve(&answer, &plain, now, 512);
    assert!(out.len() <= 512);
    let m = decode(&out);
    assert!(m.metadata.truncation && m.answers.is_empty() && m.edns.is_none());
    assert_eq!((m.metadata.id, m.queries.len()), (0xffff, 1));
    assert_eq!(out[12..], plain[12..], "question echoed exactly");
    let with_edns = testutil::query(1, "www.example.com.", RecordType::A, EDNS, false);
    let m = decode(&serve(&answer, &with_edns, now, 512));
    assert!(m.metadata.truncation && m.edns.is_some());
    let full = decode(&serve(&answer, &with_edns, now, 65_535));
    assert!(!full.metadata.truncation);
    assert_eq!(full.answers.len(), 40);
}

#[test]
fn extended_rcode_survives_the_opt_strip() {
    let now = Instant::now();
    let mut wire = upstream(ResponseCode::NoError, Sections::default());
    wire.extend_from_slice(b"\x00\x00\x29\x10\x00\x01\x00\x00\x00\x00\x00");
    set_u16(&mut wire, ARCOUNT_AT, 1);
    let flags = get_u16(&wire, FLAGS_AT).unwrap();
    set_u16(&mut wire, FLAGS_AT, flags | 7); // (1 << 4) | 7 = 23, BADCOOKIE
    let answer = Answer::from_upstream(&wire, &POLICY, now).unwrap();
    assert_eq!((answer.rcode(), answer.lifetime()), (23, 0));
    let client = testutil::query(1, "www.example.com.", RecordType::A, EDNS, false);
    let m = decode(&serve(&answer, &client, now, 1232));
    assert_eq!(u16::from(m.metadata.response_code), 23);
}

#[test]
fn rejects_what_is_not_a_single_question_response() {
    let now = Instant::now();
    let good = upstream(
        ResponseCode::NoError,
        sections(vec![a("www.example.com.", 300, 1)]),
    );
    let mut query = good.clone();
    set_u16(&mut query, FLAGS_AT, 0x0100);
    assert!(Answer::from_upstream(&query, &POLICY, now).is_err());
    let mut two = good.clone();
    set_u16(&mut two, QDCOUNT_AT, 2);
    assert!(Answer::from_upstream(&two, &POLICY, now).is_err());
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(Answer::from_upstream(&trailing, &POLICY, now).is_err());
    for cut in 0..good.len() {
        assert!(
            Answer::from_upstream(&good[..cut], &POLICY, now).is_err(),
            "prefix {cut}"
        );
    }
}

#[test]
fn owner_pointer_loops_are_rejected() {
    let mut wire = upstream(ResponseCode::NoError, Sections::default());
    let at = wire.len() as u16;
    wire.extend_from_slice(&(0xc000 | at).to_be_bytes());
    wire.extend_from_slice(b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01");
    set_u16(&mut wire, ANCOUNT_AT, 1);
    let err = Answer::from_upstream(&wire, &POLICY, Instant::now()).unwrap_err();
    assert!(matches!(err, WireError::PointerLoop(_)));
}

#[test]
fn ttl_with_top_bit_is_served_as_zero() {
    let now = Instant::now();
    let mut wire = upstream(
        ResponseCode::NoError,
        sections(vec![a("www.example.com.", 300, 1)]),
    );
    let answer = Answer::from_upstream(&wire, &POLICY, now).unwrap();
    let at = answer.ttl_offsets().next().unwrap();
    wire[at] = 0x80;
    let answer = Answer::from_upstream(&wire, &POLICY, now).unwrap();
    assert_eq!(answer.lifetime(), 0);
    let client = testutil::query(2, "www.example.com.", RecordType::A, None, false);
    assert_eq!(ttls(&serve(&answer, &client, now, 512)), [0]);
}

#[test]
fn mutated_responses_never_panic() {
    let now = Instant::now();
    let records = vec![
        cname("www.example.com.", 600, "web.example.com."),
        a("web.example.com.", 120, 1),
    ];
    let valid = testutil::response(
        1,
        "www.example.com.",
        RecordType::A,
        ResponseCode::NoError,
        Sections {
            answers: records,
            authority: vec![soa("example.com.", 60, 60)],
            edns_do: Some(true),
            ..Sections::default()
        },
    );
    let client = testutil::query(2, "www.example.com.", RecordType::A, EDNS, false);
    let query = parse_query(&client).unwrap();
    let mut rng = testutil::Rng(0x0123_4567_89ab_cdef);
    let mut out = Vec::new();
    for _ in 0..20_000 {
        let mut wire = valid.clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % wire.len();
            wire[at] = rng.next() as u8;
        }
        wire.truncate(wire.len() - (rng.next() % 3) as usize);
        if let Ok(answer) = Answer::from_upstream(&wire, &POLICY, now) {
            answer.write_response(&query, &client, now + Duration::from_secs(5), 512, &mut out);
            assert!(out.len() <= 512);
        }
    }
}
