//! Bounds-checked walking of names and resource records in DNS messages.
//!
//! Every read is checked; nothing here panics or loops on hostile input. Names are
//! validated fully (label types, 255-byte limit); compression pointers must point
//! strictly backwards, past the header, and a name may take at most
//! [`MAX_POINTER_HOPS`] of them, so every walk terminates.

use super::header::{get_u16, get_u32};
use super::HEADER_LEN;

/// Longest name in wire form, terminating zero included (RFC 1035 §2.3.4).
pub(crate) const MAX_NAME_LEN: usize = 255;
/// Pointer hops allowed in one name. A legitimate name needs one; 127 labels is the most a name can have.
pub(crate) const MAX_POINTER_HOPS: usize = 127;
/// Smallest possible resource record: root owner + 10 fixed bytes.
pub(crate) const MIN_RR_LEN: usize = 11;

/// Why a message could not be walked.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("message truncated at byte {0}")]
    Truncated(usize),
    #[error("bad label at byte {0}")]
    BadLabel(usize),
    #[error("compression pointer loop at byte {0}")]
    PointerLoop(usize),
    #[error("bad compression pointer at byte {0}")]
    BadPointer(usize),
    #[error("name longer than 255 bytes at byte {0}")]
    NameTooLong(usize),
    #[error("{0}")]
    Malformed(&'static str),
}

impl WireError {
    /// A static description, for logs on the hot path (no formatting).
    pub fn reason(&self) -> &'static str {
        match self {
            WireError::Truncated(_) => "truncated message",
            WireError::BadLabel(_) => "bad label type",
            WireError::PointerLoop(_) => "compression pointer loop",
            WireError::BadPointer(_) => "bad compression pointer",
            WireError::NameTooLong(_) => "name longer than 255 bytes",
            WireError::Malformed(reason) => reason,
        }
    }
}

/// End of an uncompressed name starting at `start` (question names: no pointers).
pub(crate) fn plain_name_end(buf: &[u8], start: usize) -> Result<usize, WireError> {
    let mut pos = start;
    loop {
        let len = *buf.get(pos).ok_or(WireError::Truncated(pos))?;
        match len & 0xc0 {
            0x00 if len == 0 => return Ok(pos + 1),
            0x00 => {
                pos += 1 + usize::from(len);
                // Room for at least the terminating zero.
                if pos - start >= MAX_NAME_LEN {
                    return Err(WireError::NameTooLong(start));
                }
            }
            0xc0 => return Err(WireError::BadPointer(pos)),
            _ => return Err(WireError::BadLabel(pos)),
        }
    }
}

/// A name that may be compressed: where it ends in the message (after its first
/// pointer or its terminating zero) and its uncompressed length.
pub(crate) fn name_end(buf: &[u8], start: usize) -> Result<(usize, usize), WireError> {
    let mut pos = start;
    let mut end = None;
    let mut name_len = 0usize;
    let mut hops = 0usize;
    loop {
        let len = *buf.get(pos).ok_or(WireError::Truncated(pos))?;
        match len & 0xc0 {
            0x00 if len == 0 => return Ok((end.unwrap_or(pos + 1), name_len + 1)),
            0x00 => {
                name_len += 1 + usize::from(len);
                if name_len >= MAX_NAME_LEN {
                    return Err(WireError::NameTooLong(start));
                }
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let low = *buf.get(pos + 1).ok_or(WireError::Truncated(pos + 1))?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                if target >= pos {
                    return Err(WireError::PointerLoop(pos));
                }
                if target < HEADER_LEN {
                    return Err(WireError::BadPointer(pos));
                }
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return Err(WireError::PointerLoop(pos));
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return Err(WireError::BadLabel(pos)),
        }
    }
}

/// One resource record, located in its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// Offset of the TTL field.
    pub ttl_at: usize,
    /// Uncompressed owner name length (1 = root).
    pub owner_len: usize,
    pub rdata_start: usize,
    /// First byte after the record.
    pub end: usize,
}

impl Record {
    /// Reads the record at `start`: owner name (validated), fixed fields, RDATA bounds.
    /// RDATA is not interpreted.
    pub(crate) fn read(buf: &[u8], start: usize) -> Result<Record, WireError> {
        let (fixed, owner_len) = name_end(buf, start)?;
        let truncated = WireError::Truncated(buf.len());
        let rtype = get_u16(buf, fixed).ok_or(truncated)?;
        let class = get_u16(buf, fixed + 2).ok_or(truncated)?;
        let ttl = get_u32(buf, fixed + 4).ok_or(truncated)?;
        let rdlen = get_u16(buf, fixed + 8).ok_or(truncated)?;
        let rdata_start = fixed + 10;
        let end = rdata_start + usize::from(rdlen);
        if end > buf.len() {
            return Err(truncated);
        }
        Ok(Record {
            rtype,
            class,
            ttl,
            ttl_at: fixed + 4,
            owner_len,
            rdata_start,
            end,
        })
    }

    pub(crate) fn rdata<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.rdata_start..self.end).unwrap_or(&[])
    }
}

