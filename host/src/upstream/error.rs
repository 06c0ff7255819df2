//! Upstream errors.

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("no upstream answered before the deadline")]
    Timeout,
    #[error("upstream {upstream}: {source}")]
    Io {
        upstream: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("no upstream configured")]
    NoUpstream,
}
