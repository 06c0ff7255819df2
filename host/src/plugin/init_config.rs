//! `InitConfig`: the text a plugin's `init` gets. For WIT v0.1/v0.2 plugins its
//! list files are read in, and held in memory only while instances are being
//! built; a v0.3 plugin gets the config as written and streams its files itself
//! ([`super::lists`]).
//!
//! A list file can be tens of MiB (a 1M-name hosts file is 38 MB). Keeping its
//! text for the chain's whole life, in case an instance has to be rebuilt, cost
//! the proxy as much RAM as the list again, on top of every instance's own copy.
//! So once the pool is full the text is let go, and a rebuild reads the files
//! again. Each file's SHA-256 is checked on that read: a rebuilt instance sees
//! exactly what its siblings saw, or it is not built. A changed file fails the
//! rebuild with an error naming it; the other instances go on serving the old
//! list, and the reload the change triggers (watcher, SIGHUP) builds a whole new
//! chain from the new contents.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// A list file read into the config, and the digest of what was read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileRead {
    path: PathBuf,
    sha256: [u8; 32],
}

/// A plugin's config as `init` gets it (see the module doc).
#[derive(Debug)]
pub struct InitConfig {
    /// The config as written in wasmdns.toml (as JSON), `file` keys unexpanded;
    /// empty when it names no files (then the held text is the config).
    raw: String,
    /// Where relative `file` paths start: the config file's directory.
    base: PathBuf,
    /// Files read in at load time; empty when the config names none.
    files: Vec<FileRead>,
    /// The expanded text while it is kept; `None` once let go.
    held: Mutex<Option<Arc<String>>>,
}

impl InitConfig {
    /// Reads every `file` the config names; the error names the file.
    pub fn read(raw: &str, base: &Path) -> Result<InitConfig, String> {
        let (text, files) = expand(raw, base)?;
        // Without files the text is the raw config, kept for good: no second copy
        // (an inline list can be as big as a file).
        let raw = if files.is_empty() {
            String::new()
        } else {
            raw.to_string()
        };
        Ok(InitConfig {
            raw,
            base: base.to_path_buf(),
            files,
            held: Mutex::new(Some(Arc::new(text))),
        })
    }

    /// The config exactly as written, for plugins that read their list files
    /// themselves (WIT v0.3, [`super::lists`]): kept for good, like a config
    /// without files.
    pub fn as_written(raw: &str) -> InitConfig {
        InitConfig {
            raw: String::new(),
            base: PathBuf::new(),
            files: Vec::new(),
            held: Mutex::new(Some(Arc::new(raw.to_string()))),
        }
    }

    /// The text for `init`: the one kept, or the files read again and checked
    /// against what was read at load time.
    pub fn text(&self) -> Result<Arc<String>, String> {
        if let Some(text) = self.lock().as_ref() {
            return Ok(text.clone());
        }
        let (text, files) = expand(&self.raw, &self.base)?;
        // The same raw config names the same files in the same order.
        if let Some((now, _)) = files
            .iter()
            .zip(&self.files)
            .find(|(now, then)| now != then)
        {
            return Err(format!(
                "{}: changed since the plugin was loaded; not mixing old and new \
                 contents in one chain (a reload loads the new ones)",
                now.path.display()
            ));
        }
        Ok(Arc::new(text))
    }

    /// Lets go of the text if it holds list files (a config without any is kept:
    /// it is small and reading nothing again gains nothing).
    pub fn release(&self) {
        if !self.files.is_empty() {
            *self.lock() = None;
        }
    }

