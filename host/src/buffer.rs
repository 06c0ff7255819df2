//! A bounded pool of reusable packet buffers (crossbeam `ArrayQueue`).
//!
//! Receive and send paths take a buffer, use it, and give it back on drop, so the
//! steady state allocates nothing per packet. When the pool is empty a fresh
//! buffer is allocated; when it is full a returned buffer is simply freed: the
//! pool bounds memory, it never blocks.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::thread::LocalKey;

use crossbeam_queue::ArrayQueue;

/// Runs `f` with a thread's own reusable buffer (a `thread_local!` `Vec`), or a
/// fresh one if `f` is somehow re-entered: hot paths that need scratch space
/// this way allocate nothing per packet and take nothing from a pool.
pub fn with_thread_buffer<R>(
    key: &'static LocalKey<RefCell<Vec<u8>>>,
    f: impl FnOnce(&mut Vec<u8>) -> R,
) -> R {
    key.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => f(&mut buffer),
        Err(_) => f(&mut Vec::new()),
    })
}

/// Largest DNS message (TCP framing limit).
pub const MAX_MESSAGE: usize = 65_535;

/// Shared pool of `Vec<u8>` buffers with a fixed capacity each.
pub struct BufferPool {
    free: ArrayQueue<Vec<u8>>,
    buf_capacity: usize,
}

impl BufferPool {
    /// `slots` buffers are kept at most, each with `buf_capacity` bytes reserved.
    pub fn new(slots: usize, buf_capacity: usize) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            free: ArrayQueue::new(slots.max(1)),
            buf_capacity,
        })
    }

    /// An empty buffer (len 0, capacity ≥ the pool's) that returns itself when dropped.
    pub fn get(self: &Arc<Self>) -> PooledBuf {
        let buf = self
            .free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.buf_capacity));
        PooledBuf {
            buf,
            pool: Some(Arc::clone(self)),
        }
    }

    /// Bytes reserved in each buffer: the most a UDP receive slot needs to hold.
    pub fn buf_capacity(&self) -> usize {
        self.buf_capacity
    }

    /// Buffers currently idle in the pool.
    pub fn idle(&self) -> usize {
        self.free.len()
    }

    fn put(&self, mut buf: Vec<u8>) {
        // A buffer that grew far past the norm (a 64 KiB TCP answer) is not kept,
        // so the pool's memory stays slots × buf_capacity.
        if buf.capacity() > self.buf_capacity * 2 {
            return;
        }
        buf.clear();
        let _ = self.free.push(buf);
    }
}

/// A `Vec<u8>` borrowed from a [`BufferPool`].
pub struct PooledBuf {
    buf: Vec<u8>,
    pool: Option<Arc<BufferPool>>,
}

impl PooledBuf {
    /// A buffer that belongs to no pool (tests, cold paths).
    pub fn detached(buf: Vec<u8>) -> PooledBuf {
        PooledBuf { buf, pool: None }
    }

    /// Takes the bytes out; the pool does not get this buffer back.
    pub fn into_vec(mut self) -> Vec<u8> {
        self.pool = None;
        std::mem::take(&mut self.buf)
    }
}

impl Deref for PooledBuf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.buf
    }
}

impl DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.put(std::mem::take(&mut self.buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused() {
        let pool = BufferPool::new(2, 512);
        let mut a = pool.get();
        a.extend_from_slice(b"hello");
        let ptr = a.as_ptr();
        drop(a);
        assert_eq!(pool.idle(), 1);
        let b = pool.get();
        assert!(b.is_empty(), "returned buffers are cleared");
        assert_eq!(pool.buf_capacity(), 512);
        assert_eq!(b.as_ptr(), ptr, "the same allocation comes back");
    }

    #[test]
    fn pool_is_bounded_and_never_blocks() {
        let pool = BufferPool::new(1, 64);
        let a = pool.get();
        let b = pool.get();
        drop(a);
        drop(b);
        assert_eq!(pool.idle(), 1);
    }

    #[test]
    fn oversized_buffers_are_not_kept() {
        let pool = BufferPool::new(4, 64);
        let mut a = pool.get();
        a.resize(10_000, 0);
        drop(a);
        assert_eq!(pool.idle(), 0);
    }

    #[test]
    fn detached_and_into_vec_skip_the_pool() {
        let pool = BufferPool::new(4, 64);
        let mut a = pool.get();
        a.push(1);
        assert_eq!(a.into_vec(), vec![1]);
        drop(PooledBuf::detached(vec![2]));
        assert_eq!(pool.idle(), 0);
    }
}
