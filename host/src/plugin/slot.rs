//! [`PluginSlot`]: one plugin in a chain — its pool, error policy and metric
//! handles resolved up front, so a call records metrics without label lookups.
//!
//! Calls, verdicts and failures are counted exactly. The call duration histogram
//! is sampled: one call in [`TIMED_ONE_IN`], picked by a per-thread pseudo-random
//! draw, is timed. Two clock reads and a histogram update cost about as much as
//! the rest of the host's share of a call; a sample keeps the distribution (and
//! `sum / count`, the mean) at a fraction of that.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

use prometheus::{Histogram, IntCounter};

use super::error::CallFailure;
use super::info::PluginInfo;
use super::pool::InstancePool;
use super::precompiled::{hex, Origin};
use super::types::{
    ChainQueryVerdict, ClientInfo, Hooks, PluginRecord, QueryAction, QuestionView, ResponseAction,
    Reuse,
};
use crate::config::OnError;
use crate::metrics::Metrics;

/// Verdict labels of `plugin_verdicts_total`.
#[derive(Clone, Copy)]
pub enum Verdict {
    Pass = 0,
    Block,
    Answer,
    Rewrite,
    Replace,
    Error,
}

impl Verdict {
    pub fn of_query(action: &QueryAction) -> Verdict {
        match action {
            QueryAction::Pass => Verdict::Pass,
            QueryAction::Block(_) => Verdict::Block,
            QueryAction::Answer(_) => Verdict::Answer,
            QueryAction::Rewrite(_) => Verdict::Rewrite,
        }
    }

    pub fn of_chain(verdict: &ChainQueryVerdict) -> Verdict {
        match verdict {
            ChainQueryVerdict::Pass => Verdict::Pass,
            ChainQueryVerdict::Block { .. } => Verdict::Block,
            ChainQueryVerdict::Answer { .. } => Verdict::Answer,
            ChainQueryVerdict::Rewrite { .. } => Verdict::Rewrite,
            ChainQueryVerdict::Failed { .. } => Verdict::Error,
        }
    }
}

const VERDICTS: [&str; 6] = ["pass", "block", "answer", "rewrite", "replace", "error"];
/// One call in this many is timed for the duration histogram (a power of two).
pub const TIMED_ONE_IN: u32 = 16;

thread_local! {
    /// xorshift32 state; any non-zero seed will do.
    static DRAW: Cell<u32> = const { Cell::new(0x9e37_79b9) };
}

/// Whether this call is timed. A draw rather than a counter, so that a chain of
/// several plugins called in turn does not always time the same one.
fn sampled() -> bool {
    DRAW.with(|d| {
        let mut x = d.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        d.set(x);
        x % TIMED_ONE_IN == 0
    })
}

const FAILURES: [CallFailure; 4] = [
    CallFailure::Trap,
    CallFailure::Timeout,
    CallFailure::Memory,
    CallFailure::Busy,
];

pub struct PluginSlot {
    pub name: Arc<str>,
    pub on_error: OnError,
    pub hooks: Hooks,
    pool: InstancePool,
    query_calls: IntCounter,
    response_calls: IntCounter,
    verdicts: [IntCounter; 6],
    failures: [IntCounter; 4],
    duration: Histogram,
}

impl PluginSlot {
    pub fn new(
        name: Arc<str>,
        on_error: OnError,
        hooks: Hooks,
        pool: InstancePool,
        m: &Metrics,
    ) -> PluginSlot {
        let n: &str = &name;
        PluginSlot {
            query_calls: m.plugin_calls.with_label_values(&[n, "on_query"]),
            response_calls: m.plugin_calls.with_label_values(&[n, "on_response"]),
            verdicts: VERDICTS.map(|v| m.plugin_verdicts.with_label_values(&[n, v])),
            failures: FAILURES.map(|f| m.plugin_failures.with_label_values(&[n, f.as_str()])),
            duration: m.plugin_duration.with_label_values(&[n]),
            name,
            on_error,
            hooks,
            pool,
        }
    }

    pub fn on_query(
        &self,
        q: &QuestionView,
        c: &ClientInfo,
    ) -> Result<(QueryAction, Reuse), CallFailure> {
        self.query_calls.inc();
        let r = self.with_instance(|i| i.on_query(q, c));
        self.count(r.as_ref().map(|(a, _)| Verdict::of_query(a)));
        r
    }

    pub fn on_response(
        &self,
        q: &QuestionView,
        c: &ClientInfo,
        rcode: u16,
        answers: &[PluginRecord],
    ) -> Result<ResponseAction, CallFailure> {
        self.response_calls.inc();
        let r = self.with_instance(|i| i.on_response(q, c, rcode, answers));
        self.count(r.as_ref().map(|a| match a {
            ResponseAction::Pass => Verdict::Pass,
            ResponseAction::Block(_) => Verdict::Block,
            ResponseAction::Replace(_) => Verdict::Replace,
        }));
        r
    }

