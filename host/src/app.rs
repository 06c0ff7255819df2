//! Wiring: builds the pipeline from a [`Config`], starts listeners and the admin
//! endpoint, and drains in-flight queries on shutdown.
//!
//! Shutdown is one [`CancellationToken`]: cancelling it stops every receive and
//! accept loop at once and tells TCP connections to stop reading; every task that
//! still owes an answer is tracked and gets `shutdown_grace` to finish. The admin
//! endpoint outlives the drain so `/ready` reports 503 during it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::{AdminServer, ProxyStatus};
use crate::buffer::BufferPool;
use crate::config::{Config, Overrides, ServerConfig};
use crate::listener::connection::ConnectionLimits;
use crate::listener::socket::{self, BindError, BoundAddr};
use crate::listener::tcp::TcpListener;
use crate::listener::udp::{UdpListener, UdpShared};
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::reload::{self, ChainLoader, Reloader};
use crate::upstream::UpstreamPool;

/// Buffers kept idle at most: enough for every in-flight query's packet and
/// answer under load without allocating; a few MiB in the worst case.
const BUFFER_SLOTS: usize = 4096;
/// Room for any UDP query or EDNS answer we send (max_udp_payload ≤ 4096);
/// TCP answers grow their buffer past it and are not pooled afterwards.
const BUFFER_CAPACITY: usize = 4096;

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
    #[error(transparent)]
    Plugin(#[from] crate::plugin::PluginError),
}

impl From<BindError> for AppError {
    fn from(e: BindError) -> AppError {
        AppError::Bind {
            proto: e.proto,
            addr: e.addr,
            source: e.source,
        }
    }
}

/// A running proxy. Dropping it does not stop it; call [`Running::shutdown`].
pub struct Running {
    /// Bound addresses (port 0 in the config resolved), UDP and TCP share each.
    pub dns_addrs: Vec<SocketAddr>,
    pub admin_addr: Option<SocketAddr>,
    pub pipeline: Arc<Pipeline>,
    /// Reloads the configuration (SIGHUP, `POST /reload`, the file watcher, tests).
    pub reloader: Arc<Reloader>,
    shutdown: CancellationToken,
    /// Receive loops, connections and every query still owing an answer.
    tasks: TaskTracker,
    grace: Duration,
    admin: Option<(CancellationToken, JoinHandle<()>)>,
}

impl Running {
    /// Starts everything described by `config` on the current tokio runtime.
    pub async fn start(config: Config) -> Result<Running, AppError> {
        Running::start_with(config, Overrides::default()).await
    }

    /// Like [`Running::start`]; `overrides` (already applied to `config`) are
    /// applied again to the file on every reload.
    pub async fn start_with(config: Config, overrides: Overrides) -> Result<Running, AppError> {
        // Bind first: a taken port is the likeliest failure and needs nothing else.
        let bound = bind_all(&config.server)?;
        let admin = bind_admin(config.admin.listen).await?;
        let metrics = Arc::new(Metrics::new());
        let buffers = BufferPool::new(BUFFER_SLOTS, BUFFER_CAPACITY);
        let upstreams = UpstreamPool::new(&config.upstream, Arc::clone(&metrics)).await?;
        let pipeline = Arc::new(Pipeline::new(
            &config,
            upstreams,
            Arc::clone(&metrics),
            Arc::clone(&buffers),
        ));
        let chains = Arc::new(ChainLoader::new(&config.plugin_cache, Arc::clone(&metrics)));
        let chain = chains.load(&config, 1).await?;
        if !chain.is_empty() {
            tracing::info!(plugins = ?chain.names().collect::<Vec<_>>(), "plugin chain loaded");
        }
        pipeline.set_chain(Arc::new(chain));
        let watch = config.reload.watch;
        let reloader = Arc::new(Reloader::new(
            Arc::clone(&pipeline),
            chains,
            overrides,
            config.clone(),
        ));

        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(Arc::clone(&pipeline).run_prefetch(shutdown.clone()));
        let wiring = Wiring {
            pipeline: &pipeline,
            buffers: &buffers,
            metrics: &metrics,
            tasks: &tasks,
            shutdown: &shutdown,
        };
        let dns_addrs = match wiring.start_listeners(bound, &config.server) {
            Ok(addrs) => addrs,
            Err(e) => {
                shutdown.cancel(); // stops the loops already started
                return Err(e);
            }
        };
        let admin_addr = admin.as_ref().map(AdminServer::local_addr);
        let admin = admin.map(|server| {
            let status = ProxyStatus {
                pipeline: Arc::clone(&pipeline),
                draining: shutdown.clone(),
                reloader: Some(Arc::clone(&reloader)),
            };
            let stop = CancellationToken::new();
            (
                stop.clone(),
                tokio::spawn(server.serve(Arc::new(status), stop)),
            )
        });
        if watch {
            tokio::spawn(reload::watch::run(Arc::clone(&reloader), shutdown.clone()));
        }
        Ok(Running {
            dns_addrs,
            admin_addr,
            pipeline,
            reloader,
            shutdown,
            tasks,
            grace: config.server.shutdown_grace,
            admin,
        })
    }

