//! [`PrecompiledCache`]: compiled plugin code kept on disk, so a restart or a
//! reload that sees the same `.wasm` again skips Cranelift (hundreds of ms per
//! plugin) and only maps the machine code.
//!
//! An artefact is named after what determines its content: the SHA-256 of the
//! component bytes and a digest of the engine's compatibility hash (wasmtime's
//! version, target, Cranelift flags, tunables, enabled features). A different
//! wasmtime or engine configuration therefore never even looks at an old file.
//! Beside each artefact a `.sha256` file holds the digest of the artefact
//! itself, checked before loading: a truncated or bit-flipped file is
//! recompiled, never mapped.
//!
//! Any cache failure (unwritable directory, full disk) only costs the compile
//! it would have saved: the component is compiled as if there were no cache and
//! one warning is logged per cache.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Precompiled};

/// Bumped when the naming or the checksum scheme changes.
const FORMAT: &str = "wasmdns-precompiled-v1";

/// How a component was obtained (for logs, tests and the reload measurement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Mapped from a verified artefact on disk.
    Cached,
    /// Compiled now (and stored, if the cache could be written).
    Compiled,
}

/// A directory of precompiled components for one engine configuration.
pub struct PrecompiledCache {
    dir: PathBuf,
    /// Hex digest of the engine's compatibility hash; part of every file name.
    engine_key: String,
    /// Set after the first write failure: warn once, then stay quiet.
    warned: AtomicBool,
}

impl PrecompiledCache {
    /// A cache in `dir` (created on first store) for components of `engine`.
    pub fn new(dir: PathBuf, engine: &Engine) -> PrecompiledCache {
        PrecompiledCache {
            dir,
            engine_key: engine_key(engine),
            warned: AtomicBool::new(false),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The artefact path for component bytes whose SHA-256 is `wasm_sha256`.
    pub fn path_for(&self, wasm_sha256: &[u8; 32]) -> PathBuf {
        let short = &self.engine_key[..16];
        self.dir.join(format!("{}-{short}.cwasm", hex(wasm_sha256)))
    }

    /// The compiled component for `bytes`: from disk when a verified artefact is
    /// there, else compiled (and stored for next time).
    pub fn component(
        &self,
        engine: &Engine,
        bytes: &[u8],
        wasm_sha256: &[u8; 32],
    ) -> wasmtime::Result<(Component, Origin)> {
        let path = self.path_for(wasm_sha256);
        if let Some(component) = self.load(engine, &path) {
            return Ok((component, Origin::Cached));
        }
        let code = engine.precompile_component(bytes)?;
        if let Err(e) = self.store(&path, &code) {
            self.warn_once(&e);
        }
        // SAFETY: `code` was produced by `precompile_component` on this very engine
        // a moment ago and never left this process's memory.
        let component = unsafe { Component::deserialize(engine, &code)? };
        Ok((component, Origin::Compiled))
    }

    /// A verified artefact, or `None` (absent, foreign, corrupt, incompatible).
    fn load(&self, engine: &Engine, path: &Path) -> Option<Component> {
        match Engine::detect_precompiled_file(path) {
            Ok(Some(Precompiled::Component)) => {}
            _ => return None,
        }
        let expected = std::fs::read_to_string(checksum_path(path)).ok()?;
        let actual = hex(&Sha256::digest(std::fs::read(path).ok()?).into());
        if expected.trim() != actual {
            tracing::warn!(file = %path.display(), "precompiled plugin fails its checksum; recompiling");
            return None;
        }
        // SAFETY: `deserialize_file` trusts the file to be wasmtime output for a
        // compatible engine; mapping anything else is undefined behaviour. That holds
        // here: only `store` writes this directory (the operator points the cache at
        // a directory of its own, as for any cache of executable code), a file is
        // renamed into place only once complete, its name carries the engine's
        // compatibility digest, and its content was just checked against the
        // checksum written with it, so a truncated or damaged file never gets here.
        // wasmtime additionally checks the engine configuration recorded in the
        // artefact and errors (no UB) on a mismatch.
        match unsafe { Component::deserialize_file(engine, path) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "precompiled plugin rejected; recompiling");
                None
            }
        }
    }

    /// Writes the artefact and its checksum, each through a temporary file renamed
    /// into place, so a reader never sees half a file.
    fn store(&self, path: &Path, code: &[u8]) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        write_atomic(path, code)?;
        let sum = hex(&Sha256::digest(code).into());
        write_atomic(&checksum_path(path), sum.as_bytes())
    }

    fn warn_once(&self, e: &std::io::Error) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                dir = %self.dir.display(),
                error = %e,
                "cannot write the precompiled plugin cache; plugins are compiled on every load"
            );
        }
    }
}

/// The default directory: `$XDG_CACHE_HOME/wasmdns/precompiled`, else
/// `$HOME/.cache/wasmdns/precompiled`; `None` when neither is set (a service
/// account without a home), in which case plugins are compiled on every load.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("wasmdns").join("precompiled"))
}

fn checksum_path(artefact: &Path) -> PathBuf {
    let mut p = artefact.as_os_str().to_owned();
    p.push(".sha256");
    PathBuf::from(p)
}

/// Feeds `Hash` output into SHA-256, for a digest that is stable across runs
/// (std's hashers make no such promise across Rust versions).
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        // Unused: the digest is taken from the inner state.
        0
    }
}

fn engine_key(engine: &Engine) -> String {
    let mut h = ShaHasher(Sha256::new());
    FORMAT.hash(&mut h);
    engine.precompile_compatibility_hash().hash(&mut h);
    hex(&h.0.finalize().into())
}

pub fn hex(bytes: &[u8; 32]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(64);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile_in(dir)?;
    tmp.1.write_all(bytes)?;
    tmp.1.sync_all()?;
    std::fs::rename(&tmp.0, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp.0);
    })
}

/// A new file in `dir` no one else has open: pid + counter, created exclusively.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!(".tmp-{}-{n}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((path, file))
}

#[cfg(test)]
#[path = "precompiled/tests.rs"]
mod tests;
