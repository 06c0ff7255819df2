//! Pool tests against a tiny in-process upstream on 127.0.0.1:0 that can answer, lie,
//! send garbage, truncate, stay silent or refuse.

mod responder;
mod tcp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::task::JoinSet;

use super::wire::{question_eq, HEADER};
use super::{UpstreamError, UpstreamPool, UpstreamRequest};
use crate::config::{Config, UpstreamConfig};
use crate::metrics::Metrics;
use responder::{query, Behaviour, Responder, REAL};

fn config(servers: &[SocketAddr], attempt_ms: u64, deadline_ms: u64) -> UpstreamConfig {
    let mut c = Config::defaults().upstream;
    c.servers = servers.to_vec();
    c.attempt_timeout = Duration::from_millis(attempt_ms);
    c.deadline = Duration::from_millis(deadline_ms);
    c.udp_sockets = 2;
    // Probes would add queries the tests count; health tests turn them on.
    c.health_interval = None;
    c
}

async fn pool(
    servers: &[SocketAddr],
    attempt_ms: u64,
    deadline_ms: u64,
) -> (UpstreamPool, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let cfg = config(servers, attempt_ms, deadline_ms);
    let pool = UpstreamPool::new(&cfg, Arc::clone(&metrics)).await.unwrap();
    (pool, metrics)
}

async fn ask(
    pool: &UpstreamPool,
    name: &str,
    budget: Duration,
) -> Result<Arc<[u8]>, UpstreamError> {
    let (message, question) = query(name);
    let request = UpstreamRequest {
        message: &message,
        question: &message[question],
        deadline: Instant::now() + budget,
    };
    pool.exchange(&request).await
}

/// Asserts `wire` is the real answer to `name`.
fn assert_real_answer(wire: &[u8], name: &str) {
    let (message, question) = query(name);
    assert!(
        question_eq(&message[question], &wire[HEADER..]),
        "answer to another question"
    );
    assert_eq!(wire[wire.len() - 4..], REAL, "a decoy was accepted");
    assert_eq!(wire[2] & 0x02, 0, "truncated answer returned");
}

/// `upstream_errors_total{kind}` summed over upstreams.
fn errors(metrics: &Metrics, kind: &str) -> u64 {
    let label = format!("kind=\"{kind}\"");
    metrics
        .render()
        .lines()
        .filter(|l| l.starts_with("wasmdns_upstream_errors_total{") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn normal_answer() {
    let up = Responder::start(Behaviour::Answer).await;
    let (pool, metrics) = pool(&[up.addr], 500, 2000).await;
    let wire = ask(&pool, "www.example.com", SECOND).await.unwrap();
    assert_real_answer(&wire, "www.example.com");
    assert_eq!(up.queries(), 1);
    assert_eq!(pool.pending(), 0);
    let text = metrics.render();
    let label = up.addr.to_string();
    let series = |name: &str, proto: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains(&label) && l.contains(proto))
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
    };
    let requests = "wasmdns_upstream_requests_total{";
    assert_eq!(series(requests, "proto=\"udp\""), Some(1), "{text}");
    assert_eq!(series(requests, "proto=\"tcp\""), Some(0), "{text}");
    let rtts = "wasmdns_upstream_duration_seconds_count{";
    assert_eq!(series(rtts, ""), Some(1), "{text}");
}

#[tokio::test]
async fn forged_id_is_ignored_then_real_answer_accepted() {
    let up = Responder::start(Behaviour::ForgedId).await;
    let (pool, metrics) = pool(&[up.addr], 500, 2000).await;
    let wire = ask(&pool, "forged.example", SECOND).await.unwrap();
    assert_real_answer(&wire, "forged.example");
    assert_eq!(up.queries(), 1, "the forgery must not cost a retry");
    assert_eq!(errors(&metrics, "mismatch"), 1);
}

#[tokio::test]
async fn wrong_question_is_ignored() {
    let up = Responder::start(Behaviour::WrongQuestion).await;
    let (pool, metrics) = pool(&[up.addr], 500, 2000).await;
    let wire = ask(&pool, "Question.Example", SECOND).await.unwrap();
    assert_real_answer(&wire, "question.example");
    assert_eq!(errors(&metrics, "mismatch"), 1);
}

#[tokio::test]
async fn garbage_is_ignored() {
    let up = Responder::start(Behaviour::Garbage).await;
    let (pool, metrics) = pool(&[up.addr], 500, 2000).await;
    let wire = ask(&pool, "garbage.example", SECOND).await.unwrap();
    assert_real_answer(&wire, "garbage.example");
    // Empty, 1 byte and our own query (QR=0) are garbage; the cut answer and the
    // 0xff block (wrong ID or question) are mismatches.
    assert_eq!(errors(&metrics, "garbage"), 3);
    assert_eq!(errors(&metrics, "mismatch"), 2);
}

