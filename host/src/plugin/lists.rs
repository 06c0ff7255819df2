//! The list files a WIT v0.3 plugin's config names ([`ListFiles`]), and one read
//! of one of them ([`ListReader`]): whole lines, a chunk at a time, from disk.
//!
//! v0.1 and v0.2 plugins get their list files copied into the config text
//! ([`super::init_config`]): a 38 MB hosts file then sits whole in every instance's
//! linear memory, which never shrinks. A v0.3 plugin's `init` reads it instead, in
//! chunks it asks for, and keeps only what it builds (a blocklist: 8 bytes a name).
//! The host holds no copy either: each read streams from the file.
//!
//! Every instance of one chain must see the same contents. The first read to reach
//! the end records the file's SHA-256; every later one (another instance, a rebuild
//! after a trap) is checked against it at its end, and a difference fails that read
//! and so that instance's `init`, naming the file. The reload the change triggers
//! (watcher, SIGHUP) builds a new chain from the new contents.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};

use super::init_config::for_each_file_ref;

/// Files one instance may have open at once: a plugin reads its lists one after
/// the other, and each open file is a descriptor.
pub const MAX_OPEN: usize = 16;

/// The most read from the file per `read(2)`, so that a guest asking for
/// `u32::MAX`-byte chunks does not make the host allocate that much up front.
const READ_STEP: usize = 1 << 20;

/// The list files a plugin's config names, by the `file` string as written there.
#[derive(Debug, Default)]
pub struct ListFiles {
    files: HashMap<String, Arc<ListFile>>,
}

#[derive(Debug)]
struct ListFile {
    path: PathBuf,
    /// What the first complete read saw.
    sha256: OnceLock<[u8; 32]>,
}

impl ListFiles {
    /// The files `config_json` names (relative to `base`, the config file's
    /// directory), each checked readable now so that a typo fails at load with the
    /// file's name rather than inside the plugin's `init`.
    pub fn from_config(config_json: &str, base: &Path) -> Result<ListFiles, String> {
        let mut value: serde_json::Value =
            serde_json::from_str(config_json).map_err(|e| format!("invalid JSON: {e}"))?;
        let mut files = HashMap::new();
        for_each_file_ref(&mut value, base, &mut |map, path| {
            File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let Some(serde_json::Value::String(name)) = map.get("file") else {
                unreachable!("for_each_file_ref visits objects with a string \"file\"");
            };
            files.entry(name.clone()).or_insert_with(|| {
                Arc::new(ListFile {
                    path,
                    sha256: OnceLock::new(),
                })
            });
            Ok::<_, String>(())
        })?;
        Ok(ListFiles { files })
    }

    /// Whether the config names no list file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Opens `name` (a `file` value of the config) for one read from the start.
    pub fn open(&self, name: &str) -> Result<ListReader, String> {
        let Some(list) = self.files.get(name) else {
            return Err(format!(
                "{name:?}: not a list file named in the plugin's config"
            ));
        };
        let file = File::open(&list.path).map_err(|e| format!("{}: {e}", list.path.display()))?;
        let size = file
            .metadata()
            .map_err(|e| format!("{}: {e}", list.path.display()))?
            .len();
        Ok(ListReader {
            list: list.clone(),
            file: Some(file),
            size,
            pending: Vec::new(),
            eof: false,
            done: false,
            sha256: Sha256::new(),
        })
    }
}

/// One read of one list file, front to back.
pub struct ListReader {
    list: Arc<ListFile>,
    /// `None` once closed: at the end, after an error, or when `init` returned.
    file: Option<File>,
    size: u64,
    /// Read from the file, not yet handed out.
    pending: Vec<u8>,
    eof: bool,
    /// Read to the end and checked: further reads give `None`.
    done: bool,
    /// Of every byte handed out so far.
    sha256: Sha256,
}

impl ListReader {
    /// The file's size when it was opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The next chunk of whole lines: at most `max` bytes, ending after a newline
    /// or at the end of the file; a line longer than `max` comes whole. `None` after
    /// the last chunk, once the contents are checked (see the module doc).
    pub fn read(&mut self, max: u32) -> Result<Option<Vec<u8>>, String> {
        let max = (max as usize).max(1);
        let result = self.next_chunk(max);
        if result.is_err() {
            self.close();
        }
        result
    }

