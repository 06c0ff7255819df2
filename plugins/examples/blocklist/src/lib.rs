//! wasmdns example plugin `blocklist`: blocks names from inline lists, hosts
//! files, plain domain lists and adblock filters, with an allowlist.
//!
//! A query is blocked when its name is listed (exact entries) or lies below a
//! listed name (subdomain entries, the default), unless it lies below an allowed
//! name. Lookups hash each suffix of the name (`www.ads.example.com`,
//! `ads.example.com`, `example.com`, `com`) into a [`DomainSet`].

mod config;
mod parse;
mod set;

use wasmdns_plugin_sdk::{export_plugin, log, Block, Client, Plugin, QueryAction, Question};

pub use config::{BlockStyle, Config, ListConfig, ListFormat, MatchMode};
pub use parse::ParseReport;
pub use set::{hash_name, DomainSet};

/// The loaded lists.
#[derive(Debug)]
pub struct Blocklist {
    exact: DomainSet,
    subdomain: DomainSet,
    allow: DomainSet,
    verdict: Block,
}

/// Hashes collected while loading, one sink per match rule.
#[derive(Default)]
struct Sinks {
    exact: Vec<u64>,
    subdomain: Vec<u64>,
    allow: Vec<u64>,
}

impl Sinks {
    fn block_sink(&mut self, mode: MatchMode) -> &mut Vec<u64> {
        match mode {
            MatchMode::Exact => &mut self.exact,
            MatchMode::Subdomain => &mut self.subdomain,
        }
    }
}

impl Blocklist {
    /// True when `name` (host spelling) must be blocked.
    pub fn is_blocked(&self, name: &str) -> bool {
        let listed = self.exact.contains(name) || self.subdomain.contains_suffix_of(name);
        listed && !self.allow.contains_suffix_of(name)
    }

    /// Names held (block + allow) and the heap they use.
    pub fn stats(&self) -> (usize, usize) {
        let sets = [&self.exact, &self.subdomain, &self.allow];
        (
            sets.iter().map(|s| s.len()).sum(),
            sets.iter().map(|s| s.heap_bytes()).sum(),
        )
    }
}

/// Hand-written names must all be valid: a typo there is an init error.
fn add_inline(names: &[String], key: &str, sink: &mut Vec<u64>) -> Result<(), String> {
    for (i, name) in names.iter().enumerate() {
        let hash = hash_name(name)
            .ok_or_else(|| format!("bad config: {key}[{i}] = {name:?} is not a domain name"))?;
        sink.push(hash);
    }
    Ok(())
}

fn load_list(i: usize, list: &ListConfig, default_mode: MatchMode, sinks: &mut Sinks) {
    let mode = list.match_mode.unwrap_or(default_mode);
    let report = match list.format {
        ListFormat::Domains => parse::domains(&list.content, sinks.block_sink(mode)),
        ListFormat::Hosts => parse::hosts(&list.content, sinks.block_sink(mode)),
        ListFormat::Adblock => {
            let mut allow = std::mem::take(&mut sinks.allow);
            let report = parse::adblock(&list.content, sinks.block_sink(mode), &mut allow);
            sinks.allow = allow;
            report
        }
    };
    let label = list.file.as_deref().unwrap_or("inline content");
    log::info!(
        "lists[{i}] ({label}): {} blocked, {} allowed, {} malformed lines skipped",
        report.blocked,
        report.allowed,
        report.skipped
    );
    if let Some(line) = report.first_skipped_line {
        log::warn!("lists[{i}] ({label}): first malformed line is line {line}");
    }
}

impl Plugin for Blocklist {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        let mut sinks = Sinks::default();
        add_inline(
            &config.domains,
            "domains",
            sinks.block_sink(config.match_mode),
        )?;
        add_inline(&config.allow, "allow", &mut sinks.allow)?;
        for (i, list) in config.lists.iter().enumerate() {
            load_list(i, list, config.match_mode, &mut sinks);
        }
        // Free the list texts before building the sets: wasm memory never shrinks,
        // so the peak is what the plugin's memory limit must allow.
        drop(config.lists);
        Ok(Blocklist {
            exact: DomainSet::from_hashes(sinks.exact),
            subdomain: DomainSet::from_hashes(sinks.subdomain),
            allow: DomainSet::from_hashes(sinks.allow),
            verdict: config.block.verdict(),
        })
    }

    fn on_query(&self, question: &Question, _client: &Client) -> QueryAction {
        if self.is_blocked(&question.name) {
            QueryAction::Block(self.verdict)
        } else {
            QueryAction::Pass
        }
    }
}

export_plugin!(Blocklist);

#[cfg(test)]
mod tests;
