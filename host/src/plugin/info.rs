//! [`PluginInfo`]: what `GET /plugins` reports about one plugin of the running chain.

use std::collections::BTreeMap;

use serde::Serialize;

/// One plugin as loaded: identity, origin, generation and counters since start
/// (the counters are the process-wide metrics for this name, so they carry on
/// across reloads that keep the name).
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    pub name: String,
    pub file: String,
    /// The WIT contract version it exports, e.g. `0.2`.
    pub contract: &'static str,
    /// Hex SHA-256 of the component file.
    pub sha256: String,
    /// Reload generation of the chain this plugin belongs to (1 = loaded at start).
    pub generation: u64,
    /// When that chain was built, Unix seconds.
    pub loaded_at: u64,
    /// Hooks the plugin declared: `on_query`, `on_response`.
    pub hooks: Vec<&'static str>,
    pub on_error: &'static str,
    /// `true` when its code came from the precompiled cache.
    pub precompiled: bool,
    /// Warm instances ready right now.
    pub instances: usize,
    /// Calls per hook.
    pub calls: BTreeMap<&'static str, u64>,
    /// Verdicts per kind (`error` = a failed call).
    pub verdicts: BTreeMap<&'static str, u64>,
    /// Failed calls per kind: trap, timeout, memory, busy.
    pub failures: BTreeMap<&'static str, u64>,
}
