//! Wiring: builds the pipeline from a [`Config`], starts listeners and the admin
//! endpoint, and drains in-flight queries on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::pipeline::Pipeline;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot bind {proto} {addr}: {source}")]
    Bind {
        proto: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("upstream set-up failed: {0}")]
    Upstream(#[from] crate::upstream::UpstreamError),
}

/// A running proxy. Dropping it does not stop it; call [`Running::shutdown`].
pub struct Running {
    /// Bound addresses (port 0 in the config resolved), UDP and TCP share each.
    pub dns_addrs: Vec<SocketAddr>,
    pub admin_addr: Option<SocketAddr>,
    pub pipeline: Arc<Pipeline>,
    shutdown: CancellationToken,
}

impl Running {
    /// Starts everything described by `config` on the current tokio runtime.
    pub async fn start(_config: Config) -> Result<Running, AppError> {
        todo!()
    }

    /// A token that stops the proxy when cancelled (signals, tests).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Resolves when the proxy has stopped (after a shutdown and the drain).
    pub async fn wait(self) {
        todo!()
    }

    /// Stops accepting, lets in-flight queries finish (bounded by `shutdown_grace`), returns.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.wait().await
    }
}
