//! Parsers for the human-written values of the config file and the command line.
//!
//! One rule each, no guessing: durations and sizes are strings with a unit
//! (`"500ms"`, `"64MiB"`); a bare number is rejected because "2" could mean
//! seconds or milliseconds. Errors say what was expected; the caller adds the key.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;

/// Parses `"<integer><unit>"` with unit `us` (or `µs`), `ms`, `s`, `m` or `h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected = || {
        format!(
            "expected a duration such as \"2s\" or \"500ms\" \
             (an integer and a unit: us, ms, s, m, h, d), got {text:?}"
        )
    };
    let (digits, unit) = split_number(text).ok_or_else(expected)?;
    let micros_per_unit: u64 = match unit {
        "us" | "µs" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return Err(expected()),
    };
    digits
        .checked_mul(micros_per_unit)
        .map(Duration::from_micros)
        .ok_or_else(|| format!("duration {text:?} is too large"))
}

/// Parses `"<integer><unit>"` with unit `B`, `KiB`, `MiB` or `GiB` (powers of 1024).
///
/// SI units (`MB`) are rejected rather than guessed: operators mean different things by them.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let expected = || {
        format!(
            "expected a size such as \"64MiB\" \
             (an integer and a unit: B, KiB, MiB, GiB), got {text:?}"
        )
    };
    let (digits, unit) = split_number(text).ok_or_else(expected)?;
    let shift = match unit {
        "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return Err(expected()),
    };
    digits
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// Splits `"123unit"` into `(123, "unit")`; `None` without digits or on overflow.
fn split_number(text: &str) -> Option<(u64, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let digits = text[..end].parse::<u64>().ok()?;
    Some((digits, &text[end..]))
}

/// Parses a listening address: `"ip:port"`, IPv6 in brackets (`"[::1]:53"`).
pub fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>().map_err(|_| {
        format!(
            "expected an address with a port such as \"127.0.0.1:53\" or \"[::1]:53\", got {text:?}"
        )
    })
}

