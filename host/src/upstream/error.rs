//! Upstream errors: what the pipeline sees, and what one attempt reports to the retry loop.

use std::io;
use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("no upstream answered before the deadline")]
    Timeout,
    #[error("upstream {upstream}: {source}")]
    Io {
        upstream: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// Every upstream's circuit is open: failing fast beats waiting out the deadline.
    #[error("every upstream is down")]
    Unavailable,
    /// Every upstream available is at its in-flight limit: the query is shed.
    #[error("every upstream is at its in-flight limit")]
    Overloaded,
    #[error("no upstream configured")]
    NoUpstream,
    /// The caller handed over something that is not a DNS query (a bug, never network input).
    #[error("query to forward is not a well-formed DNS message")]
    InvalidQuery,
}

/// How one attempt against one upstream ended when it produced no answer.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// No acceptable answer within the attempt's time: worth retrying elsewhere at once.
    Timeout,
    /// The upstream or the network said no (refused, unreachable, bad TCP answer):
    /// `kind` is the metrics label it was counted under.
    Failed {
        kind: &'static str,
        source: io::Error,
    },
}

impl AttemptError {
    pub(crate) fn io(source: io::Error) -> AttemptError {
        AttemptError::Failed { kind: "io", source }
    }

    /// The `upstream_errors_total` kind this counts as.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            AttemptError::Timeout => "timeout",
            AttemptError::Failed { kind, .. } => kind,
        }
    }
}
