//! The query path, top to bottom: decode → ACL → plugins → cache → upstream → answer.
//!
//! [`Pipeline::handle`] is synchronous and runs on the receive loop: it answers
//! rejections, policy verdicts and cache hits in place and hands back a [`Miss`]
//! for everything that needs an upstream, which the listener resolves on its own
//! task with [`Pipeline::resolve`]. No sockets and no wasmtime here.
//! [`Pipeline::run_prefetch`] (in `prefetch.rs`) refreshes popular cache entries.

mod prefetch;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::{ArcSwap, ArcSwapOption};

use crate::buffer::{with_thread_buffer, BufferPool, PooledBuf, MAX_MESSAGE};
use crate::cache::{Cache, CacheKey};
use crate::config::Config;
use crate::dns::{self, rcode, Answer, AnswerRef, Query, Reject};
use crate::logging::RateLimited;
use crate::metrics::{Dropped, Metrics, Proto};
use crate::plugin::{ChainQueryVerdict, ChainResponseVerdict, PluginChain, QuestionView};
use crate::policy::{self, Rewrite, VerdictError};
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
    /// Boxed: misses are the slow path and go to their own task anyway.
    Miss(Box<Miss>),
}

/// A query that missed the cache, with everything needed to finish it.
pub struct Miss {
    query: Query,
    packet: PooledBuf,
    key: Option<CacheKey>,
    client: Client,
    received: Instant,
    policy: Policy,
    _slot: InflightSlot,
}

/// One query being answered: what was asked, by whom, when, and the settings
/// in force when the pipeline took it up.
#[derive(Clone, Copy)]
struct Ask<'a> {
    query: &'a Query,
    packet: &'a [u8],
    client: Client,
    received: Instant,
    live: &'a Live,
}

/// What the plugin chain decided for a query that goes on to the cache: the chain
/// that decided (in-flight queries finish on the chain they started with) when it
/// has on-response work, the question plugins saw, and a name to resolve instead.
#[derive(Default)]
struct Policy {
    chain: Option<Arc<PluginChain>>,
    view: Option<QuestionView>,
    rewrite: Option<Rewrite>,
}

impl Policy {
    /// The query and packet the cache and the upstream work on.
    fn target<'a>(&'a self, ask: &Ask<'a>) -> (&'a Query, &'a [u8]) {
        match &self.rewrite {
            Some(r) => (&r.query, &r.packet),
            None => (ask.query, ask.packet),
        }
    }
}

/// The pipeline's parts and settings; shared by every listener. Everything a
/// reload changes sits behind an `ArcSwap`, loaded once per query phase.
pub struct Pipeline {
    /// `None` when `cache.max_entries` is 0. Replaced only when its size or
    /// serve-stale window changes (the live entries are carried over).
    cache: ArcSwapOption<Cache>,
    /// Replaced when `[upstream]` changes; a miss finishes on the pool it started on.
    upstreams: ArcSwap<UpstreamPool>,
    live: ArcSwap<Live>,
    metrics: Arc<Metrics>,
    buffers: Arc<BufferPool>,
    inflight: Arc<AtomicUsize>,
    security_log: RateLimited,
    /// Swapped whole on reload; each query loads it once.
    chain: ArcSwap<PluginChain>,
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
            cache: ArcSwapOption::new((c.max_entries > 0).then(|| Arc::new(Cache::new(c)))),
            upstreams: ArcSwap::from_pointee(upstreams),
            live: ArcSwap::from_pointee(Live::new(config)),
            metrics,
            buffers,
            inflight: Arc::new(AtomicUsize::new(0)),
            security_log: RateLimited::new(config.log.security_rate),
            chain: ArcSwap::from_pointee(PluginChain::empty()),
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The cache in force (`None` when disabled).
    pub fn cache(&self) -> Option<Arc<Cache>> {
        self.cache.load_full()
    }

