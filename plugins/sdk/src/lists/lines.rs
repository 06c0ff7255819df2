//! `Lines`: a list file's lines, one chunk in memory at a time.

use super::ListFile;

/// The lines of a [`ListFile`], each borrowed from the current chunk, so reading
/// a million-line file allocates once per chunk, not once per line.
///
/// Not an [`Iterator`]: a line borrows the reader until the next call. Lines are
/// split as [`str::lines`] splits them: at `\n`, with one `\r` right before it
/// dropped, and no empty last line after a final newline. Lines are bytes: a list from
/// the internet may hold any bytes, and the caller decides what to do with a line
/// that is not UTF-8.
#[derive(Debug)]
pub struct Lines {
    file: ListFile,
    max: u32,
    chunk: Vec<u8>,
    /// Where the next line starts in `chunk`.
    pos: usize,
    /// The file reported its end (or an error): no more reads.
    done: bool,
}

impl Lines {
    pub(super) fn new(file: ListFile, max: u32) -> Lines {
        Lines {
            file,
            max,
            chunk: Vec::new(),
            pos: 0,
            done: false,
        }
    }

    /// The file's size in bytes when it was opened.
    pub fn size(&self) -> u64 {
        self.file.size()
    }

    /// The next line, without its line ending; `None` at the end of the file.
    /// An error from the host (or the file system) is returned once and ends the
    /// read.
    pub fn next_line(&mut self) -> Result<Option<&[u8]>, String> {
        while self.pos >= self.chunk.len() {
            if self.done {
                return Ok(None);
            }
            match self.file.read(self.max) {
                Ok(Some(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(None) => {
                    self.done = true;
                    return Ok(None);
                }
                Err(e) => {
                    self.done = true;
                    self.chunk.clear();
                    return Err(e);
                }
            }
        }
        // Chunks end at a line end (or the file's end), so a line never spans two.
        let rest = &self.chunk[self.pos..];
        let line = match rest.iter().position(|&b| b == b'\n') {
            Some(newline) => {
                self.pos += newline + 1;
                let line = &rest[..newline];
                line.strip_suffix(b"\r").unwrap_or(line)
            }
            None => {
                self.pos += rest.len();
                rest
            }
        };
        Ok(Some(line))
    }
}
