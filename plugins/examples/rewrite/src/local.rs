//! `LocalZone`: the names this plugin answers itself (from `local` and `hosts`).

use std::net::IpAddr;

use wasmdns_plugin_sdk::hosts::{self, HostsItem};
use wasmdns_plugin_sdk::name::{normalize, NameMap};
use wasmdns_plugin_sdk::{log, rcode, rtype, Block, QueryAction, RData, Record};

use crate::config::Config;

/// Longest CNAME chain followed inside the local zone; cycles are refused at
/// init, so this only bounds work.
const MAX_CHAIN: usize = 8;

/// What a local name holds: addresses, or one alias (CNAME and other data never
/// coexist, RFC 1034 §3.6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Addresses(Vec<IpAddr>),
    Alias(String),
}

#[derive(Debug, Default)]
pub struct LocalZone {
    names: NameMap<Entry>,
    ttl: u32,
}

impl LocalZone {
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let mut zone = LocalZone {
            names: NameMap::default(),
            ttl: config.ttl,
        };
        for (name, values) in &config.local {
            zone.add_local(name, values)?;
        }
        zone.add_hosts(&config.hosts)?;
        zone.check_chains()?;
        Ok(zone)
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    fn add_local(&mut self, raw_name: &str, values: &[String]) -> Result<(), String> {
        let key = format!("local.{raw_name:?}");
        let name =
            normalize(raw_name).ok_or_else(|| format!("bad config: {key}: not a domain name"))?;
        if values.is_empty() {
            return Err(format!("bad config: {key}: no values"));
        }
        let mut addresses = Vec::new();
        let mut aliases = Vec::new();
        for value in values {
            match value.parse::<IpAddr>() {
                Ok(ip) => addresses.push(ip),
                Err(_) => aliases.push(normalize(value).ok_or_else(|| {
                    format!("bad config: {key}: {value:?} is neither an IP address nor a name")
                })?),
            }
        }
        let entry = match (aliases.pop(), aliases.is_empty() && addresses.is_empty()) {
            (None, _) => Entry::Addresses(addresses),
            (Some(alias), true) => Entry::Alias(alias),
            (Some(_), false) => {
                return Err(format!(
                    "bad config: {key}: a CNAME cannot be combined with other values"
                ))
            }
        };
        if self.names.insert(name, entry).is_some() {
            return Err(format!("bad config: {key}: listed twice"));
        }
        Ok(())
    }

    fn add_hosts(&mut self, content: &str) -> Result<(), String> {
        let mut skipped = 0usize;
        for item in hosts::parse(content) {
            let (ip, raw, line) = match item {
                HostsItem::Entry { ip, name, line } => (ip, name, line),
                HostsItem::BadLine { .. } => {
                    skipped += 1;
                    continue;
                }
            };
            let Some(name) = normalize(raw) else {
                skipped += 1;
                continue;
            };
            match self
                .names
                .entry(name)
                .or_insert_with(|| Entry::Addresses(Vec::new()))
            {
                Entry::Addresses(list) if !list.contains(&ip) => list.push(ip),
                Entry::Addresses(_) => {}
                Entry::Alias(_) => {
                    return Err(format!(
                        "bad config: hosts line {line}: {raw:?} is a CNAME in local"
                    ))
                }
            }
        }
        if skipped > 0 {
            log::warn!("hosts: {skipped} malformed entries skipped");
        }
        Ok(())
    }

    /// Refuses alias cycles (a → b → a) and chains longer than `MAX_CHAIN`.
    fn check_chains(&self) -> Result<(), String> {
        for (start, entry) in &self.names {
            let mut current = entry;
            for _ in 0..=MAX_CHAIN {
                match current {
                    Entry::Alias(next) => match self.names.get(next) {
                        Some(entry) => current = entry,
                        None => break,
                    },
                    Entry::Addresses(_) => break,
                }
            }
            if matches!(current, Entry::Alias(next) if self.names.contains_key(next)) {
                return Err(format!(
                    "bad config: local.{start:?}: CNAME chain loops or is longer than {MAX_CHAIN}"
                ));
            }
        }
        Ok(())
    }

    /// The verdict for a class-IN question on `name`: the local records (CNAME
    /// chain followed inside the zone), a rewrite when the chain leaves the zone,
    /// NODATA when the name has no data of that type, `Pass` when it is not local.
    pub fn answer(&self, name: &str, qtype: u16) -> QueryAction {
        let Some(mut entry) = self.names.get(name) else {
            return QueryAction::Pass;
        };
        let mut records = Vec::new();
        let mut owner = String::new(); // "" = the question's name, in the client's case
        for _ in 0..MAX_CHAIN {
            match entry {
                Entry::Addresses(ips) => {
                    records.extend(
                        ips.iter()
                            .filter(|ip| wanted(**ip, qtype))
                            .map(|ip| Record::new(owner.clone(), self.ttl, RData::from(*ip))),
                    );
                    return QueryAction::Answer(records);
                }
                Entry::Alias(target) => {
                    records.push(Record::new(owner, self.ttl, RData::Cname(target.clone())));
                    if qtype == rtype::CNAME {
                        return QueryAction::Answer(records);
                    }
                    match self.names.get(target) {
                        Some(next) => (entry, owner) = (next, target.clone()),
                        // Leaves the zone: the host resolves the target upstream.
                        None => return QueryAction::Rewrite(target.clone()),
                    }
                }
            }
        }
        QueryAction::Block(Block::Rcode(rcode::SERVFAIL))
    }
}

fn wanted(ip: IpAddr, qtype: u16) -> bool {
    match ip {
        IpAddr::V4(_) => qtype == rtype::A || qtype == rtype::ANY,
        IpAddr::V6(_) => qtype == rtype::AAAA || qtype == rtype::ANY,
    }
}
