//! [`Live`]: the pipeline settings a reload changes while queries flow, and the
//! swaps of the parts a reload replaces (upstream pool, cache).
//!
//! Each is swapped whole (`ArcSwap`): a query sees either the old or the new
//! value of a part, never a mix of fields, and a reload never waits for queries.

use std::sync::Arc;
use std::time::Duration;

use super::Pipeline;
use crate::acl::Acl;
use crate::cache::Cache;
use crate::config::Config;
use crate::dns::TtlPolicy;
use crate::upstream::UpstreamPool;

/// Settings read on the query path that a reload may change.
pub struct Live {
    pub acl: Acl,
    pub ttl_policy: TtlPolicy,
    /// Largest UDP response we send (`server.max_udp_payload`).
    pub max_udp_payload: u16,
    /// EDNS payload size advertised upstream.
    pub edns_payload: u16,
    /// Overall budget of a miss.
    pub deadline: Duration,
    pub max_inflight: usize,
    /// The fast answer when load is shed (SERVFAIL or REFUSED).
    pub shed_rcode: u16,
    /// TTL of answers served stale (RFC 8767).
    pub stale_ttl: u32,
}

impl Live {
    pub fn new(config: &Config) -> Live {
        let c = &config.cache;
        Live {
            acl: Acl::new(config.acl.allow.clone()),
            ttl_policy: TtlPolicy {
                min_ttl: c.min_ttl,
                max_ttl: c.max_ttl,
                negative_max_ttl: c.negative_max_ttl,
            },
            max_udp_payload: config.server.max_udp_payload,
            edns_payload: config.upstream.edns_payload,
            deadline: config.upstream.deadline,
            max_inflight: config.server.max_inflight,
            shed_rcode: config.server.shed_rcode,
            stale_ttl: c.stale_ttl,
        }
    }
}

impl Pipeline {
    /// Installs new settings; queries already past the ACL finish with the old ones.
    pub fn set_live(&self, live: Live) {
        self.live.store(Arc::new(live));
    }

    /// Installs a new upstream pool and returns the old one. Misses already waiting
    /// on the old pool keep it alive (and its sockets open) until they finish.
    pub fn set_upstreams(&self, pool: Arc<UpstreamPool>) -> Arc<UpstreamPool> {
        self.upstreams.swap(pool)
    }

    /// The upstream pool in force.
    pub fn upstreams(&self) -> Arc<UpstreamPool> {
        self.upstreams.load_full()
    }

    /// Installs another cache (or none) and returns the old one.
    pub fn set_cache(&self, cache: Option<Arc<Cache>>) -> Option<Arc<Cache>> {
        self.cache.swap(cache)
    }
}
