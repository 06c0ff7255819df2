//! Core module → component: embedding the world's type (`wasm-tools component
//! embed`) and encoding the component with adapters (`wasm-tools component new`),
//! through the `wit-component` crate wasmtime already builds.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use wit_component::{ComponentEncoder, StringEncoding};

use crate::bindings::resolve_world;

/// An `--adapt [NAME=]FILE` argument: the import module name it implements and
/// the adapter file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adapter {
    pub name: String,
    pub path: PathBuf,
}

impl Adapter {
    /// `NAME=FILE`, or `FILE` whose stem up to the first `.` is the name (as
    /// wasm-tools does: `wasi_snapshot_preview1.reactor.wasm` →
    /// `wasi_snapshot_preview1`).
    pub fn parse(arg: &str) -> Result<Adapter> {
        if let Some((name, path)) = arg.split_once('=') {
            if name.is_empty() || path.is_empty() {
                bail!("adapter `{arg}`: expected NAME=FILE");
            }
            return Ok(Adapter {
                name: name.into(),
                path: path.into(),
            });
        }
        let path = PathBuf::from(arg);
        let name = path
            .file_name()
            .and_then(|f| f.to_str())
            .and_then(|f| f.split('.').next())
            .filter(|n| !n.is_empty())
            .with_context(|| format!("adapter `{arg}`: no module name in the file name"))?;
        Ok(Adapter {
            name: name.into(),
            path,
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Appends `world`'s component type to the core module `core` (UTF-8 strings,
/// the canonical ABI default) and writes it to `output`.
pub fn embed(wit_dir: &Path, world: &str, core: &Path, output: &Path) -> Result<()> {
    let (resolve, id) = resolve_world(wit_dir, world)?;
    let mut bytes = read(core)?;
    wit_component::embed_component_metadata(&mut bytes, &resolve, id, StringEncoding::UTF8)
        .with_context(|| format!("embedding world `{world}` in {}", core.display()))?;
    write(output, &bytes)
}

/// Encodes `core` plus `adapters` as a component, validated, with the defaults of
/// `wasm-tools component new` (debug names, semver-merged imports).
pub fn component_new(core: &Path, adapters: &[Adapter], output: &Path) -> Result<()> {
    let module = read(core)?;
    let mut encoder = ComponentEncoder::default()
        .validate(true)
        .debug_names(true)
        .merge_imports_based_on_semver(true)
        .module(&module)
        .with_context(|| format!("{}: no usable component type", core.display()))?;
    for adapter in adapters {
        let bytes = read(&adapter.path)?;
        encoder = encoder
            .adapter(&adapter.name, &bytes)
            .with_context(|| format!("adapter {} ({})", adapter.path.display(), adapter.name))?;
    }
    let component = encoder
        .encode()
        .with_context(|| format!("encoding a component from {}", core.display()))?;
    write(output, &component)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIT: &str = "package test:t;\nworld w { export answer: func() -> u32; }\n";
    const CORE: &str = r#"(module
        (memory (export "memory") 1)
        (func (export "answer") (result i32) i32.const 42))"#;

    /// A WIT dir with world `w` and the core module implementing it.
    fn fixture() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let wit = dir.path().join("wit");
        fs::create_dir(&wit).unwrap();
        fs::write(wit.join("t.wit"), WIT).unwrap();
        let core = dir.path().join("core.wasm");
        fs::write(&core, wat::parse_str(CORE).unwrap()).unwrap();
        (dir, wit, core)
    }

    #[test]
    fn embed_then_component_new_gives_a_component_in_place() {
        let (_dir, wit, core) = fixture();
        embed(&wit, "w", &core, &core).unwrap();
        let out = core.with_file_name("out.wasm");
        component_new(&core, &[], &out).unwrap();
        // Preamble: magic, then version 0x0d + layer 1 for a component, 1 + layer 0
        // for a core module (the input, with its new custom section).
        let component = fs::read(&out).unwrap();
        assert_eq!(&component[..8], b"\0asm\x0d\0\x01\0");
        assert_eq!(&fs::read(&core).unwrap()[..8], b"\0asm\x01\0\0\0");
    }

    #[test]
    fn an_import_outside_the_world_is_an_error_naming_the_file() {
        let (dir, wit, _core) = fixture();
        let core = dir.path().join("stray.wasm");
        let stray = r#"(module (import "env" "f" (func)) (memory (export "memory") 1)
            (func (export "answer") (result i32) i32.const 1))"#;
        fs::write(&core, wat::parse_str(stray).unwrap()).unwrap();
        embed(&wit, "w", &core, &core).unwrap();
        let out = dir.path().join("out.wasm");
        let err = component_new(&core, &[], &out).unwrap_err();
        assert!(format!("{err:#}").contains("stray.wasm"), "{err:#}");
        assert!(!out.exists());
    }

    #[test]
    fn a_missing_adapter_file_is_named() {
        let (_dir, wit, core) = fixture();
        embed(&wit, "w", &core, &core).unwrap();
        let adapter = Adapter::parse("/nonexistent/wasi_snapshot_preview1.wasm").unwrap();
        let err = component_new(&core, &[adapter], &core.with_file_name("o.wasm")).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/"), "{err:#}");
    }

    #[test]
    fn adapter_names_come_from_the_argument_or_the_file_stem() {
        let named = Adapter::parse("wasi_snapshot_preview1=a/b.wasm").unwrap();
        assert_eq!(named.name, "wasi_snapshot_preview1");
        assert_eq!(named.path, Path::new("a/b.wasm"));
        let stem = Adapter::parse("x/wasi_snapshot_preview1.reactor.wasm").unwrap();
        assert_eq!(stem.name, "wasi_snapshot_preview1");
        assert!(Adapter::parse("=a.wasm").is_err());
        assert!(Adapter::parse("name=").is_err());
        assert!(Adapter::parse(".wasm").is_err());
    }
}