    /// Whether the expanded text is in memory.
    #[cfg(test)]
    pub fn is_held(&self) -> bool {
        self.lock().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<String>>> {
        // The guarded value is replaced whole, never left half-written: a panic
        // elsewhere cannot have poisoned it in a way that matters.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What `init` gets for the config `json`: every JSON object with a string
/// `"file"` key gets a sibling `"content"` key holding that file's text (an
/// existing `"content"` is an error: ambiguous). This is how plugins get list
/// files without any filesystem access. Also returns what was read, in order.
fn expand(json: &str, base: &Path) -> Result<(String, Vec<FileRead>), String> {
    let mut value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("invalid JSON: {e}"))?;
    let mut files = Vec::new();
    for_each_file_ref(&mut value, base, &mut |map, path| {
        if map.contains_key("content") {
            return Err(format!(
                "{}: both \"file\" and \"content\" given",
                path.display()
            ));
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let sha256 = Sha256::digest(text.as_bytes()).into();
        files.push(FileRead { path, sha256 });
        map.insert("content".into(), serde_json::Value::String(text));
        Ok(())
    })?;
    if files.is_empty() {
        return Ok((json.to_string(), files));
    }
    let text = serde_json::to_string(&value).map_err(|e| e.to_string())?;
    Ok((text, files))
}

/// Calls `visit` with every JSON object in `v` that names a list file (has a
/// string `"file"` key) and that file's path, taken relative to `base` (the
/// config file's directory). The one rule for which values are list files: the
/// loader reads them, the reload watcher watches them.
pub fn for_each_file_ref<E>(
    v: &mut serde_json::Value,
    base: &Path,
    visit: &mut impl FnMut(&mut serde_json::Map<String, serde_json::Value>, PathBuf) -> Result<(), E>,
) -> Result<(), E> {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(f)) = map.get("file") {
                let path = base.join(f);
                visit(map, path)?;
            }
            for child in map.values_mut() {
                for_each_file_ref(child, base, visit)?;
            }
        }
        serde_json::Value::Array(items) => {
            for child in items {
                for_each_file_ref(child, base, visit)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    const TWO_LISTS: &str = r#"{"lists":[{"file":"a.txt"},{"file":"b.txt"}]}"#;

    #[test]
    fn the_text_is_kept_until_released_then_read_again_the_same() {
        let dir = dir_with(&[("a.txt", "ads.example\n"), ("b.txt", "x.test\n")]);
        let c = InitConfig::read(TWO_LISTS, dir.path()).unwrap();
        let first = c.text().unwrap();
        assert!(first.contains("ads.example") && first.contains("x.test"));
        assert!(Arc::ptr_eq(&first, &c.text().unwrap()), "held, not re-read");
        c.release();
        assert!(!c.is_held());
        let again = c.text().unwrap();
        assert_eq!(*again, *first);
        assert!(!c.is_held(), "a re-read is not kept either");
    }

    #[test]
    fn a_file_changed_after_loading_is_refused_by_name() {
        let dir = dir_with(&[("a.txt", "ads.example\n"), ("b.txt", "x.test\n")]);
        let c = InitConfig::read(TWO_LISTS, dir.path()).unwrap();
        c.release();
        std::fs::write(dir.path().join("b.txt"), "x.test\nnew.test\n").unwrap();
        let e = c.text().unwrap_err();
        assert!(e.contains("b.txt") && e.contains("changed"), "{e}");
        // Put back as it was: the same bytes are accepted again.
        std::fs::write(dir.path().join("b.txt"), "x.test\n").unwrap();
        assert!(c.text().unwrap().contains("x.test"));
        std::fs::remove_file(dir.path().join("a.txt")).unwrap();
        let e = c.text().unwrap_err();
        assert!(e.contains("a.txt"), "{e}");
    }

    #[test]
    fn a_config_without_files_is_kept_and_passed_unchanged() {
        let c = InitConfig::read(r#"{"domains":["a.test"]}"#, Path::new("/nonexistent")).unwrap();
        c.release();
        assert!(c.is_held());
        assert_eq!(*c.text().unwrap(), r#"{"domains":["a.test"]}"#);
    }

    #[test]
    fn file_references_expand_relative_to_the_base_directory() {
        let expand_files = |json: &str, base: &Path| expand(json, base).map(|(text, _)| text);
        let dir = dir_with(&[("list.txt", "ads.example\n")]);
        let json = r#"{"lists":[{"file":"list.txt","match":"subdomain"}],"n":1}"#;
        let out: serde_json::Value =
            serde_json::from_str(&expand_files(json, dir.path()).unwrap()).unwrap();
        assert_eq!(out["lists"][0]["content"], "ads.example\n");
        assert_eq!(out["n"], 1);
        // Unchanged text when nothing refers to a file.
        assert_eq!(
            expand_files(r#"{"a":"file"}"#, dir.path()).unwrap(),
            r#"{"a":"file"}"#
        );
        let e = expand_files(r#"{"file":"missing.txt"}"#, dir.path()).unwrap_err();
        assert!(e.contains("missing.txt"), "{e}");
        let e = expand_files(r#"{"file":"list.txt","content":"x"}"#, dir.path()).unwrap_err();
        assert!(e.contains("both"), "{e}");
        assert!(expand_files("not json", dir.path()).is_err());
    }
}
