//! [`SeenFilter`]: the memo's admission test, one bit per hash, so a question is
//! kept only when it is offered a second time.

/// Questions offered once since the filter was last cleared.
pub struct SeenFilter {
    words: Box<[u64]>,
    /// Bits set in `words`.
    set: usize,
}

impl SeenFilter {
    /// A filter for a table of `entries`: 32 bits an entry, cleared at an eighth
    /// full, so at most one one-off question in eight gets in by a false hit (and
    /// ~2 KiB a shard at the default size).
    pub fn new(entries: usize) -> SeenFilter {
        let words = (entries * 32).div_ceil(64).next_power_of_two();
        SeenFilter {
            words: vec![0; words].into_boxed_slice(),
            set: 0,
        }
    }

    /// Whether `hash` was offered before; remembers it if not.
    pub fn seen_before(&mut self, hash: u64) -> bool {
        // Bits 16..: the tables use the low bits and the top 7, the shard 48..51.
        let bit = (hash >> 16) as usize % (self.words.len() * 64);
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        if self.words[word] & mask != 0 {
            return true;
        }
        if self.set >= self.words.len() * 8 {
            self.words.fill(0);
            self.set = 0;
        }
        self.words[word] |= mask;
        self.set += 1;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spreads `i` over the bits the filter reads, as a hasher would.
    fn hash(i: u64) -> u64 {
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    #[test]
    fn a_hash_is_seen_the_second_time() {
        let mut f = SeenFilter::new(64);
        assert!(!f.seen_before(hash(1)));
        assert!(f.seen_before(hash(1)));
        assert!(!f.seen_before(hash(2)));
    }

    #[test]
    fn false_hits_stay_under_one_in_eight_and_the_filter_clears() {
        let mut f = SeenFilter::new(512);
        let bits = f.words.len() * 64;
        let n = 100_000;
        let false_hits = (0..n).filter(|&i| f.seen_before(hash(i))).count();
        assert!(false_hits < n as usize / 8, "{false_hits} of {n}");
        assert!(
            f.set <= bits / 8,
            "cleared at an eighth: {} of {bits}",
            f.set
        );
    }
}
