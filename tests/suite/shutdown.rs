//! Graceful shutdown: in-flight queries are answered, then nothing more is accepted.

use std::time::Duration;

use crate::support::client;
use crate::support::{decode, rc, rcode, setup, Reply, A, Q};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inflight_query_answered_after_shutdown_starts() {
    let (up, proxy) = setup(|c| c.upstream.attempt_timeout = Duration::from_millis(900)).await;
    up.on(
        "drain.example",
        Reply::a(300, [192, 0, 2, 3]).delay(Duration::from_millis(300)),
    );
    let addr = proxy.addr;
    let pending =
        tokio::spawn(async move { client::udp(addr, &Q::new("drain.example", A).bytes()).await });
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(
        up.count_name("drain.example"),
        1,
        "query reached the upstream"
    );
    let stopping = tokio::spawn(proxy.stop());
    let a = pending.await.unwrap();
    assert_eq!(
        rcode(&decode(&a)),
        rc::NOERROR,
        "in-flight query answered during the drain"
    );
    stopping.await.unwrap();
    // Stopped: no more answers.
    let got = client::udp_maybe(
        addr,
        &Q::new("late.example", A).bytes(),
        Duration::from_millis(300),
    )
    .await;
    assert!(got.is_none(), "answered after shutdown");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "TCP still accepting after shutdown"
    );
}
