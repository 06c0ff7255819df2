//! The test topics, one file per issue-2 area (kept out of `tests/` itself so Cargo
//! does not build each as its own test binary).

mod admin;
mod basic;
mod binary;
mod cache;
mod config_files;
mod edns;
mod languages;
mod limits;
mod malformed;
mod plugin_escape;
mod plugin_reuse;
mod plugin_sandbox;
mod plugins;
mod reload;
mod reload_measure;
mod resilience;
mod shutdown;
mod tcp;
mod upstream_faults;
