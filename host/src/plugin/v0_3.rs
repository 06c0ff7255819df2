//! Host adapter for WIT `wasmdns:plugin@0.3.0` (`wit/v0.3`): generated bindings,
//! the verdict conversion, and the `lists` import ([`super::lists`]) over the
//! store's resource table.
//!
//! v0.3 keeps v0.2's `types`, `host` and `policy`, so the bindings reuse v0.1's
//! generated types (`with` below) and every conversion but the verdict's is
//! [`super::v0_1`]'s.

use wasmtime::component::Resource;

use super::lists::ListReader;
use super::state::HostState;
use super::types::{QueryAction, Reuse};
use super::v0_1;

wasmtime::component::bindgen!({
    path: "wit/v0.3",
    world: "plugin",
    // Same ownership as v0.1, for the same reason (see there).
    ownership: Borrowing {
        duplicate_if_necessary: true
    },
    // A handle the table does not hold (a host bug) traps instead of panicking.
    imports: { "wasmdns:plugin/lists": trappable },
    with: {
        "wasmdns:plugin/types@0.3.0": crate::plugin::v0_1::wasmdns::plugin::types,
        "wasmdns:plugin/lists.list-file": crate::plugin::lists::ListReader,
    },
});

pub use self::wasmdns::plugin::host::LogLevel;
use self::wasmdns::plugin::lists;
use exports::wasmdns::plugin::policy::{QueryVerdict, Reuse as WitReuse};

/// The on-query verdict: v0.1's action plus how far it may be reused.
pub fn query_verdict(v: QueryVerdict) -> (QueryAction, Reuse) {
    let reuse = match v.reuse {
        WitReuse::Once | WitReuse::Question(0) => Reuse::Once,
        WitReuse::Question(secs) => Reuse::Question(secs),
    };
    (v0_1::query_action(v.action), reuse)
}

/// v0.3's log levels are v0.1's; the host logs all through one function.
pub fn log_level(level: LogLevel) -> v0_1::LogLevel {
    match level {
        LogLevel::Trace => v0_1::LogLevel::Trace,
        LogLevel::Debug => v0_1::LogLevel::Debug,
        LogLevel::Info => v0_1::LogLevel::Info,
        LogLevel::Warn => v0_1::LogLevel::Warn,
        LogLevel::Error => v0_1::LogLevel::Error,
    }
}

impl wasmdns::plugin::host::Host for HostState {
    fn log(&mut self, level: LogLevel, message: String) {
        v0_1::wasmdns::plugin::host::Host::log(self, log_level(level), message);
    }
}

impl lists::Host for HostState {
    fn open(&mut self, file: String) -> wasmtime::Result<Result<Resource<ListReader>, String>> {
        self.open_list(&file)
    }
}

impl lists::HostListFile for HostState {
    fn size(&mut self, file: Resource<ListReader>) -> wasmtime::Result<u64> {
        Ok(self.list(&file)?.size())
    }

    fn read(
        &mut self,
        file: Resource<ListReader>,
        max: u32,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        Ok(self.list(&file)?.read(max))
    }

    fn drop(&mut self, file: Resource<ListReader>) -> wasmtime::Result<()> {
        self.close_list(file)
    }
}
