//! [`Reloader`]: applies a changed configuration while the proxy serves, all or
//! nothing.
//!
//! A reload re-reads the config file (the command-line [`Overrides`] applied
//! again), then prepares every replacement off the query path: the whole plugin
//! chain (compiled or mapped from the precompiled cache, linked, every instance
//! initialised), a new upstream pool if `[upstream]` changed, a resized cache if
//! its size or serve-stale window changed. Only when all of that succeeded is
//! anything swapped in, each part atomically (`ArcSwap`). A failure at any step
//! leaves the running configuration untouched, is logged, counted in
//! `wasmdns_reloads_total{result="error"}` and returned, naming the file, key
//! or plugin. Replaced parts are dropped off the query path ([`retire`]).
//!
//! Settings that cannot change without a restart are reported, never silently
//! ignored ([`diff::restart_required`]). Triggers: SIGHUP (`signal`), `POST /reload`
//! (`admin`), and the optional file watcher ([`watch`]).

mod chains;
pub mod diff;
pub mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Mutex;

pub use chains::{config_dir, ChainLoader};

use crate::cache::Cache;
use crate::config::{Config, ConfigError, Overrides};
use crate::metrics::Metrics;
use crate::pipeline::{Live, Pipeline};
use crate::plugin::PluginError;
use crate::upstream::{UpstreamError, UpstreamPool};

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("no config file to reload (started with the built-in defaults)")]
    NoSource,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("upstream: {0}")]
    Upstream(#[from] UpstreamError),
    #[error("reload task failed: {0}")]
    Internal(String),
}

/// What a successful reload did.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadOutcome {
    /// The configuration generation now serving (1 = as started).
    pub generation: u64,
    /// Changed keys that need a restart to take effect.
    pub restart_required: Vec<&'static str>,
    /// Changed sections applied live.
    pub applied: Vec<&'static str>,
    /// Trigger to new chain serving.
    pub duration_ms: f64,
}

struct State {
    /// What the listeners were started with: the reference for restart-only keys.
    started: Config,
    /// The configuration in force for everything applied live.
    current: Config,
}

/// Owns reloading for one running proxy; reloads are serialised.
pub struct Reloader {
    pipeline: Arc<Pipeline>,
    metrics: Arc<Metrics>,
    chains: Arc<ChainLoader>,
    overrides: Overrides,
    state: Mutex<State>,
    generation: AtomicU64,
}

impl Reloader {
    /// For a proxy started from `config` (generation 1).
    pub fn new(
        pipeline: Arc<Pipeline>,
        chains: Arc<ChainLoader>,
        overrides: Overrides,
        config: Config,
    ) -> Reloader {
        Reloader {
            metrics: Arc::clone(pipeline.metrics()),
            pipeline,
            chains,
            overrides,
            state: Mutex::new(State {
                started: config.clone(),
                current: config,
            }),
            generation: AtomicU64::new(1),
        }
    }

    /// The generation serving now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The configuration in force (restart-only keys as started).
    pub async fn current(&self) -> Config {
        self.state.lock().await.current.clone()
    }

    /// Re-reads the config file and applies it, or changes nothing and says why.
    pub async fn reload(&self) -> Result<ReloadOutcome, ReloadError> {
        let start = Instant::now();
        let mut state = self.state.lock().await;
        let result = self.prepare_and_swap(&mut state, start).await;
        match &result {
            Ok(o) => {
                self.metrics.reloads.with_label_values(&["ok"]).inc();
                tracing::info!(
                    generation = o.generation,
                    applied = ?o.applied,
                    restart_required = ?o.restart_required,
                    ms = o.duration_ms,
                    "configuration reloaded"
                );
                if !o.restart_required.is_empty() {
                    tracing::warn!(keys = ?o.restart_required, "changed settings need a restart to take effect");
                }
            }
            Err(e) => {
                self.metrics.reloads.with_label_values(&["error"]).inc();
                tracing::error!(error = %e, generation = self.generation(), "reload failed; the running configuration is unchanged");
            }
        }
        result
    }

    async fn prepare_and_swap(
        &self,
        state: &mut State,
        start: Instant,
    ) -> Result<ReloadOutcome, ReloadError> {
        let new = self.read(&state.current).await?;
        let generation = self.generation() + 1;
        // Everything fallible first; nothing is installed until all of it worked.
        // The chain comes last: it is the costliest to build and to throw away.
        let upstreams = if new.upstream != state.current.upstream {
            Some(UpstreamPool::new(&new.upstream, Arc::clone(&self.metrics)).await?)
        } else {
            None
        };
        let cache = if diff::cache_rebuild(&state.current, &new) {
            Some(self.rebuilt_cache(&new).await?)
        } else {
            None
        };
        let chain = self.chains.load(&new, generation).await?;

        let grace = state.current.upstream.deadline + Duration::from_secs(1);
        self.pipeline.set_live(Live::new(&new));
        if let Some(pool) = upstreams {
            retire(self.pipeline.set_upstreams(Arc::new(pool)), grace);
        }
        if let Some(cache) = cache {
            if let Some(old) = self.pipeline.set_cache(cache) {
                retire(old, grace);
            }
        }
        retire(self.pipeline.set_chain(Arc::new(chain)), grace);
        self.generation.store(generation, Ordering::Release);

        let outcome = ReloadOutcome {
            generation,
            restart_required: diff::restart_required(&state.started, &new),
            applied: diff::applied(&state.current, &new),
            duration_ms: start.elapsed().as_secs_f64() * 1e3,
        };
        state.current = new;
        Ok(outcome)
    }

    /// The config file as it is now, with the command-line overrides on top.
    async fn read(&self, current: &Config) -> Result<Config, ReloadError> {
        let path = current.source.clone().ok_or(ReloadError::NoSource)?;
        let mut config = tokio::task::spawn_blocking(move || Config::load(&path))
            .await
            .map_err(|e| ReloadError::Internal(e.to_string()))??;
        self.overrides.apply(&mut config);
        Ok(config)
    }

    /// The cache for `new`, carrying the live entries over (off the runtime's workers).
    async fn rebuilt_cache(&self, new: &Config) -> Result<Option<Arc<Cache>>, ReloadError> {
        if new.cache.max_entries == 0 {
            return Ok(None);
        }
        let old = self.pipeline.cache();
        let config = new.cache.clone();
        tokio::task::spawn_blocking(move || {
            Some(Arc::new(match old {
                Some(old) => old.rebuilt(&config),
                None => Cache::new(&config),
            }))
        })
        .await
        .map_err(|e| ReloadError::Internal(e.to_string()))
    }
}

/// Drops a replaced part off the query path: waits (at most `grace`) until the
/// queries still holding it have finished, then drops it on a blocking thread,
/// so freeing hundreds of wasm stores never lands on a query's task.
pub fn retire<T: Send + Sync + 'static>(old: Arc<T>, grace: Duration) {
    tokio::spawn(async move {
        let until = tokio::time::Instant::now() + grace;
        while Arc::strong_count(&old) > 1 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = tokio::task::spawn_blocking(move || drop(old)).await;
    });
}

#[cfg(test)]
mod tests;
