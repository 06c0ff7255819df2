//! The fixed 12-byte header and the OPT pseudo-record: flag bits and writers.

/// QR: the message is a response.
pub(crate) const QR: u16 = 0x8000;
/// AA: authoritative answer.
pub(crate) const AA: u16 = 0x0400;
/// TC: the message was truncated.
pub(crate) const TC: u16 = 0x0200;
/// RD: recursion desired (client's choice, echoed).
pub(crate) const RD: u16 = 0x0100;
/// RA: recursion available.
pub(crate) const RA: u16 = 0x0080;
/// CD: checking disabled (client's choice, echoed and forwarded).
pub(crate) const CD: u16 = 0x0010;
/// OPCODE field (4 bits at 11..15).
pub(crate) const OPCODE_MASK: u16 = 0x7800;
/// Low 4 bits of the response code.
pub(crate) const RCODE_MASK: u16 = 0x000f;

/// Byte offsets of the header fields.
pub(crate) const FLAGS_AT: usize = 2;
pub(crate) const QDCOUNT_AT: usize = 4;
pub(crate) const ANCOUNT_AT: usize = 6;
pub(crate) const NSCOUNT_AT: usize = 8;
pub(crate) const ARCOUNT_AT: usize = 10;

/// RR types the wire layer needs to recognise.
pub(crate) const TYPE_SOA: u16 = 6;
pub(crate) const TYPE_OPT: u16 = 41;

/// Size of an OPT record without options: root owner, type, class, TTL, RDLENGTH.
pub(crate) const OPT_LEN: usize = 11;
/// DO bit inside the OPT TTL field (RFC 3225).
pub(crate) const OPT_DO: u32 = 0x8000;

/// Reads a big-endian u16; `None` when out of bounds.
#[inline]
pub(crate) fn get_u16(buf: &[u8], at: usize) -> Option<u16> {
    match buf.get(at..at.checked_add(2)?)? {
        [a, b] => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    }
}

/// Reads a big-endian u32; `None` when out of bounds.
#[inline]
pub(crate) fn get_u32(buf: &[u8], at: usize) -> Option<u32> {
    match buf.get(at..at.checked_add(4)?)? {
        [a, b, c, d] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// Overwrites a big-endian u16 in place; out-of-bounds writes are ignored.
#[inline]
pub(crate) fn set_u16(buf: &mut [u8], at: usize, value: u16) {
    let Some(end) = at.checked_add(2) else { return };
    if let Some(dst) = buf.get_mut(at..end) {
        dst.copy_from_slice(&value.to_be_bytes());
    }
}

/// Appends a header.
pub(crate) fn push_header(out: &mut Vec<u8>, id: u16, flags: u16, counts: [u16; 4]) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for count in counts {
        out.extend_from_slice(&count.to_be_bytes());
    }
}

/// Appends an option-less OPT record (RFC 6891 §6.1.2): version 0, `ext_rcode` as the
/// upper 8 bits of a 12-bit RCODE, DO as given.
pub(crate) fn push_opt(out: &mut Vec<u8>, udp_size: u16, ext_rcode: u8, dnssec_ok: bool) {
    let ttl = (u32::from(ext_rcode) << 24) | if dnssec_ok { OPT_DO } else { 0 };
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&udp_size.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_reads_are_bounds_checked() {
        let buf = [0x12, 0x34, 0x56, 0x78];
        assert_eq!(get_u16(&buf, 0), Some(0x1234));
        assert_eq!(get_u16(&buf, 2), Some(0x5678));
        assert_eq!(get_u16(&buf, 3), None);
        assert_eq!(get_u16(&buf, usize::MAX), None);
        assert_eq!(get_u32(&buf, 0), Some(0x1234_5678));
        assert_eq!(get_u32(&buf, 1), None);
        assert_eq!(get_u32(&buf, usize::MAX - 1), None);
    }

    #[test]
    fn opt_layout() {
        let mut out = Vec::new();
        push_opt(&mut out, 1232, 1, true);
        assert_eq!(out, [0, 0, 41, 0x04, 0xd0, 1, 0, 0x80, 0, 0, 0]);
        assert_eq!(out.len(), OPT_LEN);
    }

    #[test]
    fn set_u16_ignores_out_of_bounds() {
        let mut buf = [0u8; 3];
        set_u16(&mut buf, 1, 0xabcd);
        assert_eq!(buf, [0, 0xab, 0xcd]);
        set_u16(&mut buf, 2, 0xffff);
        assert_eq!(buf, [0, 0xab, 0xcd]);
    }
}
