//! The list files a plugin's config names, read a chunk of whole lines at a time
//! (the WIT `lists` interface, new in `wasmdns:plugin@0.3.0`).
//!
//! A config table with a string `file` key names a list file:
//!
//! ```toml
//! [[plugin.config.lists]]
//! format = "hosts"
//! file = "lists/hosts.txt"
//! ```
//!
//! The plugin gets that table as written and opens the file by the same string.
//! Reading it a chunk at a time keeps only what the plugin builds from it in the
//! instance: wasm linear memory never shrinks, so a 38 MB hosts file read whole
//! would stay 38 MB of every instance for good.
//!
//! ```ignore
//! use wasmdns_plugin_sdk::lists::ListFile;
//! let mut lines = ListFile::open(&config.file)?.lines(64 * 1024);
//! while let Some(line) = lines.next_line()? {
//!     // `line` borrows the current chunk: no allocation per line.
//! }
//! ```
//!
//! In the component the host reads the file (resolved relative to the config
//! file; only files the config names, only during `init`). Natively (unit tests,
//! benches) the file is read with `std::fs`, relative to the current directory,
//! with the same chunking, so plugin logic that streams lists runs natively too.

mod lines;
#[cfg(not(target_arch = "wasm32"))]
mod native;

pub use lines::Lines;

/// One open list file, read once from start to end.
#[derive(Debug)]
pub struct ListFile {
    #[cfg(target_arch = "wasm32")]
    inner: crate::bindings::wasmdns::plugin::lists::ListFile,
    #[cfg(not(target_arch = "wasm32"))]
    inner: native::NativeFile,
}

impl ListFile {
    /// Opens the file a `file` key of the config names, spelled exactly as there.
    /// The error names the file and the reason (in the component: not named in
    /// the config, unreadable, or called outside `init`).
    pub fn open(file: &str) -> Result<ListFile, String> {
        #[cfg(target_arch = "wasm32")]
        let inner = crate::bindings::wasmdns::plugin::lists::open(file)?;
        #[cfg(not(target_arch = "wasm32"))]
        let inner = native::NativeFile::open(file)?;
        Ok(ListFile { inner })
    }

    /// The file's size in bytes when it was opened (to size tables up front).
    pub fn size(&self) -> u64 {
        self.inner.size()
    }

    /// The next chunk of whole lines: at most `max` bytes ending just after a
    /// newline (or at the end of the file), except that a single line longer than
    /// `max` comes whole. `None` after the last chunk. Bytes are as in the file
    /// (`\r\n` included). An error ends the read; `init` should fail with it.
    pub fn read(&mut self, max: u32) -> Result<Option<Vec<u8>>, String> {
        self.inner.read(max)
    }

    /// The file's lines, read `max` bytes at a time (see [`Lines`]).
    pub fn lines(self, max: u32) -> Lines {
        Lines::new(self, max)
    }
}
