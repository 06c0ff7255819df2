//! [`Overrides`]: command-line values that replace the file's, kept by the
//! running proxy so that every reload re-applies them to the re-read file.

use std::net::SocketAddr;

use super::Config;

/// `wasmdns run --listen/--upstream/--cache-entries`. Empty lists and `None`
/// leave the file's value alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub listen: Vec<SocketAddr>,
    pub upstream: Vec<SocketAddr>,
    pub cache_entries: Option<u64>,
    /// Admin endpoint address (`--admin`).
    pub admin: Option<SocketAddr>,
}

impl Overrides {
    pub fn apply(&self, config: &mut Config) {
        if !self.listen.is_empty() {
            config.server.listen = self.listen.clone();
        }
        if !self.upstream.is_empty() {
            config.upstream.servers = self.upstream.clone();
            // A server given on the command line is plain UDP (TCP on truncation).
            config.upstream.tcp_only.clear();
        }
        if let Some(n) = self.cache_entries {
            config.cache.max_entries = n;
        }
        if let Some(addr) = self.admin {
            config.admin.listen = Some(addr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_overrides_change_nothing() {
        let mut c = Config::defaults();
        Overrides::default().apply(&mut c);
        assert_eq!(c, Config::defaults());
    }

    #[test]
    fn each_override_replaces_its_key_only() {
        let mut c = Config::parse(
            "[upstream]\nservers = [\"tcp://10.0.0.1:53\"]\n[cache]\nmax_entries = 5\nmin_ttl = 3\n",
            None,
        )
        .unwrap();
        let o = Overrides {
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            upstream: vec!["127.0.0.1:5300".parse().unwrap()],
            cache_entries: Some(0),
            admin: Some("127.0.0.1:0".parse().unwrap()),
        };
        o.apply(&mut c);
        assert_eq!(c.server.listen, o.listen);
        assert_eq!(c.upstream.servers, o.upstream);
        assert!(c.upstream.tcp_only.is_empty());
        assert_eq!((c.cache.max_entries, c.cache.min_ttl), (0, 3));
    }
}