    /// Closes the file; further reads fail.
    pub fn close(&mut self) {
        self.file = None;
        self.pending = Vec::new();
    }

    fn next_chunk(&mut self, max: usize) -> Result<Option<Vec<u8>>, String> {
        if self.done {
            return Ok(None);
        }
        if self.file.is_none() {
            return Err(format!("{}: not open", self.list.path.display()));
        }
        while self.pending.len() < max && !self.eof {
            self.fill(max - self.pending.len())?;
        }
        if self.pending.is_empty() {
            self.finish()?;
            return Ok(None);
        }
        let cut = if self.eof && self.pending.len() <= max {
            self.pending.len()
        } else {
            // Scanned from the end: the last newline is a line's length away.
            let window = &self.pending[..max.min(self.pending.len())];
            match window.iter().rposition(|&b| b == b'\n') {
                Some(newline) => newline + 1,
                None => self.end_of_first_line(max)?,
            }
        };
        let rest = self.pending.split_off(cut);
        let chunk = std::mem::replace(&mut self.pending, rest);
        self.sha256.update(&chunk);
        Ok(Some(chunk))
    }

    /// Where the first line ends (just after its newline, or at the end of the
    /// file), reading on as far as that takes: it is longer than `from` bytes.
    fn end_of_first_line(&mut self, from: usize) -> Result<usize, String> {
        let mut searched = from.min(self.pending.len());
        loop {
            if let Some(i) = self.pending[searched..].iter().position(|&b| b == b'\n') {
                return Ok(searched + i + 1);
            }
            if self.eof {
                return Ok(self.pending.len());
            }
            searched = self.pending.len();
            self.fill(READ_STEP)?;
        }
    }

    /// Appends `want` bytes (at most [`READ_STEP`]) from the file, fewer only at
    /// its end.
    fn fill(&mut self, want: usize) -> Result<(), String> {
        let Some(file) = self.file.as_mut() else {
            return Err(format!("{}: not open", self.list.path.display()));
        };
        let want = want.min(READ_STEP) as u64;
        // `read_to_end` retries interrupted reads and stops at `want` or the end.
        match file.take(want).read_to_end(&mut self.pending) {
            Ok(n) => {
                self.eof = (n as u64) < want;
                Ok(())
            }
            Err(e) => Err(format!("{}: {e}", self.list.path.display())),
        }
    }

    /// At the end: records the contents' digest, or checks it against the one
    /// the first complete read recorded.
    fn finish(&mut self) -> Result<(), String> {
        self.file = None;
        let digest: [u8; 32] = std::mem::take(&mut self.sha256).finalize().into();
        let first = self.list.sha256.get_or_init(|| digest);
        if *first != digest {
            return Err(format!(
                "{}: changed since this plugin's other instances read it; not mixing \
                 old and new contents in one chain (a reload loads the new ones)",
                self.list.path.display()
            ));
        }
        self.done = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        dir
    }

    fn lists(dir: &tempfile::TempDir, json: &str) -> ListFiles {
        ListFiles::from_config(json, dir.path()).unwrap()
    }

    /// Every chunk of a read with `max`, checked to be whole lines within `max`.
    fn chunks(files: &ListFiles, name: &str, max: u32) -> Vec<Vec<u8>> {
        let mut reader = files.open(name).unwrap();
        let mut out = Vec::new();
        while let Some(chunk) = reader.read(max).unwrap() {
            assert!(!chunk.is_empty());
            if chunk.len() > max as usize {
                let newlines = chunk.iter().filter(|&&b| b == b'\n').count();
                assert!(newlines <= 1, "only a single long line may exceed max");
            }
            out.push(chunk);
        }
        assert_eq!(reader.read(max), Ok(None), "the end stays the end");
        out
    }

