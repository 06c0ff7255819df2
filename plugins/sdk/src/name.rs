//! Domain-name helpers in the host's spelling: lower-case, no trailing dot.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Longest name in presentation form without the trailing dot (RFC 1035 §2.3.4:
/// 255 wire octets).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// Brings a name from a config or a list into the spelling the host uses for
/// `Question::name`: ASCII lower-case, one trailing dot removed. Returns `None`
/// for anything that can never match a question: empty names, empty or over-long
/// labels, over-long names, and bytes outside `[A-Za-z0-9-_]` (non-ASCII names
/// must be given in their `xn--` form).
pub fn normalize(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    is_valid(name).then(|| name.to_ascii_lowercase())
}

/// The check behind [`normalize`], without allocating: `name` (no trailing dot)
/// is non-empty, within the length limits and made of `[A-Za-z0-9-_]` labels.
pub fn is_valid(name: &str) -> bool {
    scan(name, |_| {})
}

/// [`normalize`] into a reused buffer: `out` gets the name in host spelling and
/// the result says whether it is valid (`out` then holds a partial copy). For
/// loaders that see a million names: one pass, no allocation per name.
pub fn normalize_into(name: &str, out: &mut Vec<u8>) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    out.clear();
    scan(name, |b| out.push(b.to_ascii_lowercase()))
}

/// Checks `name` as [`is_valid`] does, handing each byte to `each` on the way.
fn scan(name: &str, mut each: impl FnMut(u8)) -> bool {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return false;
    }
    // One pass over the bytes: lists hold a million names, and this runs for
    // every one of them while a plugin loads.
    let mut label = 0;
    for &b in name.as_bytes() {
        if b == b'.' {
            if label == 0 {
                return false;
            }
            label = 0;
        } else if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            label += 1;
            if label > MAX_LABEL_LEN {
                return false;
            }
        } else {
            return false;
        }
        each(b);
    }
    label != 0
}

/// The name and each of its parent domains, longest first:
/// `www.ads.example.com`, `ads.example.com`, `example.com`, `com`.
/// The root ("") yields only "".
pub fn suffixes(name: &str) -> Suffixes<'_> {
    Suffixes { rest: Some(name) }
}

/// Iterator returned by [`suffixes`].
#[derive(Debug, Clone)]
pub struct Suffixes<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for Suffixes<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let current = self.rest?;
        self.rest = current.find('.').map(|dot| &current[dot + 1..]);
        Some(current)
    }
}

/// True when `name` is `domain` or lies below it (label-wise, so `badexample.com`
/// is not below `example.com`). Both in host spelling.
pub fn is_subdomain_of(name: &str, domain: &str) -> bool {
    match name.strip_suffix(domain) {
        Some("") => true,
        Some(prefix) => domain.is_empty() || prefix.ends_with('.'),
        None => false,
    }
}

/// A fast 64-bit hash for short strings: 8 bytes per step, each a 64-bit
/// multiply, then a full avalanche (MurmurHash3's finaliser), so both the low and
/// the high half are usable. Only 64-bit multiplies: wasm has no 64x64->128 one,
/// and a folded-multiply hash costs a `__multi3` call per word there. Not keyed:
/// use it for tables whose keys come from the config, which query names can
/// probe but never grow.
///
/// Each step `h -> rotl((h ^ word) * K, 31)` is a bijection of the 64-bit state
/// for a fixed word and of the word for a fixed state (K is odd), and the
/// finaliser is a bijection too, so two inputs of the same length never share a
/// hash. But it is public and invertible: anyone can construct a string with a
/// given hash. So never let a match on it alone decide anything, in either
/// direction: a set that keeps only hashes of listed names (the blocklist's
/// fingerprints) needs a secret key, or a crafted list entry could stand for any
/// name; the blocklist uses std's keyed SipHash for them.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(31);
    }
    let tail = chunks.remainder();
    let mut word = [0u8; 8];
    word[..tail.len()].copy_from_slice(tail);
    h = (h ^ u64::from_le_bytes(word)).wrapping_mul(K);
    avalanche(h)
}

