//! Logging through the host's logger (the `host.log` import).
//!
//! In the component the message goes to the proxy's log, tagged with the plugin's
//! name; natively (unit tests) it goes to stderr, which the test harness captures.
//! Log sparingly on the query path: every call crosses the component boundary.
//!
//! ```ignore
//! use wasmdns_plugin_sdk::log;
//! log::info!("loaded {} domains", n);
//! log::warn("list is empty");
//! ```

/// Severity, as in the WIT `log-level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Sends one message to the host.
pub fn log(level: Level, message: &str) {
    emit(level, message);
}

// Tests capture messages on every target, so a wasm32 test build (clippy
// --all-targets in this workspace, whose default target is wasm32) has one `emit`.
#[cfg(all(target_arch = "wasm32", not(test)))]
fn emit(level: Level, message: &str) {
    use crate::bindings::wasmdns::plugin::host::{self, LogLevel};
    let level = match level {
        Level::Trace => LogLevel::Trace,
        Level::Debug => LogLevel::Debug,
        Level::Info => LogLevel::Info,
        Level::Warn => LogLevel::Warn,
        Level::Error => LogLevel::Error,
    };
    host::log(level, message);
}

#[cfg(all(not(target_arch = "wasm32"), not(test)))]
fn emit(level: Level, message: &str) {
    eprintln!("[{}] {}", level.as_str(), message);
}

#[cfg(test)]
thread_local! {
    static CAPTURED: std::cell::RefCell<Vec<(Level, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
fn emit(level: Level, message: &str) {
    CAPTURED.with(|c| c.borrow_mut().push((level, message.to_owned())));
}

pub fn trace(message: &str) {
    log(Level::Trace, message);
}
pub fn debug(message: &str) {
    log(Level::Debug, message);
}
pub fn info(message: &str) {
    log(Level::Info, message);
}
pub fn warn(message: &str) {
    log(Level::Warn, message);
}
pub fn error(message: &str) {
    log(Level::Error, message);
}

#[doc(hidden)]
#[macro_export]
macro_rules! __wasmdns_log {
    ($level:ident, $($arg:tt)+) => {
        $crate::log::log($crate::log::Level::$level, &::std::format!($($arg)+))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __wasmdns_trace { ($($arg:tt)+) => { $crate::__wasmdns_log!(Trace, $($arg)+) }; }
#[doc(hidden)]
#[macro_export]
macro_rules! __wasmdns_debug { ($($arg:tt)+) => { $crate::__wasmdns_log!(Debug, $($arg)+) }; }
#[doc(hidden)]
#[macro_export]
macro_rules! __wasmdns_info { ($($arg:tt)+) => { $crate::__wasmdns_log!(Info, $($arg)+) }; }
#[doc(hidden)]
#[macro_export]
macro_rules! __wasmdns_warn { ($($arg:tt)+) => { $crate::__wasmdns_log!(Warn, $($arg)+) }; }
#[doc(hidden)]
#[macro_export]
macro_rules! __wasmdns_error { ($($arg:tt)+) => { $crate::__wasmdns_log!(Error, $($arg)+) }; }

/// `format!`-style logging at debug level.
pub use crate::__wasmdns_debug as debug;
/// `format!`-style logging at error level.
pub use crate::__wasmdns_error as error;
/// `format!`-style logging at info level.
pub use crate::__wasmdns_info as info;
/// `format!`-style logging at trace level.
pub use crate::__wasmdns_trace as trace;
/// `format!`-style logging at warn level.
pub use crate::__wasmdns_warn as warn;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_named() {
        assert!(Level::Trace < Level::Error);
        assert_eq!(Level::Warn.as_str(), "warn");
    }

    #[test]
    fn functions_and_macros_reach_the_sink() {
        info("plain");
        crate::log::info!("formatted {}", 42);
        crate::log::error!("{}-{}", "a", 1);
        trace("t");
        let got = CAPTURED.with(|c| c.take());
        assert_eq!(
            got,
            [
                (Level::Info, "plain".to_owned()),
                (Level::Info, "formatted 42".to_owned()),
                (Level::Error, "a-1".to_owned()),
                (Level::Trace, "t".to_owned()),
            ]
        );
    }
}
