//! Parsers for the three list formats; each pushes name hashes into a sink.
//!
//! Lists come from the internet: a line that cannot be a rule is skipped and
//! counted, never fatal. Recognised-but-unsupported rule kinds (cosmetic filters,
//! rules with options) are ignored silently.

use wasmdns_plugin_sdk::hosts::{self, HostsItem};

use crate::set::hash_name;

/// What a parser did with its input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ParseReport {
    /// Names added to the block sink.
    pub blocked: usize,
    /// Names added to the allow sink (adblock `@@` exceptions).
    pub allowed: usize,
    /// Lines that looked like rules but were malformed.
    pub skipped: usize,
    /// 1-based number of the first skipped line, for the operator's log.
    pub first_skipped_line: Option<usize>,
}

impl ParseReport {
    fn skip(&mut self, line: usize) {
        self.skipped += 1;
        self.first_skipped_line.get_or_insert(line);
    }
}

/// One name per line; `#` starts a comment; blank lines are ignored.
pub fn domains(content: &str, block: &mut Vec<u64>) -> ParseReport {
    let mut report = ParseReport::default();
    for (i, raw) in content.lines().enumerate() {
        let text = raw.split('#').next().unwrap_or_default().trim();
        if text.is_empty() {
            continue;
        }
        match hash_name(text) {
            Some(hash) => {
                block.push(hash);
                report.blocked += 1;
            }
            None => report.skip(i + 1),
        }
    }
    report
}

/// Hosts-file format (`0.0.0.0 ads.example.com other.example`); the address is
/// ignored and the `localhost`-style boilerplate is never blocked.
pub fn hosts(content: &str, block: &mut Vec<u64>) -> ParseReport {
    let mut report = ParseReport::default();
    for item in hosts::parse(content) {
        match item {
            HostsItem::Entry { name, line, .. } => {
                if hosts::is_boilerplate(name) {
                    continue;
                }
                match hash_name(name) {
                    Some(hash) => {
                        block.push(hash);
                        report.blocked += 1;
                    }
                    None => report.skip(line),
                }
            }
            HostsItem::BadLine { line } => report.skip(line),
        }
    }
    report
}

/// Adblock / AdGuard DNS syntax: `||name^` blocks the name, `@@||name^` allows it.
/// Only the DNS-meaningful form is taken: an optional `$important` or a closing
/// `|` after the `^`. Rules with other options (`$third-party`, `$dnstype=...`)
/// apply conditionally, so taking them unconditionally would over-block: ignored.
pub fn adblock(content: &str, block: &mut Vec<u64>, allow: &mut Vec<u64>) -> ParseReport {
    let mut report = ParseReport::default();
    for (i, raw) in content.lines().enumerate() {
        let text = raw.trim();
        let (rule, is_exception) = if let Some(rest) = text.strip_prefix("@@||") {
            (rest, true)
        } else if let Some(rest) = text.strip_prefix("||") {
            (rest, false)
        } else {
            continue; // comments (`!`, `#`), headers (`[...]`), other rule kinds
        };
        let Some((name, options)) = rule.split_once('^') else {
            report.skip(i + 1);
            continue;
        };
        if !matches!(options, "" | "|" | "$important") {
            continue;
        }
        match (hash_name(name), is_exception) {
            (Some(hash), false) => {
                block.push(hash);
                report.blocked += 1;
            }
            (Some(hash), true) => {
                allow.push(hash);
                report.allowed += 1;
            }
            (None, _) => report.skip(i + 1),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &str) -> u64 {
        hash_name(name).unwrap()
    }

    #[test]
    fn domains_list_with_comments_case_and_dots() {
        let mut out = Vec::new();
        let text = "# list\nads.example.com\n\n  Tracker.NET.  \nbad..name\ncdn.example # trailing\n*.wild.com\n";
        let report = domains(text, &mut out);
        assert_eq!(
            out,
            [h("ads.example.com"), h("tracker.net"), h("cdn.example")]
        );
        assert_eq!(report.blocked, 3);
        assert_eq!(report.skipped, 2);
        assert_eq!(report.first_skipped_line, Some(5));
    }

    #[test]
    fn domains_line_with_two_names_is_skipped() {
        let mut out = Vec::new();
        let report = domains("a.com b.com\n", &mut out);
        assert!(out.is_empty());
        assert_eq!(report.skipped, 1);
    }

    #[test]
    fn hosts_file_multiple_names_comments_and_boilerplate() {
        let text = "\
# StevenBlack-style header
127.0.0.1 localhost
127.0.0.1 localhost.localdomain
255.255.255.255 broadcasthost
::1 localhost ip6-localhost ip6-loopback
fe80::1%lo0 localhost
0.0.0.0 0.0.0.0
0.0.0.0 ads.example.com   # inline comment
0.0.0.0 a.tracker.net b.tracker.net
127.0.0.1\tmetrics.example.org
not-an-ip bad.example
0.0.0.0 bad_name!.example
";
        let mut out = Vec::new();
        let report = hosts(text, &mut out);
        assert_eq!(
            out,
            [
                h("ads.example.com"),
                h("a.tracker.net"),
                h("b.tracker.net"),
                h("metrics.example.org")
            ]
        );
        assert_eq!(report.blocked, 4);
        assert_eq!(report.skipped, 2);
        assert_eq!(report.first_skipped_line, Some(11));
    }

    #[test]
    fn adblock_blocks_exceptions_and_ignores_other_rules() {
        let text = "\
[Adblock Plus 2.0]
! Title: test
||ads.example.com^
@@||good.ads.example.com^
||tracker.net^$important
||pixel.example^|
||cond.example^$third-party
||dns.example^$dnstype=AAAA
example.org##.banner
/banner/*/img^
||*.wild.example^
||noterminator.example
# comment
||Upper.Example^
";
        let (mut block, mut allow) = (Vec::new(), Vec::new());
        let report = adblock(text, &mut block, &mut allow);
        assert_eq!(
            block,
            [
                h("ads.example.com"),
                h("tracker.net"),
                h("pixel.example"),
                h("upper.example")
            ]
        );
        assert_eq!(allow, [h("good.ads.example.com")]);
        assert_eq!((report.blocked, report.allowed), (4, 1));
        assert_eq!(report.skipped, 2, "wildcard and missing ^");
        assert_eq!(report.first_skipped_line, Some(11));
    }

    #[test]
    fn empty_inputs_produce_nothing() {
        let mut out = Vec::new();
        assert_eq!(domains("", &mut out), ParseReport::default());
        assert_eq!(hosts("\n\n", &mut out), ParseReport::default());
        assert_eq!(
            adblock("!\n", &mut out, &mut Vec::new()),
            ParseReport::default()
        );
        assert!(out.is_empty());
    }
}
