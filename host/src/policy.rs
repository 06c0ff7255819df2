//! Plugin verdicts turned into DNS: blocks, local answers, rewrites, and the
//! records plugins see in the on-response phase.
//!
//! The chain itself (`plugin::PluginChain`) decides; this module only writes
//! wire answers, so the pipeline stays a readable sequence of steps. Local answers
//! and rewrites are rarer than cache hits and may use hickory to decode records;
//! blocks are written directly.

use std::cell::Cell;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use hickory_proto::op::Message;
use hickory_proto::rr::{RData, Record};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use crate::buffer::PooledBuf;
use crate::dns::local::{ede, LocalResponse, Section};
use crate::dns::name::{from_presentation, to_presentation, NameError};
use crate::dns::{self, rcode, AnswerRef, Query};
use crate::pipeline::Client;
use crate::plugin::{BlockKind, ClientInfo, PluginRData, PluginRecord, QuestionView};

const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_TXT: u16 = 16;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
/// TTL of null-ip block records and of the CNAME a rewrite adds: short, so a
/// policy change reaches clients quickly.
const LOCAL_TTL: u32 = 60;
/// Largest buffer used to decode an answer for plugins (no truncation there).
const NO_LIMIT: usize = u16::MAX as usize;

/// Why a plugin's verdict could not be turned into an answer (answered SERVFAIL, logged).
#[derive(Debug, thiserror::Error)]
pub enum VerdictError {
    #[error("bad name in verdict: {0}")]
    Name(#[from] NameError),
    #[error("record data longer than 65535 bytes")]
    RdataTooLong,
    #[error("record type {0} cannot be answered")]
    ForbiddenType(u16),
    #[error("answer for the rewritten name is unreadable")]
    Undecodable,
}

thread_local! {
    /// The name buffer of the last question view this thread recycled: building
    /// the next view reuses its capacity instead of allocating per query.
    static NAME_BUF: Cell<String> = const { Cell::new(String::new()) };
}

/// The question as plugins see it. Hand it to [`recycle`] once done with it.
pub fn question_view(query: &Query, packet: &[u8]) -> QuestionView {
    let wire = query.qname(packet);
    let mut name = NAME_BUF.take();
    name.clear();
    // Presentation is at most the wire length unless bytes need \DDD escapes.
    name.reserve(wire.len());
    to_presentation(wire, &mut name);
    QuestionView {
        name,
        qtype: query.qtype,
        qclass: query.qclass,
    }
}

/// Keeps the name buffer of a view no longer needed for this thread's next query.
pub fn recycle(view: QuestionView) {
    NAME_BUF.set(view.name);
}

pub fn client_info(client: Client) -> ClientInfo {
    ClientInfo {
        ip: client.addr.ip(),
        port: client.addr.port(),
        proto: client.proto,
    }
}

/// Writes a block answer; returns its response code.
pub fn write_block(
    query: &Query,
    packet: &[u8],
    kind: BlockKind,
    plugin: &str,
    limit: usize,
    out: &mut Vec<u8>,
) -> u16 {
    let code = match kind {
        BlockKind::Nxdomain => rcode::NXDOMAIN,
        BlockKind::Refused => rcode::REFUSED,
        BlockKind::NullIp => rcode::NOERROR,
        // A 12-bit RCODE is all the wire can carry, and its upper 8 bits travel in
        // the OPT record (RFC 6891 §6.1.3): a client that sent no EDNS would read
        // only the low 4 bits, a different code (23 BADCOOKIE → 7 YXDOMAIN).
        BlockKind::Rcode(n) if n < 16 || (n < 4096 && query.edns.is_some()) => n,
        BlockKind::Rcode(_) => rcode::SERVFAIL,
    };
    let mut response = LocalResponse::start(query, packet, code, out);
    if kind == BlockKind::NullIp {
        match query.qtype {
            TYPE_A => response.record(
                Section::Answer,
                None,
                TYPE_A,
                LOCAL_TTL,
                &Ipv4Addr::UNSPECIFIED.octets(),
            ),
            TYPE_AAAA => response.record(
                Section::Answer,
                None,
                TYPE_AAAA,
                LOCAL_TTL,
                &Ipv6Addr::UNSPECIFIED.octets(),
            ),
            _ => {}
        }
    }
    response.finish(
        query,
        Some((ede::BLOCKED, &["blocked by plugin ", plugin])),
        limit,
    );
    code
}

/// Writes a NOERROR answer made of plugin records.
pub fn write_records(
    query: &Query,
    packet: &[u8],
    question: &QuestionView,
    records: &[PluginRecord],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), VerdictError> {
    let mut response = LocalResponse::start(query, packet, rcode::NOERROR, out);
    let mut owner = Vec::new();
    let mut rdata = Vec::new();
    for record in records {
        owner.clear();
        rdata.clear();
        let own = !record.name.is_empty() && !same_name(&record.name, &question.name);
        if own {
            from_presentation(&record.name, &mut owner)?;
        }
        let rtype = encode_rdata(&record.data, &mut rdata)?;
        if rdata.len() > usize::from(u16::MAX) {
            return Err(VerdictError::RdataTooLong);
        }
        response.record(
            Section::Answer,
            own.then_some(&owner[..]),
            rtype,
            record.ttl,
            &rdata,
        );
    }
    response.finish(query, None, limit);
    Ok(())
}

/// Names as plugins write them: case and a trailing dot do not matter.
fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

fn encode_rdata(data: &PluginRData, out: &mut Vec<u8>) -> Result<u16, VerdictError> {
    Ok(match data {
        PluginRData::A(ip) => {
            out.extend_from_slice(&ip.octets());
            TYPE_A
        }
        PluginRData::Aaaa(ip) => {
            out.extend_from_slice(&ip.octets());
            TYPE_AAAA
        }
        PluginRData::Cname(target) => {
            from_presentation(target, out)?;
            TYPE_CNAME
        }
        PluginRData::Txt(strings) => {
            // A character-string holds 255 bytes; longer text is split, as zone files do.
            for s in strings {
                let bytes = s.as_bytes();
                if bytes.is_empty() {
                    out.push(0);
                }
                for chunk in bytes.chunks(255) {
                    out.push(chunk.len() as u8);
                    out.extend_from_slice(chunk);
                }
            }
            if strings.is_empty() {
                out.push(0);
            }
            TYPE_TXT
        }
        PluginRData::Other { rtype, .. } if *rtype == TYPE_OPT => {
            return Err(VerdictError::ForbiddenType(*rtype));
        }
        PluginRData::Other { rtype, data } => {
            out.extend_from_slice(data);
            *rtype
        }
    })
}

/// The query for a rewritten name: the client's header and EDNS, the new name.
pub struct Rewrite {
    pub query: Query,
    pub packet: PooledBuf,
    target: Vec<u8>,
}

impl Rewrite {
    pub fn new(
        target: &str,
        query: &Query,
        mut packet: PooledBuf,
    ) -> Result<Rewrite, VerdictError> {
        let mut name = Vec::new();
        from_presentation(target, &mut name)?;
        packet.clear();
        packet.extend_from_slice(&query.id.to_be_bytes());
        packet.extend_from_slice(&(query.flags & 0x0110).to_be_bytes()); // RD, CD
        packet.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(query.edns.is_some())]);
        packet.extend_from_slice(&name);
        packet.extend_from_slice(&query.qtype.to_be_bytes());
        packet.extend_from_slice(&query.qclass.to_be_bytes());
        if let Some(edns) = query.edns {
            let ttl: u32 = if edns.dnssec_ok { 0x8000 } else { 0 };
            packet.push(0);
            packet.extend_from_slice(&TYPE_OPT.to_be_bytes());
            packet.extend_from_slice(&edns.udp_size.to_be_bytes());
            packet.extend_from_slice(&ttl.to_be_bytes());
            packet.extend_from_slice(&[0, 0]);
        }
        let rewritten =
            dns::parse_query(&packet).map_err(|_| VerdictError::Name(NameError::NameTooLong))?;
        Ok(Rewrite {
            query: rewritten,
            packet,
            target: name,
        })
    }

    /// The client's answer: `CNAME question → target`, then the answer and
    /// authority records for the target, with the target's response code.
    pub fn write(
        &self,
        answer: AnswerRef<'_>,
        client_query: &Query,
        client_packet: &[u8],
        now: Instant,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<u16, VerdictError> {
        let message = decode(answer, &self.query, &self.packet, now, out)?;
        let code = answer.rcode();
        let ttl = message
            .answers
            .iter()
            .map(|r| r.ttl)
            .min()
            .unwrap_or(LOCAL_TTL)
            .min(LOCAL_TTL);
        let mut response = LocalResponse::start(client_query, client_packet, code, out);
        response.record(Section::Answer, None, TYPE_CNAME, ttl, &self.target);
        append(&mut response, Section::Answer, &message.answers)?;
        append(&mut response, Section::Authority, &message.authorities)?;
        response.finish(client_query, None, limit);
        Ok(code)
    }
}

