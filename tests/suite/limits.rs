//! Access control and load shedding: REFUSED outside the allowed networks, fast
//! SERVFAIL when too many queries wait on upstreams.

use std::time::{Duration, Instant};

use crate::support::client;
use crate::support::upstream::Proto;
use crate::support::{decode, rc, rcode, setup, Reply, A, Q};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_outside_the_acl_are_refused() {
    let (up, proxy) = setup(|c| c.acl.allow = vec!["10.0.0.0/8".parse().unwrap()]).await;
    let q = Q::new("acl.example", A).id(0xac1).bytes();
    for a in [
        client::udp(proxy.addr, &q).await,
        client::tcp(proxy.addr, &q).await,
    ] {
        assert_eq!(client::id_of(&a), 0xac1);
        let m = decode(&a);
        assert_eq!(rcode(&m), rc::REFUSED);
        assert!(m.answers.is_empty());
    }
    assert_eq!(
        up.count(Proto::Udp) + up.count(Proto::Tcp),
        0,
        "refused queries never go upstream"
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_allowed_by_default() {
    let (up, proxy) = setup(|_| {}).await;
    let m = decode(&client::udp(proxy.addr, &Q::new("lo.example", A).bytes()).await);
    assert_eq!(rcode(&m), rc::NOERROR);
    assert_eq!(up.count(Proto::Udp), 1);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inflight_bound_sheds_with_fast_servfail() {
    let (up, proxy) = setup(|c| {
        c.server.max_inflight = 2;
        c.upstream.deadline = Duration::from_secs(2);
        c.upstream.attempt_timeout = Duration::from_millis(1500);
    })
    .await;
    up.set_default(Reply::a(300, [192, 0, 2, 2]).delay(Duration::from_millis(800)));
    let addr = proxy.addr;
    let slow: Vec<_> = (0..2)
        .map(|i| {
            let q = Q::new(&format!("slow{i}.example"), A).bytes();
            tokio::spawn(async move { client::udp(addr, &q).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let start = Instant::now();
    let m = decode(&client::udp(addr, &Q::new("extra.example", A).bytes()).await);
    assert_eq!(rcode(&m), rc::SERVFAIL, "over the in-flight bound");
    assert!(
        start.elapsed() < Duration::from_millis(300),
        "shed after {:?}",
        start.elapsed()
    );
    for t in slow {
        assert_eq!(
            rcode(&decode(&t.await.unwrap())),
            rc::NOERROR,
            "queries within the bound answered"
        );
    }
    assert_eq!(up.count_name("extra.example"), 0);
    // Once they are done there is room again.
    let m = decode(&client::udp(addr, &Q::new("after.example", A).bytes()).await);
    assert_eq!(rcode(&m), rc::NOERROR);
    proxy.stop().await;
}
