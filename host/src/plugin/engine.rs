//! The one wasmtime [`Engine`] shared by every plugin, and its epoch ticker.
//!
//! Deadlines use epoch interruption (a load and compare per loop back-edge and
//! function entry) rather than fuel (a counter update per basic block): cheaper
//! on the hot path, and a deadline is a wall-clock promise anyway.
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

use super::PluginError;

/// Period of the epoch ticker: the granularity of plugin deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Owns the engine and stops the ticker thread when dropped.
pub struct PluginEngine {
    engine: Engine,
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
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("wasmdns-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::park_timeout(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| PluginError::Engine(e.to_string()))?
        };
        Ok(PluginEngine {
            engine,
            stop,
            ticker: Some(ticker),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Epoch ticks to allow for a call of at most `deadline`. A call starts at an
    /// arbitrary point inside a tick, so one extra tick guarantees the full deadline:
    /// the call is interrupted between `deadline` and `deadline + EPOCH_TICK`.
    pub fn deadline_ticks(deadline: Duration) -> u64 {
        let tick = EPOCH_TICK.as_nanos();
        let whole = deadline.as_nanos().div_ceil(tick).max(1);
        u64::try_from(whole).unwrap_or(u64::MAX - 1) + 1
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
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
    fn deadline_ticks_round_up_and_add_one() {
        assert_eq!(PluginEngine::deadline_ticks(Duration::ZERO), 2);
        assert_eq!(PluginEngine::deadline_ticks(Duration::from_micros(1)), 2);
        assert_eq!(PluginEngine::deadline_ticks(Duration::from_millis(1)), 2);
        assert_eq!(PluginEngine::deadline_ticks(Duration::from_micros(1001)), 3);
        assert_eq!(PluginEngine::deadline_ticks(Duration::from_millis(2)), 3);
        assert_eq!(PluginEngine::deadline_ticks(Duration::MAX), u64::MAX);
    }

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
