//! Maps a TOML or serde error, which knows only a byte span, to the dotted key it concerns.
//!
//! The document is re-parsed with spans (recoverably, so syntax errors get a key
//! too) and the key or value with the smallest span around the error wins: for
//! an unknown key that is the key itself, for a bad type it is the value.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Where an error is: the key path (`None` when no key surrounds it) and a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub key: Option<String>,
    pub line: usize,
    pub column: usize,
}

/// Locates `span` (from a `toml::de::Error`) in `text`.
pub fn locate(text: &str, span: Range<usize>) -> Location {
    let pos = span.start.min(text.len());
    let (doc, _) = DeTable::parse_recoverable(text);
    let mut best = Best {
        key: None,
        len: usize::MAX,
    };
    walk_table(doc.get_ref(), "", pos, &mut best);
    let (line, column) = line_column(text, pos);
    Location {
        key: best.key,
        line,
        column,
    }
}

struct Best {
    key: Option<String>,
    len: usize,
}

impl Best {
    fn offer(&mut self, span: Range<usize>, pos: usize, key: &str) {
        // `<=`: among equal spans the deeper node (visited later) is the better name.
        if contains(&span, pos) && span.len() <= self.len {
            self.len = span.len();
            self.key = Some(key.to_owned());
        }
    }
}

fn contains(span: &Range<usize>, pos: usize) -> bool {
    span.start <= pos && (pos < span.end || (span.is_empty() && pos == span.start))
}

fn walk_table(table: &DeTable<'_>, prefix: &str, pos: usize, best: &mut Best) {
    for (key, value) in table {
        let path = join(prefix, key.get_ref());
        best.offer(key.span(), pos, &path);
        walk_value(value, &path, pos, best);
    }
}

fn walk_value(value: &Spanned<DeValue<'_>>, path: &str, pos: usize, best: &mut Best) {
    best.offer(value.span(), pos, path);
    match value.get_ref() {
        DeValue::Table(table) => walk_table(table, path, pos, best),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_value(item, &format!("{path}[{i}]"), pos, best);
            }
        }
        _ => {}
    }
}

/// `prefix.key`, quoting keys that are not bare TOML keys so the path reads back unambiguously.
fn join(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// 1-based line and column (in characters) of byte offset `pos`.
fn line_column(text: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, needle: &str) -> Location {
        let start = text.find(needle).expect("needle in text");
        locate(text, start..start + needle.len())
    }

    #[test]
    fn finds_nested_keys_and_array_items() {
        let text = "[server]\nlisten = [\"a\", \"b\"]\n\n[[plugin]]\nname = \"x\"\n[plugin.config]\nk = 1\n";
        let loc = at(text, "\"b\"");
        assert_eq!(loc.key.as_deref(), Some("server.listen[1]"));
        assert_eq!((loc.line, loc.column), (2, 16));
        assert_eq!(at(text, "name").key.as_deref(), Some("plugin[0].name"));
        assert_eq!(at(text, "k = 1").key.as_deref(), Some("plugin[0].config.k"));
    }

    #[test]
    fn quotes_keys_that_are_not_bare() {
        let text = "[plugin.config]\n\"a.b\" = 1\n";
        assert_eq!(
            at(text, "1\n").key.as_deref(),
            Some("plugin.config.\"a.b\"")
        );
    }

    #[test]
    fn no_key_outside_any_entry() {
        let loc = locate("# only a comment\n", 3..4);
        assert_eq!(loc.key, None);
        assert_eq!((loc.line, loc.column), (1, 4));
    }

    #[test]
    fn positions_count_characters_and_survive_bad_spans() {
        assert_eq!(line_column("é\nab", 4), (2, 2));
        assert_eq!(line_column("é", 1), (1, 1));
        assert_eq!(line_column("ab", 99), (1, 3));
    }
}
