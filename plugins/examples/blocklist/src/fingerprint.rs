//! `FingerprintSet`: a set of names kept as 64-bit hashes, 8 bytes per name plus
//! a small directory, for million-entry blocklists.
//!
//! The hashes are sorted and deduplicated in one `Vec<u64>`; a directory indexed
//! by a hash's top bits holds where each bucket starts, with about 4 hashes per
//! bucket. A lookup hashes the name, reads two directory entries (one cache
//! line) and scans a few adjacent hashes (usually one more). There is no load
//! factor and no per-name pointer: ~9–10 bytes per name, against 12 MB of slots
//! plus the name text (~28 MB) that a verified hash table needed at 1M names.
//!
//! The names themselves are not kept, so a lookup cannot verify a match: an
//! unlisted name whose hash equals a listed name's is taken as listed. The hash
//! is SipHash-1-3 under a random 128-bit key drawn per set (std's `RandomState`,
//! seeded through `wasi:random`), so it behaves as a random function of the name
//! that nobody outside the instance can compute: a lookup in a set of n names
//! errs with probability ≈ n/2^64, 5e-14 at 1M names, about one wrong block per
//! 20 trillion queries, and a wrong match can only block, never let a blocked
//! name through.
//!
//! Why keyed, and not the SDK's faster `hash_bytes`: that hash is public and
//! invertible, so anyone could compute a valid-looking name whose hash equals
//! `bank.example`'s and get it into a community blocklist; every proxy loading
//! that list would then block the bank. With a secret key per instance, a
//! collision cannot be aimed. (Seeding `hash_bytes` would not do: its first step
//! lets a chosen difference in the first word cancel the seed.) The cost is a few
//! tens of nanoseconds per name hashed, at load and per suffix looked up. The
//! allowlist goes further and keeps its names (`allow`): a wrong match there
//! would unblock.

use std::hash::{BuildHasher, RandomState};

/// Target number of hashes per directory bucket.
const PER_BUCKET: usize = 4;

/// A set of names (host spelling: lower-case, no trailing dot) as fingerprints.
#[derive(Debug, Default, Clone)]
pub struct FingerprintSet {
    /// Sorted, distinct hashes of the names under `key`.
    hashes: Vec<u64>,
    /// `directory[b]` is the index of the first hash whose top `bits` bits are
    /// `>= b`; one entry past the last bucket closes it.
    directory: Vec<u32>,
    /// Top bits of a hash that pick its bucket (0: one bucket).
    bits: u32,
    /// Bit `k` set when some name has `k` labels (127 stands for "127 or more"):
    /// the suffix walk skips suffixes no name can match (usually the TLD).
    label_counts: u128,
    /// The secret SipHash key of this set's hashes.
    key: RandomState,
}

/// Collects the hashes of a set's names while the lists are read.
#[derive(Debug, Default)]
pub struct FingerprintBuilder {
    hashes: Vec<u64>,
    label_counts: u128,
    /// Drawn here, handed to the set.
    key: RandomState,
}

impl FingerprintBuilder {
    /// Adds `name` (host spelling); duplicates are dropped by [`Self::finish`].
    pub fn insert(&mut self, name: &[u8]) {
        self.hashes.push(self.key.hash_one(name));
        self.label_counts |= label_bit(name);
    }

    /// Sorts and deduplicates the hashes in place and builds the directory.
    pub fn finish(self) -> FingerprintSet {
        let FingerprintBuilder {
            mut hashes,
            label_counts,
            key,
        } = self;
        hashes.sort_unstable();
        hashes.dedup();
        hashes.shrink_to_fit();
        // A wasm32 instance cannot hold 2^32 hashes (32 GiB): u32 indexes suffice.
        let bits = hashes
            .len()
            .div_ceil(PER_BUCKET)
            .next_power_of_two()
            .trailing_zeros();
        let buckets = 1usize << bits;
        let mut directory = Vec::with_capacity(buckets + 1);
        let mut next = 0;
        for bucket in 0..buckets {
            while next < hashes.len() && bucket_of(hashes[next], bits) < bucket {
                next += 1;
            }
            directory.push(next as u32);
        }
        directory.push(hashes.len() as u32);
        FingerprintSet {
            hashes,
            directory,
            bits,
            label_counts,
            key,
        }
    }
}

impl FingerprintSet {
    /// Distinct names held.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Bytes of heap this set holds.
    pub fn heap_bytes(&self) -> usize {
        self.hashes.capacity() * 8 + self.directory.capacity() * 4
    }

    /// True when `name` is in the set (or shares its 64-bit hash with a member).
    pub fn contains(&self, name: &str) -> bool {
        !self.is_empty() && self.contains_bytes(name.as_bytes())
    }

    /// True when `name` or one of its parent domains is in the set.
    pub fn contains_suffix_of(&self, name: &str) -> bool {
        if self.is_empty() {
            return false;
        }
        // The SDK's `name::suffixes` walks the same suffixes, but through it a
        // lookup measured 45 -> 65 ns for an unlisted 4-label name (native
        // `measure`, alternating builds): this runs for every query.
        let bytes = name.as_bytes();
        let mut labels = bytes.iter().filter(|&&b| b == b'.').count() + 1;
        let mut start = 0;
        loop {
            let suffix = &bytes[start..];
            if self.label_counts & (1u128 << labels.min(127)) != 0 && self.contains_bytes(suffix) {
                return true;
            }
            match suffix.iter().position(|&b| b == b'.') {
                Some(dot) => start += dot + 1,
                None => return false,
            }
            labels -= 1;
        }
    }

