//! Client access control: only listed networks are served; others get REFUSED.

use std::net::IpAddr;

use ipnet::IpNet;

/// Allowed client networks.
pub struct Acl {
    allow: Vec<IpNet>,
}

impl Acl {
    pub fn new(allow: Vec<IpNet>) -> Acl {
        Acl { allow }
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        // IPv4-mapped IPv6 clients (dual-stack sockets) are checked as IPv4.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.allow.iter().any(|net| net.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(nets: &[&str]) -> Acl {
        Acl::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn allows_listed_networks_only() {
        let a = acl(&["127.0.0.0/8", "10.0.0.0/8", "::1/128"]);
        assert!(a.allows("127.0.0.1".parse().unwrap()));
        assert!(a.allows("10.1.2.3".parse().unwrap()));
        assert!(a.allows("::1".parse().unwrap()));
        assert!(!a.allows("8.8.8.8".parse().unwrap()));
        assert!(!a.allows("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn mapped_v4_is_checked_as_v4() {
        let a = acl(&["127.0.0.0/8"]);
        assert!(a.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!a.allows("::ffff:8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn empty_list_refuses_everyone() {
        assert!(!acl(&[]).allows("127.0.0.1".parse().unwrap()));
    }
}
