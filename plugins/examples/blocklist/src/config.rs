//! The blocklist's `[plugin.config]` table.
//!
//! ```toml
//! [plugin.config]
//! domains = ["doubleclick.net"]           # inline names
//! allow = ["good.doubleclick.net"]        # never blocked (subdomains included)
//! block = "nxdomain"                      # | "refused" | "null-ip"
//! match = "subdomain"                     # | "exact": default for domains and lists
//! [[plugin.config.lists]]
//! format = "hosts"                        # | "domains" | "adblock"
//! file = "/etc/wasmdns/hosts.txt"         # the host reads it into `content`
//! match = "subdomain"                     # optional, overrides the top-level match
//! ```
//!
//! Plugins have no filesystem: the host replaces `file = "path"` with
//! `content = "<the file's text>"` before calling init (it may leave `file` in
//! place as a label for messages). `content` may also be given inline.

use serde::{Deserialize, Serialize};
use wasmdns_plugin_sdk::Block;

/// The whole table.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub domains: Vec<String>,
    pub lists: Vec<ListConfig>,
    pub allow: Vec<String>,
    pub block: BlockStyle,
    #[serde(rename = "match")]
    pub match_mode: MatchMode,
}

/// One list of names in a given format.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    pub format: ListFormat,
    pub content: String,
    /// Where the host read `content` from; only used in messages.
    #[serde(default)]
    pub file: Option<String>,
    /// Defaults to the table's `match`.
    #[serde(default, rename = "match")]
    pub match_mode: Option<MatchMode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    Hosts,
    Domains,
    Adblock,
}

/// Whether a listed name also covers the names below it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    Exact,
    #[default]
    Subdomain,
}

/// How a blocked query is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockStyle {
    #[default]
    Nxdomain,
    Refused,
    NullIp,
}

impl BlockStyle {
    pub fn verdict(self) -> Block {
        match self {
            BlockStyle::Nxdomain => Block::NxDomain,
            BlockStyle::Refused => Block::Refused,
            BlockStyle::NullIp => Block::NullIp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Config, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_subdomain_and_nxdomain() {
        let c = parse("{}").unwrap();
        assert_eq!(c.match_mode, MatchMode::Subdomain);
        assert_eq!(c.block, BlockStyle::Nxdomain);
        assert!(c.domains.is_empty() && c.lists.is_empty() && c.allow.is_empty());
    }

    #[test]
    fn full_table_parses() {
        let c = parse(
            r#"{"domains":["a.com"],"allow":["b.a.com"],"block":"null-ip","match":"exact",
                "lists":[{"format":"adblock","content":"||x.com^","match":"subdomain","file":"f.txt"}]}"#,
        )
        .unwrap();
        assert_eq!(c.block.verdict(), Block::NullIp);
        assert_eq!(c.match_mode, MatchMode::Exact);
        assert_eq!(c.lists[0].format, ListFormat::Adblock);
        assert_eq!(c.lists[0].match_mode, Some(MatchMode::Subdomain));
        assert_eq!(c.lists[0].file.as_deref(), Some("f.txt"));
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        assert!(parse(r#"{"domain":["a.com"]}"#)
            .unwrap_err()
            .contains("unknown field `domain`"));
        assert!(parse(r#"{"block":"drop"}"#)
            .unwrap_err()
            .contains("unknown variant `drop`"));
        assert!(parse(r#"{"lists":[{"format":"hosts"}]}"#)
            .unwrap_err()
            .contains("missing field `content`"));
        assert!(parse(r#"{"lists":[{"format":"csv","content":""}]}"#).is_err());
        assert!(parse(r#"{"lists":[{"format":"hosts","content":"","path":"x"}]}"#).is_err());
    }
}