    fn contains_bytes(&self, name: &[u8]) -> bool {
        let hash = self.key.hash_one(name);
        let bucket = bucket_of(hash, self.bits);
        let (Some(&from), Some(&to)) = (self.directory.get(bucket), self.directory.get(bucket + 1))
        else {
            return false;
        };
        self.hashes
            .get(from as usize..to as usize)
            .is_some_and(|run| run.contains(&hash))
    }
}

/// The bucket of `hash`: its top `bits` bits.
fn bucket_of(hash: u64, bits: u32) -> usize {
    hash.checked_shr(64 - bits).unwrap_or(0) as usize
}

fn label_bit(name: &[u8]) -> u128 {
    let labels = name.iter().filter(|&&b| b == b'.').count() + 1;
    1u128 << labels.min(127)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> FingerprintSet {
        let mut b = FingerprintBuilder::default();
        for name in names {
            b.insert(name.as_bytes());
        }
        b.finish()
    }

    #[test]
    fn empty_set_contains_nothing() {
        let s = set(&[]);
        assert!(s.is_empty());
        assert!(!s.contains("example.com") && !s.contains(""));
        assert!(!s.contains_suffix_of("a.example.com"));
        assert_eq!(s.directory, [0, 0], "one empty bucket");
    }

    #[test]
    fn exact_and_suffix_lookups_are_label_aligned() {
        let s = set(&["ads.example.com", "tracker.net"]);
        assert!(s.contains("ads.example.com"));
        assert!(!s.contains("www.ads.example.com"));
        assert!(!s.contains("ads.example.co"), "a prefix is another name");
        assert!(s.contains_suffix_of("www.ads.example.com"));
        assert!(s.contains_suffix_of("a.b.c.tracker.net"));
        assert!(!s.contains_suffix_of("example.com"));
        assert!(!s.contains_suffix_of("badtracker.net"));
        assert!(!s.contains_suffix_of("net"));
        assert!(!s.contains_suffix_of(""));
    }

    #[test]
    fn each_set_hashes_under_its_own_secret_key() {
        let names = ["ads.example.com", "tracker.net", "x.y.z.test"];
        let (a, b) = (set(&names), set(&names));
        assert_ne!(a.hashes, b.hashes, "the same names, different fingerprints");
        assert!(names.iter().all(|n| a.contains(n) && b.contains(n)));
        assert!(!a.contains("example.com") && !b.contains("example.com"));
    }

    #[test]
    fn duplicates_are_stored_once() {
        let mut b = FingerprintBuilder::default();
        for name in ["a.com", "b.com", "a.com", "a.com"] {
            b.insert(name.as_bytes());
        }
        assert_eq!(b.hashes.len(), 4);
        let s = b.finish();
        assert_eq!(s.len(), 2);
        assert!(s.contains("a.com") && s.contains("b.com"));
    }

    #[test]
    fn label_mask_skips_only_impossible_suffixes() {
        let s = set(&["com", "x.y.z.example.org"]);
        assert!(s.contains_suffix_of("www.example.com"));
        assert!(s.contains_suffix_of("a.x.y.z.example.org"));
        assert!(!s.contains_suffix_of("y.z.example.org"));
    }

    #[test]
    fn directory_has_about_four_hashes_per_bucket_and_covers_all() {
        for n in [1, 3, 4, 5, 17, 1000, 4096, 4097] {
            let names: Vec<String> = (0..n).map(|i| format!("h{i}.test")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let s = set(&refs);
            let buckets = s.directory.len() - 1;
            assert!(buckets.is_power_of_two(), "{n}");
            assert!(
                buckets * PER_BUCKET >= n && buckets * PER_BUCKET < 2 * n.max(4),
                "{n}: {buckets}"
            );
            assert!(
                s.directory.windows(2).all(|w| w[0] <= w[1]),
                "{n}: monotonic"
            );
            assert_eq!(*s.directory.last().unwrap() as usize, n);
            assert!(names.iter().all(|name| s.contains(name)), "{n}");
        }
    }

    #[test]
    fn every_member_of_a_large_set_is_found_and_others_are_not() {
        let names: Vec<String> = (0..50_000)
            .map(|i| format!("host{i}.example{}.com", i % 97))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let s = set(&refs);
        assert_eq!(s.len(), names.len(), "no two names share a hash");
        assert!(names
            .iter()
            .all(|n| s.contains(n) && s.contains_suffix_of(&format!("www.{n}"))));
        let false_hits = (0..50_000)
            .filter(|i| s.contains_suffix_of(&format!("other{i}.example.org")))
            .count();
        assert_eq!(false_hits, 0);
        // 9–10 bytes per name: the hashes and a directory of 1–2 bytes per name.
        let per_name = s.heap_bytes() as f64 / names.len() as f64;
        assert!((8.0..=10.0).contains(&per_name), "{per_name}");
    }
}