#[tokio::test]
async fn answer_from_wrong_source_is_ignored() {
    let up = Responder::start(Behaviour::WrongSource).await;
    let (pool, _metrics) = pool(&[up.addr], 500, 2000).await;
    let wire = ask(&pool, "source.example", SECOND).await.unwrap();
    assert_real_answer(&wire, "source.example");
}

#[tokio::test]
async fn truncated_answer_is_retried_over_tcp() {
    let up = Responder::start(Behaviour::Truncate).await;
    let (pool, metrics) = pool(&[up.addr], 500, 2000).await;
    let wire = ask(&pool, "big.example", SECOND).await.unwrap();
    assert_real_answer(&wire, "big.example");
    assert_eq!(errors(&metrics, "truncated"), 1);
    assert!(metrics.render().contains("proto=\"tcp\""));
}

#[tokio::test]
async fn servfail_is_relayed_and_counted() {
    let up = Responder::start(Behaviour::ServFail).await;
    let (pool, metrics) = pool(&[up.addr], 500, 2000).await;
    let wire = ask(&pool, "fail.example", SECOND).await.unwrap();
    assert_eq!(wire[3] & 0x0f, 2);
    assert_eq!(up.queries(), 1, "a SERVFAIL answer is final");
    assert_eq!(errors(&metrics, "servfail"), 1);
}

#[tokio::test]
async fn timeout_retries_on_the_second_upstream() {
    let silent = Responder::start(Behaviour::Silent).await;
    let good = Responder::start(Behaviour::Answer).await;
    let (pool, metrics) = pool(&[silent.addr, good.addr], 150, 2000).await;
    let started = Instant::now();
    let wire = ask(&pool, "retry.example", SECOND).await.unwrap();
    assert_real_answer(&wire, "retry.example");
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!((silent.queries(), good.queries()), (1, 1));
    assert_eq!(errors(&metrics, "timeout"), 1);
    assert_eq!(pool.pending(), 0);
}

#[tokio::test]
async fn late_answer_to_an_earlier_attempt_is_taken() {
    // Slower than the attempt timeout, every time: only the first attempt's answer,
    // arriving while the second waits, can end the exchange early.
    let up = Responder::start(Behaviour::Slow(Duration::from_millis(150))).await;
    let (pool, metrics) = pool(&[up.addr], 100, 2000).await;
    let started = Instant::now();
    let wire = ask(&pool, "slow.example", SECOND).await.unwrap();
    assert_real_answer(&wire, "slow.example");
    assert!(
        started.elapsed() < Duration::from_millis(240),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(up.queries(), 2);
    assert_eq!(errors(&metrics, "timeout"), 1);
    assert_eq!(pool.pending(), 0, "the second attempt's ID is freed");
}

#[tokio::test]
async fn all_silent_times_out_within_the_deadline() {
    let a = Responder::start(Behaviour::Silent).await;
    let b = Responder::start(Behaviour::Silent).await;
    let (pool, _metrics) = pool(&[a.addr, b.addr], 100, 2000).await;
    let budget = Duration::from_millis(350);
    let started = Instant::now();
    let result = ask(&pool, "silent.example", budget).await;
    let elapsed = started.elapsed();
    assert!(matches!(result, Err(UpstreamError::Timeout)), "{result:?}");
    assert!(elapsed >= budget, "gave up early: {elapsed:?}");
    assert!(
        elapsed <= budget + Duration::from_millis(250),
        "overran: {elapsed:?}"
    );
    assert!(
        a.queries() >= 2 && b.queries() >= 1,
        "attempts must alternate"
    );
    // The exchange runs on its own task and ends at the same deadline, a moment later.
    settle(&pool).await;
}

/// Waits (briefly) for every exchange to end, then checks nothing was left behind.
async fn settle(pool: &UpstreamPool) {
    for _ in 0..50 {
        if pool.pending() == 0 && pool.flights() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pool.pending(), 0, "queries left in the pending map");
    assert_eq!(pool.flights(), 0, "flights left behind");
}

#[tokio::test]
async fn refused_port_fails_fast() {
    let closed = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let (pool, metrics) = pool(&[addr], 500, 2000).await;
    let started = Instant::now();
    let result = ask(&pool, "refused.example", Duration::from_secs(2)).await;
    assert_failed_fast(&result, started, &metrics, &pool);
}

/// An I/O failure well within the 500 ms attempt timeout, after exactly one retry.
fn assert_failed_fast(
    result: &Result<Arc<[u8]>, UpstreamError>,
    started: Instant,
    metrics: &Metrics,
    pool: &UpstreamPool,
) {
    assert!(
        matches!(result, Err(UpstreamError::Io { .. })),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(errors(metrics, "io"), 2, "one retry after a pause, no more");
    assert_eq!(pool.pending(), 0);
}

#[tokio::test]
async fn refused_upstream_fails_over_at_once() {
    let closed = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let refused = closed.local_addr().unwrap();
    drop(closed);
    let good = Responder::start(Behaviour::Answer).await;
    let (pool, _metrics) = pool(&[refused, good.addr], 500, 2000).await;
    let started = Instant::now();
    let wire = ask(&pool, "failover.example", SECOND).await.unwrap();
    assert_real_answer(&wire, "failover.example");
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

/// A send the kernel refuses (here EMSGSIZE: bigger than any IPv4 datagram) fails its
/// attempt at once, like an ICMP refusal, though the queries go out batched.
#[tokio::test]
async fn a_query_the_kernel_will_not_send_fails_fast() {
    let up = Responder::start(Behaviour::Answer).await;
    let (pool, metrics) = pool(&[up.addr], 500, 2000).await;
    let (mut message, question) = query("big.example");
    message.resize(65_520, 0);
    let request = UpstreamRequest {
        message: &message,
        question: &message[question],
        deadline: Instant::now() + Duration::from_secs(2),
    };
    let started = Instant::now();
    let result = pool.exchange(&request).await;
    assert_failed_fast(&result, started, &metrics, &pool);
    // The socket is fine for everything else.
    let wire = ask(&pool, "small.example", SECOND).await.unwrap();
    assert_real_answer(&wire, "small.example");
}

#[tokio::test]
async fn a_cancelled_lone_exchange_leaves_nothing_behind() {
    let up = Responder::start(Behaviour::Silent).await;
    let (pool, _metrics) = pool(&[up.addr], 5000, 10_000).await;
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        ask(&pool, "gone.example", Duration::from_secs(3)),
    )
    .await;
    assert!(gave_up.is_err());
    assert_eq!(up.queries(), 1);
    // Nobody else wanted the answer: the exchange ended with its caller.
    assert_eq!(pool.pending(), 0, "IDs freed at once");
    assert_eq!(pool.flights(), 0, "flight removed at once");
}

#[tokio::test]
async fn a_follower_takes_over_when_the_leader_is_cancelled() {
    let up = Responder::start(Behaviour::Slow(Duration::from_millis(150))).await;
    let (pool, metrics) = pool(&[up.addr], 1000, 3000).await;
    let pool = Arc::new(pool);
    let leader = {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move { ask(&pool, "handover.example", 2 * SECOND).await })
    };
    while pool.flights() == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let follower = {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move { ask(&pool, "HANDOVER.example", 2 * SECOND).await })
    };
    while metrics.upstream_coalesced.get() == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    let wire = follower
        .await
        .unwrap()
        .expect("the follower still gets an answer");
    assert_real_answer(&wire, "HANDOVER.example");
    assert_eq!(up.queries(), 2, "the follower asked again itself");
    settle(&pool).await;
}

