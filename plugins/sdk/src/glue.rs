//! Maps the generated WIT types to the SDK's types and back (wasm32 only).
//!
//! Called by the code `export_plugin!` expands to; the plugin only sees SDK types.

use std::net::{IpAddr, Ipv4Addr};

use crate::action::{Block, Hooks, QueryAction, ResponseAction, Reuse};
use crate::bindings::exports::wasmdns::plugin::policy;
use crate::bindings::wasmdns::plugin::types as wit;
use crate::plugin::Plugin;
use crate::runtime::{v6_from_segments, v6_segments, Slot};
use crate::types::{Client, Protocol, Question, RData, Record};

/// The `init` export: parse config, build the plugin, keep it, report its hooks.
pub fn init<P: Plugin>(slot: &Slot<P>, config: String) -> Result<wit::Hooks, String> {
    let plugin = P::from_json(config)?;
    let hooks = plugin.hooks();
    slot.set(plugin)?;
    Ok(hooks_to_wit(hooks))
}

/// The `on-query` export: the plugin's verdict, then its reuse scope for it.
pub fn on_query<P: Plugin>(
    slot: &Slot<P>,
    q: wit::Question,
    c: wit::Client,
) -> policy::QueryVerdict {
    let plugin = slot.get();
    let question = question(q);
    let action = plugin.on_query(&question, &client(c));
    let reuse = match plugin.query_reuse(&question, &action) {
        Reuse::Once => policy::Reuse::Once,
        Reuse::Question(seconds) => policy::Reuse::Question(seconds),
    };
    let action = match action {
        QueryAction::Pass => wit::QueryAction::Pass,
        QueryAction::Block(b) => wit::QueryAction::Block(block_to_wit(b)),
        QueryAction::Answer(records) => wit::QueryAction::Answer(records_to_wit(records)),
        QueryAction::Rewrite(name) => wit::QueryAction::Rewrite(name),
    };
    policy::QueryVerdict { action, reuse }
}

/// The `on-response` export.
pub fn on_response<P: Plugin>(
    slot: &Slot<P>,
    q: wit::Question,
    c: wit::Client,
    rcode: u16,
    answers: Vec<wit::Record>,
) -> wit::ResponseAction {
    let answers: Vec<Record> = answers.into_iter().map(record_from_wit).collect();
    let action = slot
        .get()
        .on_response(&question(q), &client(c), rcode, &answers);
    match action {
        ResponseAction::Pass => wit::ResponseAction::Pass,
        ResponseAction::Block(b) => wit::ResponseAction::Block(block_to_wit(b)),
        ResponseAction::Replace(records) => wit::ResponseAction::Replace(records_to_wit(records)),
    }
}

fn hooks_to_wit(hooks: Hooks) -> wit::Hooks {
    let mut flags = wit::Hooks::empty();
    if hooks.on_query {
        flags = flags | wit::Hooks::ON_QUERY;
    }
    if hooks.on_response {
        flags = flags | wit::Hooks::ON_RESPONSE;
    }
    flags
}

fn question(q: wit::Question) -> Question {
    Question {
        name: q.name,
        qtype: q.qtype,
        qclass: q.qclass,
    }
}

fn client(c: wit::Client) -> Client {
    let ip = match c.ip {
        wit::IpAddress::Ipv4((a, b, c, d)) => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        wit::IpAddress::Ipv6(s) => {
            IpAddr::V6(v6_from_segments([s.0, s.1, s.2, s.3, s.4, s.5, s.6, s.7]))
        }
    };
    let protocol = match c.protocol {
        wit::Protocol::Udp => Protocol::Udp,
        wit::Protocol::Tcp => Protocol::Tcp,
    };
    Client {
        ip,
        port: c.port,
        protocol,
    }
}

fn block_to_wit(block: Block) -> wit::Block {
    match block {
        Block::NxDomain => wit::Block::Nxdomain,
        Block::Refused => wit::Block::Refused,
        Block::NullIp => wit::Block::NullIp,
        Block::Rcode(code) => wit::Block::Rcode(code),
    }
}

fn records_to_wit(records: Vec<Record>) -> Vec<wit::Record> {
    records.into_iter().map(record_to_wit).collect()
}

fn record_to_wit(record: Record) -> wit::Record {
    let data = match record.data {
        RData::A(v4) => {
            let [a, b, c, d] = v4.octets();
            wit::Rdata::A((a, b, c, d))
        }
        RData::Aaaa(v6) => {
            let s = v6_segments(v6);
            wit::Rdata::Aaaa((s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]))
        }
        RData::Cname(name) => wit::Rdata::Cname(name),
        RData::Txt(strings) => wit::Rdata::Txt(strings),
        RData::Other { rtype, data } => wit::Rdata::Other(wit::RawRdata { rtype, data }),
    };
    wit::Record {
        name: record.name,
        ttl: record.ttl,
        data,
    }
}

fn record_from_wit(record: wit::Record) -> Record {
    let data = match record.data {
        wit::Rdata::A((a, b, c, d)) => RData::A(Ipv4Addr::new(a, b, c, d)),
        wit::Rdata::Aaaa(s) => {
            RData::Aaaa(v6_from_segments([s.0, s.1, s.2, s.3, s.4, s.5, s.6, s.7]))
        }
        wit::Rdata::Cname(name) => RData::Cname(name),
        wit::Rdata::Txt(strings) => RData::Txt(strings),
        wit::Rdata::Other(raw) => RData::Other {
            rtype: raw.rtype,
            data: raw.data,
        },
    };
    Record {
        name: record.name,
        ttl: record.ttl,
        data,
    }
}