    fn with_instance<R>(
        &self,
        call: impl FnOnce(&mut super::instance::Instance) -> Result<R, CallFailure>,
    ) -> Result<R, CallFailure> {
        let Some(mut inst) = self.pool.take() else {
            return Err(CallFailure::Busy);
        };
        let r = if sampled() {
            let start = Instant::now();
            let r = call(&mut inst);
            self.duration.observe(start.elapsed().as_secs_f64());
            r
        } else {
            call(&mut inst)
        };
        match r {
            Ok(v) => {
                self.pool.give_back(inst);
                Ok(v)
            }
            Err(f) => {
                drop(inst);
                self.pool.replace();
                Err(f)
            }
        }
    }

    /// Counts a verdict the chain reused from its memo instead of calling.
    pub fn reused(&self, v: Verdict) {
        self.verdicts[v as usize].inc();
    }

    /// Whether the plugin's contract lets its on-query verdicts be reused (v0.2).
    pub fn may_reuse(&self) -> bool {
        self.pool.factory().may_reuse()
    }

    fn count(&self, r: Result<Verdict, &CallFailure>) {
        match r {
            Ok(v) => self.verdicts[v as usize].inc(),
            Err(f) => {
                self.verdicts[Verdict::Error as usize].inc();
                let i = FAILURES.iter().position(|x| x == f).unwrap_or(0);
                self.failures[i].inc();
                tracing::debug!(
                    plugin = &*self.name,
                    kind = f.as_str(),
                    "plugin call failed"
                );
            }
        }
    }

    /// Warm instances ready right now (for tests and the admin API).
    pub fn available(&self) -> usize {
        self.pool.available()
    }

    /// Identity and counters for the admin API; `generation` and `loaded_at`
    /// belong to the chain.
    pub fn info(&self, generation: u64, loaded_at: u64) -> PluginInfo {
        let factory = self.pool.factory();
        let mut hooks = Vec::new();
        if self.hooks.on_query {
            hooks.push("on_query");
        }
        if self.hooks.on_response {
            hooks.push("on_response");
        }
        PluginInfo {
            name: self.name.to_string(),
            contract: factory.contract(),
            file: factory.file.display().to_string(),
            sha256: hex(&factory.sha256),
            generation,
            loaded_at,
            hooks,
            on_error: match self.on_error {
                OnError::Pass => "pass",
                OnError::Servfail => "servfail",
            },
            precompiled: factory.origin == Origin::Cached,
            instances: self.available(),
            calls: [
                ("on_query", self.query_calls.get()),
                ("on_response", self.response_calls.get()),
            ]
            .into(),
            verdicts: VERDICTS
                .iter()
                .zip(&self.verdicts)
                .map(|(v, c)| (*v, c.get()))
                .collect(),
            failures: FAILURES
                .iter()
                .zip(&self.failures)
                .map(|(f, c)| (f.as_str(), c.get()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_one_call_in_sixteen_is_timed_on_every_thread() {
        let count = || (0..160_000).filter(|_| sampled()).count();
        let here = count();
        assert!((9_000..11_000).contains(&here), "{here} of 160000");
        let there = std::thread::spawn(count).join().unwrap();
        assert!((9_000..11_000).contains(&there), "{there} of 160000");
    }

    #[test]
    fn draws_do_not_lock_step_with_a_two_plugin_chain() {
        // Plugins A and B called in turn: both must get timed calls.
        let (mut a, mut b) = (0, 0);
        for _ in 0..10_000 {
            a += usize::from(sampled());
            b += usize::from(sampled());
        }
        assert!(a > 400 && b > 400, "A timed {a}, B timed {b}");
    }

    #[test]
    fn calls_are_counted_exactly_and_durations_sampled() {
        use crate::metrics::Proto;
        use crate::plugin::testing::Guest;
        use crate::plugin::{ChainBuilder, ClientInfo, PluginEngine, QuestionView};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass.wasm");
        std::fs::write(&path, Guest::pass().wasm()).unwrap();
        let cfg = crate::config::PluginConfig {
            name: "pass".into(),
            path,
            on_error: OnError::Pass,
            deadline: std::time::Duration::from_millis(50),
            memory_limit: 1 << 20,
            instances: None,
            config_json: "{}".into(),
        };
        let metrics = Arc::new(Metrics::new());
        let engine = Arc::new(PluginEngine::new().unwrap());
        let chain = ChainBuilder::new(engine, metrics.clone())
            .pool_size(1)
            .build(&[cfg], dir.path())
            .unwrap();
        let q = QuestionView {
            name: "a.example".into(),
            qtype: 1,
            qclass: 1,
        };
        let c = ClientInfo {
            ip: std::net::Ipv4Addr::LOCALHOST.into(),
            port: 1,
            proto: Proto::Udp,
        };
        for _ in 0..3_200 {
            chain.on_query(&q, &c, Instant::now());
        }
        let calls = metrics
            .plugin_calls
            .with_label_values(&["pass", "on_query"]);
        assert_eq!(calls.get(), 3_200);
        let timed = metrics
            .plugin_duration
            .with_label_values(&["pass"])
            .get_sample_count();
        // 200 expected; the draw is deterministic per thread, the bound is loose.
        assert!((100..300).contains(&timed), "{timed} of 3200 calls timed");
    }
}
