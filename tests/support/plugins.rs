//! Compiled test plugins: builds the `plugins/` workspace for wasm32-wasip2 once
//! per test run and returns the directory holding the `.wasm` components.
//!
//! Stand-in until the shared helper lands on main; same name and shape
//! (`support::plugins::artefacts()`), so the two unify by deleting one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `plugins/target/wasm32-wasip2/release`, built (or found up to date) by cargo.
pub fn artefacts() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let manifest = root.join("plugins/Cargo.toml");
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--workspace",
            ])
            .arg("--manifest-path")
            .arg(&manifest)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the test plugins failed");
        root.join("plugins/target/wasm32-wasip2/release")
    })
}

/// The component `name` (e.g. `blocklist`, `test_verdicts`), which must exist.
pub fn wasm(name: &str) -> PathBuf {
    let p = artefacts().join(format!("{name}.wasm"));
    assert!(p.exists(), "{} was not built", p.display());
    p
}
