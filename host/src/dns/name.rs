//! Domain names between wire form and the presentation form plugins see.
//!
//! Plugins get names lower-case, without the trailing dot, with every byte outside
//! `[a-z0-9-_]` of a label escaped as `\DDD` (wit/README.md), so splitting on `.`
//! always yields whole labels. Names coming back from plugins are read with the
//! same rules (plus `\X` for any other character, as in zone files), so a name
//! round-trips exactly.

use super::wire::MAX_NAME_LEN;

/// Why a name from a plugin cannot be put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty label")]
    EmptyLabel,
    #[error("label longer than 63 bytes")]
    LabelTooLong,
    #[error("name longer than 255 bytes")]
    NameTooLong,
    #[error("bad escape")]
    BadEscape,
}

/// Appends the presentation form of an uncompressed wire name (as `Query::qname`
/// returns it) to `out`, lower-cased. Stops quietly at malformed input (the query
/// decoder has already validated question names).
pub fn to_presentation(wire: &[u8], out: &mut String) {
    let mut at = 0;
    while let Some(&len) = wire.get(at) {
        let len = usize::from(len);
        if len == 0 || len > 63 {
            break;
        }
        let Some(label) = wire.get(at + 1..at + 1 + len) else {
            break;
        };
        if at > 0 {
            out.push('.');
        }
        for &b in label {
            let b = b.to_ascii_lowercase();
            if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' {
                out.push(char::from(b));
            } else {
                out.push('\\');
                out.push(char::from(b'0' + b / 100));
                out.push(char::from(b'0' + (b / 10) % 10));
                out.push(char::from(b'0' + b % 10));
            }
        }
        at += 1 + len;
    }
}

/// Appends the wire form of a presentation name ("www.example.com", trailing dot
/// optional, "" or "." for the root) to `out`, case kept.
pub fn from_presentation(name: &str, out: &mut Vec<u8>) -> Result<(), NameError> {
    let start = out.len();
    let result = encode(name, out);
    if result.is_err() || out.len() - start > MAX_NAME_LEN {
        out.truncate(start);
    }
    match result {
        Ok(()) if out.len() == start => Err(NameError::NameTooLong),
        other => other,
    }
}

fn encode(name: &str, out: &mut Vec<u8>) -> Result<(), NameError> {
    let bytes = name.as_bytes();
    let body = match bytes {
        [] | [b'.'] => &[][..],
        [rest @ .., b'.'] if !rest.ends_with(b"\\") => rest,
        _ => bytes,
    };
    let mut i = 0;
    let mut label_at = out.len();
    out.push(0);
    while i < body.len() {
        let b = body[i];
        i += 1;
        let byte = match b {
            b'.' => {
                close_label(out, label_at)?;
                label_at = out.len();
                out.push(0);
                continue;
            }
            b'\\' => unescape(body, &mut i)?,
            _ => b,
        };
        out.push(byte);
    }
    if !body.is_empty() {
        close_label(out, label_at)?;
        out.push(0);
    }
    Ok(())
}

/// Fills in the length byte of the label that starts at `label_at`.
fn close_label(out: &mut [u8], label_at: usize) -> Result<(), NameError> {
    let len = out.len() - label_at - 1;
    match len {
        0 => Err(NameError::EmptyLabel),
        1..=63 => {
            out[label_at] = len as u8;
            Ok(())
        }
        _ => Err(NameError::LabelTooLong),
    }
}

/// Reads the escape after a backslash at `body[*i - 1]`: `\DDD` or `\X`.
fn unescape(body: &[u8], i: &mut usize) -> Result<u8, NameError> {
    match body.get(*i..*i + 3) {
        Some(d) if d.iter().all(u8::is_ascii_digit) => {
            let v = d.iter().fold(0u16, |v, &c| v * 10 + u16::from(c - b'0'));
            *i += 3;
            u8::try_from(v).map_err(|_| NameError::BadEscape)
        }
        _ => {
            let c = *body.get(*i).ok_or(NameError::BadEscape)?;
            if c.is_ascii_digit() {
                return Err(NameError::BadEscape);
            }
            *i += 1;
            Ok(c)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        from_presentation(name, &mut out).unwrap();
        out
    }

    fn text(wire: &[u8]) -> String {
        let mut s = String::new();
        to_presentation(wire, &mut s);
        s
    }

    #[test]
    fn plain_names() {
        assert_eq!(wire("www.Example.com"), b"\x03www\x07Example\x03com\x00");
        assert_eq!(wire("www.example.com."), wire("www.example.com"));
        assert_eq!(wire(""), b"\x00");
        assert_eq!(wire("."), b"\x00");
        assert_eq!(text(b"\x03WwW\x07example\x03COM\x00"), "www.example.com");
        assert_eq!(text(b"\x00"), "");
    }

    #[test]
    fn escapes_round_trip() {
        let odd = b"\x05a.b*c\x03\x00\xff \x00";
        let s = text(odd);
        assert_eq!(s, "a\\046b\\042c.\\000\\255\\032");
        assert_eq!(wire(&s), odd);
        assert_eq!(wire("a\\.b"), b"\x03a.b\x00");
        assert_eq!(wire("\\065"), b"\x01A\x00");
    }

    #[test]
    fn bad_names_are_errors() {
        let mut out = b"keep".to_vec();
        assert_eq!(
            from_presentation("a..b", &mut out),
            Err(NameError::EmptyLabel)
        );
        assert_eq!(
            from_presentation(".a", &mut out),
            Err(NameError::EmptyLabel)
        );
        let long = "x".repeat(64);
        assert_eq!(
            from_presentation(&long, &mut out),
            Err(NameError::LabelTooLong)
        );
        let huge = ["abcdefghij"; 26].join(".");
        assert_eq!(
            from_presentation(&huge, &mut out),
            Err(NameError::NameTooLong)
        );
        assert_eq!(
            from_presentation("a\\256", &mut out),
            Err(NameError::BadEscape)
        );
        assert_eq!(
            from_presentation("a\\", &mut out),
            Err(NameError::BadEscape)
        );
        assert_eq!(
            from_presentation("a\\12", &mut out),
            Err(NameError::BadEscape)
        );
        assert_eq!(out, b"keep", "a failed name leaves nothing behind");
    }

    #[test]
    fn malformed_wire_stops_quietly() {
        assert_eq!(text(b"\x03ab"), "");
        assert_eq!(text(b"\x02ab\xc0\x0c"), "ab");
    }
}