/// Re-encodes decoded records at the end of the response (pointers recomputed).
fn append(
    response: &mut LocalResponse<'_>,
    section: Section,
    records: &[Record],
) -> Result<(), VerdictError> {
    let buf = response.buffer();
    let offset = buf.len() as u32;
    let mut encoder = BinEncoder::with_offset(buf, offset);
    for record in records {
        record
            .emit(&mut encoder)
            .map_err(|_| VerdictError::Undecodable)?;
    }
    response.count(section, records.len().min(usize::from(u16::MAX)) as u16);
    Ok(())
}

/// The answer as a client asking `query` would get it, decoded (scratch space: `buf`).
fn decode(
    answer: AnswerRef<'_>,
    query: &Query,
    packet: &[u8],
    now: Instant,
    buf: &mut Vec<u8>,
) -> Result<Message, VerdictError> {
    answer.write_response(query, packet, now, NO_LIMIT, buf);
    Message::from_vec(buf).map_err(|_| VerdictError::Undecodable)
}

/// The answer section as plugins see it in on-response.
pub fn answer_records(
    answer: AnswerRef<'_>,
    query: &Query,
    packet: &[u8],
    now: Instant,
    scratch: &mut Vec<u8>,
) -> Result<Vec<PluginRecord>, VerdictError> {
    let message = decode(answer, query, packet, now, scratch)?;
    message.answers.iter().map(plugin_record).collect()
}

