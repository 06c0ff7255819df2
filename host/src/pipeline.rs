//! The query path, top to bottom: decode → ACL → (plugins) → cache → upstream → answer.
//!
//! [`Pipeline::handle`] is synchronous and runs on the receive loop: it answers
//! rejections and cache hits in place and hands back a [`Miss`] for everything
//! that needs an upstream, which the listener resolves on its own task with
//! [`Pipeline::resolve`]. No sockets and no wasmtime here.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::acl::Acl;
use crate::buffer::{BufferPool, PooledBuf, MAX_MESSAGE};
use crate::cache::{Cache, CacheKey};
use crate::config::Config;
use crate::dns::{self, rcode, Answer, Query, Reject, TtlPolicy};
use crate::logging::RateLimited;
use crate::metrics::{Dropped, Metrics, Proto};
use crate::upstream::{UpstreamError, UpstreamPool, UpstreamRequest};

/// Who sent a query, and how.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub addr: SocketAddr,
    pub proto: Proto,
}

/// What the listener does next with a packet.
pub enum Step {
    /// `out` holds the answer: send it.
    Reply,
    /// Send nothing.
    Drop,
    /// Needs an upstream: call [`Pipeline::resolve`] off the receive loop.
    Miss(Miss),
}

/// A query that missed the cache, with everything needed to finish it.
pub struct Miss {
    query: Query,
    packet: PooledBuf,
    key: Option<CacheKey>,
    client: Client,
    received: Instant,
    _slot: InflightSlot,
}

/// The pipeline's parts and settings; shared by every listener.
pub struct Pipeline {
    acl: Acl,
    cache: Option<Cache>,
    upstreams: UpstreamPool,
    metrics: Arc<Metrics>,
    buffers: Arc<BufferPool>,
    ttl_policy: TtlPolicy,
    max_udp_payload: u16,
    edns_payload: u16,
    deadline: Duration,
    inflight: Arc<AtomicUsize>,
    max_inflight: usize,
    /// The fast answer when load is shed (SERVFAIL or REFUSED).
    shed_rcode: u16,
    /// TTL of answers served stale (RFC 8767).
    stale_ttl: u32,
    security_log: RateLimited,
}

impl Pipeline {
    pub fn new(
        config: &Config,
        upstreams: UpstreamPool,
        metrics: Arc<Metrics>,
        buffers: Arc<BufferPool>,
    ) -> Pipeline {
        let c = &config.cache;
        Pipeline {
            acl: Acl::new(config.acl.allow.clone()),
            cache: (c.max_entries > 0).then(|| Cache::new(c)),
            upstreams,
            metrics,
            buffers,
            ttl_policy: TtlPolicy {
                min_ttl: c.min_ttl,
                max_ttl: c.max_ttl,
                negative_max_ttl: c.negative_max_ttl,
            },
            max_udp_payload: config.server.max_udp_payload,
            edns_payload: config.upstream.edns_payload,
            deadline: config.upstream.deadline,
            inflight: Arc::new(AtomicUsize::new(0)),
            max_inflight: config.server.max_inflight,
            shed_rcode: config.server.shed_rcode,
            stale_ttl: c.stale_ttl,
            security_log: RateLimited::new(config.log.security_rate),
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    /// Cache misses currently waiting for an upstream.
    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Relaxed)
    }

    /// Everything that can be decided without an upstream. Writes the answer to `out`
    /// for [`Step::Reply`].
    pub fn handle(
        &self,
        packet: &[u8],
        client: Client,
        received: Instant,
        out: &mut Vec<u8>,
    ) -> Step {
        let query = match dns::parse_query(packet) {
            Ok(q) => q,
            Err(reject) => return self.reject(packet, client, reject, out),
        };
        if !self.acl.allows(client.addr.ip()) {
            self.metrics.record_dropped(Dropped::Refused);
            if self.security_log.allow() {
                tracing::warn!(target: "security", client = %client.addr, "query refused by ACL");
            }
            return self.error(&query, packet, client, received, rcode::REFUSED, out);
        }

        // Plugin chain, on-query phase, goes here (issue 3): it sees every query,
        // cache hits included, so per-client decisions stay right.

        let key = self.cache.as_ref().map(|_| CacheKey::new(&query, packet));
        if let (Some(cache), Some(key)) = (&self.cache, &key) {
            if let Some(answer) = cache.get(key, received) {
                self.metrics.cache_hits.inc();
                return self.answer(&answer, &query, packet, client, received, out);
            }
            self.metrics.cache_misses.inc();
        }

        let Some(slot) = InflightSlot::take(&self.inflight, self.max_inflight) else {
            self.metrics.record_dropped(Dropped::Overload);
            return self.error(&query, packet, client, received, self.shed_rcode, out);
        };
        let mut owned = self.buffers.get();
        owned.extend_from_slice(packet);
        Step::Miss(Miss {
            query,
            packet: owned,
            key,
            client,
            received,
            _slot: slot,
        })
    }

