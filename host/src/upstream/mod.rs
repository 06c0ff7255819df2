//! Upstream resolvers: pooled UDP sockets, TCP fallback on TC, matching of answers
//! to queries, retries inside the query's deadline.

mod error;

pub use error::UpstreamError;

use std::sync::Arc;
use std::time::Instant;

use crate::config::UpstreamConfig;
use crate::metrics::Metrics;

/// What the pipeline asks of the upstream side: one question, answered or failed by `deadline`.
pub struct UpstreamRequest<'a> {
    /// A complete query message (built by `dns::synth::upstream_query`); its ID is replaced.
    pub message: &'a [u8],
    /// The question section inside `message`, which the answer must echo (case-insensitively).
    pub question: &'a [u8],
    pub deadline: Instant,
}

/// All configured upstreams.
pub struct UpstreamPool {
    _private: (),
}

impl UpstreamPool {
    /// Binds the pooled sockets. Must be called inside a tokio runtime.
    pub async fn new(
        _config: &UpstreamConfig,
        _metrics: Arc<Metrics>,
    ) -> Result<UpstreamPool, UpstreamError> {
        todo!()
    }

    /// Sends the query and returns a validated response (ID, source and question
    /// matched; TC answers retried over TCP), or an error once `deadline` passes.
    pub async fn exchange(&self, _request: &UpstreamRequest<'_>) -> Result<Vec<u8>, UpstreamError> {
        todo!()
    }
}
