//! Forwarding over UDP and TCP, IPv4 and IPv6; query ID and question case preserved.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::support::client::{self, ipv4s, Tcp};
use crate::support::upstream::Proto;
use crate::support::{decode, rc, rcode, setup, Reply, A, Q};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_and_tcp_forward() {
    let (up, proxy) = setup(|_| {}).await;
    up.on("udp.example.", Reply::a(300, [192, 0, 2, 10]));
    up.on("tcp.example.", Reply::a(300, [192, 0, 2, 11]));

    let m = decode(&client::udp(proxy.addr, &Q::new("udp.example", A).bytes()).await);
    assert_eq!(rcode(&m), rc::NOERROR);
    assert_eq!(ipv4s(&m), vec![Ipv4Addr::new(192, 0, 2, 10)]);
    assert!(m.metadata.recursion_desired && m.metadata.recursion_available);

    let m = decode(&client::tcp(proxy.addr, &Q::new("tcp.example", A).bytes()).await);
    assert_eq!(rcode(&m), rc::NOERROR);
    assert_eq!(ipv4s(&m), vec![Ipv4Addr::new(192, 0, 2, 11)]);
    assert_eq!(up.count_name("udp.example"), 1);
    assert_eq!(up.count_name("tcp.example"), 1);
    let seen = up.seen();
    assert!(
        seen.iter().all(|s| s.rd && s.qtype == A),
        "RD and QTYPE forwarded"
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv4_and_ipv6_listeners_serve_udp_and_tcp() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback on this host");
        return;
    }
    let (up, proxy) = setup(|c| {
        c.server.listen = vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()]
    })
    .await;
    assert_eq!(proxy.addrs.len(), 2);
    assert!(proxy.addrs[0].is_ipv4() && proxy.addrs[1].is_ipv6());
    for (i, addr) in proxy.addrs.iter().enumerate() {
        let name = format!("v{i}.example");
        let m = decode(&client::udp(*addr, &Q::new(&name, A).bytes()).await);
        assert_eq!(
            ipv4s(&m),
            vec![Ipv4Addr::new(192, 0, 2, 1)],
            "UDP on {addr}"
        );
        let m = decode(&client::tcp(*addr, &Q::new(&name, A).bytes()).await);
        assert_eq!(
            ipv4s(&m),
            vec![Ipv4Addr::new(192, 0, 2, 1)],
            "TCP on {addr}"
        );
        assert_eq!(up.count_name(&name), 1, "TCP query was a cache hit");
    }
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_id_preserved_including_0_and_ffff() {
    let (_up, proxy) = setup(|_| {}).await;
    for id in [0u16, 0xffff, 0x8000, 1] {
        // Distinct names: the miss path and the hit path both see every ID.
        for name in [format!("id{id}.example"), format!("id{id}.example")] {
            let q = Q::new(&name, A).id(id).bytes();
            let udp = client::udp(proxy.addr, &q).await;
            assert_eq!(client::id_of(&udp), id, "UDP ID");
            let tcp = client::tcp(proxy.addr, &q).await;
            assert_eq!(client::id_of(&tcp), id, "TCP ID");
        }
    }
    proxy.stop().await;
}

/// The question section of the answer must be byte-identical to the client's.
fn assert_case_echoed(q: &Q, answer: &[u8]) {
    let end = q.question_end();
    assert_eq!(
        &answer[12..end],
        &q.bytes()[12..end],
        "question echoed exactly: sent {:?}, got {:?}",
        q.name,
        client::raw_qname(answer)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_echoed_on_miss_and_on_hit() {
    let (up, proxy) = setup(|_| {}).await;
    let first = Q::new("MiXeD.ExAmPlE.", A);
    let a = client::udp(proxy.addr, &first.bytes()).await;
    assert_case_echoed(&first, &a);
    assert_eq!(
        up.seen()[0].qname,
        "MiXeD.ExAmPlE.",
        "upstream sees the client's case"
    );

    for name in ["mixed.example", "MIXED.EXAMPLE", "mIxEd.eXaMpLe"] {
        let q = Q::new(name, A);
        let a = client::udp(proxy.addr, &q.bytes()).await;
        assert_case_echoed(&q, &a);
        assert_eq!(ipv4s(&decode(&a)), vec![Ipv4Addr::new(192, 0, 2, 1)]);
        let a = client::tcp(proxy.addr, &q.bytes()).await;
        assert_case_echoed(&q, &a);
    }
    assert_eq!(
        up.count_name("mixed.example"),
        1,
        "the rest were cache hits"
    );
    proxy.stop().await;
}

/// Spells `name` with upper case where bit i of `mask` is set.
fn spell(name: &str, mask: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, ch)| {
            if mask >> (i % 64) & 1 == 1 {
                ch.to_ascii_uppercase()
            } else {
                ch
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_echoed_to_50_concurrent_clients() {
    let (up, proxy) = setup(|_| {}).await;
    up.on(
        "concurrent.example.",
        Reply::a(300, [192, 0, 2, 50]).delay(Duration::from_millis(150)),
    );
    let mut tasks = Vec::new();
    for i in 0..50u64 {
        let q = Q::new(&spell("concurrent.example", i * 2_654_435_761), A).id(i as u16);
        let addr = proxy.addr;
        tasks.push(tokio::spawn(async move {
            let a = client::udp(addr, &q.bytes()).await;
            (q, a)
        }));
    }
    for t in tasks {
        let (q, a) = t.await.unwrap();
        assert_case_echoed(&q, &a);
        assert_eq!(client::id_of(&a), q.id);
        assert_eq!(ipv4s(&decode(&a)), vec![Ipv4Addr::new(192, 0, 2, 50)]);
    }
    assert!(up.count_name("concurrent.example") >= 1);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_sent_to_us_are_dropped() {
    let (up, proxy) = setup(|_| {}).await;
    let q = Q::new("qr.example", A).flags(0x8180).bytes();
    let got = client::udp_maybe(proxy.addr, &q, Duration::from_millis(300)).await;
    assert!(got.is_none(), "QR=1 must get no answer, got {got:02x?}");
    let mut c = Tcp::connect(proxy.addr).await;
    c.send(&q).await;
    assert!(c.recv_within(Duration::from_millis(300)).await.is_none());
    assert_eq!(up.count(Proto::Udp) + up.count(Proto::Tcp), 0);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_opcode_gets_notimp() {
    let (up, proxy) = setup(|_| {}).await;
    for opcode in [3u16, 7, 15] {
        let q = Q::new("op.example", A)
            .id(0xbeef)
            .flags(opcode << 11 | 0x0100);
        let a = client::udp(proxy.addr, &q.bytes()).await;
        assert_eq!(client::id_of(&a), 0xbeef);
        assert_eq!(a[2] & 0x80, 0x80, "QR set");
        assert_eq!(u16::from(a[2] >> 3 & 0x0f), opcode, "opcode echoed");
        assert_eq!(a[3] & 0x0f, rc::NOTIMP as u8);
    }
    assert_eq!(up.count(Proto::Udp), 0);
    proxy.stop().await;
}
