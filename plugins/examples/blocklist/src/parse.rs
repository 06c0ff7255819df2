//! Parsers for the three list formats, one line at a time; each hands the names
//! it finds to a sink that stores them and says whether they were valid.
//!
//! Lists come from the internet: a line that cannot be a rule is skipped and
//! counted, never fatal. Recognised-but-unsupported rule kinds (cosmetic filters,
//! rules with options) are ignored silently.

use wasmdns_plugin_sdk::hosts::{self, HostsItem};

use crate::config::ListFormat;

/// What a listed name does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Block,
    /// An adblock `@@` exception: goes to the allowlist.
    Allow,
}

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
    pub fn skip(&mut self, line: usize) {
        self.skipped += 1;
        self.first_skipped_line.get_or_insert(line);
    }

    /// Hands `name` to `sink` and counts the outcome.
    fn offer(&mut self, line: usize, name: &str, rule: Rule, sink: &mut impl Sink) {
        if !sink.add(name, rule) {
            self.skip(line);
        } else if rule == Rule::Block {
            self.blocked += 1;
        } else {
            self.allowed += 1;
        }
    }

    /// Parses one line (`number` is 1-based, for the report) of a `format` list.
    pub fn line(&mut self, format: ListFormat, number: usize, text: &str, sink: &mut impl Sink) {
        match format {
            ListFormat::Domains => self.domains_line(number, text, sink),
            ListFormat::Hosts => self.hosts_line(number, text, sink),
            ListFormat::Adblock => self.adblock_line(number, text, sink),
        }
    }

    /// One name per line; `#` starts a comment; blank lines are ignored.
    fn domains_line(&mut self, number: usize, raw: &str, sink: &mut impl Sink) {
        let text = raw.split('#').next().unwrap_or_default().trim();
        if !text.is_empty() {
            self.offer(number, text, Rule::Block, sink);
        }
    }

    /// Hosts-file format (`0.0.0.0 ads.example.com other.example`); the address
    /// is ignored and the `localhost`-style boilerplate is never blocked.
    fn hosts_line(&mut self, number: usize, raw: &str, sink: &mut impl Sink) {
        for item in hosts::parse(raw) {
            match item {
                HostsItem::Entry { name, .. } if hosts::is_boilerplate(name) => {}
                HostsItem::Entry { name, .. } => self.offer(number, name, Rule::Block, sink),
                HostsItem::BadLine { .. } => self.skip(number),
            }
        }
    }

    /// Adblock / AdGuard DNS syntax: `||name^` blocks the name, `@@||name^`
    /// allows it. Only the DNS-meaningful form is taken: an optional `$important`
    /// or a closing `|` after the `^`. Rules with other options (`$third-party`,
    /// `$dnstype=...`) apply conditionally, so taking them unconditionally would
    /// over-block: ignored.
    fn adblock_line(&mut self, number: usize, raw: &str, sink: &mut impl Sink) {
        let text = raw.trim();
        let (rule, kind) = if let Some(rest) = text.strip_prefix("@@||") {
            (rest, Rule::Allow)
        } else if let Some(rest) = text.strip_prefix("||") {
            (rest, Rule::Block)
        } else {
            return; // comments (`!`, `#`), headers (`[...]`), other rule kinds
        };
        let Some((name, options)) = rule.split_once('^') else {
            self.skip(number);
            return;
        };
        if matches!(options, "" | "|" | "$important") {
            self.offer(number, name, kind, sink);
        }
    }
}

/// Where parsed names go.
pub trait Sink {
    /// Stores `name` (as written in the list) under `rule`; false when it is not
    /// a valid name.
    fn add(&mut self, name: &str, rule: Rule) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps what it is given, normalised, refusing what `normalize` refuses.
    #[derive(Default)]
    struct Collect {
        block: Vec<String>,
        allow: Vec<String>,
    }

    impl Sink for Collect {
        fn add(&mut self, name: &str, rule: Rule) -> bool {
            let Some(name) = wasmdns_plugin_sdk::name::normalize(name) else {
                return false;
            };
            match rule {
                Rule::Block => self.block.push(name),
                Rule::Allow => self.allow.push(name),
            }
            true
        }
    }

    fn parse(format: ListFormat, text: &str) -> (Collect, ParseReport) {
        let mut sink = Collect::default();
        let mut report = ParseReport::default();
        for (i, line) in text.lines().enumerate() {
            report.line(format, i + 1, line, &mut sink);
        }
        (sink, report)
    }

    #[test]
    fn domains_list_with_comments_case_and_dots() {
        let text = "# list\nads.example.com\n\n  Tracker.NET.  \nbad..name\ncdn.example # trailing\n*.wild.com\n";
        let (out, report) = parse(ListFormat::Domains, text);
        assert_eq!(out.block, ["ads.example.com", "tracker.net", "cdn.example"]);
        assert_eq!(report.blocked, 3);
        assert_eq!(report.skipped, 2);
        assert_eq!(report.first_skipped_line, Some(5));
    }

    #[test]
    fn domains_line_with_two_names_is_skipped() {
        let (out, report) = parse(ListFormat::Domains, "a.com b.com\n");
        assert!(out.block.is_empty());
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
        let (out, report) = parse(ListFormat::Hosts, text);
        assert_eq!(
            out.block,
            [
                "ads.example.com",
                "a.tracker.net",
                "b.tracker.net",
                "metrics.example.org"
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
        let (out, report) = parse(ListFormat::Adblock, text);
        assert_eq!(
            out.block,
            [
                "ads.example.com",
                "tracker.net",
                "pixel.example",
                "upper.example"
            ]
        );
        assert_eq!(out.allow, ["good.ads.example.com"]);
        assert_eq!((report.blocked, report.allowed), (4, 1));
        assert_eq!(report.skipped, 2, "wildcard and missing ^");
        assert_eq!(report.first_skipped_line, Some(11));
    }

    #[test]
    fn empty_inputs_produce_nothing() {
        for format in [ListFormat::Domains, ListFormat::Hosts, ListFormat::Adblock] {
            let (out, report) = parse(format, "\n \n\t\n");
            assert!(out.block.is_empty() && out.allow.is_empty());
            assert_eq!(report, ParseReport::default(), "{format:?}");
        }
    }
}
