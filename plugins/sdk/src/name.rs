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
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return false;
    }
    name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
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

/// A fast 64-bit hash for short strings (folded multiply, as in wyhash): 8 bytes
/// per step. Not keyed: use it for tables whose keys come from the config, which
/// query names can probe but never grow.
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
