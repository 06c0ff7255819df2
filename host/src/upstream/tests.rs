//! Pool tests against a tiny in-process upstream on 127.0.0.1:0 that can answer, lie,
//! send garbage, truncate, stay silent or refuse.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;

use super::wire::{question_eq, HEADER};
use super::{UpstreamError, UpstreamPool, UpstreamRequest};
use crate::config::UpstreamConfig;
use crate::metrics::Metrics;

const REAL: [u8; 4] = [192, 0, 2, 1];
const FAKE: [u8; 4] = [6, 6, 6, 6];

#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Answer,
    /// A good answer under another ID first.
    ForgedId,
    /// Right ID, another question first.
    WrongQuestion,
    /// Short packets, a query, a cut answer first.
    Garbage,
    /// A good answer from another port first.
    WrongSource,
    /// TC=1 over UDP, the full answer over TCP.
    Truncate,
    /// Rcode SERVFAIL.
    ServFail,
    Silent,
}

struct Responder {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    _tasks: JoinSet<()>,
}

impl Responder {
    /// UDP and TCP on the same port (TCP only answers `Truncate`).
    async fn start(behaviour: Behaviour) -> Responder {
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        tasks.spawn(serve_udp(udp, behaviour, Arc::clone(&queries)));
        tasks.spawn(serve_tcp(tcp));
        Responder {
            addr,
            queries,
            _tasks: tasks,
        }
    }

    fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP");
}

async fn serve_udp(socket: UdpSocket, behaviour: Behaviour, queries: Arc<AtomicUsize>) {
    let liar = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut buf = vec![0u8; 65_535];
    while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
        queries.fetch_add(1, Ordering::SeqCst);
        let query = &buf[..len];
        let real = answer(query, REAL);
        let decoys: Vec<Vec<u8>> = match behaviour {
            Behaviour::ForgedId => {
                let mut forged = answer(query, FAKE);
                forged[0] ^= 0x5a;
                vec![forged]
            }
            Behaviour::WrongQuestion => {
                let mut other = answer(query, FAKE);
                other[HEADER + 1] ^= 0x01;
                vec![other]
            }
            Behaviour::Garbage => {
                let mut cut = answer(query, FAKE);
                cut.truncate(HEADER + 3);
                vec![vec![], vec![0x12], query.to_vec(), cut, vec![0xff; 600]]
            }
            _ => Vec::new(),
        };
        for decoy in &decoys {
            socket.send_to(decoy, peer).await.unwrap();
        }
        match behaviour {
            Behaviour::Silent => continue,
            Behaviour::WrongSource => {
                liar.send_to(&answer(query, FAKE), peer).await.unwrap();
            }
            Behaviour::Truncate => {
                let mut tc = answer(query, REAL);
                tc.truncate(HEADER + question_len(query));
                tc[2] |= 0x02;
                tc[7] = 0;
                socket.send_to(&tc, peer).await.unwrap();
                continue;
            }
            Behaviour::ServFail => {
                let mut fail = answer(query, REAL);
                fail.truncate(HEADER + question_len(query));
                fail[3] |= 2;
                fail[7] = 0;
                socket.send_to(&fail, peer).await.unwrap();
                continue;
            }
            _ => {}
        }
        if !decoys.is_empty() || behaviour == Behaviour::WrongSource {
            // Let the decoys land first, as a racing attacker's would.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        socket.send_to(&real, peer).await.unwrap();
    }
}

async fn serve_tcp(listener: TcpListener) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let Ok(len) = stream.read_u16().await else {
            continue;
        };
        let mut query = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut query).await.is_err() {
            continue;
        }
        let reply = answer(&query, REAL);
        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        let _ = stream.write_all(&framed).await;
    }
}

fn question_len(message: &[u8]) -> usize {
    let mut at = HEADER;
    while message[at] != 0 {
        at += 1 + usize::from(message[at]);
    }
    at + 5 - HEADER
}

/// The query's header and question, QR and RA set, one A record pointing at the name.
fn answer(query: &[u8], address: [u8; 4]) -> Vec<u8> {
    let mut a = query[..HEADER + question_len(query)].to_vec();
    a[2] |= 0x80;
    a[3] = 0x80;
    a[6..12].copy_from_slice(&[0, 1, 0, 0, 0, 0]);
    a.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    a.extend_from_slice(&address);
    a
}

/// A query as the pipeline builds it: RD, one question, an OPT record.
fn query(name: &str) -> (Vec<u8>, std::ops::Range<usize>) {
    let mut q = vec![0, 0, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let question = HEADER..q.len();
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    (q, question)
}

fn config(servers: &[SocketAddr], attempt_ms: u64, deadline_ms: u64) -> UpstreamConfig {
    UpstreamConfig {
        servers: servers.to_vec(),
        attempt_timeout: Duration::from_millis(attempt_ms),
        deadline: Duration::from_millis(deadline_ms),
        udp_sockets: 2,
        edns_payload: 1232,
    }
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

async fn ask(pool: &UpstreamPool, name: &str, budget: Duration) -> Result<Vec<u8>, UpstreamError> {
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
    assert!(metrics.render().contains("wasmdns_upstream_requests_total"));
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
    assert_eq!(
        pool.pending(),
        0,
        "timed-out queries left in the pending map"
    );
}

#[tokio::test]
async fn refused_port_fails_fast() {
    let closed = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let (pool, metrics) = pool(&[addr], 500, 2000).await;
    let started = Instant::now();
    let result = ask(&pool, "refused.example", Duration::from_secs(2)).await;
    assert!(
        matches!(result, Err(UpstreamError::Io { .. })),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        errors(&metrics, "io"),
        2,
        "one retry after a pause, no more"
    );
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

#[tokio::test]
async fn cancelled_exchange_leaves_nothing_pending() {
    let up = Responder::start(Behaviour::Silent).await;
    let (pool, _metrics) = pool(&[up.addr], 5000, 10_000).await;
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        ask(&pool, "gone.example", SECOND * 5),
    )
    .await;
    assert!(gave_up.is_err());
    assert_eq!(up.queries(), 1);
    assert_eq!(pool.pending(), 0);
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
    assert_eq!(pool.pending(), 0);
}
