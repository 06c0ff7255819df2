//! Reads a JSON string literal line by line, unescaping as it goes.
//!
//! A list arrives inside the config JSON as one string of tens of MiB. Decoding
//! it whole would double the plugin's peak memory; reading it a line at a time
//! into one reused buffer keeps the extra at one line, and leaves the bytes
//! already read free to be overwritten (see `arena`).

/// Why a string literal could not be read. The config text came from the host's
/// JSON encoder, so these only show up with hand-made or corrupted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// The value is not a string literal.
    NotAString,
    /// The closing quote is missing.
    Unterminated,
    /// `\x` with an unknown `x`, or a bad `\uXXXX`.
    BadEscape,
}

/// How [`next_line`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnd {
    /// At a newline; more text follows.
    Newline,
    /// At the closing quote: this was the last line.
    End,
}

/// Position just after the opening quote of the literal starting at `start`.
pub fn open(buf: &[u8], start: usize) -> Result<usize, JsonError> {
    match buf.get(start) {
        Some(b'"') => Ok(start + 1),
        _ => Err(JsonError::NotAString),
    }
}

/// Reads from `*pos` (inside a string literal) up to the next newline or the
/// closing quote into `line` (cleared first, newline not included), and moves
/// `*pos` past what it consumed. Raw bytes are copied in runs; only escapes are
/// handled one at a time.
pub fn next_line(buf: &[u8], pos: &mut usize, line: &mut Vec<u8>) -> Result<LineEnd, JsonError> {
    line.clear();
    loop {
        let rest = buf.get(*pos..).unwrap_or_default();
        let run = rest
            .iter()
            .position(|&b| b == b'\\' || b == b'"' || b == b'\n')
            .ok_or(JsonError::Unterminated)?;
        line.extend_from_slice(&rest[..run]);
        *pos += run + 1;
        match rest[run] {
            b'"' => return Ok(LineEnd::End),
            // A raw newline is invalid JSON, but harmless to accept.
            b'\n' => return Ok(LineEnd::Newline),
            _ => {}
        }
        let escape = *buf.get(*pos).ok_or(JsonError::Unterminated)?;
        *pos += 1;
        let byte = match escape {
            b'n' => return Ok(LineEnd::Newline),
            b'"' | b'\\' | b'/' => escape,
            b't' => b'\t',
            b'r' => b'\r',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'u' => {
                let c = unicode_escape(buf, pos)?;
                if c == '\n' {
                    return Ok(LineEnd::Newline);
                }
                line.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                continue;
            }
            _ => return Err(JsonError::BadEscape),
        };
        line.push(byte);
    }
}

/// Decodes the `XXXX` (and a following `\uXXXX` low surrogate) after `\u`.
fn unicode_escape(buf: &[u8], pos: &mut usize) -> Result<char, JsonError> {
    let high = hex4(buf, pos)?;
    if !(0xd800..0xdc00).contains(&high) {
        return char::from_u32(high).ok_or(JsonError::BadEscape);
    }
    if buf.get(*pos..*pos + 2) != Some(b"\\u") {
        return Err(JsonError::BadEscape);
    }
    *pos += 2;
    let low = hex4(buf, pos)?;
    if !(0xdc00..0xe000).contains(&low) {
        return Err(JsonError::BadEscape);
    }
    char::from_u32(0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00)).ok_or(JsonError::BadEscape)
}

fn hex4(buf: &[u8], pos: &mut usize) -> Result<u32, JsonError> {
    let digits = buf.get(*pos..*pos + 4).ok_or(JsonError::Unterminated)?;
    let text = std::str::from_utf8(digits).map_err(|_| JsonError::BadEscape)?;
    let value = u32::from_str_radix(text, 16).map_err(|_| JsonError::BadEscape)?;
    *pos += 4;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of the literal `json`, as the reader yields them.
    fn lines(json: &str) -> Result<Vec<String>, JsonError> {
        let buf = json.as_bytes();
        let mut pos = open(buf, 0)?;
        let mut line = Vec::new();
        let mut out = Vec::new();
        loop {
            let end = next_line(buf, &mut pos, &mut line)?;
            out.push(String::from_utf8(line.clone()).unwrap());
            if end == LineEnd::End {
                assert_eq!(pos, buf.len(), "stops right after the closing quote");
                return Ok(out);
            }
        }
    }

    #[test]
    fn splits_on_escaped_newlines_and_matches_serde() {
        let text = "0.0.0.0 a.com\n||b.com^\r\n\t\"q\" \\ / é 😀\n\nlast";
        let json = serde_json::to_string(text).unwrap();
        let expected: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines(&json).unwrap(), expected);
    }

    #[test]
    fn unicode_escapes_including_surrogates_and_newline() {
        assert_eq!(
            lines(r#""a\u0041\u00e9\ud83d\ude00\u000ab""#).unwrap(),
            ["aAé😀", "b"]
        );
        assert_eq!(lines(r#""\b\f\/""#).unwrap(), ["\u{8}\u{c}/"]);
    }

    #[test]
    fn empty_and_trailing_newline() {
        assert_eq!(lines(r#""""#).unwrap(), [""]);
        assert_eq!(lines(r#""x\n""#).unwrap(), ["x", ""]);
    }

    #[test]
    fn malformed_literals_are_errors_not_panics() {
        assert_eq!(lines("42"), Err(JsonError::NotAString));
        assert_eq!(lines(r#""abc"#), Err(JsonError::Unterminated));
        assert_eq!(lines(r#""abc\"#), Err(JsonError::Unterminated));
        assert_eq!(lines(r#""\x""#), Err(JsonError::BadEscape));
        assert_eq!(lines(r#""\u12""#), Err(JsonError::Unterminated));
        assert_eq!(lines(r#""\uzzzz""#), Err(JsonError::BadEscape));
        assert_eq!(lines(r#""\ud83d""#), Err(JsonError::BadEscape));
        assert_eq!(lines(r#""\ud83d\u0041""#), Err(JsonError::BadEscape));
        assert_eq!(lines(r#""\ude00""#), Err(JsonError::BadEscape));
    }
}
