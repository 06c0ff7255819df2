//! [`PassThrough`]: moka's hasher for keys that already are secret-keyed hashes.
//!
//! The cache hashes each question once, under its own random key; hashing that
//! `u64` again with SipHash on every lookup would buy nothing.

use std::hash::{BuildHasher, Hasher};

/// Builds [`Passed`] hashers.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PassThrough;

/// Returns the `u64` written to it as the hash.
#[derive(Debug, Default)]
pub(crate) struct Passed(u64);

impl BuildHasher for PassThrough {
    type Hasher = Passed;

    fn build_hasher(&self) -> Passed {
        Passed(0)
    }
}

impl Hasher for Passed {
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    /// Only `u64` keys are hashed with it; anything else is folded in (FNV-1a)
    /// so it stays a correct, if slow, hasher.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_u64_hashes_to_itself() {
        for n in [0, 1, 0xdead_beef_0bad_f00d, u64::MAX] {
            assert_eq!(PassThrough.hash_one(n), n);
        }
    }

    #[test]
    fn other_input_still_distinguishes() {
        assert_ne!(PassThrough.hash_one(b"ab"), PassThrough.hash_one(b"ba"));
    }
}
