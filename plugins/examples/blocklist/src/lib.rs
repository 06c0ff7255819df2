//! wasmdns example plugin `blocklist`: blocks names from inline lists, hosts
//! files, plain domain lists and adblock filters, with an allowlist.
//!
//! A query is blocked when its name is listed (exact entries) or lies below a
//! listed name (subdomain entries, the default), unless it lies below an allowed
//! name. The names live in one arena built over the config text (`arena`,
//! `load`); three [`NameTable`]s index it; a lookup hashes each suffix of the
//! name (`www.ads.example.com`, `ads.example.com`, `example.com`, `com`).

mod arena;
mod config;
mod json;
mod load;
mod parse;
mod set;

use wasmdns_plugin_sdk::{export_plugin, Block, Client, Plugin, QueryAction, Question, Reuse};

pub use config::{BlockStyle, Config, ListConfig, ListFormat, MatchMode};
pub use parse::ParseReport;
pub use set::{hash_bytes, NameTable};

/// The loaded lists.
#[derive(Debug)]
pub struct Blocklist {
    /// Every stored name; the tables hold offsets into it.
    arena: Vec<u8>,
    exact: NameTable,
    subdomain: NameTable,
    allow: NameTable,
    verdict: Block,
}

impl Blocklist {
    /// True when `name` (host spelling) must be blocked.
    pub fn is_blocked(&self, name: &str) -> bool {
        let arena = &self.arena;
        let listed =
            self.exact.contains(arena, name) || self.subdomain.contains_suffix_of(arena, name);
        listed && !self.allow.contains_suffix_of(arena, name)
    }

    /// Distinct names held (block + allow) and the heap they use (arena + tables).
    pub fn stats(&self) -> (usize, usize) {
        let tables = [&self.exact, &self.subdomain, &self.allow];
        (
            tables.iter().map(|t| t.len()).sum(),
            self.arena.capacity() + tables.iter().map(|t| t.heap_bytes()).sum::<usize>(),
        )
    }
}

impl Plugin for Blocklist {
    type Config = Config;

    /// The typed path (tests, other Rust callers): re-encoded and loaded like the
    /// host's JSON, so that both paths share one loader.
    fn init(config: Config) -> Result<Self, String> {
        let json = serde_json::to_string(&config).map_err(|e| format!("invalid config: {e}"))?;
        Self::from_json(json)
    }

    /// The host's path: the config text becomes the name arena (see `load`).
    fn from_json(config_json: String) -> Result<Self, String> {
        let (sets, block) = load::build(config_json)?;
        Ok(Blocklist {
            arena: sets.arena,
            exact: sets.exact,
            subdomain: sets.subdomain,
            allow: sets.allow,
            verdict: block.verdict(),
        })
    }

    fn on_query(&self, question: &Question, _client: &Client) -> QueryAction {
        if self.is_blocked(&question.name) {
            QueryAction::Block(self.verdict)
        } else {
            QueryAction::Pass
        }
    }

    /// Every verdict, pass included, follows from the name and the lists alone,
    /// and the lists change only with a reload: the host may keep it until then.
    fn query_reuse(&self, _question: &Question, _action: &QueryAction) -> Reuse {
        Reuse::UNTIL_RELOAD
    }
}

export_plugin!(Blocklist);

#[cfg(test)]
mod tests;