#[tokio::test]
async fn dropping_the_pool_stops_the_receive_tasks() {
    let up = Responder::start(Behaviour::Answer).await;
    let (pool, _metrics) = pool(&[up.addr], 500, 2000).await;
    ask(&pool, "x.example", SECOND).await.unwrap();
    let sockets = pool.sockets_for_test();
    assert_eq!(sockets.len(), 2);
    drop(pool);
    for _ in 0..100 {
        if sockets.iter().all(|s| s.strong_count() == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("receive tasks still hold their sockets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_exchanges_get_their_own_answers() {
    let up = Responder::start(Behaviour::Answer).await;
    let (pool, _metrics) = pool(&[up.addr], 2000, 5000).await;
    let pool = Arc::new(pool);
    let mut tasks = JoinSet::new();
    for i in 0..500 {
        let pool = Arc::clone(&pool);
        tasks.spawn(async move {
            let name = format!("Q{i}.Concurrent.example");
            let wire = ask(&pool, &name, Duration::from_secs(5)).await;
            (name, wire)
        });
    }
    let mut answered = 0;
    while let Some(joined) = tasks.join_next().await {
        let (name, wire) = joined.unwrap();
        assert_real_answer(&wire.unwrap(), &name);
        answered += 1;
    }
    assert_eq!(answered, 500);
    assert_eq!(
        up.queries(),
        500,
        "every exchange answered on its first attempt"
    );
    assert_eq!(pool.pending(), 0);
}

#[tokio::test]
async fn refusing_upstream_opens_its_circuit_then_queries_fail_at_once() {
    let closed = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let mut cfg = config(&[addr], 500, 2000);
    cfg.failure_threshold = 2;
    cfg.cooldown = Duration::from_secs(60);
    let pool = UpstreamPool::new(&cfg, Arc::new(Metrics::new()))
        .await
        .unwrap();
    let first = ask(&pool, "a.example", SECOND).await;
    assert!(matches!(first, Err(UpstreamError::Io { .. })), "{first:?}");
    assert!(
        !pool.upstream_up_for_test(0),
        "two refusals open the circuit"
    );
    let started = Instant::now();
    let next = ask(&pool, "b.example", SECOND).await;
    assert!(matches!(next, Err(UpstreamError::Unavailable)), "{next:?}");
    assert!(started.elapsed() < Duration::from_millis(50));
}
