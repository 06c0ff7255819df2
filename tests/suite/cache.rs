//! The response cache: hits never reach the upstream, TTLs only go down, negative
//! answers per RFC 2308, DO/CD/case in the key, size bounded.

use std::time::Duration;

use hickory_proto::rr::RData;

use crate::support::client::{self, max_ttl, Tcp};
use crate::support::upstream::Proto;
use crate::support::{decode, rc, rcode, setup, Reply, A, Q};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_query_is_a_hit_and_ttl_decreases() {
    let (up, proxy) = setup(|_| {}).await;
    up.on("ttl.example", Reply::a(300, [192, 0, 2, 7]));
    let q = Q::new("ttl.example", A).bytes();
    let first = decode(&client::udp(proxy.addr, &q).await);
    assert!(
        max_ttl(&first) >= 299 && max_ttl(&first) <= 300,
        "fresh TTL {}",
        max_ttl(&first)
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = decode(&client::udp(proxy.addr, &q).await);
    let third = decode(&client::tcp(proxy.addr, &q).await);
    assert_eq!(
        up.count_name("ttl.example"),
        1,
        "hits never reach the upstream"
    );
    assert!(
        max_ttl(&second) < 300 && max_ttl(&second) >= 298,
        "TTL {}",
        max_ttl(&second)
    );
    assert!(max_ttl(&third) <= max_ttl(&second));
    assert_eq!(client::ipv4s(&second), client::ipv4s(&first));
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_never_above_upstream_and_clamped_to_max() {
    let (up, proxy) = setup(|c| c.cache.max_ttl = 60).await;
    up.on("short.example", Reply::a(5, [192, 0, 2, 8]));
    up.on("long.example", Reply::a(86400, [192, 0, 2, 9]));
    for _ in 0..3 {
        let m = decode(&client::udp(proxy.addr, &Q::new("short.example", A).bytes()).await);
        assert!(
            max_ttl(&m) <= 5,
            "TTL {} above the upstream's 5",
            max_ttl(&m)
        );
        let m = decode(&client::udp(proxy.addr, &Q::new("long.example", A).bytes()).await);
        assert!(max_ttl(&m) <= 60, "TTL {} above max_ttl 60", max_ttl(&m));
    }
    assert_eq!(up.count_name("short.example"), 1);
    assert_eq!(up.count_name("long.example"), 1);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_zero_is_not_cached() {
    let (up, proxy) = setup(|_| {}).await;
    up.on("zero.example", Reply::a(0, [192, 0, 2, 0]));
    for _ in 0..3 {
        let m = decode(&client::udp(proxy.addr, &Q::new("zero.example", A).bytes()).await);
        assert_eq!(max_ttl(&m), 0);
    }
    assert_eq!(up.count_name("zero.example"), 3);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nxdomain_cached_with_soa_minimum() {
    let (up, proxy) = setup(|_| {}).await;
    // SOA TTL 3600, MINIMUM 60: the negative TTL is min(3600, 60) = 60 (RFC 2308 §5).
    up.on("nx.example", Reply::nxdomain(3600, 60));
    // MINIMUM 1: expires after a second.
    up.on("nx1.example", Reply::nxdomain(3600, 1));
    for _ in 0..2 {
        let m = decode(&client::udp(proxy.addr, &Q::new("nx.example", A).bytes()).await);
        assert_eq!(rcode(&m), rc::NXDOMAIN);
        assert!(m.answers.is_empty());
        let soa = m
            .authorities
            .iter()
            .find(|r| matches!(r.data, RData::SOA(_)));
        let soa = soa.expect("SOA kept in the authority section");
        assert!(
            soa.ttl <= 60,
            "negative TTL {} above the SOA minimum",
            soa.ttl
        );
        let m = decode(&client::udp(proxy.addr, &Q::new("nx1.example", A).bytes()).await);
        assert_eq!(rcode(&m), rc::NXDOMAIN);
    }
    assert_eq!(up.count_name("nx.example"), 1, "NXDOMAIN cached");
    assert_eq!(up.count_name("nx1.example"), 1, "NXDOMAIN cached");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    decode(&client::udp(proxy.addr, &Q::new("nx1.example", A).bytes()).await);
    decode(&client::udp(proxy.addr, &Q::new("nx.example", A).bytes()).await);
    assert_eq!(
        up.count_name("nx1.example"),
        2,
        "expired after the SOA minimum"
    );
    assert_eq!(up.count_name("nx.example"), 1, "still cached");
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodata_cached() {
    let (up, proxy) = setup(|_| {}).await;
    up.on("nodata.example", Reply::nodata(300, 30));
    for _ in 0..3 {
        let m = decode(&client::udp(proxy.addr, &Q::new("nodata.example", A).bytes()).await);
        assert_eq!(rcode(&m), rc::NOERROR);
        assert!(m.answers.is_empty());
        assert!(max_ttl(&m) <= 30);
    }
    assert_eq!(up.count_name("nodata.example"), 1);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_cd_type_and_case_in_the_key() {
    let (up, proxy) = setup(|_| {}).await;
    let variants = [
        Q::new("key.example", A),
        Q::new("key.example", A).edns(1232, 0, true),
        Q::new("key.example", A).cd(),
        Q::new("key.example", client::AAAA),
    ];
    for q in &variants {
        client::udp(proxy.addr, &q.bytes()).await;
    }
    assert_eq!(
        up.count_name("key.example"),
        4,
        "DO, CD and QTYPE are separate keys"
    );
    let seen = up.seen();
    assert!(seen[2].cd, "CD passed upstream");
    for q in &variants {
        let mut q = q.clone();
        q.name = "KEY.Example.".into();
        client::udp(proxy.addr, &q.bytes()).await;
    }
    assert_eq!(
        up.count_name("key.example"),
        4,
        "name is case-insensitive in the key"
    );
    // EDNS without DO is the same key as no EDNS.
    client::udp(
        proxy.addr,
        &Q::new("key.example", A).edns(4096, 0, false).bytes(),
    )
    .await;
    assert_eq!(up.count_name("key.example"), 4);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_entries_bounds_the_cache() {
    let (up, proxy) = setup(|c| c.cache.max_entries = 10).await;
    let mut c = Tcp::connect(proxy.addr).await;
    for round in 0..2 {
        for i in 0..60u16 {
            c.send(&Q::new(&format!("n{i}.bounded.example"), A).id(i).bytes())
                .await;
            assert!(c.recv().await.is_some(), "round {round} query {i}");
        }
    }
    let total = up.count(Proto::Tcp) + up.count(Proto::Udp);
    // With at most ~10 entries kept, nearly all of round 2 misses again.
    assert!(
        total >= 60 + 40,
        "{total} upstream queries: cache kept more than its bound"
    );
    let entries = proxy
        .running()
        .pipeline
        .cache()
        .expect("cache on")
        .entry_count();
    assert!(entries <= 20, "{entries} entries for max_entries = 10");
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn popular_answer_is_prefetched_before_it_expires() {
    let (up, proxy) = setup(|c| {
        c.cache.prefetch = true;
        c.cache.min_ttl = 0;
        c.upstream.health_interval = None;
    })
    .await;
    up.on("hot.example", Reply::a(2, [192, 0, 2, 11]));
    let q = Q::new("hot.example", A).bytes();
    assert_eq!(
        rcode(&decode(&client::udp(proxy.addr, &q).await)),
        rc::NOERROR
    );
    // The answer was stored at about this moment; it expires 2 s later.
    let stored = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(1700)).await;
    // Hits into the last tenth of its life (from 1.8 s), until the refresh goes out.
    let mut hits = 0;
    while up.count_name("hot.example") < 2 && stored.elapsed() < Duration::from_millis(2000) {
        assert_eq!(
            rcode(&decode(&client::udp(proxy.addr, &q).await)),
            rc::NOERROR
        );
        hits += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refreshed_at = stored.elapsed();
    assert_eq!(
        up.count_name("hot.example"),
        2,
        "no prefetch before expiry ({hits} hits, {refreshed_at:?})"
    );
    assert!(hits >= 2);
    tokio::time::sleep(Duration::from_millis(2300).saturating_sub(stored.elapsed())).await;
    // Past the original expiry: the refreshed entry answers.
    let late = decode(&client::udp(proxy.addr, &q).await);
    assert_eq!(rcode(&late), rc::NOERROR);
    assert!(max_ttl(&late) >= 1, "TTL {}", max_ttl(&late));
    assert_eq!(up.count_name("hot.example"), 2, "the late query was a hit");
    let metrics = proxy.running().pipeline.metrics();
    assert_eq!(metrics.cache_misses.get(), 1);
    assert_eq!(metrics.cache_prefetches.get(), 1);
    proxy.stop().await;
}
