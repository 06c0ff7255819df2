//! `Arena`: every listed name, stored back to back in the config's own buffer.
//!
//! The config JSON (list contents included, tens of MiB for a million names)
//! is the largest thing a blocklist instance ever holds, and wasm memory never
//! shrinks. So names are written, normalised, over the JSON text already read:
//! each name is shorter than the text it came from, so the write position never
//! passes the read position. The buffer is then cut to the names and the freed
//! tail is where the hash tables get allocated: the peak stays at about the size
//! of the config text.
//!
//! Record: the name's bytes, then one byte naming its set ([`EXACT`],
//! [`SUBDOMAIN`], [`ALLOW`]); names use `[a-z0-9-_.]` only, so the byte also ends
//! the name. Offset 0 holds a dummy byte so that records start at 1.

use crate::set::{hash_bytes, NameTable, TERMINATOR_LIMIT};

/// Records whose table slots are read ahead together (see [`ArenaWriter::finish`]).
const BATCH: usize = 16;

pub const EXACT: u8 = 0;
pub const SUBDOMAIN: u8 = 1;
pub const ALLOW: u8 = 2;
const _: () = assert!(ALLOW < TERMINATOR_LIMIT);

/// Writes records over an already-read buffer.
pub struct ArenaWriter {
    buf: Vec<u8>,
    written: usize,
    counts: [usize; 3],
}

/// The finished arena and one table per kind.
pub struct Sets {
    pub arena: Vec<u8>,
    pub exact: NameTable,
    pub subdomain: NameTable,
    pub allow: NameTable,
}

impl ArenaWriter {
    /// Takes over `buf` (the config text); records start at offset 1.
    pub fn new(mut buf: Vec<u8>) -> Self {
        if buf.is_empty() {
            buf.push(0);
        }
        ArenaWriter {
            buf,
            written: 1,
            counts: [0; 3],
        }
    }

    /// The whole buffer: records below [`Self::position`], unread text above.
    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// Where the next record goes; it must stay at or below the read position.
    #[cfg(test)]
    pub fn position(&self) -> usize {
        self.written
    }

    /// Stores `raw` (one trailing dot dropped, lower-cased) as a record of `kind`
    /// if it is a valid name; false otherwise. `read` is the reader's position:
    /// a record that would reach past it is refused rather than overwrite unread
    /// text (impossible by construction, see the module doc).
    pub fn push(&mut self, raw: &str, kind: u8, read: usize) -> bool {
        let name = raw.strip_suffix('.').unwrap_or(raw);
        if !wasmdns_plugin_sdk::name::is_valid(name) || kind >= TERMINATOR_LIMIT {
            return false;
        }
        let start = self.written;
        let end = start + name.len();
        if end >= read.min(self.buf.len()) || u32::try_from(end).is_err() {
            return false;
        }
        let record = &mut self.buf[start..end];
        record.copy_from_slice(name.as_bytes());
        record.make_ascii_lowercase();
        self.buf[end] = kind;
        self.written = end + 1;
        self.counts[usize::from(kind)] += 1;
        true
    }

    /// Cuts the buffer to the records (freeing the tail for the tables) and
    /// indexes every record in the table of its kind.
    pub fn finish(self) -> Sets {
        let ArenaWriter {
            mut buf,
            written,
            counts,
        } = self;
        buf.truncate(written);
        buf.shrink_to_fit();
        let mut tables = counts.map(NameTable::with_capacity);
        // A big table is far larger than the cache, so nearly every insert
        // misses it. Records go in batches: their home slots are read in one
        // tight loop, independent loads the CPU overlaps, and then the inserts
        // find those slots in cache.
        let mut batch = [(0usize, 0usize, 0u64); BATCH];
        let mut start = 1;
        loop {
            let mut n = 0;
            while n < BATCH {
                let Some(len) = buf[start..].iter().position(|&b| b < TERMINATOR_LIMIT) else {
                    break;
                };
                let end = start + len;
                batch[n] = (start, end, hash_bytes(&buf[start..end]));
                n += 1;
                start = end + 1;
            }
            let touched = batch[..n].iter().fold(0, |acc, &(_, end, hash)| {
                acc ^ tables[usize::from(buf[end])].touch(hash)
            });
            std::hint::black_box(touched);
            for &(start, end, hash) in &batch[..n] {
                // Offsets fit in u32: `push` refuses records that would not.
                let table = &mut tables[usize::from(buf[end])];
                table.insert_hashed(&buf, start as u32, &buf[start..end], hash);
            }
            if n < BATCH {
                break;
            }
        }
        let [exact, subdomain, allow] = tables;
        Sets {
            arena: buf,
            exact,
            subdomain,
            allow,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_overwrite_the_read_text_and_are_indexed_by_kind() {
        let mut text = vec![b'x'; 64];
        text[0] = b'{';
        let mut w = ArenaWriter::new(text);
        assert!(w.push("Ads.Example.", SUBDOMAIN, 20));
        assert_eq!(w.position(), 13);
        assert!(w.push("exact.test", EXACT, 30));
        assert!(w.push("ok.ads.example", ALLOW, 45));
        assert!(
            w.push("ads.example", SUBDOMAIN, 64),
            "duplicate stored, not indexed"
        );
        assert!(!w.push("bad name", EXACT, 64));
        let sets = w.finish();
        assert_eq!(&sets.arena[1..13], b"ads.example\x01");
        assert_eq!(
            (sets.exact.len(), sets.subdomain.len(), sets.allow.len()),
            (1, 1, 1)
        );
        assert!(sets
            .subdomain
            .contains_suffix_of(&sets.arena, "www.ads.example"));
        assert!(sets.exact.contains(&sets.arena, "exact.test"));
        assert!(!sets.exact.contains(&sets.arena, "ads.example"));
        assert!(sets.allow.contains(&sets.arena, "ok.ads.example"));
    }

    #[test]
    fn a_record_never_passes_the_read_position() {
        let mut w = ArenaWriter::new(vec![b' '; 64]);
        // 11 name bytes + terminator from offset 1 end at 12: needs read > 12.
        assert!(!w.push("ads.example", SUBDOMAIN, 12));
        assert_eq!(w.position(), 1);
        assert!(w.push("ads.example", SUBDOMAIN, 13));
        assert_eq!(w.position(), 13);
    }

    #[test]
    fn empty_buffers_and_bad_kinds() {
        let mut w = ArenaWriter::new(Vec::new());
        assert!(!w.push("a.test", 7, 100));
        let sets = w.finish();
        assert_eq!(sets.arena, [0]);
        assert!(sets.exact.is_empty() && sets.subdomain.is_empty() && sets.allow.is_empty());
    }
}
