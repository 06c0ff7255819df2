//! Building a whole [`PluginChain`] from configuration, all or nothing: the unit
//! a reload swaps.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use super::chain::PluginChain;
use super::engine::PluginEngine;
use super::loader::PluginFactory;
use super::memo::DEFAULT_ENTRIES as DEFAULT_MEMO_ENTRIES;
use super::pool::{default_pool_size, InstancePool, DEFAULT_SPARES};
use super::precompiled::PrecompiledCache;
use super::slot::PluginSlot;
use super::PluginError;
use crate::config::PluginConfig;
use crate::metrics::Metrics;

/// How to build chains: the shared engine, metrics and pool size.
pub struct ChainBuilder {
    engine: Arc<PluginEngine>,
    metrics: Arc<Metrics>,
    pool_size: usize,
    /// Instances built after each plugin's pool is ready (see [`DEFAULT_SPARES`]).
    spares: usize,
    precompiled: Option<Arc<PrecompiledCache>>,
    memo_entries: usize,
}

impl ChainBuilder {
    pub fn new(engine: Arc<PluginEngine>, metrics: Arc<Metrics>) -> ChainBuilder {
        ChainBuilder {
            engine,
            metrics,
            pool_size: default_pool_size(),
            spares: DEFAULT_SPARES,
            precompiled: None,
            memo_entries: DEFAULT_MEMO_ENTRIES,
        }
    }

    /// Takes compiled code from, and stores it in, `cache` (made for this engine).
    pub fn precompiled(mut self, cache: Option<Arc<PrecompiledCache>>) -> ChainBuilder {
        self.precompiled = cache;
        self
    }

    /// Warm instances per plugin (at least 1), all built before the chain is
    /// ready: no spares.
    pub fn pool_size(mut self, n: usize) -> ChainBuilder {
        self.pool_size = n.max(1);
        self.spares = 0;
        self
    }

    /// Instances per plugin built on a background thread once its pool is ready.
    pub fn spares(mut self, n: usize) -> ChainBuilder {
        self.spares = n;
        self
    }

    /// Bound of each chain's memo of reusable on-query verdicts (0 = no memo).
    pub fn memo_entries(mut self, n: usize) -> ChainBuilder {
        self.memo_entries = n;
        self
    }

    /// Compiles, links and initialises every plugin, in config order. Slow: call it
    /// off the query path (start-up, reload task). `config_dir` anchors `file`
    /// references in plugin configs. The first failure aborts the whole chain.
    pub fn build(
        &self,
        configs: &[PluginConfig],
        config_dir: &Path,
    ) -> Result<PluginChain, PluginError> {
        if configs.is_empty() {
            return Ok(PluginChain::empty());
        }
        let mut seen = HashSet::new();
        let mut slots = Vec::with_capacity(configs.len());
        for cfg in configs {
            if !seen.insert(cfg.name.as_str()) {
                return Err(PluginError::Duplicate {
                    name: cfg.name.clone(),
                });
            }
            slots.push(self.build_slot(cfg, config_dir)?);
        }
        Ok(PluginChain::new(
            slots,
            self.engine.clone(),
            self.memo_entries,
            &self.metrics,
        ))
    }

    fn build_slot(&self, cfg: &PluginConfig, config_dir: &Path) -> Result<PluginSlot, PluginError> {
        let factory = Arc::new(PluginFactory::load(
            &self.engine,
            cfg,
            config_dir,
            self.precompiled.as_deref(),
        )?);
        let gauge = self
            .metrics
            .plugin_instances
            .with_label_values(&[cfg.name.as_str()]);
        let name = factory.name.clone();
        let on_error = factory.on_error;
        // A plugin's own `instances` is what it gets, all of them ready.
        let (size, spares) = match cfg.instances {
            Some(n) => (n, 0),
            None => (self.pool_size, self.spares),
        };
        let (pool, hooks) = InstancePool::fill(factory, size, spares, gauge)?;
        tracing::info!(plugin = &*name, ?hooks, "plugin loaded");
        Ok(PluginSlot::new(name, on_error, hooks, pool, &self.metrics))
    }
}
