//! `NativeFile`: the host's chunked read of a list file, done with `std::fs`, for
//! plugin logic run natively (unit tests, benches).
//!
//! Same contract as the WIT `list-file.read`: at most `max` bytes ending just
//! after a newline or at the end of the file, a longer line whole, `None` at the
//! end. A test that streams a list here streams it as the component would.

use std::fs::File;
use std::io::Read;

/// An open file and the bytes read past the last chunk handed out.
#[derive(Debug)]
pub struct NativeFile {
    name: String,
    file: File,
    size: u64,
    /// Read from the file, not yet handed out; starts at a line start.
    pending: Vec<u8>,
    eof: bool,
}

impl NativeFile {
    pub fn open(name: &str) -> Result<NativeFile, String> {
        let fail = |e: std::io::Error| format!("list file {name:?}: {e}");
        let file = File::open(name).map_err(fail)?;
        let size = file.metadata().map_err(fail)?.len();
        Ok(NativeFile {
            name: name.to_owned(),
            file,
            size,
            pending: Vec::new(),
            eof: false,
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn read(&mut self, max: u32) -> Result<Option<Vec<u8>>, String> {
        // A zero budget still makes progress: one line per chunk.
        let max = (max as usize).max(1);
        self.fill(max)?;
        if self.pending.is_empty() {
            return Ok(None);
        }
        let window = &self.pending[..self.pending.len().min(max)];
        let cut = match window.iter().rposition(|&b| b == b'\n') {
            Some(newline) => newline + 1,
            // The file ended within the budget: its unterminated last line.
            None if self.eof && self.pending.len() <= max => self.pending.len(),
            None => self.end_of_long_line(max)?,
        };
        let rest = self.pending.split_off(cut);
        Ok(Some(std::mem::replace(&mut self.pending, rest)))
    }

    /// Where the first line ends when it is longer than `max`: it comes whole.
    fn end_of_long_line(&mut self, max: usize) -> Result<usize, String> {
        let mut scanned = 0;
        loop {
            if let Some(newline) = self.pending[scanned..].iter().position(|&b| b == b'\n') {
                return Ok(scanned + newline + 1);
            }
            if self.eof {
                return Ok(self.pending.len());
            }
            scanned = self.pending.len();
            self.fill(scanned + max)?;
        }
    }

    /// Reads until `pending` holds at least `want` bytes or the file ends.
    fn fill(&mut self, want: usize) -> Result<(), String> {
        if self.eof || self.pending.len() >= want {
            return Ok(());
        }
        let need = (want - self.pending.len()) as u64;
        // `read_to_end` retries interrupted reads and stops at `need` or the end.
        let n = (&mut self.file)
            .take(need)
            .read_to_end(&mut self.pending)
            .map_err(|e| format!("list file {:?}: {e}", self.name))?;
        self.eof = (n as u64) < need;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::ListFile;
    use std::io::Write;

    /// A temporary file holding `bytes`, removed when dropped.
    fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    fn chunks(bytes: &[u8], max: u32) -> Vec<Vec<u8>> {
        let file = temp_file(bytes);
        let mut list = ListFile::open(file.path().to_str().unwrap()).unwrap();
        assert_eq!(list.size(), bytes.len() as u64);
        let mut out = Vec::new();
        while let Some(chunk) = list.read(max).unwrap() {
            assert!(!chunk.is_empty(), "no empty chunks");
            out.push(chunk);
        }
        assert_eq!(list.read(max).unwrap(), None, "stays at the end");
        assert_eq!(out.concat(), bytes, "every byte once, in order");
        out
    }

    fn lines(bytes: &[u8], max: u32) -> Vec<Vec<u8>> {
        let file = temp_file(bytes);
        let mut lines = ListFile::open(file.path().to_str().unwrap())
            .unwrap()
            .lines(max);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().unwrap() {
            out.push(line.to_vec());
        }
        assert_eq!(lines.next_line().unwrap(), None);
        out
    }

    #[test]
    fn chunks_are_whole_lines_within_the_budget() {
        let text = b"aa\nbbb\ncc\nd\n";
        assert_eq!(
            chunks(text, 7),
            [b"aa\nbbb\n".to_vec(), b"cc\nd\n".to_vec()]
        );
        assert_eq!(chunks(text, 1 << 16), [text.to_vec()]);
        // Exactly at the budget: the newline is the chunk's last byte.
        assert_eq!(
            chunks(b"abc\ndef\n", 4),
            [b"abc\n".to_vec(), b"def\n".to_vec()]
        );
    }

    #[test]
    fn a_line_longer_than_the_budget_comes_whole() {
        let long = "x".repeat(100);
        let text = format!("a\n{long}\nb\n{long}");
        let got = chunks(text.as_bytes(), 8);
        assert_eq!(
            got,
            [
                b"a\n".to_vec(),
                format!("{long}\n").into_bytes(),
                b"b\n".to_vec(),
                long.clone().into_bytes()
            ]
        );
        // Zero budget: one line per chunk, still progressing.
        assert_eq!(chunks(b"a\nb", 0), [b"a\n".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn no_trailing_newline_empty_file_and_crlf() {
        assert_eq!(chunks(b"one\ntwo", 5), [b"one\n".to_vec(), b"two".to_vec()]);
        assert!(chunks(b"", 64).is_empty());
        let crlf = b"a.example\r\nb.example\r\n\r\n";
        assert_eq!(
            chunks(crlf, 13),
            [b"a.example\r\n".to_vec(), b"b.example\r\n\r\n".to_vec()]
        );
    }

    #[test]
    fn lines_split_like_str_lines_across_chunks() {
        let text = "0.0.0.0 a.example\r\n\n# comment\nlast\r";
        let expected: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
        for max in [1, 5, 20, 4096] {
            assert_eq!(lines(text.as_bytes(), max), expected, "{max}");
        }
        assert!(lines(b"", 16).is_empty());
        assert_eq!(lines(b"\n", 16), [b"".to_vec()]);
        // Any bytes: lines are not required to be UTF-8.
        assert_eq!(
            lines(b"\xff\xfe\nok", 16),
            [b"\xff\xfe".to_vec(), b"ok".to_vec()]
        );
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let err = ListFile::open("/nonexistent/wasmdns/list.txt").unwrap_err();
        assert!(
            err.starts_with("list file \"/nonexistent/wasmdns/list.txt\": "),
            "{err}"
        );
    }
}
