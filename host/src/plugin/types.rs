//! Host-side plugin data: what the pipeline hands the chain and gets back.
//!
//! These types are independent of any WIT version, so the pipeline never sees
//! generated bindings and a later contract (v0.2) only adds a conversion.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::metrics::Proto;

/// The question of a query, as plugins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionView {
    /// Lower-case, no trailing dot; the root is "".
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// Who asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: IpAddr,
    pub port: u16,
    pub proto: Proto,
}

/// One resource record produced or inspected by a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRecord {
    /// Empty means the question's name.
    pub name: String,
    pub ttl: u32,
    pub data: PluginRData,
}

/// Record data: the types the host understands, raw wire rdata for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginRData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    /// Each string is one <character-string>.
    Txt(Vec<String>),
    Other {
        rtype: u16,
        data: Vec<u8>,
    },
}

/// How a blocked query is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Nxdomain,
    Refused,
    /// A → 0.0.0.0, AAAA → ::, other types NOERROR with no records.
    NullIp,
    Rcode(u16),
}

/// The hooks a plugin asked for in `init`; undeclared hooks are never called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hooks {
    pub on_query: bool,
    pub on_response: bool,
}

/// Which other queries an on-query verdict holds for (WIT v0.2 `reuse`; a v0.1
/// plugin's verdicts are always `Once`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// This query only.
    Once,
    /// Every query for the same question from any client, for this many seconds
    /// (never 0: the adapter maps 0 to `Once`).
    Question(u32),
}

/// What one plugin decided in the on-query phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryAction {
    Pass,
    Block(BlockKind),
    Answer(Vec<PluginRecord>),
    Rewrite(String),
}

/// What one plugin decided in the on-response phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseAction {
    Pass,
    Block(BlockKind),
    Replace(Vec<PluginRecord>),
}

/// Outcome of the whole chain's on-query phase. `plugin` names the deciding plugin
/// (for logs and the RFC 8914 extended error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainQueryVerdict {
    /// Every plugin passed (or failed with `on_error = "pass"`): cache, then upstream.
    Pass,
    Block {
        plugin: Arc<str>,
        kind: BlockKind,
    },
    /// Answer NOERROR with these records.
    Answer {
        plugin: Arc<str>,
        records: Vec<PluginRecord>,
    },
    /// Resolve `name` instead and answer with a CNAME from the question's name to it.
    Rewrite {
        plugin: Arc<str>,
        name: String,
    },
    /// The plugin trapped, timed out or had no free instance, and its `on_error` is
    /// `servfail`.
    Failed {
        plugin: Arc<str>,
    },
}

/// Outcome of the whole chain's on-response phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainResponseVerdict {
    /// Send the upstream's answer unchanged.
    Pass,
    Block {
        plugin: Arc<str>,
        kind: BlockKind,
    },
    /// Replace the answer section with these records, NOERROR.
    Replace {
        plugin: Arc<str>,
        records: Vec<PluginRecord>,
    },
    Failed {
        plugin: Arc<str>,
    },
}
