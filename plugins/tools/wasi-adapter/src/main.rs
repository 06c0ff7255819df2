//! `wasi-adapter OUT.wasm`: writes wasmtime 48's WASI preview1 reactor adapter.
//!
//! The reactor flavour (no `_start`) fits plugins: they are libraries whose exports
//! the host calls, not commands.

use std::process::ExitCode;

use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: wasi-adapter OUT.wasm");
        return ExitCode::from(2);
    };
    match std::fs::write(&out, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasi-adapter: {}: {e}", out.to_string_lossy());
            ExitCode::FAILURE
        }
    }
}
