//! [`Ring`]: one shard's records, back to back in a single byte buffer written as a log.
//!
//! New records go at the head; the oldest is at the tail, where eviction looks.
//! A record never wraps: when it does not fit before the end of the buffer, the
//! rest of the buffer is skipped (marked with a zero length when there is room
//! for one) and the record starts again at offset 0. Every record starts with
//! its total length as a little-endian `u16` (never 0), which is all the ring
//! knows about what it holds.
//!
//! The buffer is allocated zeroed at its full size: the allocator maps a large
//! block lazily, so resident memory grows with what is written, not with the
//! bound.

/// Bytes of the length prefix.
const LEN: usize = 2;

pub(super) struct Ring {
    buf: Box<[u8]>,
    /// Where the next record goes.
    head: usize,
    /// The oldest record (or an end-of-lap mark before it).
    tail: usize,
    /// Bytes between tail and head: records plus skipped ends.
    used: usize,
}

impl Ring {
    pub(super) fn new(capacity: usize) -> Ring {
        Ring {
            buf: vec![0; capacity].into_boxed_slice(),
            head: 0,
            tail: 0,
            used: 0,
        }
    }

    /// Whether a record of `len` bytes fits at the head without evicting.
    pub(super) fn fits(&self, len: usize) -> bool {
        let cap = self.buf.len();
        if self.used == 0 {
            return len <= cap;
        }
        if self.head > self.tail {
            cap - self.head >= len || self.tail >= len
        } else if self.head < self.tail {
            self.tail - self.head >= len
        } else {
            false
        }
    }

    /// Appends `record` (its first two bytes are its length); where it went.
    /// The caller checked [`Ring::fits`].
    pub(super) fn push(&mut self, record: &[u8]) -> u32 {
        debug_assert!(self.fits(record.len()) && record.len() >= LEN);
        if self.used == 0 {
            (self.head, self.tail) = (0, 0);
        }
        let cap = self.buf.len();
        if self.head >= self.tail && cap - self.head < record.len() {
            if cap - self.head >= LEN {
                self.buf[self.head..self.head + LEN].fill(0);
            }
            self.used += cap - self.head;
            self.head = 0;
        }
        let at = self.head;
        self.buf[at..at + record.len()].copy_from_slice(record);
        self.head += record.len();
        self.used += record.len();
        at as u32
    }

    /// The oldest record's offset, `None` when empty.
    pub(super) fn front(&mut self) -> Option<u32> {
        if self.used == 0 {
            return None;
        }
        if self.lap_ends_at(self.tail) {
            self.used -= self.buf.len() - self.tail;
            self.tail = 0;
        }
        Some(self.tail as u32)
    }

    /// Drops the oldest record (its bytes stay readable until the next push).
    pub(super) fn pop(&mut self) {
        let Some(at) = self.front() else { return };
        let len = self.len_at(at as usize);
        self.tail += len;
        self.used -= len;
    }

    pub(super) fn record(&self, at: u32) -> &[u8] {
        let at = at as usize;
        &self.buf[at..at + self.len_at(at)]
    }

    pub(super) fn record_mut(&mut self, at: u32) -> &mut [u8] {
        let at = at as usize;
        let len = self.len_at(at);
        &mut self.buf[at..at + len]
    }

    /// Every record's offset, oldest first.
    pub(super) fn offsets(&self) -> Vec<u32> {
        let mut all = Vec::new();
        let (mut at, mut left) = (self.tail, self.used);
        while left > 0 {
            if self.lap_ends_at(at) {
                left -= self.buf.len() - at;
                at = 0;
                continue;
            }
            all.push(at as u32);
            let len = self.len_at(at);
            left -= len;
            at += len;
        }
        all
    }

    /// Bytes held by records and skipped ends.
    #[cfg(test)]
    pub(super) fn used(&self) -> usize {
        self.used
    }

    fn lap_ends_at(&self, at: usize) -> bool {
        self.buf.len() - at < LEN || self.len_at(at) == 0
    }

    fn len_at(&self, at: usize) -> usize {
        usize::from(u16::from_le_bytes([self.buf[at], self.buf[at + 1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(len: usize, fill: u8) -> Vec<u8> {
        let mut r = vec![fill; len];
        r[..2].copy_from_slice(&(len as u16).to_le_bytes());
        r
    }

    #[test]
    fn records_come_back_oldest_first_and_wrap_without_splitting() {
        let mut ring = Ring::new(100);
        let a = ring.push(&record(40, 1));
        let b = ring.push(&record(40, 2));
        assert!(
            !ring.fits(30),
            "20 bytes left at the end, none before the tail"
        );
        assert_eq!(ring.front(), Some(a));
        ring.pop();
        // 20 left at the end is too little: the record goes to offset 0.
        assert!(ring.fits(30));
        let c = ring.push(&record(30, 3));
        assert_eq!(c, 0);
        assert_eq!(ring.offsets(), vec![b, c]);
        assert_eq!(ring.record(b), &record(40, 2)[..]);
        ring.pop();
        // The skipped end is passed over on the way to the wrapped record.
        assert_eq!(ring.front(), Some(c));
        assert_eq!(ring.record(c), &record(30, 3)[..]);
        ring.pop();
        assert_eq!((ring.front(), ring.used()), (None, 0));
    }

    #[test]
    fn an_end_too_short_for_a_mark_is_skipped_too() {
        let mut ring = Ring::new(100);
        ring.push(&record(99, 1));
        ring.pop();
        let a = ring.push(&record(50, 2));
        assert_eq!(a, 0, "an empty ring starts over");
        ring.push(&record(49, 3));
        ring.pop();
        // One byte left at the end: no room for a zero mark.
        let c = ring.push(&record(20, 4));
        assert_eq!(c, 0);
        assert_eq!(ring.offsets().len(), 2);
        ring.pop();
        assert_eq!(ring.front(), Some(0));
        assert_eq!(ring.record(0), &record(20, 4)[..]);
    }

    #[test]
    fn a_full_ring_fits_nothing_until_it_pops() {
        let mut ring = Ring::new(60);
        for i in 0..3 {
            ring.push(&record(20, i));
        }
        assert!(!ring.fits(2));
        ring.pop();
        assert!(ring.fits(20) && !ring.fits(21));
        assert_eq!(ring.push(&record(20, 9)), 0);
        assert_eq!(ring.offsets(), vec![20, 40, 0]);
        ring.record_mut(0)[2] = 7;
        assert_eq!(ring.record(0)[2], 7);
    }
}
