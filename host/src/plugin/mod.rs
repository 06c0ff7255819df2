//! Wasm policy plugins (issue 3): every query passes through an ordered chain of
//! sandboxed WebAssembly components implementing `wit/v0.3` (or v0.2, v0.1).
//!
//! | file | role |
//! |---|---|
//! | [`types`] | host-side data the pipeline sees (no generated bindings) |
//! | `chain` | [`PluginChain`]: ordered plugins, first non-pass verdict wins |
//! | `registry` | [`ChainBuilder`]: config → whole chain, all or nothing |
//! | `memo` | on-query verdicts plugins declared reusable (v0.2), per chain, bounded |
//! | `slot` | one plugin in a chain: pool, `on_error`, metric handles |
//! | `pool` | lock-free pool of warm instances, rebuilt off the query path |
//! | [`priority`] | spares, rebuilds and reloads built at a lower CPU priority than serving |
//! | `instance` | one store + bindings; deadline per call; failure classification |
//! | `cpu_deadline` | per-call deadline in thread CPU time, checked at epoch expiry |
//! | `loader` | read, compile, link, check exports, init |
//! | `init_config` | the text `init` gets: for v0.1/v0.2 list `file`s read in, let go once the pool is full |
//! | `lists` | v0.3: the list files a config names, streamed to `init` in chunks of whole lines |
//! | `sandbox` | WASI with nothing granted, non-blocking `wasi:io` |
//! | `state`, `limiter` | store data, host `log`, memory limit over all memories |
//! | `activity` | whether guest code runs, so the epoch ticker sleeps when none does |
//! | `engine` | the shared wasmtime engine and its 1 ms epoch ticker |
//! | `precompiled` | compiled code cached on disk, keyed by wasm hash + engine |
//! | `info` | what the admin API reports per plugin |
//! | [`v0_1`] | bindings and conversions for `wasmdns:plugin@0.1.0` |
//! | [`v0_2`] | `wasmdns:plugin@0.2.0`: v0.1's types, on-query verdicts with a reuse scope |
//! | [`v0_3`] | `wasmdns:plugin@0.3.0`: v0.2 plus the `lists` import |

mod activity;
mod chain;
mod cpu_deadline;
mod engine;
mod error;
mod info;
mod init_config;
mod instance;
mod limiter;
pub mod lists;
mod loader;
mod memo;
mod pool;
mod precompiled;
pub mod priority;
mod registry;
mod sandbox;
mod slot;
mod state;
pub mod types;
pub mod v0_1;
pub mod v0_2;
pub mod v0_3;

pub use chain::PluginChain;
pub use engine::{PluginEngine, EPOCH_TICK};
pub use error::{CallFailure, PluginError};
pub use info::PluginInfo;
pub use init_config::for_each_file_ref;
pub use pool::default_pool_size;
pub use precompiled::{default_dir as default_precompiled_dir, Origin, PrecompiledCache};
pub use registry::ChainBuilder;
pub use types::{
    BlockKind, ChainQueryVerdict, ChainResponseVerdict, ClientInfo, Hooks, PluginRData,
    PluginRecord, QuestionView,
};

#[cfg(test)]
mod deadline_tests;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
