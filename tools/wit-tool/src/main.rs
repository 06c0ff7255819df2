//! `wit-tool`: the two WIT/component jobs the non-Rust example plugins need (issue
//! 7), done with the library crates wasmtime already depends on, so CI builds this
//! small binary instead of `cargo install`ing wit-bindgen-cli and wasm-tools.
//!
//! ```text
//! wit-tool c-bindings <WIT_DIR> <WORLD> <OUT_DIR>            # = wit-bindgen c
//! wit-tool embed <WIT_DIR> <WORLD> <CORE.wasm> -o <OUT.wasm>  # = wasm-tools component embed
//! wit-tool component-new <CORE.wasm> [--adapt [NAME=]FILE]... -o <OUT.wasm>
//! ```

mod bindings;
mod component;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use component::Adapter;

#[derive(Parser)]
#[command(
    name = "wit-tool",
    about = "C bindings and components for wasmdns plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate C bindings (`<world>.h`, `<world>.c`, `<world>_component_type.o`)
    /// for a world, like `wit-bindgen c`.
    CBindings {
        wit_dir: PathBuf,
        world: String,
        out_dir: PathBuf,
    },
    /// Embed a world's component type in a core module (a `component-type` custom
    /// section), like `wasm-tools component embed`; the output may be the input.
    Embed {
        wit_dir: PathBuf,
        world: String,
        core: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Turn a core module with embedded component type into a validated component,
    /// like `wasm-tools component new`.
    ComponentNew {
        core: PathBuf,
        /// An adapter module for imports outside the world, e.g.
        /// `wasi_snapshot_preview1=adapter.wasm` (the name defaults to the file stem).
        #[arg(long = "adapt", value_name = "[NAME=]FILE", value_parser = Adapter::parse)]
        adapters: Vec<Adapter>,
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::CBindings {
            wit_dir,
            world,
            out_dir,
        } => bindings::c_bindings(&wit_dir, &world, &out_dir),
        Command::Embed {
            wit_dir,
            world,
            core,
            output,
        } => component::embed(&wit_dir, &world, &core, &output),
        Command::ComponentNew {
            core,
            adapters,
            output,
        } => component::component_new(&core, &adapters, &output),
    }
}
