//! Upstream misbehaviour: forged, garbage and mismatched replies ignored and never
//! cached; TC → TCP; timeouts → SERVFAIL within the deadline; rcodes passed on.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;

use crate::support::client::{self, ipv4s, TXT};
use crate::support::proxy;
use crate::support::upstream::{Proto, POISON};
use crate::support::{decode, rc, rcode, setup, FakeUpstream, Mode, Proxy, Reply, A, Q};

const GOOD: [u8; 4] = [192, 0, 2, 77];

/// The client gets the right answer, twice (the second from the cache), and never POISON.
async fn assert_good_and_cached(up: &FakeUpstream, proxy: &Proxy, name: &str) {
    for _ in 0..2 {
        let m = decode(&client::udp(proxy.addr, &Q::new(name, A).bytes()).await);
        assert_eq!(rcode(&m), rc::NOERROR, "{name}");
        let ips = ipv4s(&m);
        assert!(!ips.contains(&POISON), "{name}: forged answer accepted");
        assert_eq!(ips, vec![Ipv4Addr::from(GOOD)], "{name}");
    }
    assert_eq!(up.count_name(name), 1, "{name}: the good answer was cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replies_ignored() {
    let (up, proxy) = setup(|_| {}).await;
    up.on("forge.example", Reply::a(300, GOOD).mode(Mode::Forge));
    assert_good_and_cached(&up, &proxy, "forge.example").await;
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_replies_ignored() {
    let (up, proxy) = setup(|_| {}).await;
    up.on("garbage.example", Reply::a(300, GOOD).mode(Mode::Garbage));
    assert_good_and_cached(&up, &proxy, "garbage.example").await;
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_short_reply_ignored() {
    let (up, proxy) = setup(|_| {}).await;
    up.on("cut.example", Reply::a(300, GOOD).mode(Mode::CutShort));
    assert_good_and_cached(&up, &proxy, "cut.example").await;
    proxy.stop().await;
}

/// Nothing valid ever comes back: SERVFAIL within the deadline, and nothing cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_garbage_or_wrong_question_is_servfail_not_cached() {
    let (up, proxy) = setup(|c| c.upstream.deadline = Duration::from_millis(500)).await;
    up.on("junk.example", Reply::a(300, GOOD).mode(Mode::GarbageOnly));
    up.on(
        "wrongq.example",
        Reply::a(300, GOOD).mode(Mode::WrongQuestionOnly),
    );
    for name in ["junk.example", "wrongq.example"] {
        for round in 1..=2 {
            let start = Instant::now();
            let m = decode(&client::udp(proxy.addr, &Q::new(name, A).bytes()).await);
            assert_eq!(rcode(&m), rc::SERVFAIL, "{name}");
            assert!(m.answers.is_empty(), "{name}: {:?}", m.answers);
            assert!(start.elapsed() < Duration::from_millis(1500), "{name}");
            assert!(
                up.count_name(name) >= round,
                "{name}: SERVFAIL must not be cached"
            );
        }
    }
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_upstream_answer_retried_over_tcp() {
    let (up, proxy) = setup(|_| {}).await;
    up.on("tc.example", Reply::many_txt(40, 300).mode(Mode::Truncate));
    let m = decode(&client::tcp(proxy.addr, &Q::new("tc.example", TXT).bytes()).await);
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 40, "full answer fetched over TCP");
    assert!(up.count(Proto::Udp) >= 1 && up.count(Proto::Tcp) >= 1);
    // Small answers too: TC from upstream means TCP, whatever the size.
    up.on("tcsmall.example", Reply::a(300, GOOD).mode(Mode::Truncate));
    let m = decode(&client::udp(proxy.addr, &Q::new("tcsmall.example", A).bytes()).await);
    assert!(!m.metadata.truncation);
    assert_eq!(ipv4s(&m), vec![Ipv4Addr::from(GOOD)]);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_retried_then_servfail_within_deadline() {
    let (up, proxy) = setup(|c| {
        c.upstream.deadline = Duration::from_millis(500);
        c.upstream.attempt_timeout = Duration::from_millis(150);
    })
    .await;
    up.on("slow.example", Reply::a(300, GOOD).mode(Mode::Drop));
    let start = Instant::now();
    let m = decode(&client::udp(proxy.addr, &Q::new("slow.example", A).bytes()).await);
    let took = start.elapsed();
    assert_eq!(rcode(&m), rc::SERVFAIL);
    assert!(
        took < Duration::from_millis(1500),
        "SERVFAIL after {took:?}"
    );
    assert!(
        took >= Duration::from_millis(100),
        "gave up after only {took:?}"
    );
    assert!(
        up.count_name("slow.example") >= 2,
        "retried before giving up"
    );
    proxy.stop().await;
}

/// An upstream slower than one attempt but well within the deadline: its answer to
/// the first attempt is still a valid answer (same upstream, ID and question) and
/// must be taken, or such an upstream never gets a single answer through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_answer_to_an_earlier_attempt_accepted() {
    let (up, proxy) = setup(|c| {
        c.upstream.attempt_timeout = Duration::from_millis(200);
        c.upstream.deadline = Duration::from_millis(1500);
    })
    .await;
    up.on(
        "late.example",
        Reply::a(300, GOOD).delay(Duration::from_millis(350)),
    );
    let start = Instant::now();
    let m = decode(&client::udp(proxy.addr, &Q::new("late.example", A).bytes()).await);
    assert_eq!(
        rcode(&m),
        rc::NOERROR,
        "a 350 ms upstream with 200 ms attempts and a 1.5 s deadline got SERVFAIL after {:?}",
        start.elapsed()
    );
    assert_eq!(ipv4s(&m), vec![Ipv4Addr::from(GOOD)]);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_upstream_is_servfail_fast() {
    let dead = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = proxy::config(dead);
    config.upstream.deadline = Duration::from_millis(800);
    let proxy = Proxy::start_with(config).await;
    for proto in ["udp", "tcp"] {
        let q = Q::new("dead.example", A).bytes();
        let start = Instant::now();
        let a = match proto {
            "udp" => client::udp(proxy.addr, &q).await,
            _ => client::tcp(proxy.addr, &q).await,
        };
        let took = start.elapsed();
        assert_eq!(rcode(&decode(&a)), rc::SERVFAIL, "{proto}");
        assert!(
            took < Duration::from_millis(1300),
            "{proto}: SERVFAIL after {took:?}"
        );
    }
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_servfail_and_refused_passed_on() {
    let (up, proxy) = setup(|_| {}).await;
    up.on("sf.example", Reply::rcode(ResponseCode::ServFail));
    up.on("ref.example", Reply::rcode(ResponseCode::Refused));
    let m = decode(&client::udp(proxy.addr, &Q::new("sf.example", A).bytes()).await);
    assert_eq!(rcode(&m), rc::SERVFAIL);
    let m = decode(&client::udp(proxy.addr, &Q::new("ref.example", A).bytes()).await);
    assert_eq!(rcode(&m), rc::REFUSED);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_ids_and_ports_random_and_pooled() {
    let (up, proxy) = setup(|c| c.upstream.udp_sockets = 4).await;
    for i in 0..24 {
        // Every client uses ID 7: the upstream must not see it echoed.
        let q = Q::new(&format!("r{i}.example"), A).id(7).bytes();
        client::udp(proxy.addr, &q).await;
    }
    let seen: Vec<_> = up
        .seen()
        .into_iter()
        .filter(|s| s.proto == Proto::Udp)
        .collect();
    assert_eq!(seen.len(), 24);
    let ids: HashSet<u16> = seen.iter().map(|s| s.id).collect();
    assert!(
        ids.len() >= 20,
        "only {} distinct upstream IDs of 24",
        ids.len()
    );
    let ports: HashSet<u16> = seen.iter().map(|s| s.src.port()).collect();
    assert!(
        (2..=4).contains(&ports.len()),
        "{} source ports for 4 pooled sockets",
        ports.len()
    );
    proxy.stop().await;
}