    /// Asks the upstreams, caches the answer and writes the client's response to `out`.
    /// Always produces an answer: SERVFAIL when the upstreams fail or the deadline passes.
    pub async fn resolve(&self, miss: Miss, out: &mut Vec<u8>) {
        let Miss {
            query,
            packet,
            key,
            client,
            received,
            ..
        } = miss;
        let mut message = self.buffers.get();
        dns::synth::upstream_query(&query, &packet, 0, self.edns_payload, &mut message);
        let request = UpstreamRequest {
            message: &message,
            question: query.question(&packet),
            deadline: received + self.deadline,
        };
        let wire = match self.upstreams.exchange(&request).await {
            Ok(wire) => wire,
            Err(e) => {
                tracing::debug!(client = %client.addr, error = %e, "upstream failed");
                // RFC 8767: an expired answer beats no answer.
                let stale = key.as_ref().zip(self.cache.as_ref());
                if let Some(answer) = stale.and_then(|(k, c)| c.get_stale(k, Instant::now())) {
                    self.metrics.cache_stale.inc();
                    let limit = self.limit(&query, client);
                    answer.write_stale_response(&query, &packet, self.stale_ttl, limit, out);
                    self.metrics.record_query(
                        client.proto,
                        query.qtype,
                        answer.rcode(),
                        received.elapsed(),
                    );
                    return;
                }
                let rcode = if matches!(e, UpstreamError::Overloaded) {
                    self.metrics.record_dropped(Dropped::Overload);
                    self.shed_rcode
                } else {
                    rcode::SERVFAIL
                };
                self.error(&query, &packet, client, received, rcode, out);
                return;
            }
        };
        let now = Instant::now();
        let answer = match Answer::from_upstream(&wire, &self.ttl_policy, now) {
            Ok(a) => Arc::new(a),
            Err(e) => {
                // The upstream module matched ID and question; a body we cannot walk
                // is still garbage: never cached, never relayed.
                self.metrics.record_upstream_error("any", "garbage");
                tracing::debug!(error = %e, "unparseable upstream answer");
                self.error(&query, &packet, client, received, rcode::SERVFAIL, out);
                return;
            }
        };
        if let (Some(cache), Some(key)) = (&self.cache, key) {
            if answer.lifetime() > 0 {
                cache.insert(key, Arc::clone(&answer));
                self.metrics.cache_inserts.inc();
            }
        }

        // Plugin chain, on-response phase, goes here (issue 3).

        self.answer(&answer, &query, &packet, client, received, out);
    }

    fn limit(&self, query: &Query, client: Client) -> usize {
        match client.proto {
            Proto::Udp => query.udp_limit(self.max_udp_payload),
            Proto::Tcp => MAX_MESSAGE,
        }
    }

    fn answer(
        &self,
        answer: &Answer,
        query: &Query,
        packet: &[u8],
        client: Client,
        received: Instant,
        out: &mut Vec<u8>,
    ) -> Step {
        answer.write_response(query, packet, received, self.limit(query, client), out);
        self.metrics.record_query(
            client.proto,
            query.qtype,
            answer.rcode(),
            received.elapsed(),
        );
        Step::Reply
    }

    fn error(
        &self,
        query: &Query,
        packet: &[u8],
        client: Client,
        received: Instant,
        rcode: u16,
        out: &mut Vec<u8>,
    ) -> Step {
        dns::synth::error_response(query, packet, rcode, out);
        self.metrics
            .record_query(client.proto, query.qtype, rcode, received.elapsed());
        Step::Reply
    }

    fn reject(&self, packet: &[u8], client: Client, reject: Reject, out: &mut Vec<u8>) -> Step {
        match reject {
            Reject::Drop(why) => {
                self.metrics.record_dropped(why);
                if why == Dropped::Unreadable && self.security_log.allow() {
                    tracing::warn!(target: "security", client = %client.addr, len = packet.len(), "unreadable packet dropped");
                }
                Step::Drop
            }
            Reject::Answer(r) => {
                if r.rcode == rcode::FORMERR {
                    self.metrics.record_dropped(Dropped::Malformed);
                    if self.security_log.allow() {
                        tracing::warn!(target: "security", client = %client.addr, reason = r.reason, "malformed query");
                    }
                }
                dns::synth::reject_response(packet, &r, out);
                Step::Reply
            }
        }
    }
}

/// One unit of the in-flight budget, returned on drop.
struct InflightSlot(Arc<AtomicUsize>);

impl InflightSlot {
    fn take(counter: &Arc<AtomicUsize>, max: usize) -> Option<InflightSlot> {
        let prev = counter.fetch_add(1, Ordering::AcqRel);
        if prev >= max {
            counter.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(InflightSlot(Arc::clone(counter)))
    }
}

impl Drop for InflightSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
