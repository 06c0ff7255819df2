//! The prefetch worker: asks the upstreams again for popular cache entries in the
//! last tenth of their lifetime (queued by cache hits) and stores the fresh answers,
//! so clients keep hitting the cache instead of waiting on a miss at expiry.

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Pipeline;
use crate::cache::Refresh;
use crate::dns::{self, Answer};
use crate::upstream::UpstreamRequest;

/// Refreshes running at once; further requests are dropped and asked again by a
/// later hit, so prefetch can never crowd out client queries.
const MAX_REFRESHES: usize = 64;

impl Pipeline {
    /// Runs the prefetch worker until `shutdown` (refreshes still running are
    /// abandoned then). Returns at once when the cache or prefetch is off.
    pub async fn run_prefetch(self: Arc<Self>, shutdown: CancellationToken) {
        let Some(mut queue) = self.cache().and_then(|c| c.take_refreshes()) else {
            return;
        };
        let mut running = JoinSet::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                Some(_) = running.join_next(), if !running.is_empty() => {}
                refresh = queue.recv() => {
                    let Some(refresh) = refresh else { return };
                    if running.len() < MAX_REFRESHES {
                        let pipeline = Arc::clone(&self);
                        running.spawn(async move { pipeline.refresh(refresh).await });
                    }
                }
            }
        }
    }

    /// One refresh: the query the key stands for, through the upstream pool (so it
    /// joins an identical client query in flight), the answer cached as a miss's is.
    async fn refresh(&self, refresh: Refresh) {
        let Some(cache) = self.cache() else { return };
        let (live, upstreams) = (self.live.load_full(), self.upstreams());
        let mut packet = self.buffers.get();
        refresh.key().write_query(&mut packet);
        let Ok(query) = dns::parse_query(&packet) else {
            return;
        };
        let mut message = self.buffers.get();
        dns::synth::upstream_query(&query, &packet, 0, live.edns_payload, &mut message);
        let request = UpstreamRequest {
            message: &message,
            question: query.question(&packet),
            deadline: Instant::now() + live.deadline,
        };
        let wire = match upstreams.exchange(&request).await {
            Ok(wire) => wire,
            Err(e) => {
                // The entry stays until it expires, and serve-stale covers it after.
                tracing::debug!(error = %e, "prefetch failed");
                return;
            }
        };
        let Ok(answer) = Answer::from_upstream(&wire, &live.ttl_policy, Instant::now()) else {
            return;
        };
        if cache.insert(refresh.key(), &answer) {
            self.metrics.cache_prefetches.inc();
        }
    }
}
