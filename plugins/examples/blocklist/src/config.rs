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
//! file = "/etc/wasmdns/hosts.txt"         # streamed through the host (SDK `lists`)
//! match = "subdomain"                     # optional, overrides the top-level match
//! ```
//!
//! A list is either a `file`, which the plugin reads a chunk at a time through
//! the host, or `content`, its text inline (small lists, tests); exactly one.

use serde::Deserialize;
use wasmdns_plugin_sdk::Block;

/// The whole table.
#[derive(Debug, Default, Deserialize)]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    pub format: ListFormat,
    /// A list file named as the host knows it (relative to the config file).
    #[serde(default)]
    pub file: Option<String>,
    /// The list's text, inline.
    #[serde(default)]
    pub content: Option<String>,
    /// Defaults to the table's `match`.
    #[serde(default, rename = "match")]
    pub match_mode: Option<MatchMode>,
}

/// Where a list's text comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListSource<'a> {
    File(&'a str),
    Content(&'a str),
}

impl ListConfig {
    /// The list's one source; `index` names it in the error.
    pub fn source(&self, index: usize) -> Result<ListSource<'_>, String> {
        match (&self.file, &self.content) {
            (Some(file), None) => Ok(ListSource::File(file)),
            (None, Some(content)) => Ok(ListSource::Content(content)),
            (Some(_), Some(_)) => Err(format!(
                "bad config: lists[{index}] has both `file` and `content`; give one"
            )),
            (None, None) => Err(format!(
                "bad config: lists[{index}] needs `file` (a list file) or `content` (its text)"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    Hosts,
    Domains,
    Adblock,
}

/// Whether a listed name also covers the names below it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    Exact,
    #[default]
    Subdomain,
}

/// How a blocked query is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
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
                "lists":[{"format":"adblock","content":"||x.com^","match":"subdomain"},
                         {"format":"hosts","file":"f.txt"}]}"#,
        )
        .unwrap();
        assert_eq!(c.block.verdict(), Block::NullIp);
        assert_eq!(c.match_mode, MatchMode::Exact);
        assert_eq!(c.lists[0].format, ListFormat::Adblock);
        assert_eq!(c.lists[0].match_mode, Some(MatchMode::Subdomain));
        assert_eq!(c.lists[0].source(0), Ok(ListSource::Content("||x.com^")));
        assert_eq!(c.lists[1].source(1), Ok(ListSource::File("f.txt")));
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        assert!(parse(r#"{"domain":["a.com"]}"#)
            .unwrap_err()
            .contains("unknown field `domain`"));
        assert!(parse(r#"{"block":"drop"}"#)
            .unwrap_err()
            .contains("unknown variant `drop`"));
        assert!(parse(r#"{"lists":[{"content":""}]}"#)
            .unwrap_err()
            .contains("missing field `format`"));
        assert!(parse(r#"{"lists":[{"format":"csv","content":""}]}"#).is_err());
        assert!(parse(r#"{"lists":[{"format":"hosts","content":"","path":"x"}]}"#).is_err());
    }

    #[test]
    fn a_list_needs_exactly_one_of_file_and_content() {
        let c = parse(
            r#"{"lists":[{"format":"hosts","file":"a"},{"format":"hosts"},
                         {"format":"domains","file":"b","content":"x.com"}]}"#,
        )
        .unwrap();
        assert!(c.lists[0].source(0).is_ok());
        assert_eq!(
            c.lists[1].source(1).unwrap_err(),
            "bad config: lists[1] needs `file` (a list file) or `content` (its text)"
        );
        assert_eq!(
            c.lists[2].source(2).unwrap_err(),
            "bad config: lists[2] has both `file` and `content`; give one"
        );
    }
}
