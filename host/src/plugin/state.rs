//! [`HostState`]: the data of one plugin store — WASI context, resource table,
//! memory limiter, CPU-time deadline, and the plugin's name for its log lines.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::cpu_deadline::CpuDeadline;
use super::limiter::MemoryLimiter;
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
        }
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
