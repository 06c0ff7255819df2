//! Outbox tests: real loopback sockets, a send counter, scripted refusals.

use super::*;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;

use crate::mmsg::UdpFd;

/// A real socket that counts its sendmmsg calls that sent something, or
/// refuses datagram `refuse`.
struct Counting {
    socket: UdpFd,
    sends: AtomicUsize,
    refuse: Option<usize>,
}

impl SendSocket for Counting {
    fn try_send(&self, batch: &mut SendBatch, from: usize) -> io::Result<usize> {
        let sent = match self.refuse {
            Some(r) if r == from => Err(io::ErrorKind::ConnectionRefused.into()),
            // Those before the refused one count as sent (not really sent).
            Some(r) if from < r => Ok(r - from),
            _ => SendSocket::try_send(&self.socket, batch, from),
        };
        if sent.is_ok() {
            self.sends.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    fn writable(&self) -> impl std::future::Future<Output = io::Result<()>> {
        SendSocket::writable(&self.socket)
    }
}

async fn counting(refuse: Option<usize>) -> Counting {
    Counting {
        socket: UdpFd::new(
            std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
            tokio::io::Interest::READABLE,
        )
        .unwrap(),
        sends: AtomicUsize::new(0),
        refuse,
    }
}

fn entry(data: &[u8], to: SocketAddr, tag: u32) -> Entry<u32> {
    Entry {
        buf: PooledBuf::detached(data.to_vec()),
        to: Some(to.into()),
        tag,
    }
}

/// An outbox of `capacity` holding `tags` (each a one-byte datagram) for the
/// client socket returned.
async fn filled(capacity: usize, tags: &[u32]) -> (Outbox<u32>, UdpSocket) {
    let outbox = Outbox::new(capacity);
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = c.local_addr().unwrap();
    for &tag in tags {
        assert!(outbox.push(entry(&[tag as u8], to, tag)).is_ok());
    }
    (outbox, c)
}

async fn recv_all(c: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut b = [0u8; 64];
    for _ in 0..n {
        let got = tokio::time::timeout(Duration::from_secs(2), c.recv(&mut b));
        let len = got.await.expect("datagram in time").unwrap();
        out.push(b[..len].to_vec());
    }
    out
}

#[tokio::test]
async fn pushes_of_one_turn_go_in_one_send_in_order() {
    let outbox = Arc::new(Outbox::<u32>::new(16));
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = c.local_addr().unwrap();
    // The flusher as the listener and the upstream socket run it: wait, yield, flush.
    let flusher = {
        let outbox = Arc::clone(&outbox);
        tokio::spawn(async move {
            let socket = counting(None).await;
            let (mut batch, mut scratch) = (SendBatch::new(16), outbox.scratch());
            outbox.ready().await;
            tokio::task::yield_now().await;
            outbox
                .flush(&socket, &mut batch, &mut scratch, |_, _, _, _| panic!())
                .await;
            (
                socket.sends.load(Ordering::Relaxed),
                batch.len(),
                scratch.len(),
            )
        })
    };
    tokio::task::yield_now().await; // the flusher now waits
    let pushers: Vec<_> = (0..10u8)
        .map(|i| {
            let outbox = Arc::clone(&outbox);
            tokio::spawn(async move { outbox.push(entry(&[b'a' + i], to, 0)).is_ok() })
        })
        .collect();
    for p in pushers {
        assert!(p.await.unwrap());
    }
    assert_eq!(flusher.await.unwrap(), (1, 0, 0), "one send, all cleared");
    let got = recv_all(&c, 10).await;
    let want: Vec<Vec<u8>> = (0..10u8).map(|i| vec![b'a' + i]).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_full_or_closed_outbox_hands_the_datagram_back() {
    let (outbox, c) = filled(2, &[1, 2]).await;
    let to = c.local_addr().unwrap();
    let back = outbox.push(entry(b"3", to, 3)).unwrap_err();
    assert_eq!(&back[..], b"3");
    outbox.close();
    assert!(outbox.push(entry(b"4", to, 4)).is_err(), "closed");
    // Closed, but what was queued still goes.
    let (mut batch, mut scratch) = (SendBatch::new(2), outbox.scratch());
    let socket = counting(None).await;
    let no_failure = |_: &SendBatch, _, _: Option<&Entry<u32>>, _: &io::Error| panic!();
    outbox
        .flush(&socket, &mut batch, &mut scratch, no_failure)
        .await;
    assert_eq!(recv_all(&c, 2).await, [vec![1], vec![2]]);
    assert!(outbox.lock().queue.is_empty() && scratch.is_empty());
}

#[tokio::test]
async fn a_batch_too_small_fails_the_rest_rather_than_dropping_them() {
    let (outbox, c) = filled(3, &[1, 2, 3]).await;
    let (mut batch, mut scratch) = (SendBatch::new(2), outbox.scratch());
    let mut failed = Vec::new();
    let socket = counting(None).await;
    outbox
        .flush(&socket, &mut batch, &mut scratch, |_, _, e, _| {
            failed.push(e.map(|e| e.tag))
        })
        .await;
    assert_eq!(failed, [Some(3)]);
    assert_eq!(recv_all(&c, 2).await.len(), 2);
}

#[tokio::test]
async fn a_refused_datagram_reaches_its_own_entry_after_the_inline_ones() {
    let (outbox, c) = filled(4, &[10, 11, 12]).await;
    let to = c.local_addr().unwrap();
    let inline = SockAddr::from(to);
    let mut batch = SendBatch::new(1 + outbox.capacity());
    // SAFETY: static data; `inline` outlives the flush.
    assert!(unsafe { batch.push(b"i", inline.as_ptr().cast(), inline.len()) });
    // Batch index 2 is the outbox's second entry, tag 11.
    let socket = counting(Some(2)).await;
    let mut scratch = outbox.scratch();
    let mut failed = Vec::new();
    outbox
        .flush(&socket, &mut batch, &mut scratch, |b, j, e, err| {
            failed.push((j, b.peer(j), e.map(|e| e.tag), err.kind()));
        })
        .await;
    assert_eq!(
        failed,
        [(2, Some(to), Some(11), io::ErrorKind::ConnectionRefused)]
    );
    assert_eq!(recv_all(&c, 1).await, [vec![12]]);
}

#[test]
fn announced_datagrams_make_waiting_worth_it_until_pushed_or_withdrawn() {
    let outbox = Arc::new(Outbox::<u32>::new(4));
    assert!(!outbox.worth_waiting(), "nothing announced: flush at once");
    let (a, b) = (outbox.expect(), outbox.expect());
    assert!(outbox.worth_waiting());
    let to = "127.0.0.1:9".parse().unwrap();
    assert!(a.push(entry(b"a", to, 1)).is_ok());
    assert!(outbox.worth_waiting(), "one still to come");
    assert_eq!(outbox.len(), 1);
    drop(b); // resolved to no answer
    assert!(!outbox.worth_waiting());
    outbox.close();
    let refused = outbox.expect().push(entry(b"c", to, 3));
    assert!(
        refused.is_err() && !outbox.worth_waiting(),
        "withdrawn either way"
    );
}

#[tokio::test]
async fn ready_waits_for_a_push_and_wakes_on_it() {
    let outbox = Arc::new(Outbox::<u32>::new(2));
    let waiting = tokio::time::timeout(Duration::from_millis(10), outbox.ready());
    assert!(waiting.await.is_err(), "nothing queued");
    let pusher = Arc::clone(&outbox);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let to = "127.0.0.1:9".parse().unwrap();
        assert!(pusher.push(entry(b"x", to, 0)).is_ok());
    });
    let woken = tokio::time::timeout(Duration::from_secs(2), outbox.ready());
    woken.await.expect("woken by the push");
}
