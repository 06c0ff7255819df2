//! The admin endpoint: Prometheus metrics, health and readiness.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::client::{self, WAIT};
use crate::support::{setup, A, Q};

/// A minimal HTTP/1.1 GET: (status, body).
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        String::from_utf8(raw).unwrap()
    };
    let text = tokio::time::timeout(WAIT, exchange)
        .await
        .expect("admin answers in time");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_ready() {
    let (_up, proxy) = setup(|_| {}).await;
    let admin = proxy.admin.expect("admin bound");
    assert_eq!(get(admin, "/health").await.0, 200);
    assert_eq!(get(admin, "/ready").await.0, 200);
    assert_eq!(get(admin, "/no-such-page").await.0, 404);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_queries_cache_upstream_and_drops() {
    let (_up, proxy) = setup(|_| {}).await;
    let admin = proxy.admin.expect("admin bound");
    let q = Q::new("metrics.example", A).bytes();
    client::udp(proxy.addr, &q).await; // miss → upstream
    client::udp(proxy.addr, &q).await; // hit
    client::tcp(proxy.addr, &q).await; // hit over TCP
    let malformed = client::header(9, 0x0100, 0, 0);
    client::udp(proxy.addr, &malformed).await; // FORMERR
    let (status, body) = get(admin, "/metrics").await;
    assert_eq!(status, 200);
    let expect = [
        r#"wasmdns_queries_total{proto="udp",qtype="A",rcode="NOERROR"} 2"#,
        r#"wasmdns_queries_total{proto="tcp",qtype="A",rcode="NOERROR"} 1"#,
        "wasmdns_cache_hits_total 2",
        "wasmdns_cache_misses_total 1",
        "wasmdns_cache_entries",
        "wasmdns_upstream_requests_total{",
        "wasmdns_upstream_duration_seconds_bucket{",
        "wasmdns_query_duration_seconds_bucket{",
        r#"wasmdns_dropped_total{reason="malformed"} 1"#,
    ];
    for line in expect {
        assert!(body.contains(line), "/metrics lacks {line:?}:\n{body}");
    }
    proxy.stop().await;
}
