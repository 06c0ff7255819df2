//! `DomainSet`: a compact set of domain names for million-entry blocklists.
//!
//! Names are stored as 64-bit hashes only (8 bytes each) in a sorted array with a
//! bucket index on the top hash bits, ~9–10 bytes per name in all; a lookup reads
//! one index slot and scans 2–4 neighbouring hashes. Names are not kept, so a hash
//! collision could block an unlisted name: with n names the chance per lookup is
//! about n / 2^64 (5·10^-14 for a million), and as lookups never insert, a
//! crafted query can at worst get its own query blocked.

/// A set of names (host spelling: lower-case, no trailing dot).
#[derive(Debug, Default, Clone)]
pub struct DomainSet {
    /// Sorted, deduplicated hashes.
    hashes: Vec<u64>,
    /// `index[b]..index[b + 1]` is the run of hashes whose top `bits` bits are `b`.
    index: Vec<u32>,
    bits: u32,
}

impl DomainSet {
    /// Builds the set from name hashes (see [`hash_name`]), in any order.
    pub fn from_hashes(mut hashes: Vec<u64>) -> Self {
        hashes.sort_unstable();
        hashes.dedup();
        hashes.shrink_to_fit();
        // ~2–4 hashes per bucket: one cache line to scan after the index read.
        let bits = hashes.len().max(1).ilog2().saturating_sub(1);
        let buckets = 1usize << bits;
        let mut index = Vec::with_capacity(buckets + 1);
        let mut position = 0usize;
        for bucket in 0..buckets as u64 {
            while position < hashes.len() && bucket_of(hashes[position], bits) < bucket {
                position += 1;
            }
            index.push(position as u32);
        }
        index.push(hashes.len() as u32);
        DomainSet {
            hashes,
            index,
            bits,
        }
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Bytes of heap this set holds.
    pub fn heap_bytes(&self) -> usize {
        self.hashes.capacity() * 8 + self.index.capacity() * 4
    }

    /// True when `name` (host spelling) is in the set.
    pub fn contains(&self, name: &str) -> bool {
        !self.hashes.is_empty() && self.contains_hash(hash_bytes(name.as_bytes()))
    }

    /// True when `name` or one of its parent domains is in the set.
    pub fn contains_suffix_of(&self, name: &str) -> bool {
        !self.hashes.is_empty()
            && wasmdns_plugin_sdk::name::suffixes(name)
                .any(|suffix| self.contains_hash(hash_bytes(suffix.as_bytes())))
    }

    fn contains_hash(&self, hash: u64) -> bool {
        let bucket = bucket_of(hash, self.bits) as usize;
        let (start, end) = (self.index[bucket] as usize, self.index[bucket + 1] as usize);
        self.hashes[start..end].contains(&hash)
    }
}

fn bucket_of(hash: u64, bits: u32) -> u64 {
    if bits == 0 {
        0
    } else {
        hash >> (64 - bits)
    }
}

/// Hashes a list entry: validates it, lower-cases it and drops one trailing dot,
/// so that it hashes like the host's spelling of the same name. `None` when the
/// entry can never match a question.
pub fn hash_name(raw: &str) -> Option<u64> {
    let name = raw.strip_suffix('.').unwrap_or(raw);
    if !wasmdns_plugin_sdk::name::is_valid(name) {
        return None;
    }
    let mut lower = [0u8; wasmdns_plugin_sdk::name::MAX_NAME_LEN];
    let lower = &mut lower[..name.len()];
    lower.copy_from_slice(name.as_bytes());
    lower.make_ascii_lowercase();
    Some(hash_bytes(lower))
}

/// A fast 64-bit hash for short strings (folded multiply, as in wyhash):
/// 8 bytes per step, good enough avalanche for a set keyed on the hash alone.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    const K0: u64 = 0xa076_1d64_78bd_642f;
    const K1: u64 = 0xe703_7ed1_a0b4_28db;
    const K2: u64 = 0x8ebc_6af0_9c88_c6e3;
    let mut h = K0 ^ (bytes.len() as u64).wrapping_mul(K1);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = fold(h ^ u64::from_le_bytes(word), K1);
    }
    let tail = chunks.remainder();
    let mut word = [0u8; 8];
    word[..tail.len()].copy_from_slice(tail);
    h = fold(h ^ u64::from_le_bytes(word), K2);
    fold(h, K0)
}

fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b ^ 0x5851_f42d_4c95_7f2d);
    (product as u64) ^ ((product >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> DomainSet {
        DomainSet::from_hashes(names.iter().map(|n| hash_name(n).unwrap()).collect())
    }

    #[test]
    fn empty_set_contains_nothing() {
        let s = DomainSet::from_hashes(Vec::new());
        assert!(s.is_empty());
        assert!(!s.contains("example.com"));
        assert!(!s.contains_suffix_of("a.example.com"));
        assert!(!s.contains(""));
    }

    #[test]
    fn exact_and_suffix_lookups() {
        let s = set(&["ads.example.com", "tracker.net"]);
        assert!(s.contains("ads.example.com"));
        assert!(!s.contains("www.ads.example.com"));
        assert!(s.contains_suffix_of("www.ads.example.com"));
        assert!(s.contains_suffix_of("a.b.c.tracker.net"));
        assert!(!s.contains_suffix_of("example.com"));
        assert!(!s.contains_suffix_of("badtracker.net"));
        assert!(!s.contains_suffix_of("net"));
    }

    #[test]
    fn entries_are_normalised_but_queries_are_taken_as_given() {
        let s = set(&["ADS.Example.COM."]);
        assert!(s.contains("ads.example.com"));
        // The host always lower-cases; an upper-case query is not host spelling.
        assert!(!s.contains("ADS.example.com"));
    }

    #[test]
    fn duplicates_collapse() {
        let s = set(&["a.com", "A.com", "a.com.", "b.com"]);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn invalid_entries_do_not_hash() {
        for bad in ["", ".", "*.ads.com", "a..b", "bücher.de", "a b"] {
            assert_eq!(hash_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hash_distinguishes_length_and_every_byte_position() {
        let base = "abcdefghijklmnopq"; // two full words and a tail
        let h = hash_bytes(base.as_bytes());
        for i in 0..base.len() {
            let mut changed = base.as_bytes().to_vec();
            changed[i] ^= 1;
            assert_ne!(hash_bytes(&changed), h, "byte {i}");
        }
        assert_ne!(hash_bytes(b"a"), hash_bytes(b"a\0"));
        assert_ne!(hash_bytes(b""), hash_bytes(b"\0"));
    }

    #[test]
    fn every_member_of_a_large_set_is_found_and_others_are_not() {
        let names: Vec<String> = (0..20_000)
            .map(|i| format!("host{i}.example{}.com", i % 97))
            .collect();
        let s = DomainSet::from_hashes(names.iter().map(|n| hash_name(n).unwrap()).collect());
        assert_eq!(s.len(), names.len());
        assert!(names.iter().all(|n| s.contains(n)));
        let misses = (0..20_000)
            .filter(|i| s.contains(&format!("other{i}.example.org")))
            .count();
        assert_eq!(misses, 0);
    }

    #[test]
    fn index_covers_every_bucket_size() {
        for n in [1usize, 2, 3, 4, 5, 7, 8, 9, 1000] {
            let names: Vec<String> = (0..n).map(|i| format!("n{i}.test")).collect();
            let s = DomainSet::from_hashes(names.iter().map(|x| hash_name(x).unwrap()).collect());
            assert!(names.iter().all(|x| s.contains(x)), "n={n}");
            assert!(!s.contains("absent.test"), "n={n}");
        }
    }
}
