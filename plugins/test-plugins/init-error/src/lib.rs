//! Test plugin `test_init_error.wasm`: init always returns an error, so the host
//! must reject the plugin naming it and this message.

use serde::de::IgnoredAny;
use wasmdns_plugin_sdk::{export_plugin, Plugin};

/// The exact message the host is expected to report.
pub const MESSAGE: &str = "bad config: test-init-error always refuses to start";

pub struct InitError;

impl Plugin for InitError {
    /// Accepts any table: the failure must come from `init`, not from parsing.
    type Config = IgnoredAny;

    fn init(_config: IgnoredAny) -> Result<Self, String> {
        Err(MESSAGE.to_owned())
    }
}

export_plugin!(InitError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_fails_with_the_message() {
        assert_eq!(
            wasmdns_plugin_sdk::load::<InitError>(r#"{"x":1}"#)
                .err()
                .as_deref(),
            Some(MESSAGE)
        );
        assert_eq!(
            wasmdns_plugin_sdk::load::<InitError>("{}").err().as_deref(),
            Some(MESSAGE)
        );
    }
}