    /// A token that stops the proxy when cancelled (signals, tests).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Resolves when the proxy has stopped (after a shutdown and the drain).
    pub async fn wait(self) {
        self.shutdown.cancelled().await;
        self.tasks.close();
        if tokio::time::timeout(self.grace, self.tasks.wait())
            .await
            .is_err()
        {
            // The runtime's end aborts what is left; clients get no answer, as
            // they would from a crashed server, but never a wrong one.
            tracing::warn!(
                tasks = self.tasks.len(),
                "shutdown grace expired with queries in flight"
            );
        }
        if let Some((stop, serving)) = self.admin {
            stop.cancel();
            let _ = serving.await;
        }
    }

    /// Stops accepting, lets in-flight queries finish (bounded by `shutdown_grace`), returns.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.wait().await
    }
}

/// Binds every configured address (UDP group and TCP listener sharing a port).
fn bind_all(server: &ServerConfig) -> Result<Vec<BoundAddr>, BindError> {
    let workers = socket::udp_workers(server.udp_workers);
    server
        .listen
        .iter()
        .map(|&addr| socket::bind_addr(addr, workers))
        .collect()
}

async fn bind_admin(listen: Option<SocketAddr>) -> Result<Option<AdminServer>, AppError> {
    let Some(addr) = listen else {
        return Ok(None);
    };
    AdminServer::bind(addr)
        .await
        .map(Some)
        .map_err(|source| AppError::Bind {
            proto: "http",
            addr,
            source,
        })
}

/// What every listener shares.
struct Wiring<'a> {
    pipeline: &'a Arc<Pipeline>,
    buffers: &'a Arc<BufferPool>,
    metrics: &'a Arc<Metrics>,
    tasks: &'a TaskTracker,
    shutdown: &'a CancellationToken,
}

impl Wiring<'_> {
    /// Starts one receive loop per UDP socket and one accept loop per TCP
    /// listener; returns the bound addresses.
    fn start_listeners(
        &self,
        bound: Vec<BoundAddr>,
        server: &ServerConfig,
    ) -> Result<Vec<SocketAddr>, AppError> {
        let limits = ConnectionLimits {
            idle_timeout: server.tcp_idle_timeout,
            max_pipelined: server.tcp_max_pipelined,
        };
        // The connection limit is for the whole proxy, not per address.
        let connections = Arc::new(Semaphore::new(server.tcp_max_connections));
        let udp_shared = UdpShared::new(
            Arc::clone(self.buffers),
            Arc::clone(self.metrics),
            self.tasks.clone(),
        );
        let mut addrs = Vec::with_capacity(bound.len());
        for b in bound {
            let bind_err = |proto, source| AppError::Bind {
                proto,
                addr: b.addr,
                source,
            };
            for udp in b.udp {
                let listener = UdpListener::new(udp, Arc::clone(self.pipeline), udp_shared.clone())
                    .map_err(|e| bind_err("udp", e))?;
                self.tasks.spawn(listener.run(self.shutdown.clone()));
            }
            let tcp = tokio::net::TcpListener::from_std(b.tcp).map_err(|e| bind_err("tcp", e))?;
            let listener = TcpListener::new(
                tcp,
                Arc::clone(self.pipeline),
                Arc::clone(self.buffers),
                Arc::clone(self.metrics),
                self.tasks.clone(),
                limits,
                Arc::clone(&connections),
            );
            self.tasks.spawn(listener.run(self.shutdown.clone()));
            addrs.push(b.addr);
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(listen: &[&str], workers: usize) -> ServerConfig {
        let mut s = Config::defaults().server;
        s.listen = listen.iter().map(|a| a.parse().unwrap()).collect();
        s.udp_workers = workers;
        s
    }

    #[test]
    fn every_address_gets_its_own_port_shared_by_udp_and_tcp() {
        let bound = bind_all(&server(&["127.0.0.1:0", "127.0.0.1:0"], 2)).unwrap();
        assert_eq!(bound.len(), 2);
        assert_ne!(bound[0].addr.port(), bound[1].addr.port());
        for b in &bound {
            assert_eq!(b.udp.len(), 2);
            assert_eq!(b.tcp.local_addr().unwrap(), b.addr);
        }
    }

    #[test]
    fn a_bind_error_names_protocol_and_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = AppError::from(bind_all(&server(&[&addr.to_string()], 1)).unwrap_err());
        let AppError::Bind {
            proto, addr: at, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!((*proto, *at), ("tcp", addr));
        assert!(err
            .to_string()
            .starts_with(&format!("cannot bind tcp {addr}: ")));
    }
}

#[cfg(test)]
mod e2e;
