//! Host adapter for WIT `wasmdns:plugin@0.2.0` (`wit/v0.2`): generated bindings and
//! the one conversion v0.2 adds, the on-query verdict's [`Reuse`] scope.
//!
//! v0.2 left the `types` interface as v0.1 had it, so the bindings reuse v0.1's
//! generated types (`with` below): every conversion of questions, clients, records
//! and verdicts is [`super::v0_1`]'s, and the two versions cannot drift apart.

use super::types::{QueryAction, Reuse};
use super::v0_1;

wasmtime::component::bindgen!({
    path: "wit/v0.2",
    world: "plugin",
    // Same ownership as v0.1: required for its types to be reused, and for the
    // same reason (arguments borrow the host's buffers).
    ownership: Borrowing {
        duplicate_if_necessary: true
    },
    with: {
        "wasmdns:plugin/types@0.2.0": crate::plugin::v0_1::wasmdns::plugin::types,
    },
});

pub use self::wasmdns::plugin::host::LogLevel;
use exports::wasmdns::plugin::policy::{QueryVerdict, Reuse as WitReuse};

/// The conversions of the types each version from v0.2 on generates anew but
/// declares identically (the verdict with its reuse, the log level). Expands in
/// the version's adapter, where `QueryVerdict`, `WitReuse` and `LogLevel` name its
/// own generated types.
macro_rules! verdict_and_log_conversions {
    () => {
        /// The on-query verdict: v0.1's action plus how far it may be reused.
        pub fn query_verdict(v: QueryVerdict) -> (QueryAction, Reuse) {
            let reuse = match v.reuse {
                WitReuse::Once | WitReuse::Question(0) => Reuse::Once,
                WitReuse::Question(secs) => Reuse::Question(secs),
            };
            (v0_1::query_action(v.action), reuse)
        }

        /// The log levels are v0.1's; the host logs every version through one function.
        pub fn log_level(level: LogLevel) -> v0_1::LogLevel {
            match level {
                LogLevel::Trace => v0_1::LogLevel::Trace,
                LogLevel::Debug => v0_1::LogLevel::Debug,
                LogLevel::Info => v0_1::LogLevel::Info,
                LogLevel::Warn => v0_1::LogLevel::Warn,
                LogLevel::Error => v0_1::LogLevel::Error,
            }
        }
    };
}
pub(super) use verdict_and_log_conversions;

verdict_and_log_conversions!();