/// Parses an upstream address: like [`parse_listen_addr`], but the port defaults to 53.
pub fn parse_upstream_addr(text: &str) -> Result<SocketAddr, String> {
    let addr = text
        .parse::<SocketAddr>()
        .ok()
        .or_else(|| {
            let bare = text
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or(text);
            bare.parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .ok_or_else(|| {
            format!(
                "expected an IP address with an optional port such as \"9.9.9.9\", \
                 \"9.9.9.9:53\" or \"[2620:fe::fe]:53\", got {text:?}"
            )
        })?;
    if addr.port() == 0 {
        return Err(format!("upstream port must not be 0, got {text:?}"));
    }
    if addr.ip().is_unspecified() {
        return Err(format!(
            "upstream address must not be unspecified (0.0.0.0 or ::), got {text:?}"
        ));
    }
    Ok(addr)
}

/// Parses `"ip/prefix"` or a bare IP (a single host).
///
/// A network with host bits set (`"10.0.0.1/8"`) is rejected: it is almost always
/// a typo, and silently widening or narrowing an ACL is the wrong guess.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    let net = text
        .parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
        .ok_or_else(|| {
            format!(
                "expected a network such as \"10.0.0.0/8\" or \"fd00::/8\", or a single IP, got {text:?}"
            )
        })?;
    if net.trunc() != net {
        return Err(format!(
            "network {text:?} has host bits set; did you mean \"{}\"?",
            net.trunc()
        ));
    }
    Ok(net)
}

/// Largest `cache.max_entries` (and `--cache-entries`): 100 million answers, ~8 GiB
/// of typical ones. The cache reserves address space for its bound up front
/// (512 bytes an entry, touched only as answers arrive), so the bound must stay
/// something a machine can map.
pub const MAX_CACHE_ENTRIES: u64 = 100_000_000;

/// Largest `cache.plugin_verdicts`: 10 million memoised verdicts, ~1 GiB. The memo
/// holds hot names; past a few hundred thousand it only costs memory.
pub const MAX_PLUGIN_VERDICTS: u64 = 10_000_000;

/// Parses `--cache-entries`: 0 (no cache) to [`MAX_CACHE_ENTRIES`].
pub fn parse_cache_entries(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n <= MAX_CACHE_ENTRIES => Ok(n),
        _ => Err(format!(
            "expected an integer from 0 to {MAX_CACHE_ENTRIES}, got {text:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_entries_are_bounded() {
        assert_eq!(parse_cache_entries("0"), Ok(0));
        assert_eq!(parse_cache_entries("100000000"), Ok(MAX_CACHE_ENTRIES));
        for bad in ["100000001", "-1", "1e6", ""] {
            let e = parse_cache_entries(bad).unwrap_err();
            assert!(e.contains("0 to 100000000"), "{bad}: {e}");
        }
    }

    #[test]
    fn durations_with_every_unit() {
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("7µs"), Ok(Duration::from_micros(7)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_rejected() {
        for bad in [
            "", "2", "s", "ms", "2 s", " 2s", "2s ", "-2s", "1.5s", "2S", "2sec", "2w", "+2s",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("expected a duration"), "{bad:?}: {err}");
        }
        assert!(parse_duration("99999999999999999999s").is_err());
        assert!(parse_duration("18446744073709551615h")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0B"), Ok(0));
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        for bad in ["64", "64MB", "64mib", "64 MiB", "MiB", "-1MiB", "1.5MiB"] {
            let err = parse_size(bad).unwrap_err();
            assert!(err.contains("expected a size"), "{bad:?}: {err}");
        }
        assert!(parse_size("18446744073709551615GiB")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn listen_addresses_need_a_port() {
        assert_eq!(
            parse_listen_addr("127.0.0.1:5353"),
            Ok("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(parse_listen_addr("[::1]:0"), Ok("[::1]:0".parse().unwrap()));
        for bad in ["127.0.0.1", "::1:53", "localhost:53", "127.0.0.1:65536", ""] {
            assert!(parse_listen_addr(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn upstream_port_defaults_to_53() {
        let v4: SocketAddr = "9.9.9.9:53".parse().unwrap();
        let v6: SocketAddr = "[2620:fe::fe]:53".parse().unwrap();
        assert_eq!(parse_upstream_addr("9.9.9.9"), Ok(v4));
        assert_eq!(parse_upstream_addr("9.9.9.9:53"), Ok(v4));
        assert_eq!(parse_upstream_addr("2620:fe::fe"), Ok(v6));
        assert_eq!(parse_upstream_addr("[2620:fe::fe]"), Ok(v6));
        assert_eq!(
            parse_upstream_addr("127.0.0.1:5300"),
            Ok("127.0.0.1:5300".parse().unwrap())
        );
    }

    #[test]
    fn upstream_rejects_names_port_zero_and_unspecified() {
        assert!(parse_upstream_addr("dns.quad9.net").is_err());
        assert!(parse_upstream_addr("9.9.9.9:0")
            .unwrap_err()
            .contains("port"));
        assert!(parse_upstream_addr("0.0.0.0")
            .unwrap_err()
            .contains("unspecified"));
        assert!(parse_upstream_addr("[::]:53").is_err());
        assert!(parse_upstream_addr("").is_err());
    }

    #[test]
    fn networks() {
        assert_eq!(
            parse_network("10.0.0.0/8"),
            Ok("10.0.0.0/8".parse().unwrap())
        );
        assert_eq!(parse_network("fc00::/7"), Ok("fc00::/7".parse().unwrap()));
        assert_eq!(parse_network("0.0.0.0/0"), Ok("0.0.0.0/0".parse().unwrap()));
        assert_eq!(
            parse_network("192.0.2.1"),
            Ok("192.0.2.1/32".parse().unwrap())
        );
        assert_eq!(parse_network("::1"), Ok("::1/128".parse().unwrap()));
        let err = parse_network("10.0.0.1/8").unwrap_err();
        assert!(err.contains("did you mean \"10.0.0.0/8\""), "{err}");
        for bad in ["10.0.0.0/33", "fc00::/129", "10/8", "", "lan"] {
            assert!(parse_network(bad).is_err(), "{bad:?}");
        }
    }
}
