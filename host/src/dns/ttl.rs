//! How long an upstream answer may be cached: TTL clamps and RFC 2308 negative caching.
//!
//! Rules, in order:
//! - TC=1, and every RCODE other than NOERROR and NXDOMAIN (SERVFAIL, REFUSED,
//!   extended codes...): 0, relayed once and never cached.
//! - Positive (NOERROR with answers): the smallest TTL of the answer and authority
//!   records, raised to `min_ttl` and capped at `max_ttl`.
//! - Negative (NXDOMAIN, or NOERROR without answers = NODATA), RFC 2308 §5: the
//!   smaller of the authority SOA's TTL and its MINIMUM field (and of any other
//!   answer/authority TTL, e.g. a CNAME leading to the NXDOMAIN), capped at
//!   `negative_max_ttl`. `min_ttl` does not apply: it exists to smooth popular
//!   positive answers, not to prolong nonexistence. Without a SOA: 0 (§5: "negative
//!   responses without SOA records SHOULD NOT be cached").
//! - A TTL of 0 anywhere that counts means 0: RFC 1035 §3.2.1 says such data is for
//!   the transaction in progress only, and no clamp overrides an authority on that.
//!
//! A clamp only extends how long the entry lives; the TTLs served never exceed what
//! the upstream gave (see [`super::Answer`]).

use super::rcode;

/// TTL rules applied when an upstream answer is stored (from `[cache]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlPolicy {
    pub min_ttl: u32,
    pub max_ttl: u32,
    pub negative_max_ttl: u32,
}

/// TTL values with the top bit set are treated as 0 (RFC 2181 §8).
pub(crate) fn sane_ttl(ttl: u32) -> u32 {
    if ttl > i32::MAX as u32 {
        0
    } else {
        ttl
    }
}

/// What the walk over an upstream response found that decides its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    /// Full (12-bit) RCODE.
    pub rcode: u16,
    pub truncated: bool,
    pub answers: u16,
    /// Smallest sane TTL over answer + authority records (`u32::MAX` when there are none).
    pub min_ttl: u32,
    /// The first authority SOA: (TTL, MINIMUM).
    pub soa: Option<(u32, u32)>,
}

impl TtlPolicy {
    /// Seconds an answer with these facts may be cached (0 = never).
    pub(crate) fn lifetime(&self, facts: &Facts) -> u32 {
        if facts.truncated {
            return 0;
        }
        match facts.rcode {
            rcode::NOERROR if facts.answers > 0 => match facts.min_ttl {
                0 => 0,
                ttl => ttl.max(self.min_ttl).min(self.max_ttl),
            },
            rcode::NOERROR | rcode::NXDOMAIN => match facts.soa {
                None => 0,
                Some((ttl, minimum)) => sane_ttl(minimum)
                    .min(ttl)
                    .min(facts.min_ttl)
                    .min(self.negative_max_ttl),
            },
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: TtlPolicy = TtlPolicy {
        min_ttl: 30,
        max_ttl: 3600,
        negative_max_ttl: 900,
    };

    fn positive(min_ttl: u32) -> Facts {
        Facts {
            rcode: rcode::NOERROR,
            truncated: false,
            answers: 1,
            min_ttl,
            soa: None,
        }
    }

    fn negative(rcode: u16, soa: Option<(u32, u32)>) -> Facts {
        let min_ttl = soa.map_or(u32::MAX, |s| s.0);
        Facts {
            rcode,
            truncated: false,
            answers: 0,
            min_ttl,
            soa,
        }
    }

    #[test]
    fn positive_clamps() {
        assert_eq!(POLICY.lifetime(&positive(300)), 300);
        assert_eq!(POLICY.lifetime(&positive(5)), 30);
        assert_eq!(POLICY.lifetime(&positive(86_400)), 3600);
        assert_eq!(POLICY.lifetime(&positive(0)), 0, "TTL 0 is never cached");
    }

    #[test]
    fn inverted_clamps_do_not_panic() {
        let odd = TtlPolicy {
            min_ttl: 100,
            max_ttl: 10,
            negative_max_ttl: 0,
        };
        assert_eq!(odd.lifetime(&positive(50)), 10);
        assert_eq!(odd.lifetime(&negative(rcode::NXDOMAIN, Some((60, 60)))), 0);
    }

    #[test]
    fn negative_uses_soa_minimum() {
        let nx = |soa| POLICY.lifetime(&negative(rcode::NXDOMAIN, soa));
        assert_eq!(nx(Some((3600, 60))), 60, "MINIMUM below the SOA TTL");
        assert_eq!(nx(Some((120, 600))), 120, "SOA TTL below MINIMUM");
        assert_eq!(
            nx(Some((86_400, 86_400))),
            900,
            "capped at negative_max_ttl"
        );
        assert_eq!(nx(Some((5, 5))), 5, "min_ttl does not extend negatives");
        assert_eq!(nx(Some((3600, 0))), 0);
        assert_eq!(nx(None), 0, "no SOA: not cached");
        let nodata = POLICY.lifetime(&negative(rcode::NOERROR, Some((300, 300))));
        assert_eq!(nodata, 300);
    }

    #[test]
    fn never_cached() {
        for rc in [
            rcode::SERVFAIL,
            rcode::REFUSED,
            rcode::FORMERR,
            rcode::NOTIMP,
            23,
        ] {
            assert_eq!(
                POLICY.lifetime(&negative(rc, Some((300, 300)))),
                0,
                "rcode {rc}"
            );
        }
        let mut tc = positive(300);
        tc.truncated = true;
        assert_eq!(POLICY.lifetime(&tc), 0);
    }

    #[test]
    fn ttl_with_top_bit_is_zero() {
        assert_eq!(sane_ttl(0x8000_0000), 0);
        assert_eq!(sane_ttl(u32::MAX), 0);
        assert_eq!(sane_ttl(0x7fff_ffff), 0x7fff_ffff);
    }
}
