//! `NameTable`: a compact, collision-safe set of names for million-entry lists.
//!
//! The names themselves live in a shared arena (see `arena`); a table is an
//! open-addressing array of 8-byte slots, each a 32-bit tag (high hash bits) and
//! the 32-bit arena offset of the name, at most 2/3 full. A probe usually reads
//! one slot (one cache miss) and stops at an empty slot; a tag match is verified
//! against the stored name, so a hash collision can never block an unlisted name.
//! A bitmask of the label counts present lets the suffix walk skip suffixes
//! (usually the TLD) that no entry could match.

pub use wasmdns_plugin_sdk::name::hash_bytes;

/// Names in the arena end with a byte below this (the record's kind).
pub const TERMINATOR_LIMIT: u8 = 3;

/// A set of names stored in an arena (host spelling: lower-case, no trailing dot).
#[derive(Debug, Default, Clone)]
pub struct NameTable {
    /// `tag << 32 | offset`; 0 is empty (offsets start at 1).
    slots: Vec<u64>,
    /// Bit `k` set when some entry has `k` labels (127 stands for "127 or more").
    label_counts: u128,
    len: usize,
}

impl NameTable {
    /// A table for up to `n` names.
    pub fn with_capacity(n: usize) -> Self {
        let slots = if n == 0 { 0 } else { n + n / 2 + 1 };
        NameTable {
            slots: vec![0; slots],
            label_counts: 0,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of heap this table holds (the arena not included).
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 8
    }

    /// Adds the name stored at `arena[offset..]` (`name` is that text); false when
    /// it is already present or the table is full (sized too small by the caller).
    pub fn insert(&mut self, arena: &[u8], offset: u32, name: &[u8]) -> bool {
        self.insert_hashed(arena, offset, name, hash_bytes(name))
    }

    /// [`Self::insert`] with `hash` = `hash_bytes(name)` already known.
    pub fn insert_hashed(&mut self, arena: &[u8], offset: u32, name: &[u8], hash: u64) -> bool {
        // One slot always stays empty: it is what ends a probe for an absent name.
        if offset == 0 || self.len + 1 >= self.slots.len() {
            return false;
        }
        match self.locate(arena, name, hash) {
            Ok(_) => false,
            Err(empty) => {
                self.slots[empty] = (hash >> 32) << 32 | u64::from(offset);
                self.len += 1;
                self.label_counts |= label_bit(name);
                true
            }
        }
    }

    /// Reads the slot a name hashing to `hash` starts its probe at, so that a
    /// later insert finds it in cache (see `arena::ArenaWriter::finish`).
    pub fn touch(&self, hash: u64) -> u64 {
        if self.slots.is_empty() {
            0
        } else {
            self.slots[self.home(hash)]
        }
    }

    /// True when `name` is in the set.
    pub fn contains(&self, arena: &[u8], name: &str) -> bool {
        self.len != 0 && self.probe(arena, name.as_bytes())
    }

    /// True when `name` or one of its parent domains is in the set.
    pub fn contains_suffix_of(&self, arena: &[u8], name: &str) -> bool {
        if self.len == 0 {
            return false;
        }
        let bytes = name.as_bytes();
        let mut labels = bytes.iter().filter(|&&b| b == b'.').count() + 1;
        let mut start = 0;
        loop {
            let suffix = &bytes[start..];
            if self.label_counts & (1u128 << labels.min(127)) != 0 && self.probe(arena, suffix) {
                return true;
            }
            match suffix.iter().position(|&b| b == b'.') {
                Some(dot) => start += dot + 1,
                None => return false,
            }
            labels -= 1;
        }
    }

    fn probe(&self, arena: &[u8], name: &[u8]) -> bool {
        self.locate(arena, name, hash_bytes(name)).is_ok()
    }

    /// Where `name` (hashing to `hash`) is: `Ok(slot)` when present, else
    /// `Err(slot)`, the empty slot that ended the probe (where it would go).
    fn locate(&self, arena: &[u8], name: &[u8], hash: u64) -> Result<usize, usize> {
        let tag = hash >> 32;
        let mut i = self.home(hash);
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return Err(i);
            }
            if slot >> 32 == tag && stored_name_is(arena, slot, name) {
                return Ok(i);
            }
            i = self.next(i);
        }
    }

    /// Slot for `hash`: its low 32 bits scaled to the table (the tag uses the high ones).
    fn home(&self, hash: u64) -> usize {
        (((hash & 0xffff_ffff) * self.slots.len() as u64) >> 32) as usize
    }

    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() {
            0
        } else {
            i + 1
        }
    }
}

