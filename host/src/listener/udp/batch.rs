//! A recvmmsg/sendmmsg batch: up to `capacity` datagrams in and their answers out per syscall.
//!
//! A [`Batch`] owns every buffer, address and header the two syscalls need, for
//! the whole life of a receive loop, so a batch allocates nothing. The receive
//! half is a [`RecvBatch`] and the send half a [`SendBatch`] (both shared with
//! the upstream sockets); each answer has its own `Vec` (the handler writes it),
//! and an answer is sent to the address the kernel wrote for its query, in place,
//! with no conversion. The send half has room for the listener's deferred answers
//! too, so they share the inline answers' sendmmsg.

use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;

use crate::mmsg::{RecvBatch, SendBatch};

/// One received datagram, as the handler sees it.
pub struct Datagram<'a> {
    pub packet: &'a [u8],
    /// `None` for an address family other than IPv4/IPv6 (never on our sockets).
    pub peer: Option<SocketAddr>,
    /// The datagram did not fit its slot (MSG_TRUNC): `packet` is only its head.
    pub truncated: bool,
}

/// Receive slots, answer buffers and the sendmmsg headers pointing into them.
pub struct Batch {
    rx: RecvBatch,
    answers: Box<[Vec<u8>]>,
    /// The answers queued since the last receive, then whatever the loop adds.
    tx: SendBatch,
}

impl Batch {
    /// `capacity` datagrams of at most `slot` bytes each per receive; room for
    /// `extra` more datagrams (the deferred answers) in each send.
    pub fn new(capacity: usize, slot: usize, extra: usize) -> Batch {
        let rx = RecvBatch::new(capacity, slot);
        let capacity = rx.capacity();
        Batch {
            rx,
            answers: (0..capacity).map(|_| Vec::with_capacity(slot)).collect(),
            tx: SendBatch::new(capacity + extra),
        }
    }

