//! End to end through the real pipeline: a local fake upstream, UDP and TCP
//! clients, the admin endpoint, and the drain at shutdown.

use super::*;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Answers every query with one A record 192.0.2.1, after `delay` for names
/// whose first label is `slow`.
async fn fake_upstream(delay: Duration) -> SocketAddr {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            let answer = answer_a(&buf[..n]);
            let socket = Arc::clone(&socket);
            tokio::spawn(async move {
                if answer[13..17].eq_ignore_ascii_case(b"slow") {
                    tokio::time::sleep(delay).await;
                }
                let _ = socket.send_to(&answer, peer).await;
            });
        }
    });
    addr
}

fn question_end(msg: &[u8]) -> usize {
    let mut i = 12;
    while msg[i] != 0 {
        i += 1 + usize::from(msg[i]);
    }
    i + 5
}

fn answer_a(query: &[u8]) -> Vec<u8> {
    let end = question_end(query);
    let mut r = query[..end].to_vec();
    r[2] = 0x81 | (query[2] & 0x01); // QR, RD echoed
    r[3] = 0x80; // RA, NOERROR
    r[6..12].copy_from_slice(&[0, 1, 0, 0, 0, 0]);
    r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    r
}

fn query(id: u16, name: &str) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

async fn start(delay: Duration) -> Running {
    let mut config = Config::defaults();
    config.server.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.server.udp_workers = 2;
    config.server.shutdown_grace = Duration::from_secs(2);
    config.upstream.servers = vec![fake_upstream(delay).await];
    config.admin.listen = Some("127.0.0.1:0".parse().unwrap());
    Running::start(config).await.unwrap()
}

async fn udp_ask(addr: SocketAddr, q: &[u8]) -> Vec<u8> {
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    c.send_to(q, addr).await.unwrap();
    let mut buf = [0u8; 1500];
    let n = tokio::time::timeout(Duration::from_secs(3), c.recv(&mut buf))
        .await
        .expect("answer in time")
        .unwrap();
    buf[..n].to_vec()
}

async fn http_status(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).await.unwrap();
    got
}

#[tokio::test]
async fn answers_over_udp_and_tcp_and_reports_metrics() {
    let running = start(Duration::ZERO).await;
    let addr = running.dns_addrs[0];
    for id in [0u16, 0xffff] {
        let a = udp_ask(addr, &query(id, "ExAmple.com")).await;
        assert_eq!(&a[..2], &id.to_be_bytes());
        assert_eq!(&a[13..20], b"ExAmple", "question case echoed");
        assert!(a.ends_with(&[192, 0, 2, 1]), "{a:?}");
    }
    let mut s = TcpStream::connect(addr).await.unwrap();
    tcp_send(&mut s, &query(7, "tcp.example")).await;
    let a = tcp_answer(&mut s).await;
    assert_eq!(&a[..2], &[0, 7]);
    assert!(a.ends_with(&[192, 0, 2, 1]));

    let admin = running.admin_addr.unwrap();
    let m = http_status(admin, "/metrics").await;
    assert!(m.contains("wasmdns_queries_total{proto=\"tcp\""), "{m}");
    assert!(m.contains("wasmdns_queries_total{proto=\"udp\""), "{m}");
    assert!(http_status(admin, "/ready")
        .await
        .starts_with("HTTP/1.1 200"));
    running.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_queries_in_flight_then_stops() {
    let running = start(Duration::from_millis(300)).await;
    let addr = running.dns_addrs[0];
    let admin = running.admin_addr.unwrap();
    let token = running.shutdown_token();
    let asked = tokio::spawn(async move { udp_ask(addr, &query(42, "slow.example")).await });
    while running.pipeline.inflight() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let stopped = tokio::spawn(running.wait());
    token.cancel();
    assert!(http_status(admin, "/ready")
        .await
        .starts_with("HTTP/1.1 503"));
    let a = asked.await.unwrap();
    assert_eq!(
        &a[..2],
        &[0, 42],
        "in-flight query answered during the drain"
    );
    stopped.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    let late = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    late.send_to(&query(1, "late.example"), addr).await.unwrap();
    let mut buf = [0u8; 512];
    let r = tokio::time::timeout(Duration::from_millis(300), late.recv(&mut buf)).await;
    assert!(
        r.is_err() || r.unwrap().is_err(),
        "nothing answers after shutdown"
    );
}

async fn tcp_send(s: &mut TcpStream, q: &[u8]) {
    let mut wire = (q.len() as u16).to_be_bytes().to_vec();
    wire.extend_from_slice(q);
    s.write_all(&wire).await.unwrap();
}

async fn tcp_answer(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.unwrap();
    let mut a = vec![0; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut a).await.unwrap();
    a
}

#[tokio::test]
async fn pipelined_tcp_answers_arrive_as_they_complete() {
    let running = start(Duration::from_millis(200)).await;
    let mut s = TcpStream::connect(running.dns_addrs[0]).await.unwrap();
    tcp_send(&mut s, &query(1, "slow.example")).await;
    tcp_send(&mut s, &query(2, "fast.example")).await;
    let first = tcp_answer(&mut s).await;
    let second = tcp_answer(&mut s).await;
    assert_eq!((&first[..2], &second[..2]), (&[0, 2][..], &[0, 1][..]));
    assert!(second.ends_with(&[192, 0, 2, 1]));
    running.shutdown().await;
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0))), "connection closed at shutdown");
}
