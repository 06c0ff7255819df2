//! Several datagrams per send (sendmmsg, Linux): the send half of the listener's
//! batch, of its deferred-answer outbox and of the upstream sockets' query outbox.
//!
//! A [`SendBatch`] owns the iovec and mmsghdr arrays for the life of a loop, so a
//! send allocates nothing; the bytes and addresses stay with their owner (the
//! receive batch, a queued entry) and are only pointed at. [`flush`] sends a whole
//! batch: a short send resumes where it stopped, EAGAIN waits for writability, and
//! a datagram the kernel refuses is reported to the caller and skipped, so no
//! datagram is ever dropped without its owner hearing of it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;

use super::{headers, to_socket_addr};

/// Headers of datagrams to send; each points at bytes and an address owned elsewhere.
pub(crate) struct SendBatch {
    iov: Box<[libc::iovec]>,
    hdr: Box<[libc::mmsghdr]>,
    len: usize,
}

// SAFETY: the raw pointers inside `hdr` point into `iov`, a heap allocation this
// batch owns and never reallocates; the ones in `iov` and the names point at data
// whose owner guarantees it for as long as it stays queued (see `push`). Nothing
// is shared, so `Sync` is not claimed.
unsafe impl Send for SendBatch {}

impl SendBatch {
    /// Room for `capacity` datagrams per send.
    pub(crate) fn new(capacity: usize) -> SendBatch {
        let (iov, hdr) = headers(capacity.max(1));
        SendBatch { iov, hdr, len: 0 }
    }

    /// Queues `data` for `name` (null: the socket's connected peer); false when full.
    ///
    /// # Safety
    /// `data` and the `namelen` bytes at `name` must stay valid and unchanged
    /// until the batch is [cleared](Self::clear) or dropped: the kernel reads
    /// them at send time.
    pub(crate) unsafe fn push(
        &mut self,
        data: &[u8],
        name: *const libc::c_void,
        namelen: libc::socklen_t,
    ) -> bool {
        if self.len == self.hdr.len() {
            return false;
        }
        // The kernel never writes through these pointers on send.
        self.iov[self.len].iov_base = data.as_ptr().cast_mut().cast();
        self.iov[self.len].iov_len = data.len();
        let h = &mut self.hdr[self.len].msg_hdr;
        h.msg_name = name.cast_mut();
        h.msg_namelen = namelen;
        self.len += 1;
        true
    }

    /// Forgets every queued datagram (their owners may now drop or reuse them).
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Where datagram `j` goes (logging); `None` for the connected peer.
    pub(crate) fn peer(&self, j: usize) -> Option<SocketAddr> {
        let name = self.hdr[..self.len].get(j)?.msg_hdr.msg_name;
        if name.is_null() {
            return None;
        }
        // SAFETY: `push`'s contract keeps it a live socket address; every name
        // we are given comes from a sockaddr_storage, which is what is read.
        to_socket_addr(unsafe { &*name.cast::<libc::sockaddr_storage>() })
    }

