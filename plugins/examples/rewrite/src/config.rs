//! The rewrite plugin's `[plugin.config]` table.
//!
//! ```toml
//! [plugin.config]
//! ttl = 300                                          # TTL of local answers
//! hosts = "192.168.1.10 nas.lan nas\n"               # hosts-file text, inline
//! filter_aaaa = ["example.org"]                      # drop AAAA answers at and below these names
//! [plugin.config.local]
//! "router.lan" = ["192.168.1.1", "fd00::1"]          # A / AAAA values
//! "www.lan" = ["router.lan"]                         # a name: CNAME (one only, RFC 1034 §3.6.2)
//! [plugin.config.rewrite]
//! "www.google.com" = "forcesafesearch.google.com"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub local: BTreeMap<String, Vec<String>>,
    pub hosts: String,
    pub rewrite: BTreeMap<String, String>,
    pub filter_aaaa: Vec<String>,
    pub ttl: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            local: BTreeMap::new(),
            hosts: String::new(),
            rewrite: BTreeMap::new(),
            filter_aaaa: Vec::new(),
            ttl: 300,
        }
    }
}
