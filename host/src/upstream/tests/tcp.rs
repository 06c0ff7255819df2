//! Pooled, pipelined TCP to a `tcp://` upstream: answers out of order on one
//! connection, reuse, reconnecting after the upstream closes, one retry when a
//! connection dies under a query, our own idle close.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::responder::{answer, REAL};
use super::{ask, assert_real_answer, config, errors, SECOND};
use crate::metrics::Metrics;
use crate::upstream::tcp::TcpConn;
use crate::upstream::UpstreamPool;

#[derive(Clone, Copy)]
enum Mode {
    /// Waits for this many queries on a connection, then answers them last first.
    Reversed(usize),
    /// Answers this many queries per connection, then closes it.
    CloseAfter(usize),
    /// Closes the first connection as soon as a query arrives, unanswered; answers on
    /// later ones.
    DropFirst,
}

struct TcpUpstream {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    queries: Arc<AtomicUsize>,
    /// Connections that ended with an EOF from us.
    closed_by_peer: Arc<AtomicUsize>,
    _tasks: JoinSet<()>,
}

impl TcpUpstream {
    async fn start(mode: Mode) -> TcpUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let queries = Arc::new(AtomicUsize::new(0));
        let closed_by_peer = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        let counters = (
            Arc::clone(&accepted),
            Arc::clone(&queries),
            Arc::clone(&closed_by_peer),
        );
        tasks.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let nth = counters.0.fetch_add(1, Ordering::SeqCst);
                let (queries, eofs) = (Arc::clone(&counters.1), Arc::clone(&counters.2));
                tokio::spawn(serve(stream, mode, nth, queries, eofs));
            }
        });
        TcpUpstream {
            addr,
            accepted,
            queries,
            closed_by_peer,
            _tasks: tasks,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn serve(
    mut stream: TcpStream,
    mode: Mode,
    nth: usize,
    queries: Arc<AtomicUsize>,
    eofs: Arc<AtomicUsize>,
) {
    let mut held = Vec::new();
    loop {
        let Ok(len) = stream.read_u16().await else {
            eofs.fetch_add(1, Ordering::SeqCst);
            return;
        };
        let mut query = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        queries.fetch_add(1, Ordering::SeqCst);
        match mode {
            Mode::DropFirst if nth == 0 => return,
            Mode::Reversed(batch) => {
                held.push(query);
                if held.len() == batch {
                    while let Some(q) = held.pop() {
                        write(&mut stream, &q).await;
                    }
                }
            }
            Mode::CloseAfter(n) => {
                write(&mut stream, &query).await;
                if queries.load(Ordering::SeqCst).is_multiple_of(n) {
                    return;
                }
            }
            Mode::DropFirst => write(&mut stream, &query).await,
        }
    }
}

async fn write(stream: &mut TcpStream, query: &[u8]) {
    let reply = answer(query, REAL);
    let mut framed = u16::try_from(reply.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(&reply);
    stream.write_all(&framed).await.unwrap();
}

async fn tcp_pool(up: &TcpUpstream, connections: usize) -> (UpstreamPool, Arc<Metrics>) {
    let mut cfg = config(&[up.addr], 500, 2000);
    cfg.tcp_only = vec![up.addr];
    cfg.tcp_connections = connections;
    let metrics = Arc::new(Metrics::new());
    let pool = UpstreamPool::new(&cfg, Arc::clone(&metrics)).await.unwrap();
    (pool, metrics)
}

#[tokio::test]
async fn pipelined_answers_arrive_out_of_order_on_one_connection() {
    let up = TcpUpstream::start(Mode::Reversed(3)).await;
    let (pool, metrics) = tcp_pool(&up, 1).await;
    let names = ["one.example", "Two.example", "three.EXAMPLE"];
    let (a, b, c) = tokio::join!(
        ask(&pool, names[0], SECOND),
        ask(&pool, names[1], SECOND),
        ask(&pool, names[2], SECOND),
    );
    for (wire, name) in [a, b, c].into_iter().zip(names) {
        assert_real_answer(&wire.unwrap(), name);
    }
    assert_eq!(up.accepted(), 1, "all three shared one connection");
    assert_eq!(up.queries.load(Ordering::SeqCst), 3);
    assert_eq!(errors(&metrics, "mismatch"), 0);
    assert!(metrics.render().contains("proto=\"tcp\""));
    assert_eq!(pool.pending(), 0);
}

#[tokio::test]
async fn connections_are_reused_up_to_the_slot_count() {
    let up = TcpUpstream::start(Mode::CloseAfter(usize::MAX)).await;
    let (pool, _metrics) = tcp_pool(&up, 2).await;
    for i in 0..6 {
        let name = format!("q{i}.reuse.example");
        assert_real_answer(&ask(&pool, &name, SECOND).await.unwrap(), &name);
    }
    assert_eq!(up.accepted(), 2, "one connection per slot, each reused");
    assert_eq!(up.queries.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn upstream_closing_the_connection_means_a_fresh_one_next_time() {
    let up = TcpUpstream::start(Mode::CloseAfter(1)).await;
    let (pool, metrics) = tcp_pool(&up, 1).await;
    assert_real_answer(&ask(&pool, "a.example", SECOND).await.unwrap(), "a.example");
    // Let our reader see the EOF, as it would after an upstream's idle close.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_real_answer(&ask(&pool, "b.example", SECOND).await.unwrap(), "b.example");
    assert_eq!(up.accepted(), 2);
    assert_eq!(
        errors(&metrics, "io"),
        0,
        "a closed idle connection is no failure"
    );
    assert_eq!(errors(&metrics, "timeout"), 0);
}

#[tokio::test]
async fn connection_lost_before_the_answer_is_retried_once_on_a_fresh_one() {
    let up = TcpUpstream::start(Mode::DropFirst).await;
    let (pool, metrics) = tcp_pool(&up, 1).await;
    let started = std::time::Instant::now();
    let wire = ask(&pool, "lost.example", SECOND).await.unwrap();
    assert_real_answer(&wire, "lost.example");
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "retried at once"
    );
    assert_eq!(up.accepted(), 2);
    assert_eq!(up.queries.load(Ordering::SeqCst), 2);
    assert_eq!(errors(&metrics, "io"), 0);
    assert!(pool.upstream_up_for_test(0));
}

#[tokio::test]
async fn idle_connection_is_closed_by_us() {
    let up = TcpUpstream::start(Mode::CloseAfter(usize::MAX)).await;
    let shutdown = CancellationToken::new();
    let conn = TcpConn::connect(
        up.addr,
        Duration::from_millis(100),
        Arc::from("test"),
        Arc::new(Metrics::new()),
        &shutdown,
    )
    .await
    .unwrap();
    assert!(conn.is_open());
    for _ in 0..100 {
        if !conn.is_open() && up.closed_by_peer.load(Ordering::SeqCst) == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("idle connection still open after 1 s");
}

#[tokio::test]
async fn shutdown_closes_connections_and_fails_their_queries() {
    let up = TcpUpstream::start(Mode::Reversed(2)).await;
    let shutdown = CancellationToken::new();
    let conn = TcpConn::connect(
        up.addr,
        SECOND,
        Arc::from("test"),
        Arc::new(Metrics::new()),
        &shutdown,
    )
    .await
    .unwrap();
    let (message, question) = super::responder::query("wait.example");
    let mut query = super::super::wire::Outgoing::new(&message, &message[question]).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _registration = conn.send(&mut query, 4, &tx).unwrap();
    shutdown.cancel();
    let delivery = tokio::time::timeout(SECOND, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.attempt, 4);
    assert!(matches!(
        delivery.outcome,
        super::super::pending::Outcome::Failed(crate::upstream::tcp::CLOSED)
    ));
    assert!(!conn.is_open());
    assert_eq!(conn.pending(), 0);
}