    /// Sends datagrams `from..` without blocking (one sendmmsg); returns how many
    /// left. An error means datagram `from` itself could not be sent.
    pub(crate) fn send(&mut self, fd: RawFd, from: usize) -> io::Result<usize> {
        if from >= self.len {
            return Ok(0);
        }
        // SAFETY: headers `from..len` point at live iovecs and names (`push`'s contract).
        let n = unsafe {
            libc::sendmmsg(
                fd,
                self.hdr[from..].as_mut_ptr(),
                (self.len - from) as _,
                libc::MSG_DONTWAIT as _,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

/// Where a batch goes: a socket, or a scripted fake in tests.
pub(crate) trait SendSocket {
    /// Sends datagrams `from..` without blocking; how many went (`WouldBlock`: none).
    fn try_send(&self, batch: &mut SendBatch, from: usize) -> io::Result<usize>;
    /// Resolves when sending may succeed again.
    fn writable(&self) -> impl Future<Output = io::Result<()>>;
}

/// Sends every queued datagram: short sends resume, EAGAIN waits, a refused
/// datagram (the error is the first one's) goes to `failed` with its index and is
/// skipped. The batch is left as it was; clearing it is the caller's.
pub(crate) async fn flush(
    socket: &impl SendSocket,
    batch: &mut SendBatch,
    mut failed: impl FnMut(&SendBatch, usize, &io::Error),
) {
    let queued = batch.len();
    let mut next = 0;
    while next < queued {
        match socket.try_send(batch, next) {
            Ok(0) => {
                // Not a documented outcome; skipping one keeps the loop finite.
                failed(batch, next, &io::ErrorKind::WriteZero.into());
                next += 1;
            }
            Ok(sent) => next += sent,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if let Err(e) = socket.writable().await {
                    for j in next..queued {
                        failed(batch, j, &e);
                    }
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                failed(batch, next, &e);
                next += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::io::ErrorKind::{ConnectionRefused, Interrupted, WouldBlock};

    /// Scripted send results; records the `from` of every attempt.
    struct Fake {
        script: RefCell<VecDeque<io::Result<usize>>>,
        attempts: RefCell<Vec<usize>>,
        waits: RefCell<usize>,
        writable: io::ErrorKind,
    }

    impl Fake {
        fn new(script: Vec<io::Result<usize>>) -> Fake {
            Fake {
                script: RefCell::new(script.into()),
                attempts: RefCell::default(),
                waits: RefCell::default(),
                writable: io::ErrorKind::WouldBlock,
            }
        }
    }

    impl SendSocket for Fake {
        fn try_send(&self, _: &mut SendBatch, from: usize) -> io::Result<usize> {
            self.attempts.borrow_mut().push(from);
            self.script.borrow_mut().pop_front().expect("scripted")
        }

        async fn writable(&self) -> io::Result<()> {
            *self.waits.borrow_mut() += 1;
            match self.writable {
                io::ErrorKind::WouldBlock => Ok(()),
                kind => Err(kind.into()),
            }
        }
    }

    fn err(kind: io::ErrorKind) -> io::Result<usize> {
        Err(kind.into())
    }

    const DATA: [&[u8]; 5] = [b"d0", b"d1", b"d2", b"d3", b"d4"];

    /// A batch of `n` datagrams for the connected peer.
    fn batch(n: usize) -> SendBatch {
        let mut b = SendBatch::new(8);
        for d in &DATA[..n] {
            // SAFETY: static data; no name.
            assert!(unsafe { b.push(d, std::ptr::null(), 0) });
        }
        b
    }

    /// Runs `flush`, returning the failed indices with their error kinds.
    async fn failures(fake: &Fake, b: &mut SendBatch) -> Vec<(usize, io::ErrorKind)> {
        let mut failed = Vec::new();
        flush(fake, b, |_, j, e| failed.push((j, e.kind()))).await;
        failed
    }

    #[tokio::test]
    async fn a_short_send_resumes_where_it_stopped() {
        let mut b = batch(5);
        let fake = Fake::new(vec![Ok(2), Ok(1), Ok(2)]);
        assert!(failures(&fake, &mut b).await.is_empty());
        assert_eq!(*fake.attempts.borrow(), [0, 2, 3]);
        assert_eq!(b.len(), 5, "the caller clears");
    }

    #[tokio::test]
    async fn eagain_waits_for_writability_and_retries_the_same_datagram() {
        let mut b = batch(3);
        let fake = Fake::new(vec![Ok(1), err(WouldBlock), err(Interrupted), Ok(2)]);
        assert!(
            failures(&fake, &mut b).await.is_empty(),
            "retried, not failed"
        );
        assert_eq!(*fake.attempts.borrow(), [0, 1, 1, 1]);
        assert_eq!(*fake.waits.borrow(), 1);
    }

    #[tokio::test]
    async fn a_refused_datagram_is_reported_and_the_rest_still_go() {
        let mut b = batch(4);
        let fake = Fake::new(vec![Ok(1), err(ConnectionRefused), Ok(0), Ok(1)]);
        let failed = failures(&fake, &mut b).await;
        assert_eq!(*fake.attempts.borrow(), [0, 1, 2, 3]);
        assert_eq!(
            failed,
            [
                (1, io::ErrorKind::ConnectionRefused),
                (2, io::ErrorKind::WriteZero)
            ]
        );
    }

    #[tokio::test]
    async fn a_socket_that_cannot_become_writable_fails_the_rest() {
        let mut b = batch(3);
        let mut fake = Fake::new(vec![Ok(1), err(WouldBlock)]);
        fake.writable = io::ErrorKind::BrokenPipe;
        let failed = failures(&fake, &mut b).await;
        let pipe = io::ErrorKind::BrokenPipe;
        assert_eq!(failed, [(1, pipe), (2, pipe)], "each of the rest, once");
    }

    #[tokio::test]
    async fn nothing_queued_sends_nothing() {
        let mut b = batch(0);
        let fake = Fake::new(vec![]);
        assert!(failures(&fake, &mut b).await.is_empty());
        assert!(fake.attempts.borrow().is_empty());
    }

    #[test]
    fn one_send_carries_datagrams_to_several_peers_and_a_full_batch_refuses_more() {
        use std::os::fd::AsRawFd;
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let peers: Vec<_> = (0..2)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let names: Vec<socket2::SockAddr> = peers
            .iter()
            .map(|p| p.local_addr().unwrap().into())
            .collect();
        let mut b = SendBatch::new(2);
        for (d, name) in DATA.iter().zip(&names) {
            // SAFETY: static data; `names` outlives the batch's use.
            assert!(unsafe { b.push(d, name.as_ptr().cast(), name.len()) });
        }
        // SAFETY: never queued.
        assert!(!unsafe { b.push(b"x", std::ptr::null(), 0) }, "full");
        assert_eq!(b.peer(1), Some(peers[1].local_addr().unwrap()));
        assert_eq!(b.peer(2), None, "past the queued ones");
        assert_eq!(b.send(s.as_raw_fd(), 0).unwrap(), 2);
        let mut buf = [0u8; 8];
        for (p, want) in peers.iter().zip(DATA) {
            let n = p.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], want);
        }
        b.clear();
        assert_eq!(b.send(s.as_raw_fd(), 0).unwrap(), 0, "nothing left");
    }
}
