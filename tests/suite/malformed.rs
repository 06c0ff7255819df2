//! Header-first decoding of hostile packets: FORMERR where the header is readable,
//! silence where it is not, never an upstream query.

use std::time::Duration;

use crate::support::client::{self, encode_name, header, Tcp};
use crate::support::upstream::Proto;
use crate::support::{rc, setup, A, Q};

fn question(name: &[u8]) -> Vec<u8> {
    let mut q = name.to_vec();
    q.extend_from_slice(&[0, 1, 0, 1]);
    q
}

/// Sends `packet` over UDP and TCP and expects FORMERR with the packet's ID.
async fn expect_formerr(addr: std::net::SocketAddr, packet: &[u8], what: &str) {
    let id = client::id_of(packet);
    let a = client::udp(addr, packet).await;
    assert!(a.len() >= 12, "{what}: short answer");
    assert_eq!(client::id_of(&a), id, "{what}: ID");
    assert_eq!(a[2] & 0x80, 0x80, "{what}: QR");
    assert_eq!(a[3] & 0x0f, rc::FORMERR as u8, "{what}: RCODE over UDP");
    let mut c = Tcp::connect(addr).await;
    c.send(packet).await;
    let a = c
        .recv()
        .await
        .unwrap_or_else(|| panic!("{what}: no TCP answer"));
    assert_eq!(a[3] & 0x0f, rc::FORMERR as u8, "{what}: RCODE over TCP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qdcount_other_than_one_is_formerr() {
    let (up, proxy) = setup(|_| {}).await;
    expect_formerr(proxy.addr, &header(0x0101, 0x0100, 0, 0), "qdcount 0").await;
    let mut two = header(0x0202, 0x0100, 2, 0);
    two.extend(question(&encode_name("a.example")));
    two.extend(question(&encode_name("b.example")));
    expect_formerr(proxy.addr, &two, "qdcount 2").await;
    assert_eq!(up.count(Proto::Udp) + up.count(Proto::Tcp), 0);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_are_formerr() {
    let (up, proxy) = setup(|_| {}).await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // Label types 01 and 10 are reserved (RFC 6891 §5).
        ("label type 0x40", vec![0x41, b'a', 0]),
        ("label type 0x80", vec![0x81, b'a', 0]),
        // A pointer to itself, and two pointers to each other.
        ("pointer loop", vec![0xc0, 12]),
        ("pointer cycle", vec![0xc0, 14, 0xc0, 12]),
        // A forward pointer past the end.
        ("pointer out of range", vec![0xc0, 0xff]),
        // 5 x 63-byte labels: 320 bytes, over the 255-byte limit.
        ("name too long", {
            let mut n = Vec::new();
            for _ in 0..5 {
                n.push(63);
                n.extend_from_slice(&[b'a'; 63]);
            }
            n.push(0);
            n
        }),
    ];
    for (i, (what, name)) in cases.into_iter().enumerate() {
        let mut p = header(0x4000 + i as u16, 0x0100, 1, 0);
        p.extend(question(&name));
        expect_formerr(proxy.addr, &p, what).await;
    }
    assert_eq!(up.count(Proto::Udp) + up.count(Proto::Tcp), 0);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_question_is_formerr_at_every_cut() {
    let (up, proxy) = setup(|_| {}).await;
    let full = Q::new("cut.example", A).id(0x0c0c).bytes();
    for len in 12..full.len() {
        let a = client::udp(proxy.addr, &full[..len]).await;
        assert_eq!(client::id_of(&a), 0x0c0c, "cut at {len}");
        assert_eq!(a[3] & 0x0f, rc::FORMERR as u8, "cut at {len}");
    }
    assert_eq!(up.count(Proto::Udp), 0);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shorter_than_a_header_gets_no_answer() {
    let (up, proxy) = setup(|_| {}).await;
    let full = Q::new("short.example", A).bytes();
    for len in [0usize, 1, 2, 11] {
        let got = client::udp_maybe(proxy.addr, &full[..len], Duration::from_millis(150)).await;
        assert!(got.is_none(), "{len} bytes must get no answer");
    }
    // The proxy is still serving afterwards.
    let a = client::udp(proxy.addr, &full).await;
    assert_eq!(a[3] & 0x0f, rc::NOERROR as u8);
    assert_eq!(up.count(Proto::Udp), 1);
    proxy.stop().await;
}