fn plugin_record(record: &Record) -> Result<PluginRecord, VerdictError> {
    let data = match &record.data {
        RData::A(a) => PluginRData::A(a.0),
        RData::AAAA(a) => PluginRData::Aaaa(a.0),
        RData::CNAME(c) => PluginRData::Cname(presentation(&c.0)?),
        RData::TXT(t) => PluginRData::Txt(
            t.txt_data
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
        ),
        other => {
            let mut data = Vec::new();
            // A fresh encoder knows no earlier names, so nothing is compressed.
            other
                .emit(&mut BinEncoder::new(&mut data))
                .map_err(|_| VerdictError::Undecodable)?;
            PluginRData::Other {
                rtype: u16::from(record.record_type()),
                data,
            }
        }
    };
    Ok(PluginRecord {
        name: presentation(&record.name)?,
        ttl: record.ttl,
        data,
    })
}

fn presentation(name: &hickory_proto::rr::Name) -> Result<String, VerdictError> {
    let mut wire = Vec::new();
    name.emit(&mut BinEncoder::new(&mut wire))
        .map_err(|_| VerdictError::Undecodable)?;
    let mut text = String::new();
    to_presentation(&wire, &mut text);
    Ok(text)
}

#[cfg(test)]
mod question_view_tests {
    use super::*;

    fn query(name: &str) -> Vec<u8> {
        crate::dns::testutil::query(1, name, hickory_proto::rr::RecordType::AAAA, None, false)
    }

    #[test]
    fn recycled_name_buffer_is_reused_and_cleared() {
        let long = query("WWW.Some-Long.Example.COM.");
        let v = question_view(&dns::parse_query(&long).unwrap(), &long);
        assert_eq!(v.name, "www.some-long.example.com");
        assert_eq!((v.qtype, v.qclass), (28, 1));
        let buffer = v.name.as_ptr();
        recycle(v);
        let short = query("a.b.");
        let v = question_view(&dns::parse_query(&short).unwrap(), &short);
        assert_eq!(v.name, "a.b");
        assert_eq!(v.name.as_ptr(), buffer, "no new allocation");
        // Not recycled: the next view simply allocates.
        let again = question_view(&dns::parse_query(&short).unwrap(), &short);
        assert_eq!(again.name, "a.b");
    }
}
