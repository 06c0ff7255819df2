//! EDNS(0) (RFC 6891): OPT only when asked, BADVERS, DO both ways, payload sizes,
//! and TC=1 for answers over the client's UDP limit with the full answer over TCP.

use crate::support::client::{self, Tcp, TXT};
use crate::support::upstream::Proto;
use crate::support::{decode, rc, rcode, setup, Reply, A, Q};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_echoed_only_when_sent() {
    let (_up, proxy) = setup(|_| {}).await;
    for name in ["plain.example", "plain.example"] {
        let m = decode(&client::udp(proxy.addr, &Q::new(name, A).bytes()).await);
        assert!(m.edns.is_none(), "no OPT in the query, none in the answer");
    }
    for name in ["opt.example", "opt.example"] {
        let m =
            decode(&client::udp(proxy.addr, &Q::new(name, A).edns(1232, 0, false).bytes()).await);
        let e = m.edns.expect("OPT echoed");
        assert_eq!(e.version(), 0);
        assert!(!e.flags().dnssec_ok);
    }
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edns_version_1_is_badvers() {
    let (up, proxy) = setup(|_| {}).await;
    let q = Q::new("v1.example", A).id(0xffff).edns(1232, 1, false);
    let a = client::udp(proxy.addr, &q.bytes()).await;
    let m = decode(&a);
    assert_eq!(client::id_of(&a), 0xffff);
    assert_eq!(rcode(&m), rc::BADVERS, "extended RCODE 16");
    assert_eq!(m.edns.expect("OPT in a BADVERS answer").version(), 0);
    assert_eq!(up.count(Proto::Udp), 0);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_bit_kept_both_ways() {
    let (up, proxy) = setup(|_| {}).await;
    let m = decode(
        &client::udp(
            proxy.addr,
            &Q::new("do.example", A).edns(1232, 0, true).bytes(),
        )
        .await,
    );
    assert!(m.edns.expect("OPT").flags().dnssec_ok, "answer has DO");
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    let e = seen[0].edns.expect("upstream query has OPT");
    assert!(e.dnssec_ok, "upstream sees DO");
    assert_eq!(e.version, 0);
    // A query without DO still goes upstream with EDNS, but DO clear.
    client::udp(proxy.addr, &Q::new("nodo.example", A).bytes()).await;
    let e = up.seen()[1].edns.expect("upstream query has OPT");
    assert!(!e.dnssec_ok);
    proxy.stop().await;
}

/// 40 TXT records: about 3 KB, over 1232 and far over 512.
const BIG: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_answer_truncated_over_udp_full_over_tcp() {
    let (up, proxy) = setup(|_| {}).await;
    up.set_default(Reply::many_txt(BIG, 300));

    // No EDNS: 512 bytes at most.
    let a = client::udp(proxy.addr, &Q::new("big.example", TXT).bytes()).await;
    assert!(a.len() <= 512, "{} bytes to a non-EDNS client", a.len());
    let m = decode(&a);
    assert!(m.metadata.truncation, "TC=1");
    assert_eq!(rcode(&m), rc::NOERROR);

    // EDNS 1232: still too big.
    let a = client::udp(
        proxy.addr,
        &Q::new("big.example", TXT).edns(1232, 0, false).bytes(),
    )
    .await;
    assert!(a.len() <= 1232);
    assert!(decode(&a).metadata.truncation);

    // EDNS below 512 counts as 512.
    let a = client::udp(
        proxy.addr,
        &Q::new("big.example", TXT).edns(100, 0, false).bytes(),
    )
    .await;
    assert!(a.len() <= 512, "{} bytes", a.len());
    assert!(decode(&a).metadata.truncation);

    // TCP: the whole answer.
    let m = decode(&client::tcp(proxy.addr, &Q::new("big.example", TXT).bytes()).await);
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), BIG);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_below_512_still_gets_a_512_byte_answer() {
    let (up, proxy) = setup(|_| {}).await;
    // 5 TXT records: about 400 bytes, over 100 but under 512.
    up.set_default(Reply::many_txt(5, 300));
    let a = client::udp(
        proxy.addr,
        &Q::new("mid.example", TXT).edns(100, 0, false).bytes(),
    )
    .await;
    let m = decode(&a);
    assert!(a.len() > 100 && a.len() <= 512, "{} bytes", a.len());
    assert!(!m.metadata.truncation, "fits in 512: not truncated");
    assert_eq!(m.answers.len(), 5);
    // A medium answer fits a 1232 client but not a plain one.
    up.set_default(Reply::many_txt(12, 300));
    let q = Q::new("twelve.example", TXT);
    let plain = decode(&client::udp(proxy.addr, &q.bytes()).await);
    assert!(plain.metadata.truncation);
    let big = decode(&client::udp(proxy.addr, &q.clone().edns(1232, 0, false).bytes()).await);
    assert!(!big.metadata.truncation);
    assert_eq!(big.answers.len(), 12);
    let mut c = Tcp::connect(proxy.addr).await;
    c.send(&q.bytes()).await;
    assert_eq!(decode(&c.recv().await.unwrap()).answers.len(), 12);
    proxy.stop().await;
}
