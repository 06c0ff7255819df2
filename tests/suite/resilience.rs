//! Upstream resilience (issue 5): coalescing, failover and circuit breaking, recovery,
//! fast failure when every upstream is down, serve-stale, shedding, many in flight.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::support::client::{self, max_ttl};
use crate::support::upstream::Proto;
use crate::support::{decode, rc, rcode, setup, FakeUpstream, Proxy, Reply, A, Q};

const ADDR: [u8; 4] = [192, 0, 2, 9];

/// Sends `query` over UDP and returns (rcode, elapsed).
async fn ask(proxy: &Proxy, name: &str) -> (u16, Duration) {
    let started = Instant::now();
    let m = decode(&client::udp(proxy.addr, &Q::new(name, A).bytes()).await);
    (rcode(&m), started.elapsed())
}

/// Short timeouts and a fast circuit, so the tests take seconds.
fn fast(c: &mut wasmdns::config::Config) {
    c.upstream.attempt_timeout = Duration::from_millis(100);
    c.upstream.deadline = Duration::from_millis(600);
    c.upstream.failure_threshold = 2;
    c.upstream.cooldown = Duration::from_millis(200);
    c.upstream.health_interval = Some(Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_concurrent_queries_share_one_upstream_exchange() {
    let (up, proxy) = setup(|_| {}).await;
    up.on(
        "co.example",
        Reply::a(300, ADDR).delay(Duration::from_millis(200)),
    );
    let mut set = JoinSet::new();
    for i in 0..50u16 {
        let addr = proxy.addr;
        // Every client its own ID and its own spelling of the name.
        let name = if i % 2 == 0 {
            "co.example"
        } else {
            "CO.Example"
        };
        let q = Q::new(name, A).id(i * 1000 + 1).bytes();
        set.spawn(async move { (q.clone(), client::udp(addr, &q).await) });
    }
    while let Some(r) = set.join_next().await {
        let (q, answer) = r.unwrap();
        assert_eq!(client::id_of(&answer), client::id_of(&q));
        assert_eq!(answer[12..12 + 12], q[12..12 + 12], "question case echoed");
        assert_eq!(rcode(&decode(&answer)), rc::NOERROR);
    }
    assert_eq!(
        up.count_name("co.example"),
        1,
        "one upstream exchange for 50 queries"
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_upstream_fails_over_opens_its_circuit_and_recovers() {
    let a = FakeUpstream::start().await;
    let b = FakeUpstream::start().await;
    let proxy = Proxy::start(&a, |c| {
        fast(c);
        c.upstream.servers = vec![a.addr, b.addr];
        c.upstream.strategy = wasmdns::config::Strategy::Failover;
    })
    .await;
    a.silence(true);
    for i in 0..6 {
        let (code, _) = ask(&proxy, &format!("f{i}.example")).await;
        assert_eq!(code, rc::NOERROR, "failed over to b");
    }
    // The circuit is open: a gets no more client queries (probes only).
    let before = a.count_name("g0.example") + a.count_name("g1.example");
    for name in ["g0.example", "g1.example"] {
        let (code, elapsed) = ask(&proxy, name).await;
        assert_eq!(code, rc::NOERROR);
        assert!(
            elapsed < Duration::from_millis(90),
            "straight to b: {elapsed:?}"
        );
    }
    assert_eq!(
        a.count_name("g0.example") + a.count_name("g1.example"),
        before
    );

    // a comes back: within a few seconds it is preferred again.
    a.silence(false);
    let back = Instant::now();
    loop {
        let name = format!("r{}.example", back.elapsed().as_millis());
        let (code, _) = ask(&proxy, &name).await;
        assert_eq!(code, rc::NOERROR);
        if a.count_name(&name) == 1 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(3), "a not used again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_down_answers_servfail_fast_and_recovers() {
    let (up, proxy) = setup(|c| {
        fast(c);
        c.cache.serve_stale = Duration::ZERO;
    })
    .await;
    up.silence(true);
    // Timeouts open the circuit...
    for i in 0..3 {
        assert_eq!(ask(&proxy, &format!("d{i}.example")).await.0, rc::SERVFAIL);
    }
    // ...then nobody waits for the deadline.
    let (code, elapsed) = ask(&proxy, "fast.example").await;
    assert_eq!(code, rc::SERVFAIL);
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");

    up.silence(false);
    let back = Instant::now();
    while ask(&proxy, "up.example").await.0 != rc::NOERROR {
        assert!(back.elapsed() < Duration::from_secs(3), "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_answer_served_stale_when_the_upstream_fails() {
    let (up, proxy) = setup(|c| {
        fast(c);
        c.cache.serve_stale = Duration::from_secs(3600);
    })
    .await;
    up.on("stale.example", Reply::a(1, ADDR));
    assert_eq!(ask(&proxy, "stale.example").await.0, rc::NOERROR);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    up.silence(true);
    let m = decode(&client::udp(proxy.addr, &Q::new("stale.example", A).bytes()).await);
    assert_eq!(rcode(&m), rc::NOERROR);
    assert_eq!(max_ttl(&m), 30, "stale TTL");
    assert_eq!(client::ipv4s(&m), vec![std::net::Ipv4Addr::from(ADDR)]);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_beyond_capacity_is_shed_fast_and_the_proxy_stays_responsive() {
    let (up, proxy) = setup(|c| {
        c.server.max_inflight = 20;
        c.upstream.max_inflight = 10;
    })
    .await;
    up.set_default(Reply::a(300, ADDR).delay(Duration::from_millis(300)));
    let mut set = JoinSet::new();
    for i in 0..200 {
        let addr = proxy.addr;
        set.spawn(async move {
            let started = Instant::now();
            let q = Q::new(&format!("b{i}.example"), A).bytes();
            let m = decode(&client::udp(addr, &q).await);
            (rcode(&m), started.elapsed())
        });
    }
    let (mut ok, mut shed) = (0, 0);
    while let Some(r) = set.join_next().await {
        let (code, elapsed) = r.unwrap();
        match code {
            rc::NOERROR => ok += 1,
            rc::SERVFAIL => {
                shed += 1;
                assert!(
                    elapsed < Duration::from_millis(250),
                    "shed slowly: {elapsed:?}"
                );
            }
            other => panic!("rcode {other}"),
        }
    }
    assert!(ok >= 10 && shed >= 100, "ok {ok}, shed {shed}");
    assert!(
        up.seen().len() <= 20,
        "upstream load bounded: {}",
        up.seen().len()
    );
    up.set_default(Reply::a(300, ADDR));
    // The burst's replies take 300 ms, as long as the suite's attempt timeout:
    // how many time out and count against the upstream depends on scheduling
    // (on a loaded machine, enough to open its circuit). Either way the proxy
    // must answer at once, and serve again once the half-open probe succeeds.
    let recovered = Instant::now() + Duration::from_secs(5);
    loop {
        let (code, elapsed) = ask(&proxy, "after.example").await;
        assert!(elapsed < Duration::from_secs(1), "slow answer: {elapsed:?}");
        if code == rc::NOERROR {
            break;
        }
        assert_eq!(code, rc::SERVFAIL);
        assert!(Instant::now() < recovered, "no NOERROR 5 s after the burst");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_distinct_queries_in_flight_are_all_answered() {
    const N: u16 = 2000;
    let (up, proxy) = setup(|c| {
        c.upstream.deadline = Duration::from_secs(3);
        c.upstream.attempt_timeout = Duration::from_secs(1);
    })
    .await;
    up.set_default(Reply::a(300, ADDR).delay(Duration::from_millis(250)));
    // One client socket (a socket per query would cost 2000 buffers), paced so the
    // proxy's receive buffer is never the bottleneck; all sent well within 250 ms.
    let sock = std::sync::Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let _ = socket2::SockRef::from(&*sock).set_recv_buffer_size(8 << 20);
    let started = Instant::now();
    let reader = {
        let sock = std::sync::Arc::clone(&sock);
        tokio::spawn(async move {
            let mut seen = vec![false; usize::from(N)];
            let mut buf = vec![0u8; 4096];
            let mut answered = 0;
            while answered < N {
                let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_secs(5), sock.recv(&mut buf)).await
                else {
                    break;
                };
                let m = decode(&buf[..n]);
                assert_eq!(rcode(&m), rc::NOERROR);
                let id = usize::from(m.metadata.id);
                if id < seen.len() && !seen[id] {
                    seen[id] = true;
                    answered += 1;
                }
            }
            answered
        })
    };
    for i in 0..N {
        let q = Q::new(&format!("n{i}.example"), A).id(i).bytes();
        sock.send_to(&q, proxy.addr).await.unwrap();
        if i % 50 == 49 {
            tokio::task::yield_now().await;
        }
    }
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "sending took {:?}",
        started.elapsed()
    );
    let answered = reader.await.unwrap();
    assert_eq!(answered, N, "after {:?}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_upstream_is_asked_over_few_reused_pipelined_connections() {
    let (up, proxy) = setup(|c| {
        c.upstream.tcp_only = c.upstream.servers.clone();
        c.upstream.tcp_connections = 2;
        // Probes, or a retry of the slow query, would be extra queries.
        c.upstream.health_interval = None;
        c.upstream.attempt_timeout = Duration::from_secs(1);
    })
    .await;
    up.on(
        "slow.example",
        Reply::a(300, ADDR).delay(Duration::from_millis(400)),
    );
    let slow = {
        let addr = proxy.addr;
        tokio::spawn(async move {
            let started = Instant::now();
            let m = decode(&client::udp(addr, &Q::new("slow.example", A).bytes()).await);
            (rcode(&m), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Asked while the slow answer is outstanding on one of the two connections: no
    // query waits behind it.
    let mut set = JoinSet::new();
    for i in 0..10 {
        let addr = proxy.addr;
        set.spawn(async move {
            let started = Instant::now();
            let name = format!("p{i}.tcp.example");
            let m = decode(&client::udp(addr, &Q::new(&name, A).bytes()).await);
            (rcode(&m), started.elapsed())
        });
    }
    while let Some(r) = set.join_next().await {
        let (code, elapsed) = r.unwrap();
        assert_eq!(code, rc::NOERROR);
        assert!(elapsed < Duration::from_millis(300), "blocked: {elapsed:?}");
    }
    let (code, elapsed) = slow.await.unwrap();
    assert_eq!(code, rc::NOERROR);
    assert!(elapsed >= Duration::from_millis(400));
    let seen = up.seen();
    assert_eq!(seen.len(), 11, "{seen:#?}");
    assert!(
        seen.iter().all(|s| s.proto == Proto::Tcp),
        "UDP used: {seen:?}"
    );
    let mut connections: Vec<_> = seen.iter().map(|s| s.src).collect();
    connections.sort_unstable();
    connections.dedup();
    assert_eq!(
        connections.len(),
        2,
        "11 queries over the 2 pooled connections"
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flapping_upstream_never_costs_a_client_answer() {
    let a = FakeUpstream::start().await;
    let b = FakeUpstream::start().await;
    // b is slow but steady; a is preferred whenever it is up (under SRTT its
    // timeouts would keep it out of favour long after it is back, by design).
    b.set_default(Reply::a(300, ADDR).delay(Duration::from_millis(30)));
    let proxy = Proxy::start(&a, |c| {
        fast(c);
        c.upstream.servers = vec![a.addr, b.addr];
        c.upstream.strategy = wasmdns::config::Strategy::Failover;
    })
    .await;
    let started = Instant::now();
    let mut asked_while_up = Vec::new();
    let mut worst = Duration::ZERO;
    let mut i = 0;
    while started.elapsed() < Duration::from_millis(1800) {
        // Down for 300 ms, up for 300 ms, three times over.
        let down = (started.elapsed().as_millis() / 300).is_multiple_of(2);
        a.silence(down);
        let name = format!("flap{i}.example");
        let (code, elapsed) = ask(&proxy, &name).await;
        assert_eq!(code, rc::NOERROR, "{name} failed (a down: {down})");
        worst = worst.max(elapsed);
        if !down {
            asked_while_up.push(name);
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // At worst one attempt timeout on a, then b's answer.
    assert!(worst < Duration::from_millis(400), "worst {worst:?}");
    let back_on_a = asked_while_up
        .iter()
        .filter(|name| a.count_name(name) > 0)
        .count();
    assert!(back_on_a > 0, "a never used again after coming back");
    assert!(!b.seen().is_empty(), "b never covered for a");
    proxy.stop().await;
}
