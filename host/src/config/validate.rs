//! Raw → validated config, with errors that name the file and the key.

use std::path::{Path, PathBuf};

use super::Config;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {key}: {message}")]
    Invalid {
        file: String,
        key: String,
        message: String,
    },
}

pub(super) fn parse(_text: &str, _path: Option<&Path>) -> Result<Config, ConfigError> {
    todo!("config parsing")
}
