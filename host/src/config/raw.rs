//! Raw TOML shape of the config file (serde; `deny_unknown_fields` everywhere).