fn label_bit(name: &[u8]) -> u128 {
    let labels = name.iter().filter(|&&b| b == b'.').count() + 1;
    1u128 << labels.min(127)
}

/// True when the record the slot points at is exactly `name`.
fn stored_name_is(arena: &[u8], slot: u64, name: &[u8]) -> bool {
    let start = (slot & 0xffff_ffff) as usize;
    let end = start + name.len();
    arena.get(start..end) == Some(name) && arena.get(end).is_some_and(|&b| b < TERMINATOR_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An arena holding `names` (dummy byte at 0, terminator 1) and a table of them.
    fn table(names: &[&str]) -> (Vec<u8>, NameTable) {
        let mut arena = vec![0u8];
        let mut offsets = Vec::new();
        for name in names {
            offsets.push(arena.len() as u32);
            arena.extend_from_slice(name.as_bytes());
            arena.push(1);
        }
        let mut t = NameTable::with_capacity(names.len());
        for (name, offset) in names.iter().zip(offsets) {
            t.insert(&arena, offset, name.as_bytes());
        }
        (arena, t)
    }

    #[test]
    fn empty_table_contains_nothing() {
        let t = NameTable::with_capacity(0);
        assert!(t.is_empty());
        assert!(!t.contains(&[0], "example.com"));
        assert!(!t.contains_suffix_of(&[0], "a.example.com"));
        assert!(!t.contains(&[0], ""));
    }

    #[test]
    fn exact_and_suffix_lookups_are_label_aligned() {
        let (a, t) = table(&["ads.example.com", "tracker.net"]);
        assert!(t.contains(&a, "ads.example.com"));
        assert!(!t.contains(&a, "www.ads.example.com"));
        assert!(t.contains_suffix_of(&a, "www.ads.example.com"));
        assert!(t.contains_suffix_of(&a, "a.b.c.tracker.net"));
        assert!(!t.contains_suffix_of(&a, "example.com"));
        assert!(!t.contains_suffix_of(&a, "badtracker.net"));
        assert!(!t.contains_suffix_of(&a, "net"));
        assert!(!t.contains_suffix_of(&a, ""));
        // A prefix of a stored name is not the name.
        assert!(!t.contains(&a, "ads.example.co"));
    }

    #[test]
    fn duplicates_are_refused_and_one_slot_stays_empty() {
        let (a, mut t) = table(&["a.com", "b.com"]);
        assert_eq!(t.len(), 2);
        assert!(!t.insert(&a, 1, b"a.com"));
        let mut tiny = NameTable::with_capacity(1); // 2 slots
        assert!(tiny.insert(&a, 1, b"a.com"));
        assert!(!tiny.insert(&a, 7, b"b.com"), "the last empty slot is kept");
        assert!(
            !tiny.contains(&a, "c.com"),
            "a probe for an absent name ends"
        );
        assert!(
            !tiny.insert(&a, 0, b"x.com"),
            "offset 0 is the empty marker"
        );
    }

    #[test]
    fn a_tag_match_is_verified_against_the_stored_name() {
        // Room to spare: the forged slot must leave an empty one to end probes.
        let (a, mut t) = table(&["one.test", "three.test", "four.test"]);
        // Forge what a 32-bit tag collision looks like: a slot at the home of
        // "two.test", with its tag, pointing at "one.test".
        let hash = hash_bytes(b"two.test");
        let home = t.home(hash);
        t.slots[home] = (hash >> 32) << 32 | 1;
        t.label_counts |= label_bit(b"two.test");
        assert!(!t.contains(&a, "two.test"));
        assert!(!t.contains_suffix_of(&a, "www.two.test"));
    }

    #[test]
    fn label_mask_skips_only_impossible_suffixes() {
        let (a, t) = table(&["com", "x.y.z.example.org"]);
        assert!(t.contains_suffix_of(&a, "www.example.com"));
        assert!(t.contains_suffix_of(&a, "a.x.y.z.example.org"));
        assert!(!t.contains_suffix_of(&a, "y.z.example.org"));
    }

    #[test]
    fn every_member_of_a_large_set_is_found_and_others_are_not() {
        let names: Vec<String> = (0..20_000)
            .map(|i| format!("host{i}.example{}.com", i % 97))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (a, t) = table(&refs);
        assert_eq!(t.len(), names.len());
        assert!(names.iter().all(|n| t.contains(&a, n)));
        let misses = (0..20_000)
            .filter(|i| t.contains_suffix_of(&a, &format!("other{i}.example.org")))
            .count();
        assert_eq!(misses, 0);
    }
}
