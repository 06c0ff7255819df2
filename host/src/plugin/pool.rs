//! A lock-free pool of warm instances of one plugin.
//!
//! Calls pop an instance, use it and push it back; a call never instantiates.
//! An instance that failed is dropped and its replacement is built on a
//! background thread, then pushed. If the pool is empty at call time (every
//! instance busy or being rebuilt) the call is answered per the plugin's
//! `on_error` and counted as `busy`: waiting would stall the receive loop, and
//! instantiating there would put milliseconds of work on the query path. With
//! the default size (cores + 1) and synchronous calls, emptiness only
//! happens while a burst of failures is being repaired.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use prometheus::IntGauge;

use super::instance::Instance;
use super::loader::PluginFactory;
use super::types::Hooks;

/// Default pool size: one instance per runtime worker thread (calls are
/// synchronous, so a thread holds at most one) plus one spare while a failed
/// instance is rebuilt. Each instance holds its own copy of the plugin's data — a
/// 1M-name blocklist is ~50 MiB per instance — so more would only cost memory.
/// A plugin's own `instances` setting overrides it (fewer copies of a big list,
/// at the price of the spare).
pub fn default_pool_size() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores + 1
}

pub struct InstancePool {
    queue: Arc<ArrayQueue<Instance>>,
    factory: Arc<PluginFactory>,
    gauge: IntGauge,
}

impl InstancePool {
    /// Builds `size` instances (at least one) and returns the pool with the hooks
    /// the plugin's `init` declared. Instances are built on up to one thread per
    /// core: each runs the plugin's `init`, and loading a 1M-name list takes the
    /// better part of a second, so a pool of three on two cores is ready in two
    /// such times instead of three. The first failure fails the whole pool.
    pub fn fill(
        factory: Arc<PluginFactory>,
        size: usize,
        gauge: IntGauge,
    ) -> Result<(InstancePool, Hooks), super::PluginError> {
        let size = size.max(1);
        let queue = Arc::new(ArrayQueue::new(size));
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
        Ok((
            InstancePool {
                queue,
                factory,
                gauge,
            },
            hooks,
        ))
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
            .spawn(move || match factory.instantiate() {
                Ok((inst, _)) => {
                    if queue.push(inst).is_ok() {
                        gauge.inc();
                    }
                }
                Err(e) => tracing::error!(plugin = &*factory.name, "rebuilding instance: {e}"),
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
