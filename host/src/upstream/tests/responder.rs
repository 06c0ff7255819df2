//! A tiny in-process upstream on 127.0.0.1:0 that can answer, lie, send garbage,
//! truncate, stall or stay silent.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;

use crate::upstream::wire::HEADER;

pub(super) const REAL: [u8; 4] = [192, 0, 2, 1];
pub(super) const FAKE: [u8; 4] = [6, 6, 6, 6];

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Behaviour {
    Answer,
    /// A good answer under another ID first.
    ForgedId,
    /// Right ID, another question first.
    WrongQuestion,
    /// Short packets, a query, a cut answer first.
    Garbage,
    /// A good answer from another port first.
    WrongSource,
    /// TC=1 over UDP, the full answer over TCP.
    Truncate,
    /// Rcode SERVFAIL.
    ServFail,
    /// Answers every query, each after this long.
    Slow(Duration),
    Silent,
}

pub(super) struct Responder {
    pub(super) addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    _tasks: JoinSet<()>,
}

impl Responder {
    /// UDP and TCP on the same port (TCP only answers `Truncate`).
    pub(super) async fn start(behaviour: Behaviour) -> Responder {
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        tasks.spawn(serve_udp(udp, behaviour, Arc::clone(&queries)));
        tasks.spawn(serve_tcp(tcp));
        Responder {
            addr,
            queries,
            _tasks: tasks,
        }
    }

    pub(super) fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // Room for a burst of queries, so the concurrency test measures the pool and
        // not drops in the test's own upstream.
        let _ = socket2::SockRef::from(&udp).set_recv_buffer_size(1 << 21);
        if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP");
}

async fn serve_udp(socket: UdpSocket, behaviour: Behaviour, queries: Arc<AtomicUsize>) {
    let socket = Arc::new(socket);
    let liar = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut buf = vec![0u8; 65_535];
    while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
        queries.fetch_add(1, Ordering::SeqCst);
        let query = &buf[..len];
        let real = answer(query, REAL);
        let decoys: Vec<Vec<u8>> = match behaviour {
            Behaviour::ForgedId => {
                let mut forged = answer(query, FAKE);
                forged[0] ^= 0x5a;
                vec![forged]
            }
            Behaviour::WrongQuestion => {
                let mut other = answer(query, FAKE);
                other[HEADER + 1] ^= 0x01;
                vec![other]
            }
            Behaviour::Garbage => {
                let mut cut = answer(query, FAKE);
                cut.truncate(HEADER + 3);
                vec![vec![], vec![0x12], query.to_vec(), cut, vec![0xff; 600]]
            }
            _ => Vec::new(),
        };
        for decoy in &decoys {
            socket.send_to(decoy, peer).await.unwrap();
        }
        match behaviour {
            Behaviour::Silent => continue,
            Behaviour::Slow(delay) => {
                let socket = Arc::clone(&socket);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = socket.send_to(&real, peer).await;
                });
                continue;
            }
            Behaviour::WrongSource => {
                liar.send_to(&answer(query, FAKE), peer).await.unwrap();
            }
            Behaviour::Truncate => {
                let mut tc = answer(query, REAL);
                tc.truncate(HEADER + question_len(query));
                tc[2] |= 0x02;
                tc[7] = 0;
                socket.send_to(&tc, peer).await.unwrap();
                continue;
            }
            Behaviour::ServFail => {
                let mut fail = answer(query, REAL);
                fail.truncate(HEADER + question_len(query));
                fail[3] |= 2;
                fail[7] = 0;
                socket.send_to(&fail, peer).await.unwrap();
                continue;
            }
            _ => {}
        }
        if !decoys.is_empty() || behaviour == Behaviour::WrongSource {
            // Let the decoys land first, as a racing attacker's would.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        socket.send_to(&real, peer).await.unwrap();
    }
}

async fn serve_tcp(listener: TcpListener) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let Ok(len) = stream.read_u16().await else {
            continue;
        };
        let mut query = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut query).await.is_err() {
            continue;
        }
        let reply = answer(&query, REAL);
        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        let _ = stream.write_all(&framed).await;
    }
}

pub(super) fn question_len(message: &[u8]) -> usize {
    let mut at = HEADER;
    while message[at] != 0 {
        at += 1 + usize::from(message[at]);
    }
    at + 5 - HEADER
}

/// The query's header and question, QR and RA set, one A record pointing at the name.
pub(super) fn answer(query: &[u8], address: [u8; 4]) -> Vec<u8> {
    let mut a = query[..HEADER + question_len(query)].to_vec();
    a[2] |= 0x80;
    a[3] = 0x80;
    a[6..12].copy_from_slice(&[0, 1, 0, 0, 0, 0]);
    a.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    a.extend_from_slice(&address);
    a
}

/// A query as the pipeline builds it: RD, one question, an OPT record.
pub(super) fn query(name: &str) -> (Vec<u8>, std::ops::Range<usize>) {
    let mut q = vec![0, 0, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let question = HEADER..q.len();
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    (q, question)
}
