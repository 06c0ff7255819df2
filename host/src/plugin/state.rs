//! [`HostState`]: the data of one plugin store — WASI context, resource table,
//! memory limiter, CPU-time deadline, the plugin's name for its log lines, and
//! during `init` the list files it may open (WIT v0.3).

use std::sync::Arc;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::cpu_deadline::CpuDeadline;
use super::limiter::MemoryLimiter;
use super::lists::{ListFiles, ListReader, MAX_OPEN};
use super::sandbox::Sandboxed;
use super::{v0_1, v0_2};

/// Longest plugin log message kept; the rest is cut so a plugin cannot flood logs
/// with one call.
const MAX_LOG_MESSAGE: usize = 1024;

pub struct HostState {
    pub plugin: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: MemoryLimiter,
    /// Read by the store's epoch-deadline callback.
    pub deadline: CpuDeadline,
    /// The list files `open` may open: set for `init` only, so that no query
    /// waits on a disk read.
    lists: Option<Arc<ListFiles>>,
    /// Readers the guest holds (table reps), closed when `init` returns.
    readers: Vec<u32>,
}

impl HostState {
    pub fn new(plugin: Arc<str>, memory_limit: usize, deadline: CpuDeadline) -> HostState {
        HostState {
            plugin,
            // Nothing granted: no preopens, env, args or network; stdin empty,
            // stdout and stderr go to a sink.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_limit),
            deadline,
            lists: None,
            readers: Vec::new(),
        }
    }

    /// Lets `init` open `lists` (WIT v0.3).
    pub fn begin_init(&mut self, lists: Arc<ListFiles>) {
        self.lists = Some(lists);
    }

    /// After `init`: no more opens, and readers the guest still holds lose their
    /// file (their descriptors would otherwise live as long as the instance).
    pub fn end_init(&mut self) {
        self.lists = None;
        for rep in std::mem::take(&mut self.readers) {
            if let Ok(reader) = self.table.get_mut(&Resource::<ListReader>::new_own(rep)) {
                reader.close();
            }
        }
    }

    /// `lists.open`: the guest's errors are values, a full table is a trap.
    pub fn open_list(
        &mut self,
        name: &str,
    ) -> wasmtime::Result<Result<Resource<ListReader>, String>> {
        let Some(lists) = &self.lists else {
            return Ok(Err(format!("{name:?}: list files open only during init")));
        };
        if self.readers.len() >= MAX_OPEN {
            return Ok(Err(format!(
                "{name:?}: {MAX_OPEN} list files already open; drop one first"
            )));
        }
        let reader = match lists.open(name) {
            Ok(reader) => reader,
            Err(e) => return Ok(Err(e)),
        };
        let handle = self.table.push(reader)?;
        self.readers.push(handle.rep());
        Ok(Ok(handle))
    }

    /// The reader behind a guest's handle.
    pub fn list(&mut self, handle: &Resource<ListReader>) -> wasmtime::Result<&mut ListReader> {
        Ok(self.table.get_mut(handle)?)
    }

    /// The guest dropped its handle.
    pub fn close_list(&mut self, handle: Resource<ListReader>) -> wasmtime::Result<()> {
        self.readers.retain(|&rep| rep != handle.rep());
        self.table.delete(handle)?;
        Ok(())
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl Sandboxed for HostState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl v0_1::wasmdns::plugin::types::Host for HostState {}

impl v0_2::wasmdns::plugin::host::Host for HostState {
    fn log(&mut self, level: v0_2::LogLevel, message: String) {
        v0_1::wasmdns::plugin::host::Host::log(self, v0_2::log_level(level), message);
    }
}

impl v0_1::wasmdns::plugin::host::Host for HostState {
    fn log(&mut self, level: v0_1::LogLevel, message: String) {
        let mut end = message.len().min(MAX_LOG_MESSAGE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let msg = &message[..end];
        let plugin = &*self.plugin;
        use v0_1::LogLevel as L;
        match level {
            L::Trace => tracing::trace!(target: "wasmdns::plugin", plugin, "{msg}"),
            L::Debug => tracing::debug!(target: "wasmdns::plugin", plugin, "{msg}"),
            L::Info => tracing::info!(target: "wasmdns::plugin", plugin, "{msg}"),
            L::Warn => tracing::warn!(target: "wasmdns::plugin", plugin, "{msg}"),
            L::Error => tracing::error!(target: "wasmdns::plugin", plugin, "{msg}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::plugin::cpu_deadline::thread_cpu_ns;

    fn state() -> HostState {
        let deadline = CpuDeadline::new(Duration::from_millis(2), thread_cpu_ns);
        HostState::new("p".into(), 1 << 20, deadline)
    }

    #[test]
    fn list_files_open_only_during_init_and_close_when_it_returns() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "one.test\ntwo.test\n").unwrap();
        let lists = Arc::new(ListFiles::from_config(r#"{"file":"a.txt"}"#, dir.path()).unwrap());
        let mut s = state();
        let e = s.open_list("a.txt").unwrap().unwrap_err();
        assert!(e.contains("only during init"), "{e}");

        s.begin_init(lists);
        let held = s.open_list("a.txt").unwrap().unwrap();
        assert_eq!(
            s.list(&held).unwrap().read(9).unwrap().unwrap(),
            b"one.test\n"
        );
        let mut opened = vec![];
        while let Ok(Ok(h)) = s.open_list("a.txt") {
            opened.push(h);
        }
        assert_eq!(opened.len() + 1, MAX_OPEN, "a bounded number at once");
        let e = s.open_list("a.txt").unwrap().unwrap_err();
        assert!(e.contains("already open"), "{e}");
        // Dropping one makes room again.
        s.close_list(opened.pop().unwrap()).unwrap();
        opened.push(s.open_list("a.txt").unwrap().unwrap());

        s.end_init();
        let e = s.list(&held).unwrap().read(64).unwrap_err();
        assert!(e.contains("not open"), "the file is closed: {e}");
        let e = s.open_list("a.txt").unwrap().unwrap_err();
        assert!(e.contains("only during init"), "{e}");
        // Handles the guest still holds stay valid to drop.
        s.close_list(held).unwrap();
        for h in opened {
            s.close_list(h).unwrap();
        }
    }
}
