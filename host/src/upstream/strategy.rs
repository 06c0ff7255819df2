//! The order a query tries the upstreams in: only those taking traffic, sorted by the
//! configured strategy.

use std::cmp::Ordering;
use std::time::Instant;

use smallvec::SmallVec;

use super::error::UpstreamError;
use super::server::Upstream;
use crate::config::Strategy;

/// Upstreams an [`Order`] holds without allocating; configs rarely list more.
const INLINE: usize = 4;

/// The upstreams one exchange tries, best first; never empty. Indices into the
/// pool's upstreams, inline up to [`INLINE`]: this was a `Vec` per miss, a malloc
/// and a free on every forwarded query.
pub(crate) struct Order<'p> {
    upstreams: &'p [Upstream],
    indices: SmallVec<[usize; INLINE]>,
}

impl<'p> Order<'p> {
    fn new(upstreams: &'p [Upstream]) -> Order<'p> {
        Order {
            upstreams,
            indices: SmallVec::new(),
        }
    }

    /// Just `upstreams[index]`, whatever its state (the prober's one attempt).
    pub(crate) fn only(upstreams: &'p [Upstream], index: usize) -> Order<'p> {
        let mut order = Order::new(upstreams);
        order.indices.push(index);
        order
    }

    pub(crate) fn len(&self) -> usize {
        self.indices.len()
    }

    /// The `k`-th upstream to try, `k` taken modulo the length.
    pub(crate) fn get(&self, k: usize) -> &'p Upstream {
        let k = k % self.indices.len().max(1);
        &self.upstreams[self.indices[k]]
    }

    /// Sorts by SRTT score, each score taken once (a lock and a `powf`); stable, so
    /// equal scores keep the rotated order.
    fn sort_by_score(&mut self, now: Instant) {
        let upstreams = self.upstreams;
        let mut scored: SmallVec<[(f64, usize); INLINE]> = self
            .indices
            .iter()
            .map(|&i| (upstreams[i].health.score(now), i))
            .collect();
        scored.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));
        for (i, (_, s)) in self.indices.iter_mut().zip(scored) {
            *i = s;
        }
    }
}

/// The upstreams to try, best first. `rotation` turns round-robin, and breaks SRTT
/// ties so equal upstreams share the load. Fails with `Unavailable` when every
/// circuit is open, `Overloaded` when the rest are all full.
pub(crate) fn order(
    strategy: Strategy,
    upstreams: &[Upstream],
    rotation: usize,
    now: Instant,
) -> Result<Order<'_>, UpstreamError> {
    let n = upstreams.len();
    let mut any_up = false;
    let mut picked = Order::new(upstreams);
    for k in 0..n {
        let index = match strategy {
            Strategy::Failover => k,
            Strategy::RoundRobin | Strategy::Srtt => rotation.wrapping_add(k) % n,
        };
        let u = &upstreams[index];
        if u.health.is_up() {
            any_up = true;
            if u.has_room() {
                picked.indices.push(index);
            }
        }
    }
    if picked.len() == 0 {
        return Err(if any_up {
            UpstreamError::Overloaded
        } else {
            UpstreamError::Unavailable
        });
    }
    if strategy == Strategy::Srtt && picked.len() > 1 {
        picked.sort_by_score(now);
    }
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use crate::upstream::server::Limits;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    /// `n` TCP-only upstreams (no sockets opened), one query in flight each at most.
    fn upstreams(n: usize) -> Vec<Upstream> {
        let limits = Limits {
            sockets: 1,
            max_inflight: 1,
            failure_threshold: 1,
            cooldown: Duration::from_secs(60),
            tcp_connections: 1,
            tcp_idle: Duration::from_secs(1),
        };
        let (metrics, shutdown) = (Arc::new(Metrics::new()), CancellationToken::new());
        (0..n)
            .map(|i| {
                let addr = ([127, 0, 0, 1], 1000 + i as u16).into();
                Upstream::open(addr, true, limits, &metrics, &shutdown).unwrap()
            })
            .collect()
    }

    /// Which of the test upstreams `order` holds, in order.
    fn ports(order: &Order<'_>) -> Vec<usize> {
        (0..order.len())
            .map(|k| usize::from(order.get(k).addr().port() - 1000))
            .collect()
    }

    #[tokio::test]
    async fn round_robin_rotates_inline_and_past_the_inline_room() {
        for (n, rotation, want) in [
            (3, 1, vec![1, 2, 0]),
            (6, 3, vec![3, 4, 5, 0, 1, 2]),
            (5, 7, vec![2, 3, 4, 0, 1]),
        ] {
            let all = upstreams(n);
            let order = order(Strategy::RoundRobin, &all, rotation, Instant::now()).unwrap();
            assert_eq!(ports(&order), want, "{n} upstreams, rotation {rotation}");
            // Past the end it wraps round, as the exchange's rounds do.
            assert_eq!(order.get(n + 1).addr(), order.get(1).addr());
        }
    }

    #[tokio::test]
    async fn full_and_down_upstreams_are_left_out() {
        let all = upstreams(6);
        let _held = [all[1].hold(), all[4].hold()];
        assert_eq!(
            all[5].health.failure(false, Instant::now()),
            crate::upstream::health::Transition::Opened
        );
        let order = order(Strategy::Failover, &all, 2, Instant::now()).unwrap();
        assert_eq!(ports(&order), [0, 2, 3]);
        let _rest: Vec<_> = [0, 2, 3].iter().map(|&i| all[i].hold()).collect();
        let full = super::order(Strategy::Failover, &all, 0, Instant::now());
        assert!(matches!(full, Err(UpstreamError::Overloaded)));
        for u in &all[..5] {
            u.health.failure(false, Instant::now());
        }
        let down = super::order(Strategy::Srtt, &all, 0, Instant::now());
        assert!(matches!(down, Err(UpstreamError::Unavailable)));
    }

    #[tokio::test]
    async fn srtt_sorts_by_score_and_ties_keep_the_rotation() {
        for n in [4, 6] {
            let all = upstreams(n);
            let now = Instant::now();
            // Upstream 2 answers fastest, 0 slowest; the others tie exactly (same
            // sample at the same instant).
            for (i, u) in all.iter().enumerate() {
                let rtt = match i {
                    2 => Duration::from_micros(100),
                    0 => Duration::from_secs(1),
                    _ => Duration::from_millis(5),
                };
                u.health.success(rtt, now);
            }
            let order = order(Strategy::Srtt, &all, 3, now).unwrap();
            let mut want = vec![2];
            want.extend((0..n).map(|k| (3 + k) % n).filter(|&i| i != 2 && i != 0));
            want.push(0);
            assert_eq!(ports(&order), want, "{n} upstreams");
        }
    }
}