/// MurmurHash3's 64-bit finaliser: every input bit flips each output bit with
/// probability close to 1/2.
fn avalanche(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// [`Hasher`] over [`hash_bytes`] for maps keyed by names: several times cheaper
/// per lookup than the default SipHash, which a plugin pays on every query.
#[derive(Debug, Default, Clone, Copy)]
pub struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = self.0.rotate_left(29) ^ hash_bytes(bytes);
    }

    /// `str` hashes its bytes then a 0xff marker: mix it in without a full round.
    fn write_u8(&mut self, byte: u8) {
        self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` keyed by names (or any string), hashed with [`NameHasher`].
pub type NameMap<V> = HashMap<String, V, BuildHasherDefault<NameHasher>>;
/// A `HashSet` of names, hashed with [`NameHasher`].
pub type NameSet = HashSet<String, BuildHasherDefault<NameHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_lowercases_and_strips_one_trailing_dot() {
        assert_eq!(
            normalize("WWW.Example.COM.").as_deref(),
            Some("www.example.com")
        );
        assert_eq!(normalize("a_b-c.example").as_deref(), Some("a_b-c.example"));
        assert_eq!(
            normalize("xn--bcher-kva.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(normalize("com").as_deref(), Some("com"));
    }

    #[test]
    fn normalize_rejects_names_that_cannot_match() {
        for bad in [
            "",
            ".",
            "a..b",
            ".a",
            "a.b..",
            "*.example.com",
            "bücher.de",
            "a b",
            "a/b",
            "a\\046b",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn normalize_into_agrees_with_normalize() {
        let mut out = Vec::with_capacity(MAX_NAME_LEN);
        for name in [
            "WWW.Example.COM.",
            "a_b-c.example",
            "com",
            "",
            ".",
            "a..b",
            "*.x",
            "bücher.de",
            "a.",
        ] {
            let ok = normalize_into(name, &mut out);
            assert_eq!(
                ok.then(|| String::from_utf8(out.clone()).unwrap()),
                normalize(name),
                "{name:?}"
            );
        }
    }

    #[test]
    fn is_valid_does_not_strip_the_trailing_dot() {
        assert!(is_valid("Example.com"));
        assert!(!is_valid("example.com."));
        assert!(!is_valid(""));
    }

    #[test]
    fn normalize_enforces_label_and_name_limits() {
        let label63 = "a".repeat(63);
        assert!(normalize(&format!("{label63}.com")).is_some());
        assert!(normalize(&format!("{}a.com", label63)).is_none());
        let long: Vec<String> = (0..63).map(|_| "abc".to_owned()).collect();
        let name = long.join("."); // 63*4-1 = 251 bytes
        assert_eq!(name.len(), 251);
        assert!(normalize(&name).is_some());
        assert!(normalize(&format!("{name}.ab")).is_none()); // 254 bytes
        assert!(normalize(&format!("{name}.a")).is_some()); // 253 bytes
    }

    #[test]
    fn hash_bytes_spreads_similar_names_over_both_halves() {
        // Tables take the slot from the low half and a tag from the high one.
        let n = 1 << 16;
        let hashes: Vec<u64> = (0..n)
            .map(|i| hash_bytes(format!("host{i}.example{}.com", i % 97).as_bytes()))
            .collect();
        let distinct = |f: &dyn Fn(u64) -> u64| {
            let mut seen = vec![false; n];
            hashes
                .iter()
                .filter(|&&h| !std::mem::replace(&mut seen[f(h) as usize], true))
                .count()
        };
        // n balls in n bins: about n * (1 - 1/e) = 41,427 bins hit if uniform.
        let low = distinct(&|h| ((h & 0xffff_ffff) * n as u64) >> 32);
        let high = distinct(&|h| h >> 48);
        assert!(low > 40_500 && high > 40_500, "low {low}, high {high}");
        let mut all = hashes.clone();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "no two names collide on all 64 bits");
        // Length is mixed in: zero padding of the tail word does not collide.
        assert_ne!(hash_bytes(b"a"), hash_bytes(b"a\0"));
        assert_ne!(hash_bytes(b""), hash_bytes(b"\0"));
    }

    #[test]
    fn suffixes_walk_up_to_the_tld() {
        let all: Vec<&str> = suffixes("www.ads.example.com").collect();
        assert_eq!(
            all,
            [
                "www.ads.example.com",
                "ads.example.com",
                "example.com",
                "com"
            ]
        );
        assert_eq!(suffixes("com").collect::<Vec<_>>(), ["com"]);
        assert_eq!(suffixes("").collect::<Vec<_>>(), [""]);
    }

    #[test]
    fn subdomain_is_label_aligned() {
        assert!(is_subdomain_of("example.com", "example.com"));
        assert!(is_subdomain_of("a.b.example.com", "example.com"));
        assert!(!is_subdomain_of("badexample.com", "example.com"));
        assert!(!is_subdomain_of("example.com", "a.example.com"));
        assert!(is_subdomain_of("anything", ""));
        assert!(!is_subdomain_of("com", "example.com"));
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
    fn name_maps_find_what_was_inserted() {
        let mut map = NameMap::default();
        for i in 0..1000 {
            map.insert(format!("host{i}.example"), i);
        }
        assert!((0..1000).all(|i| map.get(format!("host{i}.example").as_str()) == Some(&i)));
        assert_eq!(map.get("host1000.example"), None);
        let set: NameSet = ["a.test".to_owned()].into_iter().collect();
        assert!(set.contains("a.test") && !set.contains("b.test"));
    }
}
