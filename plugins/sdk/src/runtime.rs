//! What `export_plugin!` expands to call: config parsing and the instance slot.
//!
//! Hidden from the docs; plugin authors use `load` for tests and the macro for
//! the component.

use std::net::Ipv6Addr;

use serde::de::DeserializeOwned;

use crate::plugin::Plugin;

/// Builds `P` from `config_json` (the host's rendering of `[plugin.config]`)
/// through [`Plugin::from_json`], exactly as the component's `init` export does.
/// An empty string or `null` means "no table" and yields `P::Config::default()`.
pub fn load<P: Plugin>(config_json: &str) -> Result<P, String> {
    P::from_json(config_json.to_owned())
}

/// The config parsing behind the default [`Plugin::from_json`]: JSON into `C`,
/// with an empty string or `null` meaning `C::default()`. Errors start with
/// "invalid config: ".
pub fn parse_config<C: DeserializeOwned + Default>(config_json: &str) -> Result<C, String> {
    let trimmed = config_json.trim();
    if trimmed.is_empty() || trimmed == "null" {
        return Ok(C::default());
    }
    serde_json::from_str(trimmed).map_err(|e| format!("invalid config: {e}"))
}

/// The eight 16-bit groups of an IPv6 address, as the WIT tuple carries them.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub fn v6_segments(ip: Ipv6Addr) -> [u16; 8] {
    ip.segments()
}

/// Rebuilds an IPv6 address from the WIT tuple's groups.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub fn v6_from_segments(s: [u16; 8]) -> Ipv6Addr {
    Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
}

#[cfg(target_arch = "wasm32")]
pub use slot::Slot;

#[cfg(target_arch = "wasm32")]
mod slot {
    use std::cell::OnceCell;

    /// Holds the one plugin instance of this component instance.
    pub struct Slot<T>(OnceCell<T>);

    // SAFETY: a wasm32-wasip2 component has a single thread and the component model
    // never re-enters an instance while one of its exports runs, so the cell is
    // never touched from two places at once.
    unsafe impl<T> Sync for Slot<T> {}

    impl<T> Default for Slot<T> {
        fn default() -> Self {
            Self::new()
        }
    }

    impl<T> Slot<T> {
        pub const fn new() -> Self {
            Slot(OnceCell::new())
        }

        /// Stores the instance; a second `init` on the same instance is refused
        /// because the host must build a fresh instance to change config.
        pub fn set(&self, value: T) -> Result<(), String> {
            self.0
                .set(value)
                .map_err(|_| String::from("init called twice on one instance"))
        }

        /// The instance. A hook called before a successful init is a host bug:
        /// trapping makes the host recycle the instance and count the error.
        pub fn get(&self) -> &T {
            match self.0.get() {
                Some(value) => value,
                None => panic!("wasmdns plugin hook called before a successful init"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Config {
        names: Vec<String>,
        strict: bool,
    }

    #[derive(Debug)]
    struct Probe(Config);

    impl Plugin for Probe {
        type Config = Config;
        fn init(config: Config) -> Result<Self, String> {
            if config.strict && config.names.is_empty() {
                return Err("bad config: strict needs names".into());
            }
            Ok(Probe(config))
        }
    }

    #[test]
    fn empty_and_null_configs_mean_default() {
        for json in ["", "   ", "null", "{}"] {
            let p = load::<Probe>(json).unwrap();
            assert!(p.0.names.is_empty() && !p.0.strict, "{json:?}");
        }
    }

    #[test]
    fn config_is_parsed_into_the_typed_struct() {
        let p = load::<Probe>(r#"{"names":["a","b"],"strict":true}"#).unwrap();
        assert_eq!(p.0.names, ["a", "b"]);
        assert!(p.0.strict);
    }

    #[test]
    fn unknown_keys_and_bad_json_are_init_errors() {
        let err = load::<Probe>(r#"{"nmaes":[]}"#).unwrap_err();
        assert!(
            err.starts_with("invalid config: unknown field `nmaes`"),
            "{err}"
        );
        let err = load::<Probe>("{").unwrap_err();
        assert!(err.starts_with("invalid config:"), "{err}");
        let err = load::<Probe>(r#"{"strict":"yes"}"#).unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn ipv6_groups_round_trip_in_network_order() {
        let ip: Ipv6Addr = "2001:db8::ff00:42:8329".parse().unwrap();
        let groups = v6_segments(ip);
        assert_eq!(groups, [0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329]);
        assert_eq!(v6_from_segments(groups), ip);
        assert_eq!(v6_from_segments([0; 8]), Ipv6Addr::UNSPECIFIED);
    }

    #[test]
    fn init_errors_pass_through_unchanged() {
        let err = load::<Probe>(r#"{"strict":true}"#).unwrap_err();
        assert_eq!(err, "bad config: strict needs names");
    }
}
