//! TCP per RFC 7766: framing split anywhere, pipelining, idle timeout, connection limit.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::support::client::{self, ipv4s, Tcp};
use crate::support::{decode, setup, Reply, A, Q};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_split_anywhere_and_byte_at_a_time() {
    let (_up, proxy) = setup(|_| {}).await;
    let q = Q::new("split.example", A).id(0x5151).bytes();
    let frame = Tcp::frame(&q);
    let mut c = Tcp::connect(proxy.addr).await;
    // The length prefix split in two, then the body in two.
    for (i, cut) in [1usize, 2, 7, frame.len() - 1].into_iter().enumerate() {
        let q = Q::new("split.example", A).id(i as u16).bytes();
        let frame = Tcp::frame(&q);
        c.stream_write(&frame[..cut]).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        c.stream_write(&frame[cut..]).await;
        let a = c.recv().await.expect("answer to a split frame");
        assert_eq!(client::id_of(&a), i as u16);
    }
    // Byte at a time on the same connection.
    c.send_chunked(&frame, 1, Duration::from_millis(2)).await;
    let a = c.recv().await.expect("answer to a byte-at-a-time frame");
    assert_eq!(client::id_of(&a), 0x5151);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_pipelined_queries_all_answered() {
    let (up, proxy) = setup(|_| {}).await;
    // Earlier queries are slower: answers may come back out of order.
    for i in 0..10u16 {
        let delay = Duration::from_millis(u64::from(10 - i) * 20);
        up.on(
            &format!("p{i}.example"),
            Reply::a(300, [192, 0, 2, i as u8]).delay(delay),
        );
    }
    let mut c = Tcp::connect(proxy.addr).await;
    let mut all = Vec::new();
    for i in 0..10u16 {
        all.extend(Tcp::frame(
            &Q::new(&format!("p{i}.example"), A).id(1000 + i).bytes(),
        ));
    }
    c.stream_write(&all).await; // one write: ten frames back to back
    let mut got = HashMap::new();
    for _ in 0..10 {
        let a = c.recv().await.expect("every pipelined query answered");
        got.insert(client::id_of(&a), ipv4s(&decode(&a)));
    }
    for i in 0..10u16 {
        assert_eq!(
            got[&(1000 + i)],
            vec![Ipv4Addr::new(192, 0, 2, i as u8)],
            "ID {}",
            1000 + i
        );
    }
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_closed_after_timeout() {
    let (_up, proxy) = setup(|c| c.server.tcp_idle_timeout = Duration::from_secs(1)).await;
    let mut c = Tcp::connect(proxy.addr).await;
    c.send(&Q::new("idle.example", A).bytes()).await;
    assert!(c.recv().await.is_some());
    let start = Instant::now();
    assert!(
        c.closed_within(Duration::from_millis(2500)).await,
        "idle connection not closed"
    );
    assert!(
        start.elapsed() >= Duration::from_millis(800),
        "closed too early: {:?}",
        start.elapsed()
    );
    // A connection that never sends anything is closed too.
    let mut silent = Tcp::connect(proxy.addr).await;
    assert!(silent.closed_within(Duration::from_millis(2500)).await);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_enforced() {
    let (_up, proxy) = setup(|c| c.server.tcp_max_connections = 2).await;
    let mut first = Tcp::connect(proxy.addr).await;
    let mut second = Tcp::connect(proxy.addr).await;
    for (i, c) in [&mut first, &mut second].into_iter().enumerate() {
        c.send(&Q::new("limit.example", A).id(i as u16).bytes())
            .await;
        assert!(
            c.recv().await.is_some(),
            "connection {i} within the limit served"
        );
    }
    // The kernel may accept the third; the proxy must close it without serving it.
    if let Ok(stream) = tokio::net::TcpStream::connect(proxy.addr).await {
        let mut third = Tcp { stream };
        third
            .stream_write(&Tcp::frame(&Q::new("limit.example", A).bytes()))
            .await;
        assert!(
            third
                .recv_within(Duration::from_millis(1000))
                .await
                .is_none(),
            "third connection served"
        );
    }
    // Closing one makes room again.
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fourth = Tcp::connect(proxy.addr).await;
    fourth.send(&Q::new("limit.example", A).id(4).bytes()).await;
    assert!(
        fourth.recv().await.is_some(),
        "a slot frees when a connection closes"
    );
    proxy.stop().await;
}
