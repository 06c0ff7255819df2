//! C bindings for a WIT world: the `wit-bindgen-c` generator, as `wit-bindgen c`
//! runs it (default options, no WIT features enabled).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wit_bindgen_core::Files;
use wit_parser::{Resolve, WorldId};

/// Parses the package in `wit_dir` (with its `deps/`) and selects `world`.
pub fn resolve_world(wit_dir: &Path, world: &str) -> Result<(Resolve, WorldId)> {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve
        .push_path(wit_dir)
        .with_context(|| format!("parsing WIT in {}", wit_dir.display()))?;
    let id = resolve
        .select_world(&[pkg], Some(world))
        .with_context(|| format!("selecting world `{world}` in {}", wit_dir.display()))?;
    Ok((resolve, id))
}

/// Writes the generated files into `out_dir` (created if missing).
pub fn c_bindings(wit_dir: &Path, world: &str, out_dir: &Path) -> Result<()> {
    for path in write_c_bindings(wit_dir, world, out_dir)? {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The generated files' paths, sorted by name.
fn write_c_bindings(wit_dir: &Path, world: &str, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let (mut resolve, id) = resolve_world(wit_dir, world)?;
    let mut files = Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, id, &mut files)
        .with_context(|| format!("generating C bindings for world `{world}`"))?;
    fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut written = Vec::new();
    for (name, contents) in files.iter() {
        let path = out_dir.join(name);
        fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wit_v01() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit/v0.1")
    }

    #[test]
    fn generates_header_source_and_type_object_for_the_plugin_world() {
        let out = tempfile::tempdir().unwrap();
        let written = write_c_bindings(&wit_v01(), "plugin", out.path()).unwrap();
        let names: Vec<_> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["plugin.c", "plugin.h", "plugin_component_type.o"]);
        let header = fs::read_to_string(out.path().join("plugin.h")).unwrap();
        assert!(header.contains("exports_wasmdns_plugin_policy_on_query"));
        // The object carries the world for `component new`; wasm magic + version 1.
        let object = fs::read(out.path().join("plugin_component_type.o")).unwrap();
        assert_eq!(&object[..8], b"\0asm\x01\0\0\0");
    }

    #[test]
    fn an_unknown_world_names_the_world_and_the_directory() {
        let out = tempfile::tempdir().unwrap();
        let err = write_c_bindings(&wit_v01(), "no-such-world", out.path()).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("`no-such-world`") && msg.contains("v0.1"),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_wit_directory_is_named() {
        let out = tempfile::tempdir().unwrap();
        let missing = out.path().join("nowhere");
        let err = write_c_bindings(&missing, "plugin", out.path()).unwrap_err();
        assert!(format!("{err:#}").contains("nowhere"), "{err:#}");
    }
}
