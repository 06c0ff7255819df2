//! Active health checks: a background task that sends each upstream a probe query
//! (`health_name` NS) every `health_interval`, and a down upstream its half-open
//! probe as soon as its cooldown ends. Probes go through the normal exchange, so
//! their answers and failures feed SRTT and the circuit like any query.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::exchange::Exchange;
use super::pool::PoolInner;
use super::strategy::Order;
use super::wire::Outgoing;

const TYPE_NS: u16 = 2;
const CLASS_IN: u16 = 1;
/// Probe loop granularity bounds: fine enough for short cooldowns in tests, coarse
/// enough to cost nothing.
const MIN_TICK: Duration = Duration::from_millis(10);
const MAX_TICK: Duration = Duration::from_millis(500);

/// The probe message: header (RD=1), then the question `name` NS IN.
/// `name` was validated by the config (labels of 1..=63 bytes).
pub(crate) fn probe_query(name: &str) -> Option<Outgoing> {
    let mut m = vec![0, 0, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    let start = m.len();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        m.push(u8::try_from(label.len()).ok()?);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&TYPE_NS.to_be_bytes());
    m.extend_from_slice(&CLASS_IN.to_be_bytes());
    let question = m[start..].to_vec();
    Outgoing::new(&m, &question)
}

/// Runs until `shutdown`.
pub(crate) async fn run(
    pool: Arc<PoolInner>,
    interval: Option<Duration>,
    shutdown: CancellationToken,
) {
    let Some(template) = probe_query(&pool.health_name) else {
        return;
    };
    let tick = interval
        .unwrap_or(MAX_TICK)
        .min(pool.cooldown)
        .clamp(MIN_TICK, MAX_TICK);
    let mut last = vec![Instant::now(); pool.upstreams.len()];
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(tick) => {}
        }
        let now = Instant::now();
        for (index, due) in last.iter_mut().enumerate() {
            let upstream = &pool.upstreams[index];
            upstream.publish_health();
            let half_open = upstream.health.try_probe(now);
            let periodic = upstream.health.is_up()
                && interval.is_some_and(|i| now.saturating_duration_since(*due) >= i);
            if half_open || periodic {
                *due = now;
                let query = Outgoing::clone_of(&template);
                tokio::spawn(probe(Arc::clone(&pool), index, query));
            }
        }
    }
}

async fn probe(pool: Arc<PoolInner>, index: usize, query: Outgoing) {
    let upstream = &pool.upstreams[index];
    let now = Instant::now();
    let deadline = now + pool.attempt_timeout;
    let outcome = Exchange::new(
        Order::only(&pool.upstreams, index),
        query,
        now,
        deadline,
        pool.attempt_timeout,
        pool.backoff,
    )
    .run()
    .await;
    if let Err(e) = outcome {
        tracing::debug!(upstream = %upstream.label(), error = %e, "health probe failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_query_for_root_and_names() {
        let root = probe_query(".").unwrap();
        assert_eq!(&root.datagram()[12..], b"\x00\x00\x02\x00\x01");
        let q = probe_query("example.com.").unwrap();
        assert_eq!(
            &q.datagram()[12..],
            b"\x07example\x03com\x00\x00\x02\x00\x01"
        );
        assert_eq!(&q.question()[..], b"\x07example\x03com\x00\x00\x02\x00\x01");
        assert_eq!(q.datagram()[2], 0x01, "RD set");
    }
}
