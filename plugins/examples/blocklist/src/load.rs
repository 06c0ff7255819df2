//! `Loader`: builds the block and allow sets from the config, streaming list
//! files a chunk at a time.
//!
//! Nothing of a list's text outlives its chunk: each line is parsed, each name
//! lower-cased into a stack buffer and hashed (block sets) or copied (allowlist).
//! The instance's peak is the sets under construction plus one chunk, not the
//! list file, which matters because wasm memory never shrinks after `init`.

use wasmdns_plugin_sdk::lists::ListFile;
use wasmdns_plugin_sdk::log;
use wasmdns_plugin_sdk::name::{self, MAX_NAME_LEN};

use crate::allow::AllowSet;
use crate::config::{Config, ListConfig, ListFormat, ListSource, MatchMode};
use crate::fingerprint::{FingerprintBuilder, FingerprintSet};
use crate::parse::{ParseReport, Rule, Sink};

/// Bytes asked of the host per read: large enough that the per-chunk crossing
/// is noise, small enough to be nothing next to the sets.
pub const CHUNK: u32 = 64 * 1024;

/// The sets a config describes.
#[derive(Debug)]
pub struct Sets {
    pub exact: FingerprintSet,
    pub subdomain: FingerprintSet,
    pub allow: AllowSet,
    /// What each of `lists` held, in config order (also logged).
    pub reports: Vec<ParseReport>,
}

/// Which set a name goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exact,
    Subdomain,
    Allow,
}

impl From<MatchMode> for Kind {
    fn from(mode: MatchMode) -> Kind {
        match mode {
            MatchMode::Exact => Kind::Exact,
            MatchMode::Subdomain => Kind::Subdomain,
        }
    }
}

/// The sets being built.
#[derive(Debug)]
pub struct Loader {
    exact: FingerprintBuilder,
    subdomain: FingerprintBuilder,
    allow: AllowSet,
    /// The name being added, in host spelling; reused.
    name: Vec<u8>,
    /// Bytes per read of a list file ([`CHUNK`]; tests use tiny ones).
    chunk: u32,
}

impl Loader {
    /// Reads every name `config` gives, lists included, `chunk` bytes per read.
    pub fn build(config: &Config, chunk: u32) -> Result<Sets, String> {
        let mut loader = Loader {
            exact: FingerprintBuilder::default(),
            subdomain: FingerprintBuilder::default(),
            allow: AllowSet::default(),
            name: Vec::with_capacity(MAX_NAME_LEN),
            chunk,
        };
        let mut reports = Vec::with_capacity(config.lists.len());
        let inline = Kind::from(config.match_mode);
        for (key, names, kind) in [
            ("domains", &config.domains, inline),
            ("allow", &config.allow, Kind::Allow),
        ] {
            for (index, raw) in names.iter().enumerate() {
                if !loader.add(raw, kind) {
                    return Err(format!(
                        "bad config: {key}[{index}] = {raw:?} is not a domain name"
                    ));
                }
            }
        }
        for (index, list) in config.lists.iter().enumerate() {
            let kind = Kind::from(list.match_mode.unwrap_or(config.match_mode));
            reports.push(loader.list(index, list, kind)?);
        }
        Ok(Sets {
            exact: loader.exact.finish(),
            subdomain: loader.subdomain.finish(),
            allow: loader.allow,
            reports,
        })
    }

    /// Reads one list, logs what it found.
    fn list(&mut self, index: usize, list: &ListConfig, kind: Kind) -> Result<ParseReport, String> {
        let mut report = ParseReport::default();
        let mut sink = ListSink { loader: self, kind };
        let label = match list.source(index)? {
            ListSource::Content(text) => {
                for (i, line) in text.lines().enumerate() {
                    sink.line(&mut report, list.format, i + 1, line.as_bytes());
                }
                "inline content"
            }
            ListSource::File(file) => {
                let fail = |e: String| format!("lists[{index}].file: {e}");
                let mut lines = ListFile::open(file).map_err(fail)?.lines(sink.loader.chunk);
                let mut number = 0;
                while let Some(line) = lines.next_line().map_err(fail)? {
                    number += 1;
                    sink.line(&mut report, list.format, number, line);
                }
                file
            }
        };
        log_report(index, label, &report);
        Ok(report)
    }

    /// Adds `raw` (one trailing dot dropped, lower-cased) to the set of `kind`;
    /// false when it is not a valid name.
    fn add(&mut self, raw: &str, kind: Kind) -> bool {
        if !name::normalize_into(raw, &mut self.name) {
            return false;
        }
        match kind {
            Kind::Exact => self.exact.insert(&self.name),
            Kind::Subdomain => self.subdomain.insert(&self.name),
            // Valid names are ASCII.
            Kind::Allow => match std::str::from_utf8(&self.name) {
                Ok(name) => self.allow.insert(name),
                Err(_) => return false,
            },
        }
        true
    }
}

/// What the list parsers store names into: block rules go to the list's set.
struct ListSink<'a> {
    loader: &'a mut Loader,
    kind: Kind,
}

impl ListSink<'_> {
    /// Parses line `number` (1-based); a line that is not UTF-8 is skipped.
    fn line(&mut self, report: &mut ParseReport, format: ListFormat, number: usize, line: &[u8]) {
        match std::str::from_utf8(line) {
            Ok(text) => report.line(format, number, text, self),
            Err(_) => report.skip(number),
        }
    }
}

impl Sink for ListSink<'_> {
    fn add(&mut self, name: &str, rule: Rule) -> bool {
        let kind = match rule {
            Rule::Block => self.kind,
            Rule::Allow => Kind::Allow,
        };
        self.loader.add(name, kind)
    }
}

fn log_report(index: usize, label: &str, report: &ParseReport) {
    log::info!(
        "lists[{index}] ({label}): {} blocked, {} allowed, {} malformed lines skipped",
        report.blocked,
        report.allowed,
        report.skipped
    );
    if let Some(line) = report.first_skipped_line {
        log::warn!("lists[{index}] ({label}): first malformed line is line {line}");
    }
}