    #[test]
    fn chunks_are_whole_lines_and_add_up_to_the_file() {
        let text = b"a.test\nbb.test\r\n# comment\nccc.test\nlast.test";
        let dir = dir_with(&[("l.txt", text)]);
        let files = lists(&dir, r#"{"lists":[{"file":"l.txt"}]}"#);
        for max in [1, 5, 8, 16, 17, 1000] {
            let got = chunks(&files, "l.txt", max);
            assert_eq!(got.concat(), text, "max {max}");
            for chunk in &got[..got.len() - 1] {
                assert!(chunk.ends_with(b"\n"), "max {max}: {chunk:?}");
            }
        }
        // Whole lines up to max: 16 bytes hold the first two lines exactly.
        assert_eq!(chunks(&files, "l.txt", 16)[0], b"a.test\nbb.test\r\n");
        // A line longer than max comes whole, never split.
        assert_eq!(chunks(&files, "l.txt", 3)[2], b"# comment\n");
        assert_eq!(chunks(&files, "l.txt", 1000), vec![text.to_vec()]);
    }

    #[test]
    fn a_long_line_is_read_across_several_fills() {
        let mut text = vec![b'x'; READ_STEP * 2 + 10];
        text.extend_from_slice(b"\nshort\n");
        let dir = dir_with(&[("big.txt", &text)]);
        let files = lists(&dir, r#"{"file":"big.txt"}"#);
        let got = chunks(&files, "big.txt", 64);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), READ_STEP * 2 + 11);
        assert_eq!(got[1], b"short\n");
    }

    #[test]
    fn an_empty_file_has_no_chunks() {
        let dir = dir_with(&[("e.txt", b"")]);
        let files = lists(&dir, r#"{"file":"e.txt"}"#);
        let mut r = files.open("e.txt").unwrap();
        assert_eq!(r.size(), 0);
        assert_eq!(r.read(u32::MAX).unwrap(), None);
    }

    #[test]
    fn only_files_the_config_names_open() {
        let dir = dir_with(&[("a.txt", b"a\n"), ("secret", b"x\n")]);
        let files = lists(
            &dir,
            r#"{"lists":[{"file":"a.txt"},{"file":"a.txt"}],"k":"secret"}"#,
        );
        assert!(files.open("a.txt").is_ok());
        for name in ["secret", "../a.txt", "", "/etc/passwd"] {
            let e = files.open(name).err().unwrap();
            assert!(e.contains("not a list file"), "{name}: {e}");
        }
        assert!(lists(&dir, r#"{"a":1}"#).is_empty());
    }

    #[test]
    fn a_missing_file_fails_at_load_by_name() {
        let dir = dir_with(&[]);
        let e =
            ListFiles::from_config(r#"{"lists":[{"file":"gone.txt"}]}"#, dir.path()).unwrap_err();
        assert!(e.contains("gone.txt"), "{e}");
        assert!(ListFiles::from_config("not json", dir.path()).is_err());
    }

    #[test]
    fn a_file_changed_after_the_first_complete_read_fails_later_reads() {
        let dir = dir_with(&[("a.txt", b"one.test\ntwo.test\n")]);
        let files = lists(&dir, r#"{"file":"a.txt"}"#);
        // An unfinished read records nothing.
        let mut partial = files.open("a.txt").unwrap();
        assert_eq!(partial.read(9).unwrap().unwrap(), b"one.test\n");
        std::fs::write(dir.path().join("a.txt"), b"new.test\n").unwrap();
        assert_eq!(chunks(&files, "a.txt", 64).concat(), b"new.test\n");
        // The first complete read (of the new bytes) set the reference.
        std::fs::write(dir.path().join("a.txt"), b"newer.test\n").unwrap();
        let mut r = files.open("a.txt").unwrap();
        assert_eq!(r.read(64).unwrap().unwrap(), b"newer.test\n");
        let e = r.read(64).unwrap_err();
        assert!(e.contains("a.txt") && e.contains("changed"), "{e}");
        assert!(r.read(64).is_err(), "closed after the error");
        // The same bytes as the reference read cleanly again.
        std::fs::write(dir.path().join("a.txt"), b"new.test\n").unwrap();
        assert_eq!(chunks(&files, "a.txt", 4).concat(), b"new.test\n");
    }
}
