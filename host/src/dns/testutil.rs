//! Test helpers: DNS messages built and decoded with hickory-proto, an independent
//! implementation, so our wire code is checked against someone else's reading of the RFCs.

use std::net::Ipv4Addr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query as HQuery, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// Client-side EDNS settings of a test query.
#[derive(Debug, Clone, Copy)]
pub struct TestEdns {
    pub size: u16,
    pub dnssec_ok: bool,
    pub version: u8,
}

pub const EDNS: Option<TestEdns> = Some(TestEdns {
    size: 1232,
    dnssec_ok: false,
    version: 0,
});

pub fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("test name")
}

fn edns(e: TestEdns) -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(e.size);
    edns.set_dnssec_ok(e.dnssec_ok);
    edns.set_version(e.version);
    edns
}

/// A query with RD set and CD as given.
pub fn query(id: u16, qname: &str, qtype: RecordType, e: Option<TestEdns>, cd: bool) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = cd;
    m.add_query(HQuery::query(name(qname), qtype));
    if let Some(e) = e {
        m.set_edns(edns(e));
    }
    m.to_vec().expect("encode query")
}

pub fn a(owner: &str, ttl: u32, last: u8) -> Record {
    Record::from_rdata(
        name(owner),
        ttl,
        RData::A(A(Ipv4Addr::new(192, 0, 2, last))),
    )
}

pub fn cname(owner: &str, ttl: u32, target: &str) -> Record {
    Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(name(target))))
}

pub fn soa(zone: &str, ttl: u32, minimum: u32) -> Record {
    let data = SOA::new(
        name("ns1.example."),
        name("hostmaster.example."),
        1,
        7200,
        900,
        86400,
        minimum,
    );
    Record::from_rdata(name(zone), ttl, RData::SOA(data))
}

/// Sections of an upstream test response.
#[derive(Default)]
pub struct Sections {
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
    /// Upstream OPT (payload 4096) when set; carries the DO bit given.
    pub edns_do: Option<bool>,
}

/// An upstream response as hickory encodes it (names compressed).
pub fn response(
    id: u16,
    qname: &str,
    qtype: RecordType,
    rcode: ResponseCode,
    s: Sections,
) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.metadata.response_code = rcode;
    m.add_query(HQuery::query(name(qname), qtype));
    m.add_answers(s.answers);
    m.add_authorities(s.authority);
    m.add_additionals(s.additional);
    if let Some(dnssec_ok) = s.edns_do {
        m.set_edns(edns(TestEdns {
            size: 4096,
            dnssec_ok,
            version: 0,
        }));
    }
    m.to_vec().expect("encode response")
}

pub fn decode(wire: &[u8]) -> Message {
    Message::from_vec(wire).expect("hickory decodes our output")
}

/// Tiny deterministic generator (xorshift64*) for property-style loops.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
