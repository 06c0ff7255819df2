//! Host adapter for WIT `wasmdns:plugin@0.1.0` (`wit/v0.1`): generated bindings and
//! the conversions to and from the version-independent types in [`super::types`].
//!
//! The contract is frozen; a v0.2 gets its own module next to this one and the
//! loader picks the newest version a component exports.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::types::{
    BlockKind, ClientInfo, Hooks, PluginRData, PluginRecord, QueryAction, QuestionView,
    ResponseAction,
};
use crate::metrics::Proto;

wasmtime::component::bindgen!({
    path: "wit/v0.1",
    world: "plugin",
});

pub use self::wasmdns::plugin::host::LogLevel;
use self::wasmdns::plugin::types as wit;
pub use exports::wasmdns::plugin::policy;

/// Export name of the policy interface in this version.
pub const POLICY_EXPORT: &str = "wasmdns:plugin/policy@0.1.0";

pub fn question(q: &QuestionView) -> wit::Question {
    wit::Question {
        name: q.name.clone(),
        qtype: q.qtype,
        qclass: q.qclass,
    }
}

pub fn client(c: &ClientInfo) -> wit::Client {
    let ip = match c.ip {
        IpAddr::V4(v4) => {
            let [a, b, cc, d] = v4.octets();
            wit::IpAddress::Ipv4((a, b, cc, d))
        }
        IpAddr::V6(v6) => {
            let [a, b, cc, d, e, f, g, h] = v6.segments();
            wit::IpAddress::Ipv6((a, b, cc, d, e, f, g, h))
        }
    };
    wit::Client {
        ip,
        port: c.port,
        protocol: match c.proto {
            Proto::Udp => wit::Protocol::Udp,
            Proto::Tcp => wit::Protocol::Tcp,
        },
    }
}

pub fn hooks(h: wit::Hooks) -> Hooks {
    Hooks {
        on_query: h.contains(wit::Hooks::ON_QUERY),
        on_response: h.contains(wit::Hooks::ON_RESPONSE),
    }
}

fn block(b: wit::Block) -> BlockKind {
    match b {
        wit::Block::Nxdomain => BlockKind::Nxdomain,
        wit::Block::Refused => BlockKind::Refused,
        wit::Block::NullIp => BlockKind::NullIp,
        wit::Block::Rcode(r) => BlockKind::Rcode(r),
    }
}

pub fn query_action(a: wit::QueryAction) -> QueryAction {
    match a {
        wit::QueryAction::Pass => QueryAction::Pass,
        wit::QueryAction::Block(b) => QueryAction::Block(block(b)),
        wit::QueryAction::Answer(rs) => {
            QueryAction::Answer(rs.into_iter().map(from_record).collect())
        }
        wit::QueryAction::Rewrite(n) => QueryAction::Rewrite(n),
    }
}

pub fn response_action(a: wit::ResponseAction) -> ResponseAction {
    match a {
        wit::ResponseAction::Pass => ResponseAction::Pass,
        wit::ResponseAction::Block(b) => ResponseAction::Block(block(b)),
        wit::ResponseAction::Replace(rs) => {
            ResponseAction::Replace(rs.into_iter().map(from_record).collect())
        }
    }
}

fn from_record(r: wit::Record) -> PluginRecord {
    let data = match r.data {
        wit::Rdata::A((a, b, c, d)) => PluginRData::A(Ipv4Addr::new(a, b, c, d)),
        wit::Rdata::Aaaa((a, b, c, d, e, f, g, h)) => {
            PluginRData::Aaaa(Ipv6Addr::new(a, b, c, d, e, f, g, h))
        }
        wit::Rdata::Cname(n) => PluginRData::Cname(n),
        wit::Rdata::Txt(t) => PluginRData::Txt(t),
        wit::Rdata::Other(raw) => PluginRData::Other {
            rtype: raw.rtype,
            data: raw.data,
        },
    };
    PluginRecord {
        name: r.name,
        ttl: r.ttl,
        data,
    }
}

pub fn to_record(r: &PluginRecord) -> wit::Record {
    let data = match &r.data {
        PluginRData::A(v4) => {
            let [a, b, c, d] = v4.octets();
            wit::Rdata::A((a, b, c, d))
        }
        PluginRData::Aaaa(v6) => {
            let [a, b, c, d, e, f, g, h] = v6.segments();
            wit::Rdata::Aaaa((a, b, c, d, e, f, g, h))
        }
        PluginRData::Cname(n) => wit::Rdata::Cname(n.clone()),
        PluginRData::Txt(t) => wit::Rdata::Txt(t.clone()),
        PluginRData::Other { rtype, data } => wit::Rdata::Other(wit::RawRdata {
            rtype: *rtype,
            data: data.clone(),
        }),
    };
    wit::Record {
        name: r.name.clone(),
        ttl: r.ttl,
        data,
    }
}
