//! The order a query tries the upstreams in: only those taking traffic, sorted by the
//! configured strategy.

use std::cmp::Ordering;
use std::time::Instant;

use super::error::UpstreamError;
use super::server::Upstream;
use crate::config::Strategy;

/// The upstreams to try, best first. `rotation` turns round-robin, and breaks SRTT
/// ties so equal upstreams share the load. Fails with `Unavailable` when every
/// circuit is open, `Overloaded` when the rest are all full.
pub(crate) fn order(
    strategy: Strategy,
    upstreams: &[Upstream],
    rotation: usize,
    now: Instant,
) -> Result<Vec<&Upstream>, UpstreamError> {
    let n = upstreams.len();
    let mut any_up = false;
    let mut picked: Vec<&Upstream> = Vec::with_capacity(n);
    for k in 0..n {
        let index = match strategy {
            Strategy::Failover => k,
            Strategy::RoundRobin | Strategy::Srtt => rotation.wrapping_add(k) % n,
        };
        let u = &upstreams[index];
        if u.health.is_up() {
            any_up = true;
            if u.has_room() {
                picked.push(u);
            }
        }
    }
    if picked.is_empty() {
        return Err(if any_up {
            UpstreamError::Overloaded
        } else {
            UpstreamError::Unavailable
        });
    }
    if strategy == Strategy::Srtt {
        let mut scored: Vec<(f64, &Upstream)> =
            picked.iter().map(|u| (u.health.score(now), *u)).collect();
        // Stable: equal scores keep the rotated order.
        scored.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));
        picked = scored.into_iter().map(|(_, u)| u).collect();
    }
    Ok(picked)
}
