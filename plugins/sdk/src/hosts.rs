//! A streaming parser for hosts files (`/etc/hosts` format), shared by the
//! blocklist (which ignores the address) and local-answer plugins.
//!
//! Format: `ADDRESS NAME [NAME...]`, `#` starts a comment anywhere on a line,
//! blank lines are ignored. Names are returned as written; normalise them with
//! [`crate::name::normalize`].

use std::net::{IpAddr, Ipv4Addr};
use std::str::{Lines, SplitAsciiWhitespace};

/// One item of a hosts file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostsItem<'a> {
    /// `name` maps to `ip`; `line` is 1-based.
    Entry {
        ip: IpAddr,
        name: &'a str,
        line: usize,
    },
    /// The line does not start with an IP address.
    BadLine { line: usize },
}

/// Iterates over every (address, name) pair of `content`.
pub fn parse(content: &str) -> HostsParser<'_> {
    HostsParser {
        lines: content.lines(),
        line: 0,
        current: None,
    }
}

/// Iterator returned by [`parse`].
#[derive(Debug)]
pub struct HostsParser<'a> {
    lines: Lines<'a>,
    line: usize,
    current: Option<(IpAddr, SplitAsciiWhitespace<'a>)>,
}

impl<'a> Iterator for HostsParser<'a> {
    type Item = HostsItem<'a>;

    fn next(&mut self) -> Option<HostsItem<'a>> {
        loop {
            if let Some((ip, names)) = &mut self.current {
                if let Some(name) = names.next() {
                    let (ip, line) = (*ip, self.line);
                    return Some(HostsItem::Entry { ip, name, line });
                }
                self.current = None;
            }
            let raw = self.lines.next()?;
            self.line += 1;
            // Byte scans: a blocklist's hosts file is a million lines, and
            // hosts(5) separates fields with blanks and tabs, never other spaces.
            let text = match raw.bytes().position(|b| b == b'#') {
                Some(hash) => &raw[..hash],
                None => raw,
            };
            let mut fields = text.split_ascii_whitespace();
            let Some(address) = fields.next() else {
                continue;
            };
            match parse_address(address) {
                Some(ip) => self.current = Some((ip, fields)),
                None => return Some(HostsItem::BadLine { line: self.line }),
            }
        }
    }
}

/// Parses the address column; a zone index (`fe80::1%lo0`) is accepted and dropped.
fn parse_address(field: &str) -> Option<IpAddr> {
    // Blocklists repeat one address on every line; the general parser was a
    // tenth of a 1M-line list's load time in wasm.
    match field {
        "0.0.0.0" => return Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        "127.0.0.1" => return Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        _ => {}
    }
    let without_zone = match field.bytes().position(|b| b == b'%') {
        Some(percent) => &field[..percent],
        None => field,
    };
    without_zone.parse().ok()
}

/// True for the names every distributed hosts file starts with (`localhost`,
/// `broadcasthost`, `ip6-allnodes`, ...). A blocklist must not block these.
pub fn is_boilerplate(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "localhost",
        "localhost.localdomain",
        "local",
        "broadcasthost",
        "ip6-localhost",
        "ip6-loopback",
        "ip6-localnet",
        "ip6-mcastprefix",
        "ip6-allnodes",
        "ip6-allrouters",
        "ip6-allhosts",
        "0.0.0.0",
    ];
    let name = name.strip_suffix('.').unwrap_or(name);
    NAMES.iter().any(|known| known.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn entries(content: &str) -> Vec<(IpAddr, &str, usize)> {
        parse(content)
            .filter_map(|item| match item {
                HostsItem::Entry { ip, name, line } => Some((ip, name, line)),
                HostsItem::BadLine { .. } => None,
            })
            .collect()
    }

    const ZERO: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

    #[test]
    fn parses_names_comments_and_blank_lines() {
        let text =
            "# header\n\n0.0.0.0 ads.example.com\n0.0.0.0\tA.example  b.example # two\n   \n";
        assert_eq!(
            entries(text),
            [
                (ZERO, "ads.example.com", 3),
                (ZERO, "A.example", 4),
                (ZERO, "b.example", 4)
            ]
        );
    }

    #[test]
    fn accepts_ipv6_zone_indexes_and_crlf() {
        let text = "::1 ip6-localhost\r\nfe80::1%lo0 localhost\r\n192.0.2.7 nas.lan\r\n";
        assert_eq!(
            entries(text),
            [
                (IpAddr::V6(Ipv6Addr::LOCALHOST), "ip6-localhost", 1),
                (IpAddr::V6("fe80::1".parse().unwrap()), "localhost", 2),
                (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), "nas.lan", 3)
            ]
        );
    }

    #[test]
    fn reports_lines_without_an_address() {
        let items: Vec<_> = parse("ads.example.com\n0.0.0.0 ok.example\n300.1.1.1 x\n").collect();
        assert_eq!(
            items,
            [
                HostsItem::BadLine { line: 1 },
                HostsItem::Entry {
                    ip: ZERO,
                    name: "ok.example",
                    line: 2
                },
                HostsItem::BadLine { line: 3 },
            ]
        );
    }

    #[test]
    fn common_addresses_parse_as_the_general_parser_does() {
        for field in [
            "0.0.0.0",
            "127.0.0.1",
            "0.0.0.1",
            "::",
            "fe80::1%eth0",
            "0.0.0.0%x",
        ] {
            let general = field.split('%').next().unwrap().parse().ok();
            assert_eq!(parse_address(field), general, "{field}");
        }
        assert_eq!(parse_address("0.0.0.0.0"), None);
    }

    #[test]
    fn an_address_without_names_yields_nothing() {
        assert!(parse("0.0.0.0\n0.0.0.0 # only a comment\n")
            .next()
            .is_none());
        assert!(parse("").next().is_none());
    }

    #[test]
    fn boilerplate_names_are_recognised() {
        for name in [
            "localhost",
            "LOCALHOST.",
            "localhost.localdomain",
            "broadcasthost",
            "ip6-allnodes",
            "0.0.0.0",
        ] {
            assert!(is_boilerplate(name), "{name}");
        }
        assert!(!is_boilerplate("localhost.example.com"));
        assert!(!is_boilerplate("ads.example.com"));
    }
}