    /// Cache misses currently waiting for an upstream.
    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Relaxed)
    }

    /// Installs a new plugin chain and returns the old one; queries already past
    /// on-query finish on the chain they started with.
    pub fn set_chain(&self, chain: Arc<PluginChain>) -> Arc<PluginChain> {
        self.chain.swap(chain)
    }

    /// The plugin chain in force.
    pub fn chain(&self) -> Arc<PluginChain> {
        self.chain.load_full()
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
        let live = self.live.load();
        let ask = Ask {
            query: &query,
            packet,
            client,
            received,
            live: &live,
        };
        if !live.acl.allows(client.addr.ip()) {
            self.metrics.record_dropped(Dropped::Refused);
            if self.security_log.allow() {
                tracing::warn!(target: "security", client = %client.addr, "query refused by ACL");
            }
            return self.error(&ask, rcode::REFUSED, out);
        }
        let Some(policy) = self.on_query(&ask, out) else {
            return Step::Reply;
        };

        let (target, target_packet) = policy.target(&ask);
        let cache = self.cache.load();
        let key = cache.as_ref().map(|_| CacheKey::new(target, target_packet));
        if let (Some(cache), Some(key)) = (&*cache, &key) {
            let hit = with_thread_buffer(&HELD, |held| {
                let answer = cache.get(key, received, held)?;
                Some(self.answer(answer, &ask, &policy, out))
            });
            if let Some(step) = hit {
                self.metrics.cache_hits.inc();
                return step;
            }
            self.metrics.cache_misses.inc();
        }

        let Some(slot) = InflightSlot::take(&self.inflight, live.max_inflight) else {
            self.metrics.record_dropped(Dropped::Overload);
            return self.error(&ask, live.shed_rcode, out);
        };
        let mut owned = self.buffers.get();
        owned.extend_from_slice(packet);
        Step::Miss(Box::new(Miss {
            query,
            packet: owned,
            key,
            client,
            received,
            policy,
            _slot: slot,
        }))
    }

    /// Asks the upstreams, caches the answer and writes the client's response to `out`.
    /// Always produces an answer: SERVFAIL when the upstreams fail or the deadline passes.
    pub async fn resolve(&self, miss: Box<Miss>, out: &mut Vec<u8>) {
        let Miss {
            query,
            packet,
            key,
            client,
            received,
            policy,
            ..
        } = *miss;
        // Owned, not guards: they are held across the upstream exchange.
        let (live, cache, upstreams) = (
            self.live.load_full(),
            self.cache.load_full(),
            self.upstreams.load_full(),
        );
        let ask = Ask {
            query: &query,
            packet: &packet,
            client,
            received,
            live: &live,
        };
        let (target, target_packet) = policy.target(&ask);
        let mut message = self.buffers.get();
        dns::synth::upstream_query(target, target_packet, 0, live.edns_payload, &mut message);
        let request = UpstreamRequest {
            message: &message,
            question: target.question(target_packet),
            deadline: received + live.deadline,
        };
        let wire = match upstreams.exchange(&request).await {
            Ok(wire) => wire,
            Err(e) => {
                tracing::debug!(client = %client.addr, error = %e, "upstream failed");
                let stale = key.as_ref().zip(cache.as_deref());
                self.upstream_failed(&ask, &policy, stale, &e, out);
                return;
            }
        };
        let answer = match Answer::from_upstream(&wire, &live.ttl_policy, Instant::now()) {
            Ok(a) => a,
            Err(e) => {
                // The upstream module matched ID and question; a body we cannot walk
                // is still garbage: never cached, never relayed.
                self.metrics.record_upstream_error("any", "garbage");
                tracing::debug!(error = %e, "unparseable upstream answer");
                self.error(&ask, rcode::SERVFAIL, out);
                return;
            }
        };
        if let (Some(cache), Some(key)) = (&cache, &key) {
            if cache.insert(key, &answer) {
                self.metrics.cache_inserts.inc();
            }
        }
        self.answer(answer.borrowed(), &ask, &policy, out);
    }

    /// No upstream answer: an expired answer beats none (RFC 8767), else the shed
    /// code when overloaded, else SERVFAIL. Stale answers are only served where no
    /// plugin would see or reshape them (no rewrite, no on-response), so a stale
    /// path never bypasses policy.
    fn upstream_failed(
        &self,
        ask: &Ask<'_>,
        policy: &Policy,
        stale: Option<(&CacheKey, &Cache)>,
        error: &UpstreamError,
        out: &mut Vec<u8>,
    ) {
        let plain = policy.rewrite.is_none() && policy.chain.is_none();
        let stale = stale.filter(|_| plain);
        let mut held = Vec::new();
        if let Some(answer) = stale.and_then(|(k, c)| c.get_stale(k, Instant::now(), &mut held)) {
            self.metrics.cache_stale.inc();
            answer.write_stale_response(
                ask.query,
                ask.packet,
                ask.live.stale_ttl,
                self.limit(ask),
                out,
            );
            self.metrics.record_query(
                ask.client.proto,
                ask.query.qtype,
                answer.rcode(),
                ask.received.elapsed(),
            );
            return;
        }
        let code = if matches!(error, UpstreamError::Overloaded) {
            self.metrics.record_dropped(Dropped::Overload);
            ask.live.shed_rcode
        } else {
            rcode::SERVFAIL
        };
        self.error(ask, code, out);
    }

    /// The on-query phase. `None`: the answer (blocked, answered locally, failed) is
    /// in `out`; `Some` says how the query goes on.
    fn on_query(&self, ask: &Ask<'_>, out: &mut Vec<u8>) -> Option<Policy> {
        let chain = self.chain.load();
        if chain.is_empty() {
            return Some(Policy::default());
        }
        let (query, packet) = (ask.query, ask.packet);
        let view = policy::question_view(query, packet);
        let limit = self.limit(ask);
        let code = match chain.on_query(&view, &policy::client_info(ask.client), ask.received) {
            ChainQueryVerdict::Pass => None,
            ChainQueryVerdict::Rewrite { plugin, name } => {
                match Rewrite::new(&name, query, self.buffers.get()) {
                    Ok(rewrite) => Some(Ok(rewrite)),
                    Err(e) => Some(Err(self.verdict_failed(&plugin, &e, ask, out))),
                }
            }
            ChainQueryVerdict::Block { plugin, kind } => Some(Err(policy::write_block(
                query, packet, kind, &plugin, limit, out,
            ))),
            ChainQueryVerdict::Answer { plugin, records } => Some(Err(
                match policy::write_records(query, packet, &view, &records, limit, out) {
                    Ok(()) => rcode::NOERROR,
                    Err(e) => self.verdict_failed(&plugin, &e, ask, out),
                },
            )),
            ChainQueryVerdict::Failed { .. } => {
                dns::synth::error_response(query, packet, rcode::SERVFAIL, out);
                Some(Err(rcode::SERVFAIL))
            }
        };
        let rewrite = match code {
            None => None,
            Some(Ok(rewrite)) => Some(rewrite),
            Some(Err(code)) => {
                policy::recycle(view);
                self.metrics.record_query(
                    ask.client.proto,
                    query.qtype,
                    code,
                    ask.received.elapsed(),
                );
                return None;
            }
        };
        let chain = chain
            .wants_response()
            .then(|| arc_swap::Guard::into_inner(chain));
        let view = if chain.is_some() || rewrite.is_some() {
            Some(view)
        } else {
            policy::recycle(view);
            None
        };
        Some(Policy {
            chain,
            view,
            rewrite,
        })
    }

    /// Serves an upstream or cached answer: on-response plugins first (they run on
    /// cache hits too, since the cache holds upstream answers, never plugin output),
    /// then the answer itself, behind a CNAME when the query was rewritten.
    fn answer(
        &self,
        answer: AnswerRef<'_>,
        ask: &Ask<'_>,
        policy: &Policy,
        out: &mut Vec<u8>,
    ) -> Step {
        let limit = self.limit(ask);
        let (query, packet) = (ask.query, ask.packet);
        let code = match self.on_response(answer, ask, policy, out) {
            Some(code) => code,
            None => match &policy.rewrite {
                None => {
                    answer.write_response(query, packet, ask.received, limit, out);
                    answer.rcode()
                }
                Some(rewrite) => {
                    match rewrite.write(answer, query, packet, ask.received, limit, out) {
                        Ok(code) => code,
                        Err(e) => self.verdict_failed("rewrite", &e, ask, out),
                    }
                }
            },
        };
        self.metrics
            .record_query(ask.client.proto, query.qtype, code, ask.received.elapsed());
        Step::Reply
    }

    /// The on-response phase; `Some(rcode)` when a plugin replaced the answer in `out`.
    fn on_response(
        &self,
        answer: AnswerRef<'_>,
        ask: &Ask<'_>,
        policy: &Policy,
        out: &mut Vec<u8>,
    ) -> Option<u16> {
        let (chain, view) = (policy.chain.as_ref()?, policy.view.as_ref()?);
        let (target, target_packet) = policy.target(ask);
        let records = match policy::answer_records(answer, target, target_packet, ask.received, out)
        {
            Ok(records) => records,
            Err(e) => return Some(self.verdict_failed("on-response", &e, ask, out)),
        };
        let (query, packet, limit) = (ask.query, ask.packet, self.limit(ask));
        match chain.on_response(
            view,
            &policy::client_info(ask.client),
            answer.rcode(),
            &records,
        ) {
            ChainResponseVerdict::Pass => None,
            ChainResponseVerdict::Block { plugin, kind } => Some(policy::write_block(
                query, packet, kind, &plugin, limit, out,
            )),
            ChainResponseVerdict::Replace { plugin, records } => Some(match policy::write_records(
                query, packet, view, &records, limit, out,
            ) {
                Ok(()) => rcode::NOERROR,
                Err(e) => self.verdict_failed(&plugin, &e, ask, out),
            }),
            ChainResponseVerdict::Failed { .. } => {
                dns::synth::error_response(query, packet, rcode::SERVFAIL, out);
                Some(rcode::SERVFAIL)
            }
        }
    }

    /// A verdict that cannot be put on the wire is the plugin's fault: SERVFAIL, logged.
    fn verdict_failed(
        &self,
        plugin: &str,
        error: &VerdictError,
        ask: &Ask<'_>,
        out: &mut Vec<u8>,
    ) -> u16 {
        tracing::warn!(plugin, %error, "plugin verdict rejected");
        dns::synth::error_response(ask.query, ask.packet, rcode::SERVFAIL, out);
        rcode::SERVFAIL
    }

    fn limit(&self, ask: &Ask<'_>) -> usize {
        match ask.client.proto {
            Proto::Udp => ask.query.udp_limit(ask.live.max_udp_payload),
            Proto::Tcp => MAX_MESSAGE,
        }
    }

    fn error(&self, ask: &Ask<'_>, rcode: u16, out: &mut Vec<u8>) -> Step {
        dns::synth::error_response(ask.query, ask.packet, rcode, out);
        self.metrics.record_query(
            ask.client.proto,
            ask.query.qtype,
            rcode,
            ask.received.elapsed(),
        );
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

mod live;
pub use live::Live;

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

thread_local! {
    /// Each worker's copy of the cache hit it is serving (see [`Cache::get`]):
    /// reused, so a hit allocates nothing and takes no buffer from the pool.
    static HELD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}
