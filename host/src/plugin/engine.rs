//! The one wasmtime [`Engine`] shared by every plugin, and its epoch ticker,
//! which sleeps while no guest code runs (see `activity`).
//!
//! Deadlines use epoch interruption (a load and compare per loop back-edge and
//! function entry) rather than fuel (a counter update per basic block): cheaper
//! on the hot path. An expiry only wakes the store's callback, which counts the
//! calling thread's CPU time (see `cpu_deadline`), so a descheduled call is not
//! killed for time it spent waiting for a core.
//!
//! The on-demand instance allocator is used, not the pooling one: instances are
//! created at load and on rare rebuilds, off the query path, so the pooling
//! allocator's faster instantiation buys nothing here while it reserves large
//! virtual address ranges per slot up front. Memory is bounded per store by
//! [`super::limiter::MemoryLimiter`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine, OptLevel};

use super::activity::Activity;
use super::PluginError;

/// Period of the epoch ticker: the granularity of plugin deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Owns the engine and stops the ticker thread when dropped.
pub struct PluginEngine {
    engine: Engine,
    activity: Arc<Activity>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl PluginEngine {
    pub fn new() -> Result<PluginEngine, PluginError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .cranelift_opt_level(OptLevel::Speed);
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let activity = Arc::new(Activity::default());
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            let activity = activity.clone();
            std::thread::Builder::new()
                .name("wasmdns-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        std::thread::park_timeout(EPOCH_TICK);
                        engine.increment_epoch();
                        activity.wait_for_entry(&stop);
                    }
                })
                .map_err(|e| PluginError::Engine(e.to_string()))?
        };
        activity.set_ticker(ticker.thread().clone());
        Ok(PluginEngine {
            engine,
            activity,
            stop,
            ticker: Some(ticker),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Guest entries must hold [`Activity::enter`]'s guard: the ticker only runs
    /// while one does.
    pub fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.ticker.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticker_advances_and_stops() {
        let e = PluginEngine::new().unwrap();
        let mut store = wasmtime::Store::new(e.engine(), ());
        store.set_epoch_deadline(1);
        // The epoch moves on its own: a deadline of a few ticks is reached soon.
        std::thread::sleep(Duration::from_millis(20));
        drop(store);
        drop(e); // joins the ticker; a hang here fails the test by timeout
    }
}
