//! Per-store memory limit summed over all linear memories and tables.

use wasmtime::ResourceLimiter;

/// Bytes per table element charged against the limit (a pointer-sized slot).
const TABLE_ELEMENT_BYTES: usize = 8;

/// Refuses any grow that would push the store's total past `limit` bytes and
/// remembers that it did, so the resulting trap is classified as "memory".
#[derive(Debug)]
pub struct MemoryLimiter {
    limit: usize,
    used: usize,
    breached: bool,
}

impl MemoryLimiter {
    pub fn new(limit: usize) -> MemoryLimiter {
        MemoryLimiter {
            limit,
            used: 0,
            breached: false,
        }
    }

    /// True once a grow was refused; stays true for the store's life.
    pub fn breached(&self) -> bool {
        self.breached
    }

    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used
    }

    fn grow(&mut self, current: usize, desired: usize) -> bool {
        let total = self.used.saturating_sub(current).saturating_add(desired);
        if total > self.limit {
            self.breached = true;
            return false;
        }
        self.used = total;
        true
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.grow(current, desired))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let bytes = |n: usize| n.saturating_mul(TABLE_ELEMENT_BYTES);
        Ok(self.grow(bytes(current), bytes(desired)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_over_memories_and_refuses_past_limit() {
        let mut l = MemoryLimiter::new(100);
        assert!(l.memory_growing(0, 40, None).unwrap());
        assert!(l.memory_growing(0, 40, None).unwrap()); // a second memory
        assert_eq!(l.used(), 80);
        assert!(!l.memory_growing(40, 61, None).unwrap());
        assert!(l.breached());
        assert_eq!(l.used(), 80);
        assert!(l.memory_growing(40, 60, None).unwrap()); // exactly at the limit
        assert_eq!(l.used(), 100);
    }

    #[test]
    fn tables_count_against_the_same_budget() {
        let mut l = MemoryLimiter::new(100);
        assert!(l.memory_growing(0, 90, None).unwrap());
        assert!(l.table_growing(0, 1, None).unwrap());
        assert!(!l.table_growing(1, 2, None).unwrap());
        assert!(!l.memory_growing(0, usize::MAX, None).unwrap());
    }
}