/// Checks that OPT RDATA is a sequence of complete options (RFC 6891 §6.1.2).
pub(crate) fn check_opt_options(rdata: &[u8]) -> Result<(), WireError> {
    let mut pos = 0;
    while pos < rdata.len() {
        let len = get_u16(rdata, pos + 2).ok_or(WireError::Malformed("truncated EDNS option"))?;
        pos += 4 + usize::from(len);
    }
    if pos == rdata.len() {
        Ok(())
    } else {
        Err(WireError::Malformed("truncated EDNS option"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; HEADER_LEN];
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn plain_names() {
        let m = msg(b"\x03www\x07example\x03com\x00rest");
        assert_eq!(plain_name_end(&m, 12), Ok(12 + 17));
        assert_eq!(plain_name_end(&msg(b"\x00"), 12), Ok(13));
        assert_eq!(
            plain_name_end(&msg(b"\x03ww"), 12),
            Err(WireError::Truncated(16))
        );
        assert_eq!(
            plain_name_end(&msg(b"\xc0\x0c"), 12),
            Err(WireError::BadPointer(12))
        );
        assert_eq!(
            plain_name_end(&msg(b"\x40abc\x00"), 12),
            Err(WireError::BadLabel(12))
        );
        assert_eq!(
            plain_name_end(&msg(b"\x80abc\x00"), 12),
            Err(WireError::BadLabel(12))
        );
    }

    /// Four 63-byte labels make 256 bytes with the root: one too many.
    fn long_name(labels: usize, last: u8) -> Vec<u8> {
        let mut body = Vec::new();
        for _ in 0..labels {
            body.push(63);
            body.extend_from_slice(&[b'a'; 63]);
        }
        body.push(last);
        body.extend_from_slice(&vec![b'b'; usize::from(last)]);
        body.push(0);
        msg(&body)
    }

    #[test]
    fn name_length_limit() {
        // 3*64 + 1 + 61 + 1 = 255: the longest legal name.
        let ok = long_name(3, 61);
        assert_eq!(plain_name_end(&ok, 12), Ok(12 + 255));
        assert_eq!(name_end(&ok, 12), Ok((12 + 255, 255)));
        let too_long = long_name(3, 62);
        assert_eq!(
            plain_name_end(&too_long, 12),
            Err(WireError::NameTooLong(12))
        );
        assert_eq!(name_end(&too_long, 12), Err(WireError::NameTooLong(12)));
    }

    #[test]
    fn compressed_names() {
        // example.com at 12, www + pointer at 25.
        let m = msg(b"\x07example\x03com\x00\x03www\xc0\x0c");
        assert_eq!(name_end(&m, 12), Ok((25, 13)));
        assert_eq!(name_end(&m, 25), Ok((31, 17)));
    }

    #[test]
    fn pointer_loops_and_forward_pointers() {
        // Self pointer.
        assert_eq!(
            name_end(&msg(b"\xc0\x0c"), 12),
            Err(WireError::PointerLoop(12))
        );
        // Forward pointer.
        assert_eq!(
            name_end(&msg(b"\xc0\x0e\x00"), 12),
            Err(WireError::PointerLoop(12))
        );
        // Label then pointer back to the label: each pass adds a label, caught by the length limit.
        assert_eq!(
            name_end(&msg(b"\x01a\xc0\x0c"), 12),
            Err(WireError::NameTooLong(12))
        );
        // Pointer into the header.
        assert_eq!(
            name_end(&msg(b"\xc0\x02"), 12),
            Err(WireError::BadPointer(12))
        );
        // Truncated pointer.
        assert_eq!(name_end(&msg(b"\xc0"), 12), Err(WireError::Truncated(13)));
    }

    #[test]
    fn pointer_chains_are_bounded() {
        // Root at 12, then a chain of pointers each pointing to the previous one.
        let mut body = vec![0u8];
        for i in 0..200u16 {
            let target = 12 + if i == 0 { 0 } else { 1 + 2 * (i - 1) };
            body.extend_from_slice(&(0xc000 | target).to_be_bytes());
        }
        let m = msg(&body);
        assert_eq!(name_end(&m, 13 + 2 * 10), Ok((13 + 2 * 11, 1)));
        assert!(matches!(
            name_end(&m, 13 + 2 * 199),
            Err(WireError::PointerLoop(_))
        ));
    }

    #[test]
    fn records() {
        let m = msg(b"\x00\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\x7f\x00\x00\x01");
        let rr = Record::read(&m, 12).unwrap();
        assert_eq!((rr.rtype, rr.class, rr.ttl), (1, 1, 3600));
        assert_eq!((rr.ttl_at, rr.owner_len, rr.end), (17, 1, m.len()));
        assert_eq!(rr.rdata(&m), [127, 0, 0, 1]);
        for cut in 12..m.len() {
            assert!(Record::read(&m[..cut], 12).is_err(), "prefix {cut}");
        }
    }

    #[test]
    fn opt_options() {
        assert_eq!(check_opt_options(b""), Ok(()));
        assert_eq!(check_opt_options(b"\x00\x0a\x00\x02ab"), Ok(()));
        assert!(check_opt_options(b"\x00\x0a\x00\x03ab").is_err());
        assert!(check_opt_options(b"\x00\x0a\x00").is_err());
    }
}
