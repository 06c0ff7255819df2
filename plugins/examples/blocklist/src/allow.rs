//! `AllowSet`: the allowlist, kept as the names themselves.
//!
//! Unlike the block sets (`fingerprint`), a false match here would let a blocked
//! name through, and with an unkeyed hash whoever owns a blocked domain could
//! search its subdomains for one whose hash equals an allowed name's. Allowlists
//! are short (hand-written names, adblock `@@` exceptions), so keeping the names
//! costs little and every match is exact. The allowlist is only consulted for
//! names a block set matched, so its lookup cost is off the common path.

use wasmdns_plugin_sdk::name::{self, NameSet};

/// Allowed names (host spelling); a name below one of them is allowed too.
#[derive(Debug, Default, Clone)]
pub struct AllowSet {
    names: NameSet,
    /// Bytes of the names' own heap buffers, for [`Self::heap_bytes`].
    text_bytes: usize,
}

impl AllowSet {
    /// Adds `name` (host spelling).
    pub fn insert(&mut self, name: &str) {
        if !self.names.contains(name) {
            self.text_bytes += name.len();
            self.names.insert(name.to_owned());
        }
    }

    /// Distinct names held.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Approximate heap bytes: the table's slots (a `String` and a control byte
    /// each) and the names' text.
    pub fn heap_bytes(&self) -> usize {
        self.names.capacity() * (std::mem::size_of::<String>() + 1) + self.text_bytes
    }

    /// True when `name` or one of its parent domains is allowed.
    pub fn contains_suffix_of(&self, name: &str) -> bool {
        !self.is_empty() && name::suffixes(name).any(|suffix| self.names.contains(suffix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_matches_are_exact_and_label_aligned() {
        let mut allow = AllowSet::default();
        allow.insert("ok.ads.example");
        allow.insert("ok.ads.example");
        assert_eq!(allow.len(), 1);
        assert!(allow.contains_suffix_of("ok.ads.example"));
        assert!(allow.contains_suffix_of("a.b.ok.ads.example"));
        assert!(!allow.contains_suffix_of("ads.example"));
        assert!(!allow.contains_suffix_of("notok.ads.example"));
        assert!(!allow.contains_suffix_of(""));
        assert!(allow.heap_bytes() >= "ok.ads.example".len());
        assert!(AllowSet::default().is_empty());
        assert!(!AllowSet::default().contains_suffix_of("ok.ads.example"));
    }
}
