//! [`ChainLoader`]: builds whole plugin chains (at start and on every reload)
//! with one engine and one precompiled cache for the life of the process.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::config::{Config, PluginCacheConfig};
use crate::metrics::Metrics;
use crate::plugin::{
    default_precompiled_dir, priority, ChainBuilder, PluginChain, PluginEngine, PluginError,
    PrecompiledCache,
};

/// The engine (and its epoch ticker thread) is created on first use, so a proxy
/// without plugins runs no ticker; then it is shared by every generation, which
/// keeps compiled code and precompiled artefacts compatible across reloads.
pub struct ChainLoader {
    metrics: Arc<Metrics>,
    cache_config: PluginCacheConfig,
    engine: OnceLock<(Arc<PluginEngine>, Option<Arc<PrecompiledCache>>)>,
}

impl ChainLoader {
    pub fn new(cache_config: &PluginCacheConfig, metrics: Arc<Metrics>) -> ChainLoader {
        ChainLoader {
            metrics,
            cache_config: cache_config.clone(),
            engine: OnceLock::new(),
        }
    }

    /// Compiles, links and initialises every plugin of `config` on a thread of
    /// its own (seconds of CPU at worst; the runtime's workers keep serving) and
    /// stamps the chain with `generation`. A reload's build (generation > 1) runs
    /// at [`priority::RELOAD`]: the old chain serves meanwhile, and at normal
    /// priority a big list's `init` took its fair share of the cores serving it.
    pub async fn load(
        self: &Arc<Self>,
        config: &Config,
        generation: u64,
    ) -> Result<PluginChain, PluginError> {
        if config.plugins.is_empty() {
            return Ok(PluginChain::empty().with_generation(generation));
        }
        let plugins = config.plugins.clone();
        let memo_entries = config.cache.plugin_verdicts;
        let dir = config_dir(config);
        let me = Arc::clone(self);
        let (done, built) = tokio::sync::oneshot::channel();
        // Not the blocking pool: the nice value sticks to a thread, and an
        // unprivileged one cannot take it back.
        std::thread::Builder::new()
            .name(format!("wasmdns-chain-{generation}"))
            .spawn(move || {
                if generation > 1 {
                    priority::lower(priority::RELOAD, "reload");
                }
                let chain = me.engine().and_then(|(engine, precompiled)| {
                    ChainBuilder::new(engine, Arc::clone(&me.metrics))
                        .precompiled(precompiled)
                        .memo_entries(memo_entries)
                        .build(&plugins, &dir)
                });
                let _ = done.send(chain.map(|c| c.with_generation(generation)));
            })
            .map_err(|e| PluginError::Engine(format!("cannot start the plugin loader: {e}")))?;
        built
            .await
            .map_err(|_| PluginError::Engine("plugin loader stopped".into()))?
    }

    fn engine(&self) -> Result<(Arc<PluginEngine>, Option<Arc<PrecompiledCache>>), PluginError> {
        if let Some((e, c)) = self.engine.get() {
            return Ok((Arc::clone(e), c.clone()));
        }
        let engine = Arc::new(PluginEngine::new()?);
        let dir = match (&self.cache_config.enabled, &self.cache_config.dir) {
            (false, _) => None,
            (true, Some(dir)) => Some(dir.clone()),
            (true, None) => default_precompiled_dir(),
        };
        let cache = dir.map(|d| Arc::new(PrecompiledCache::new(d, engine.engine())));
        if let Some(c) = &cache {
            tracing::info!(dir = %c.dir().display(), "precompiled plugin cache");
        }
        // Loads are serialised by the reloader; a lost race would only build a
        // second engine that is dropped here.
        let (e, c) = self.engine.get_or_init(|| (engine, cache));
        Ok((Arc::clone(e), c.clone()))
    }
}

/// The directory that relative `file` references in plugin configs start from.
pub fn config_dir(config: &Config) -> PathBuf {
    config
        .source
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
