//! [`UdpFd`]: a UDP socket registered with tokio for reading only, so that the
//! datagrams it sends raise no wakeups.
//!
//! A `tokio::net::UdpSocket` is registered for reading and writing, edge
//! triggered. Every datagram sent frees its buffer space when it leaves, the
//! kernel calls that a change of writability, and epoll reports an EPOLLOUT edge
//! nobody waits for: one more `epoll_wait` return and driver pass per send. At
//! low rates that is one per datagram, two per forwarded query (measured with
//! strace on W2 at 50 QPS: every sendmmsg is followed by an `epoll_wait` that
//! returns `EPOLLOUT` alone).
//!
//! Our sends never wait on readiness: they go straight to the kernel, and only a
//! full send buffer (EAGAIN, rare) needs to wait. That wait registers a
//! duplicate of the descriptor for writability alone, for as long as it lasts.
//! epoll tells registrations apart by descriptor number, so the duplicate's does
//! not touch the socket's own, and registering reports a socket that became
//! writable meanwhile at once, so the wait cannot miss it.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use tokio::io::unix::AsyncFd;
use tokio::io::{Interest, Ready};

use super::send::{SendBatch, SendSocket};

pub(crate) struct UdpFd {
    inner: AsyncFd<UdpSocket>,
}

impl UdpFd {
    /// Registers `socket` (made non-blocking) with the current runtime for
    /// `interest`, which must not include writability.
    pub(crate) fn new(socket: UdpSocket, interest: Interest) -> io::Result<UdpFd> {
        debug_assert!(!interest.is_writable(), "writability is waited for apart");
        socket.set_nonblocking(true)?;
        Ok(UdpFd {
            inner: register(socket, interest)?,
        })
    }

