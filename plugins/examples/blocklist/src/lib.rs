//! wasmdns example plugin `blocklist`: blocks names from inline names, hosts
//! files, plain domain lists and adblock filters, with an allowlist.
//!
//! A query is blocked when its name is listed (exact entries) or lies below a
//! listed name (subdomain entries, the default), unless it lies below an allowed
//! name. A lookup walks the name's suffixes (`www.ads.example.com`,
//! `ads.example.com`, `example.com`, `com`).
//!
//! | module        | what                                                        |
//! |---------------|-------------------------------------------------------------|
//! | `config`      | the `[plugin.config]` table; a list is a `file` or `content` |
//! | `load`        | `Loader`: streams list files chunk by chunk into the sets  |
//! | `parse`       | the hosts, domains and adblock line parsers and their report |
//! | `fingerprint` | `FingerprintSet`: block sets as sorted 64-bit hashes, ~9 bytes per name |
//! | `allow`       | `AllowSet`: the allowlist, names kept so every match is exact |

mod allow;
mod config;
mod fingerprint;
mod load;
mod parse;

use wasmdns_plugin_sdk::{export_plugin, Block, Client, Plugin, QueryAction, Question, Reuse};

use allow::AllowSet;
pub use config::{BlockStyle, Config, ListConfig, ListFormat, MatchMode};
use fingerprint::FingerprintSet;
use load::{Loader, CHUNK};
pub use parse::ParseReport;

/// The loaded lists.
#[derive(Debug)]
pub struct Blocklist {
    exact: FingerprintSet,
    subdomain: FingerprintSet,
    allow: AllowSet,
    verdict: Block,
    /// What each list held, in config order.
    reports: Vec<ParseReport>,
}

impl Blocklist {
    /// Builds the plugin, reading list files `chunk` bytes at a time (`CHUNK`
    /// in the component; tests pass small values to cross many chunks).
    fn with_chunk(config: &Config, chunk: u32) -> Result<Self, String> {
        let sets = Loader::build(config, chunk)?;
        Ok(Blocklist {
            exact: sets.exact,
            subdomain: sets.subdomain,
            allow: sets.allow,
            verdict: config.block.verdict(),
            reports: sets.reports,
        })
    }

    /// True when `name` (host spelling) must be blocked.
    pub fn is_blocked(&self, name: &str) -> bool {
        let listed = self.exact.contains(name) || self.subdomain.contains_suffix_of(name);
        listed && !self.allow.contains_suffix_of(name)
    }

    /// What each of the config's `lists` held (names, malformed lines), in order.
    pub fn reports(&self) -> &[ParseReport] {
        &self.reports
    }

    /// Distinct names held (block + allow) and the heap bytes the sets use.
    pub fn stats(&self) -> (usize, usize) {
        (
            self.exact.len() + self.subdomain.len() + self.allow.len(),
            self.exact.heap_bytes() + self.subdomain.heap_bytes() + self.allow.heap_bytes(),
        )
    }
}

impl Plugin for Blocklist {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        Self::with_chunk(&config, CHUNK)
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
