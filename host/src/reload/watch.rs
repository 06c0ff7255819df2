//! Optional file watching (`[reload] watch = true`): polls the modification time
//! and size of the config file, every plugin component and every file a plugin
//! config names, and reloads when they change and have then been quiet for
//! [`DEBOUNCE`].
//!
//! Polling, not inotify: a stat of a handful of files per second costs nothing,
//! needs no extra crate, works on every file system (NFS, bind mounts, k8s
//! ConfigMap symlink swaps) and sees a file replaced by rename, which inotify
//! watches on the old inode miss.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::{config_dir, Reloader};
use crate::config::Config;
use crate::plugin::for_each_file_ref;

/// How often the files are looked at.
pub const POLL: Duration = Duration::from_secs(1);
/// How long the files must stay unchanged before a reload starts, so that an
/// editor's save (truncate, write, rename) or a deploy of several files becomes
/// one reload.
pub const DEBOUNCE: Duration = Duration::from_millis(500);

/// What was seen of one file: `None` when it could not be read (missing).
type Stamp = Option<(SystemTime, u64)>;

/// Polls until `shutdown`; reloads through `reloader` on changes.
pub async fn run(reloader: Arc<Reloader>, shutdown: CancellationToken) {
    let mut files = watched(&reloader.current().await);
    let mut seen = stamps(&files);
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if stamps(&files) == seen {
            continue;
        }
        if !settle(&files, &shutdown).await {
            return;
        }
        tracing::info!("watched files changed; reloading");
        // The outcome is logged and counted by the reloader. After a failure the
        // files are not retried until they change again.
        let _ = reloader.reload().await;
        files = watched(&reloader.current().await);
        seen = stamps(&files);
    }
}

/// Waits until the files have not changed for [`DEBOUNCE`]; false on shutdown.
async fn settle(files: &[PathBuf], shutdown: &CancellationToken) -> bool {
    let mut last = stamps(files);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(DEBOUNCE) => {}
        }
        let now = stamps(files);
        if now == last {
            return true;
        }
        last = now;
    }
}

fn stamps(files: &[PathBuf]) -> Vec<Stamp> {
    files
        .iter()
        .map(|f| {
            let m = std::fs::metadata(f).ok()?;
            Some((m.modified().ok()?, m.len()))
        })
        .collect()
}

/// The config file, each plugin's component, and every `file` a plugin config
/// names (resolved as the loader resolves them).
pub fn watched(config: &Config) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = config.source.iter().cloned().collect();
    let base = config_dir(config);
    for p in &config.plugins {
        files.push(p.path.clone());
        if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&p.config_json) {
            let Ok(()) = for_each_file_ref(&mut v, &base, &mut |_, path| {
                files.push(path);
                Ok::<(), Infallible>(())
            });
        }
    }
    files.sort();
    files.dedup();
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn watches_config_components_and_named_files() {
        let text = r#"
            [[plugin]]
            name = "a"
            path = "a.wasm"
            [[plugin.config.lists]]
            format = "hosts"
            file = "lists/hosts.txt"
            [[plugin]]
            name = "b"
            path = "/opt/b.wasm"
            [plugin.config]
            nested = { deeper = [{ file = "x.txt" }] }
        "#;
        let c = Config::parse(text, Some(Path::new("/etc/w/w.toml"))).unwrap();
        let files = watched(&c);
        let want: Vec<PathBuf> = [
            "/etc/w/a.wasm",
            "/etc/w/lists/hosts.txt",
            "/etc/w/w.toml",
            "/etc/w/x.txt",
            "/opt/b.wasm",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(files, want);
    }

    #[test]
    fn stamps_see_content_changes_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        let files = vec![f.clone()];
        assert_eq!(stamps(&files), vec![None]);
        std::fs::write(&f, b"one").unwrap();
        let a = stamps(&files);
        assert!(a[0].is_some());
        std::fs::write(&f, b"three").unwrap();
        assert_ne!(stamps(&files), a, "size differs even within one mtime tick");
    }

    #[tokio::test(start_paused = true)]
    async fn settle_waits_for_quiet_and_stops_on_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![dir.path().join("f")];
        let stop = CancellationToken::new();
        assert!(settle(&files, &stop).await);
        stop.cancel();
        assert!(!settle(&files, &stop).await);
    }
}