    pub(crate) fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }

    #[cfg(test)]
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// One batch receive if tokio believes the socket ready for `interest`:
    /// `recv`, given the descriptor, takes at most `capacity` datagrams and
    /// says how many. Returns how many were received; 0 when the socket was
    /// not ready or had none, and the readiness is then cleared (wait on
    /// [`Self::ready`]).
    ///
    /// A short batch emptied the queue, and unless `keep_ready` saying so clears
    /// the readiness too, which otherwise stays set until a receive returns
    /// EAGAIN: one wasted syscall per wakeup at low rates. A datagram arriving
    /// meanwhile raises a new epoll edge, and tokio clears only the readiness
    /// this call saw, so it still wakes the waiter. `keep_ready` is for the
    /// one case with no new edge: recvmmsg that meets a pending socket error
    /// after some datagrams returns those and puts the error back.
    pub(crate) fn recv_batch(
        &self,
        interest: Interest,
        capacity: usize,
        keep_ready: bool,
        recv: impl FnOnce(RawFd) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut received = 0;
        let result = self.inner.try_io(interest, |s| {
            received = recv(s.as_raw_fd())?;
            if received < capacity && !keep_ready {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(())
        });
        match result {
            _ if received > 0 => Ok(received),
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(0),
        }
    }

    /// Resolves when the socket may have become ready for `interest`; returns
    /// what tokio saw.
    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        Ok(self.inner.ready(interest).await?.ready())
    }

    /// Sends one datagram to `to`, waiting while the send buffer is full.
    pub(crate) async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.sending(|s| s.send_to(buf, to)).await
    }

    /// Sends one datagram to the connected peer, waiting while the send buffer is full.
    pub(crate) async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sending(|s| s.send(buf)).await
    }

    async fn sending(&self, send: impl Fn(&UdpSocket) -> io::Result<usize>) -> io::Result<usize> {
        loop {
            match send(self.inner.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait_writable().await?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    async fn wait_writable(&self) -> io::Result<()> {
        let dup = register(self.inner.get_ref().try_clone()?, Interest::WRITABLE)?;
        dup.writable().await?.retain_ready();
        Ok(())
    }
}

fn register(socket: UdpSocket, interest: Interest) -> io::Result<AsyncFd<UdpSocket>> {
    // SAFETY: a `UdpSocket` owns its descriptor, which stays open and the same
    // for as long as the socket lives, here inside the `AsyncFd`.
    Ok(unsafe { AsyncFd::register_with_interest(socket, interest) }?)
}

impl SendSocket for UdpFd {
    fn try_send(&self, batch: &mut SendBatch, from: usize) -> io::Result<usize> {
        batch.send(self.as_raw_fd(), from)
    }

    fn writable(&self) -> impl Future<Output = io::Result<()>> {
        self.wait_writable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pair() -> (UdpFd, UdpSocket) {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        (UdpFd::new(s, Interest::READABLE).unwrap(), peer)
    }

    #[tokio::test]
    async fn sends_and_waits_for_what_it_receives() {
        let (s, peer) = pair();
        let to = peer.local_addr().unwrap();
        assert_eq!(s.send_to(b"query", to).await.unwrap(), 5);
        let mut buf = [0u8; 16];
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"query"[..], s.local_addr().unwrap()));

        let mut got = Vec::new();
        let mut recv = |fd: RawFd| {
            let mut buf = [0u8; 16];
            // SAFETY: `buf` is writable for its length.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            got.push(buf[..n as usize].to_vec());
            Ok(1)
        };
        let not_ready = || async {
            let wait = tokio::time::timeout(Duration::from_millis(50), s.ready(Interest::READABLE));
            wait.await.is_err()
        };
        assert!(not_ready().await, "nothing to read yet");

        // A full batch (capacity 1) keeps the readiness: the next receive runs
        // and meets EAGAIN, which clears it.
        peer.send_to(b"answer", s.local_addr().unwrap()).unwrap();
        let ready = tokio::time::timeout(Duration::from_secs(5), s.ready(Interest::READABLE));
        assert!(ready.await.unwrap().unwrap().is_readable());
        assert_eq!(
            s.recv_batch(Interest::READABLE, 1, false, &mut recv)
                .unwrap(),
            1
        );
        assert_eq!(
            s.recv_batch(Interest::READABLE, 1, false, &mut recv)
                .unwrap(),
            0
        );
        assert!(not_ready().await, "drained by EAGAIN");

        // A short batch (capacity 2) clears it at once: no receive is tried
        // until a new datagram comes...
        peer.send_to(b"again", s.local_addr().unwrap()).unwrap();
        let _ = s.ready(Interest::READABLE).await.unwrap();
        assert_eq!(
            s.recv_batch(Interest::READABLE, 2, false, &mut recv)
                .unwrap(),
            1
        );
        let mut tried = false;
        let skipped = s.recv_batch(Interest::READABLE, 2, false, |_| {
            tried = true;
            Ok(0)
        });
        assert_eq!((skipped.unwrap(), tried), (0, false), "readiness cleared");
        assert!(not_ready().await, "drained by the short batch");

        // ...unless told to keep it.
        peer.send_to(b"kept", s.local_addr().unwrap()).unwrap();
        let _ = s.ready(Interest::READABLE).await.unwrap();
        assert_eq!(
            s.recv_batch(Interest::READABLE, 2, true, &mut recv)
                .unwrap(),
            1
        );
        let ready = tokio::time::timeout(Duration::from_millis(50), s.ready(Interest::READABLE));
        assert!(ready.await.is_ok(), "readiness kept");
        assert_eq!(
            s.recv_batch(Interest::READABLE, 2, true, &mut recv)
                .unwrap(),
            0
        );
        assert_eq!(got, [&b"answer"[..], b"again", b"kept"]);
    }

    #[tokio::test]
    async fn the_wait_for_room_sees_a_socket_already_writable() {
        // EAGAIN cannot be provoked on loopback (a sent datagram's space is freed
        // at once), so this checks the half that can hang: the wait registers
        // after the socket became writable again and must still resolve.
        let (s, peer) = pair();
        for _ in 0..3 {
            let wait = tokio::time::timeout(Duration::from_secs(5), s.wait_writable());
            wait.await.expect("writable never resolved").unwrap();
        }
        // The duplicates are gone and the socket itself still works both ways.
        assert_eq!(
            s.send_to(b"x", peer.local_addr().unwrap()).await.unwrap(),
            1
        );
        let mut buf = [0u8; 4];
        assert_eq!(peer.recv_from(&mut buf).unwrap().0, 1);
        peer.send_to(b"y", s.local_addr().unwrap()).unwrap();
        let ready = tokio::time::timeout(Duration::from_secs(5), s.ready(Interest::READABLE));
        assert!(ready.await.unwrap().unwrap().is_readable());
    }
}
