//! Config tests: defaults, every error case (with its key), and every shipped file under `config/`.

mod errors;
mod valid;

use super::*;

/// Parses `text` as the built-in file and returns the error's key and message.
pub(super) fn err(text: &str) -> (String, String) {
    match Config::parse(text, None) {
        Err(ConfigError::Invalid { file, key, message }) => {
            assert_eq!(file, BUILTIN);
            (key, message)
        }
        other => panic!("expected an Invalid error for {text:?}, got {other:?}"),
    }
}

/// Asserts that `text` fails on `key` with a message containing `needle`.
pub(super) fn fails(text: &str, key: &str, needle: &str) {
    let (k, m) = err(text);
    assert_eq!(k, key, "key for {text:?} (message: {m})");
    assert!(
        m.contains(needle),
        "message for {text:?}: {m:?} lacks {needle:?}"
    );
}

pub(super) fn ok(text: &str) -> Config {
    Config::parse(text, None).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

pub(super) const PLUGIN: &str = "[[plugin]]\nname = \"block\"\npath = \"plugins/block.wasm\"\n";
