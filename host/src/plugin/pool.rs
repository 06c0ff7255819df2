//! A lock-free pool of warm instances of one plugin.
//!
//! Calls pop an instance, use it and push it back; a call never instantiates.
//! An instance that failed is dropped and its replacement is built on a
//! background thread, then pushed. If the pool is empty at call time (every
//! instance busy or being rebuilt) the call is answered per the plugin's
//! `on_error` and counted as `busy`: waiting would stall the receive loop, and
//! instantiating there would put milliseconds of work on the query path. With
//! the default size (one per core, plus a spare built once the chain is live)
//! and synchronous calls, emptiness only happens while a burst of failures is
//! being repaired.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use prometheus::IntGauge;

use super::instance::Instance;
use super::loader::PluginFactory;
use super::priority;
use super::types::Hooks;

/// Default pool size: one instance per runtime worker thread (calls are
/// synchronous, so a thread holds at most one). Each instance holds its own copy
/// of the plugin's data (a 1M-name blocklist is ~50 MiB per instance), so more
/// would only cost memory. A plugin's own `instances` setting overrides it.
pub fn default_pool_size() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Default spares: one more instance, which takes over while a failed one is
/// rebuilt. Built after the chain is ready: no thread needs it to call, so a
/// chain (and the lists it loads) goes live without waiting for it.
pub const DEFAULT_SPARES: usize = 1;

pub struct InstancePool {
    queue: Arc<ArrayQueue<Instance>>,
    factory: Arc<PluginFactory>,
    gauge: IntGauge,
}

impl InstancePool {
    /// Builds `size` instances (at least one) and returns the pool with the hooks
    /// the plugin's `init` declared; `spares` more are built afterwards on a
    /// background thread. Instances are built on up to one thread per core: each
    /// runs the plugin's `init`, and loading a 1M-name list takes the better part
    /// of a second. The first failure fails the whole pool. Once the last
    /// instance is built the factory lets go of its config text.
    pub fn fill(
        factory: Arc<PluginFactory>,
        size: usize,
        spares: usize,
        gauge: IntGauge,
    ) -> Result<(InstancePool, Hooks), super::PluginError> {
        let size = size.max(1);
        let queue = Arc::new(ArrayQueue::new(size + spares));
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(size);
        let started = AtomicUsize::new(0);
        let build = || -> Result<Option<Hooks>, super::PluginError> {
            let mut hooks = None;
            while started.fetch_add(1, Ordering::Relaxed) < size {
                let (instance, h) = factory.instantiate()?;
                hooks = Some(h);
                let _ = queue.push(instance);
            }
            Ok(hooks)
        };
        let outcomes: Vec<_> = std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(build)).collect();
            let mine = build();
            let theirs = helpers.into_iter().map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
            std::iter::once(mine).chain(theirs).collect()
        });
        let mut hooks = None;
        for outcome in outcomes {
            hooks = hooks.or(outcome?);
        }
        // Every instance runs the same code with the same config: any one's
        // hooks are the plugin's.
        let hooks = hooks.expect("size >= 1, so some thread built an instance");
        gauge.set(queue.len() as i64);
        let pool = InstancePool {
            queue,
            factory,
            gauge,
        };
        pool.build_spares(spares);
        Ok((pool, hooks))
    }

    /// Adds `n` instances from a background thread, then lets go of the config.
    fn build_spares(&self, n: usize) {
        if n == 0 {
            self.factory.release_config();
            return;
        }
        let queue = self.queue.clone();
        let factory = self.factory.clone();
        let gauge = self.gauge.clone();
        let spawned = std::thread::Builder::new()
            .name("wasmdns-plugin-spare".into())
            .spawn(move || {
                priority::lower(priority::SPARE, &factory.name);
                for _ in 0..n {
                    match factory.instantiate() {
                        Ok((inst, _)) => {
                            // Room is kept for the spares: the push cannot fail.
                            if queue.push(inst).is_ok() {
                                gauge.inc();
                            }
                        }
                        Err(e) => {
                            tracing::error!(
                                plugin = &*factory.name,
                                "building a spare instance: {e}"
                            );
                            break;
                        }
                    }
                }
                factory.release_config();
            });
        if let Err(e) = spawned {
            tracing::error!(
                plugin = &*self.factory.name,
                "cannot spawn spare build: {e}"
            );
            self.factory.release_config();
        }
    }

    pub fn take(&self) -> Option<Instance> {
        self.queue.pop()
    }

    pub fn give_back(&self, instance: Instance) {
        // Never full: we only push what we popped, or a replacement of a dropped one.
        let _ = self.queue.push(instance);
    }

    /// Drops a failed instance (the caller already did) and rebuilds one off the
    /// query path.
    pub fn replace(&self) {
        self.gauge.dec();
        let queue = self.queue.clone();
        let factory = self.factory.clone();
        let gauge = self.gauge.clone();
        let spawned = std::thread::Builder::new()
            .name("wasmdns-plugin-rebuild".into())
            .spawn(move || {
                priority::lower(priority::SPARE, &factory.name);
                match factory.instantiate() {
                    Ok((inst, _)) => {
                        if queue.push(inst).is_ok() {
                            gauge.inc();
                        }
                    }
                    Err(e) => tracing::error!(plugin = &*factory.name, "rebuilding instance: {e}"),
                }
            });
        if let Err(e) = spawned {
            tracing::error!(plugin = &*self.factory.name, "cannot spawn rebuild: {e}");
        }
    }

    pub fn available(&self) -> usize {
        self.queue.len()
    }

    pub fn factory(&self) -> &PluginFactory {
        &self.factory
    }
}
