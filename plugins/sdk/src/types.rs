//! The data a plugin sees: the question, the client and resource records.
//!
//! These are the SDK's own plain Rust types; the generated WIT bindings are mapped
//! to and from them at the component boundary, so plugin logic never touches them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Record type numbers (RFC 1035 and later) that plugins commonly compare against.
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const PTR: u16 = 12;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
    pub const SVCB: u16 = 64;
    pub const HTTPS: u16 = 65;
    pub const ANY: u16 = 255;
}

/// Response codes (RFC 1035 §4.1.1, RFC 6895) for `Block::Rcode` and `on_response`.
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
}

/// The class every plugin cares about.
pub const CLASS_IN: u16 = 1;

/// The question being asked.
///
/// `name` is lower-case without the trailing dot ("www.example.com"; the root is
/// ""); bytes outside `[a-z0-9-_]` inside a label arrive escaped as `\DDD`, so
/// splitting on `.` always yields whole labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Question {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

impl Question {
    /// A class-IN question, the common case (handy in tests).
    pub fn new(name: impl Into<String>, qtype: u16) -> Self {
        Question {
            name: name.into(),
            qtype,
            qclass: CLASS_IN,
        }
    }
}

/// Transport the client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Udp,
    Tcp,
}

impl Protocol {
    /// "udp" or "tcp".
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        }
    }
}

/// Who asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client {
    pub ip: IpAddr,
    pub port: u16,
    pub protocol: Protocol,
}

impl Client {
    /// A UDP client at `ip` (handy in tests).
    pub fn udp(ip: IpAddr) -> Self {
        Client {
            ip,
            port: 0,
            protocol: Protocol::Udp,
        }
    }
}

/// Record data: the types the host understands, raw wire rdata for the rest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// Target name, same spelling rules as `Question::name`.
    Cname(String),
    /// One string per `<character-string>`; each at most 255 bytes.
    Txt(Vec<String>),
    /// Any other type, as wire-format rdata.
    Other {
        rtype: u16,
        data: Vec<u8>,
    },
}

impl RData {
    /// The record type number of this data.
    pub fn rtype(&self) -> u16 {
        match self {
            RData::A(_) => rtype::A,
            RData::Aaaa(_) => rtype::AAAA,
            RData::Cname(_) => rtype::CNAME,
            RData::Txt(_) => rtype::TXT,
            RData::Other { rtype, .. } => *rtype,
        }
    }
}

impl From<IpAddr> for RData {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => RData::A(v4),
            IpAddr::V6(v6) => RData::Aaaa(v6),
        }
    }
}

/// One resource record. An empty `name` means the question's name, which lets the
/// host echo the client's exact spelling (0x20 case).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    pub data: RData,
}

impl Record {
    /// A record owned by the question's name.
    pub fn answer(ttl: u32, data: RData) -> Self {
        Record {
            name: String::new(),
            ttl,
            data,
        }
    }

    /// A record owned by `name`.
    pub fn new(name: impl Into<String>, ttl: u32, data: RData) -> Self {
        Record {
            name: name.into(),
            ttl,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdata_reports_its_type() {
        assert_eq!(RData::A(Ipv4Addr::LOCALHOST).rtype(), rtype::A);
        assert_eq!(RData::Aaaa(Ipv6Addr::LOCALHOST).rtype(), rtype::AAAA);
        assert_eq!(RData::Cname("x".into()).rtype(), rtype::CNAME);
        assert_eq!(RData::Txt(vec![]).rtype(), rtype::TXT);
        let mx = RData::Other {
            rtype: rtype::MX,
            data: vec![0, 10, 0],
        };
        assert_eq!(mx.rtype(), rtype::MX);
    }

    #[test]
    fn rdata_from_ip_picks_the_family() {
        assert_eq!(
            RData::from(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            RData::A(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(
            RData::from(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            RData::Aaaa(Ipv6Addr::LOCALHOST)
        );
    }

    #[test]
    fn constructors_fill_defaults() {
        let q = Question::new("example.com", rtype::AAAA);
        assert_eq!(q.qclass, CLASS_IN);
        assert_eq!(Record::answer(60, RData::Txt(vec![])).name, "");
        assert_eq!(
            Client::udp(IpAddr::V4(Ipv4Addr::LOCALHOST)).protocol,
            Protocol::Udp
        );
        assert_eq!(Protocol::Tcp.as_str(), "tcp");
    }
}
