//! Wasm policy plugins (issue 3).
mod engine;
mod error;
mod limiter;
mod sandbox;
mod state;
pub mod types;
pub mod v0_1;

pub use engine::PluginEngine;
pub use error::{CallFailure, PluginError};