    /// Receives up to `capacity` datagrams without blocking (one recvmmsg).
    /// `WouldBlock` when none is waiting. Drops the previous batch's answers.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.tx.clear();
        self.rx.recv(fd)
    }

    /// Datagram `i` of the last receive and the empty buffer for the next answer.
    pub fn datagram(&mut self, i: usize) -> (Datagram<'_>, &mut Vec<u8>) {
        let (packet, peer) = self.rx.datagram(i);
        let datagram = Datagram {
            packet,
            peer,
            truncated: self.rx.truncated(i),
        };
        let out = &mut self.answers[self.tx.len()];
        out.clear();
        (datagram, out)
    }

    /// Queues the answer just written by [`Batch::datagram`] to datagram `i`'s sender.
    pub fn queue(&mut self, i: usize) {
        // Answers go to the address the kernel wrote for the query: it stays
        // untouched until the next `recv`, which clears the send half first.
        let (name, namelen) = self.rx.sender(i);
        let answer = &self.answers[self.tx.len()];
        // SAFETY: the answer is final (the handler is done with it) and is not
        // touched again before `recv` clears the send half; so is the address.
        let queued = unsafe { self.tx.push(answer, name, namelen) };
        debug_assert!(queued, "one answer per received datagram always fits");
    }

    /// The send half: the queued answers, for the loop to add to and flush.
    pub fn sends(&mut self) -> &mut SendBatch {
        &mut self.tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    fn pair(server: &str, client: &str) -> Option<(UdpSocket, UdpSocket)> {
        let s = UdpSocket::bind(server).ok()?;
        s.set_nonblocking(true).unwrap();
        let c = UdpSocket::bind(client).ok()?;
        c.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        Some((s, c))
    }

    /// Receives what `sent` datagrams queued, answering each with `a` + query.
    fn echo_all(s: &UdpSocket, batch: &mut Batch, sent: usize) -> usize {
        let n = batch.recv(s.as_raw_fd()).unwrap();
        assert_eq!(n, sent, "every queued datagram in one receive");
        for i in 0..n {
            let (d, out) = batch.datagram(i);
            out.push(b'a');
            out.extend_from_slice(d.packet);
            batch.queue(i);
        }
        batch.sends().send(s.as_raw_fd(), 0).unwrap()
    }

    #[test]
    fn one_receive_takes_several_datagrams_and_one_send_answers_them() {
        let (s, c) = pair("127.0.0.1:0", "127.0.0.1:0").unwrap();
        let to = s.local_addr().unwrap();
        for q in [&b"q1"[..], b"q22", b"q333"] {
            c.send_to(q, to).unwrap();
        }
        let mut batch = Batch::new(8, 64, 0);
        assert_eq!(echo_all(&s, &mut batch, 3), 3);
        let mut b = [0u8; 64];
        for want in [&b"aq1"[..], b"aq22", b"aq333"] {
            let (n, from) = c.recv_from(&mut b).unwrap();
            assert_eq!((&b[..n], from), (want, to));
        }
        assert_eq!(batch.sends().peer(0), Some(c.local_addr().unwrap()));
    }

    #[test]
    fn an_empty_socket_would_block_and_a_full_batch_leaves_the_rest() {
        let (s, c) = pair("127.0.0.1:0", "127.0.0.1:0").unwrap();
        let mut batch = Batch::new(2, 16, 0);
        let err = batch.recv(s.as_raw_fd()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        for q in [b"1", b"2", b"3"] {
            c.send_to(q, s.local_addr().unwrap()).unwrap();
        }
        assert_eq!(batch.recv(s.as_raw_fd()).unwrap(), 2);
        assert_eq!(batch.recv(s.as_raw_fd()).unwrap(), 1);
        assert_eq!(batch.datagram(0).0.packet, b"3");
    }

    #[test]
    fn ipv6_peers_round_trip() {
        let Some((s, c)) = pair("[::1]:0", "[::1]:0") else {
            return; // no IPv6 on this host
        };
        c.send_to(b"six", s.local_addr().unwrap()).unwrap();
        let mut batch = Batch::new(4, 64, 0);
        assert_eq!(echo_all(&s, &mut batch, 1), 1);
        assert_eq!(batch.datagram(0).0.peer, Some(c.local_addr().unwrap()));
        let mut b = [0u8; 8];
        let n = c.recv(&mut b).unwrap();
        assert_eq!(&b[..n], b"asix");
    }

    #[test]
    fn an_oversized_datagram_is_flagged_truncated() {
        let (s, c) = pair("127.0.0.1:0", "127.0.0.1:0").unwrap();
        c.send_to(&[7u8; 100], s.local_addr().unwrap()).unwrap();
        c.send_to(&[8u8; 32], s.local_addr().unwrap()).unwrap();
        let mut batch = Batch::new(4, 32, 0);
        assert_eq!(batch.recv(s.as_raw_fd()).unwrap(), 2);
        let (d, _) = batch.datagram(0);
        assert!(d.truncated);
        assert_eq!(d.packet.len(), 32, "only the slot's worth");
        let (d, _) = batch.datagram(1);
        assert!(!d.truncated, "a datagram filling its slot exactly is whole");
        // The flags are reset: a later normal datagram in slot 0 is not truncated.
        c.send_to(b"ok", s.local_addr().unwrap()).unwrap();
        assert_eq!(batch.recv(s.as_raw_fd()).unwrap(), 1);
        assert!(!batch.datagram(0).0.truncated);
    }

    #[test]
    fn sending_from_an_offset_sends_only_the_rest_and_grown_answers_whole() {
        let (s, c) = pair("127.0.0.1:0", "127.0.0.1:0").unwrap();
        for q in [b"x", b"y"] {
            c.send_to(q, s.local_addr().unwrap()).unwrap();
        }
        let mut batch = Batch::new(4, 8, 0);
        assert_eq!(batch.recv(s.as_raw_fd()).unwrap(), 2);
        for i in 0..2 {
            let (_, out) = batch.datagram(i);
            out.resize(1000, b'0' + i as u8); // past the slot: reallocated
            batch.queue(i);
        }
        assert_eq!(batch.sends().send(s.as_raw_fd(), 1).unwrap(), 1);
        assert_eq!(batch.sends().send(s.as_raw_fd(), 2).unwrap(), 0);
        let mut b = [0u8; 2000];
        let n = c.recv(&mut b).unwrap();
        assert_eq!(&b[..n], &[b'1'; 1000][..]);
    }
}
