//! Building the sets from the config JSON without a decoded copy of it.
//!
//! First the JSON is parsed borrowing: list contents and inline names are only
//! located (`RawValue`s pointing into the text). Then the string literals are
//! read in text order, a line at a time, and their names written over the text
//! already read (see `arena`). Peak memory: the config text plus one line plus
//! the tables, which reuse the text's freed tail.

use serde::Deserialize;
use serde_json::value::RawValue;
use wasmdns_plugin_sdk::log;

use crate::arena::{ArenaWriter, Sets, ALLOW, EXACT, SUBDOMAIN};
use crate::config::{BlockStyle, ListFormat, MatchMode};
use crate::json::{self, LineEnd};
use crate::parse::{ParseReport, Rule, Sink};

/// [`crate::Config`], borrowing from the JSON text instead of decoding it.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawConfig<'a> {
    #[serde(borrow)]
    domains: Vec<&'a RawValue>,
    #[serde(borrow)]
    lists: Vec<RawList<'a>>,
    #[serde(borrow)]
    allow: Vec<&'a RawValue>,
    block: BlockStyle,
    #[serde(rename = "match")]
    match_mode: MatchMode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList<'a> {
    format: ListFormat,
    #[serde(borrow)]
    content: &'a RawValue,
    #[serde(default)]
    file: Option<String>,
    #[serde(default, rename = "match")]
    match_mode: Option<MatchMode>,
}

/// One string literal to read, where it starts in the text and what it holds.
struct Source {
    start: usize,
    what: What,
}

enum What {
    /// `domains[index]` or `allow[index]`: must be a valid name.
    Inline {
        key: &'static str,
        index: usize,
        kind: u8,
    },
    /// `lists[index]`: lines of `format`; blocked names go to `kind`.
    List {
        index: usize,
        format: ListFormat,
        kind: u8,
        label: String,
    },
}

fn kind_of(mode: MatchMode) -> u8 {
    match mode {
        MatchMode::Exact => EXACT,
        MatchMode::Subdomain => SUBDOMAIN,
    }
}

/// Parses `config` (taking its buffer) into the sets and the block style.
pub fn build(config: String) -> Result<(Sets, BlockStyle), String> {
    let (mut sources, block) = locate(&config)?;
    sources.sort_unstable_by_key(|s| s.start);
    let mut reader = Reader {
        writer: ArenaWriter::new(config.into_bytes()),
        line: Vec::with_capacity(256),
    };
    for source in &sources {
        reader.read(source)?;
    }
    Ok((reader.writer.finish(), block))
}

/// The borrowing pass: where each literal starts, and the small settings.
fn locate(config: &str) -> Result<(Vec<Source>, BlockStyle), String> {
    let trimmed = config.trim();
    let raw: RawConfig = if trimmed.is_empty() || trimmed == "null" {
        RawConfig::default()
    } else {
        serde_json::from_str(config).map_err(|e| format!("invalid config: {e}"))?
    };
    let base = config.as_ptr() as usize;
    let start = |v: &RawValue| v.get().as_ptr() as usize - base;
    let mut sources = Vec::with_capacity(raw.domains.len() + raw.allow.len() + raw.lists.len());
    let inline_kind = kind_of(raw.match_mode);
    for (key, values, kind) in [
        ("domains", &raw.domains, inline_kind),
        ("allow", &raw.allow, ALLOW),
    ] {
        for (index, v) in values.iter().enumerate() {
            let what = What::Inline { key, index, kind };
            sources.push(Source {
                start: start(v),
                what,
            });
        }
    }
    for (index, list) in raw.lists.into_iter().enumerate() {
        let kind = kind_of(list.match_mode.unwrap_or(raw.match_mode));
        let label = list.file.unwrap_or_else(|| "inline content".into());
        let what = What::List {
            index,
            format: list.format,
            kind,
            label,
        };
        sources.push(Source {
            start: start(list.content),
            what,
        });
    }
    Ok((sources, raw.block))
}

/// Reads literals from the writer's own buffer.
struct Reader {
    writer: ArenaWriter,
    /// The current line, unescaped; reused.
    line: Vec<u8>,
}

/// The writer plus the reader's position: what the parsers store names into.
struct ListSink<'a> {
    writer: &'a mut ArenaWriter,
    read: usize,
    block_kind: u8,
}

impl Sink for ListSink<'_> {
    fn add(&mut self, name: &str, rule: Rule) -> bool {
        let kind = match rule {
            Rule::Block => self.block_kind,
            Rule::Allow => ALLOW,
        };
        self.writer.push(name, kind, self.read)
    }
}

impl Reader {
    fn read(&mut self, source: &Source) -> Result<(), String> {
        match &source.what {
            What::Inline { key, index, kind } => self.inline(source.start, key, *index, *kind),
            What::List {
                index,
                format,
                kind,
                label,
            } => {
                let report = self
                    .list(source.start, *format, *kind)
                    .map_err(|e| format!("invalid config: lists[{index}].content: {e:?}"))?;
                log_report(*index, label, &report);
                Ok(())
            }
        }
    }

    /// A hand-written name: anything but a valid name is an init error.
    fn inline(&mut self, start: usize, key: &str, index: usize, kind: u8) -> Result<(), String> {
        let bad =
            |text: &str| format!("bad config: {key}[{index}] = {text:?} is not a domain name");
        let buf = self.writer.buffer();
        let mut pos = json::open(buf, start)
            .map_err(|_| format!("invalid config: {key}[{index}] is not a string"))?;
        let end = json::next_line(buf, &mut pos, &mut self.line)
            .map_err(|e| format!("invalid config: {key}[{index}]: {e:?}"))?;
        let text = String::from_utf8_lossy(&self.line);
        if end != LineEnd::End || !self.writer.push(&text, kind, pos) {
            return Err(bad(&text));
        }
        Ok(())
    }

    fn list(
        &mut self,
        start: usize,
        format: ListFormat,
        kind: u8,
    ) -> Result<ParseReport, json::JsonError> {
        let mut pos = json::open(self.writer.buffer(), start)?;
        let mut report = ParseReport::default();
        for number in 1.. {
            let end = json::next_line(self.writer.buffer(), &mut pos, &mut self.line)?;
            // Escapes decode to whole characters and runs split at ASCII bytes,
            // so a line of a valid JSON text is valid UTF-8.
            match std::str::from_utf8(&self.line) {
                Ok(text) => {
                    let mut sink = ListSink {
                        writer: &mut self.writer,
                        read: pos,
                        block_kind: kind,
                    };
                    report.line(format, number, text, &mut sink);
                }
                Err(_) => report.skip(number),
            }
            if end == LineEnd::End {
                break;
            }
        }
        Ok(report)
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
