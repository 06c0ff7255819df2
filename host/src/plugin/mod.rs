//! Wasm policy plugins (issue 3).
