//! Errors of the plugin layer: load-time errors (name the plugin, its file, the
//! reason) and call-time failures (classified for metrics and `on_error`).

use std::path::PathBuf;

/// Why a plugin could not be loaded. Never raised on the query path.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {name} ({file}): cannot read: {source}")]
    Read {
        name: String,
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin {name} ({file}): not a valid component: {reason}")]
    Compile {
        name: String,
        file: PathBuf,
        reason: String,
    },
    #[error("plugin {name} ({file}): cannot link: {reason}")]
    Link {
        name: String,
        file: PathBuf,
        reason: String,
    },
    #[error("plugin {name} ({file}): {reason}")]
    Contract {
        name: String,
        file: PathBuf,
        reason: String,
    },
    #[error("plugin {name} ({file}): config: {reason}")]
    Config {
        name: String,
        file: PathBuf,
        reason: String,
    },
    #[error("plugin {name} ({file}): instantiation failed: {reason}")]
    Instantiate {
        name: String,
        file: PathBuf,
        reason: String,
    },
    #[error("plugin {name} ({file}): init failed: {reason}")]
    Init {
        name: String,
        file: PathBuf,
        reason: String,
    },
    #[error("plugin {name}: duplicate plugin name")]
    Duplicate { name: String },
    #[error("plugin engine: {0}")]
    Engine(String),
}

/// Why one hook call produced no verdict. The instance that failed is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFailure {
    /// The epoch deadline passed.
    Timeout,
    /// A memory or table grow was refused by the store's limit.
    Memory,
    /// Any other trap: unreachable (a guest panic), bad memory access, host error.
    Trap,
    /// No warm instance was free (all busy or being rebuilt).
    Busy,
}

impl CallFailure {
    /// The `kind` label of `plugin_failures_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallFailure::Timeout => "timeout",
            CallFailure::Memory => "memory",
            CallFailure::Trap => "trap",
            CallFailure::Busy => "busy",
        }
    }
}
