//! Real plugin components for the tests: builds the `plugins/` workspace for
//! `wasm32-wasip2` once per test run (never checked-in binaries) and makes
//! `[[plugin]]` entries pointing at the artefacts.
//!
//! The build is the one `plugins/build.sh` runs, so after a fresh clone
//! `cargo test` needs only the target installed. Cargo's own lock on
//! `plugins/target` serialises concurrent test processes; the `OnceLock`
//! serialises the tests of this one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use wasmdns::config::{OnError, PluginConfig};

const TARGET: &str = "wasm32-wasip2";

/// The repository root (the `wasmdns` package's manifest directory).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the freshly built `*.wasm` components. Builds them on
/// first use; fails the test with cargo's output (and the fix, when the target
/// is missing) if the build fails.
pub fn artefacts() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(dir) => dir,
        Err(why) => panic!("{why}"),
    }
}

/// The path of one built component, e.g. `wasm("test_loop")`.
pub fn wasm(stem: &str) -> PathBuf {
    let path = artefacts().join(format!("{stem}.wasm"));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

fn build() -> Result<PathBuf, String> {
    let plugins = repo_root().join("plugins");
    let target_dir = plugins.join("target");
    if !target_installed() {
        return Err(format!(
            "the {TARGET} target is not installed: run `rustup target add {TARGET}` \
             (the integration tests build the plugins in plugins/ for it)"
        ));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--release", "--target", TARGET, "--workspace"])
        .arg("--manifest-path")
        .arg(plugins.join("Cargo.toml"))
        // Where plugins/build.sh and the example configs expect the artefacts,
        // whatever the outer build's target directory is.
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .current_dir(&plugins)
        .output()
        .map_err(|e| format!("cannot run cargo to build the plugins: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "building the plugins failed ({}); if the target is missing, run \
             `rustup target add {TARGET}`:\n{stderr}",
            out.status
        ));
    }
    Ok(target_dir.join(TARGET).join("release"))
}

/// Whether the toolchain cargo uses has the standard library for [`TARGET`].
fn target_installed() -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        // No rustc to ask: let cargo's own error speak.
        return true;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .is_dir()
}

/// A `[[plugin]]` entry for the component `stem` with `config` as its
/// `[plugin.config]` table; on_error pass, generous deadline for debug builds.
pub fn plugin(name: &str, stem: &str, config: serde_json::Value) -> PluginConfig {
    PluginConfig {
        name: name.to_string(),
        path: wasm(stem),
        on_error: OnError::Pass,
        // Test builds run the host unoptimised and on a shared machine: a tight
        // deadline would make honest plugins flaky. Hostile tests set their own.
        deadline: Duration::from_millis(50),
        memory_limit: 64 << 20,
        instances: None,
        config_json: config.to_string(),
    }
}

/// [`plugin`] with `on_error` and `deadline` set.
pub fn hostile(name: &str, stem: &str, on_error: OnError, deadline: Duration) -> PluginConfig {
    PluginConfig {
        on_error,
        deadline,
        ..plugin(name, stem, serde_json::json!({}))
    }
}
