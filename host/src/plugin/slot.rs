//! [`PluginSlot`]: one plugin in a chain — its pool, error policy and metric
//! handles resolved up front, so a call records metrics without label lookups.

use std::sync::Arc;
use std::time::Instant;

use prometheus::{Histogram, IntCounter};

use super::error::CallFailure;
use super::info::PluginInfo;
use super::pool::InstancePool;
use super::precompiled::{hex, Origin};
use super::types::{ClientInfo, Hooks, PluginRecord, QueryAction, QuestionView, ResponseAction};
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

const VERDICTS: [&str; 6] = ["pass", "block", "answer", "rewrite", "replace", "error"];
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

    pub fn on_query(&self, q: &QuestionView, c: &ClientInfo) -> Result<QueryAction, CallFailure> {
        self.query_calls.inc();
        let r = self.with_instance(|i| i.on_query(q, c));
        self.count(r.as_ref().map(|a| match a {
            QueryAction::Pass => Verdict::Pass,
            QueryAction::Block(_) => Verdict::Block,
            QueryAction::Answer(_) => Verdict::Answer,
            QueryAction::Rewrite(_) => Verdict::Rewrite,
        }));
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
        let start = Instant::now();
        let r = call(&mut inst);
        self.duration.observe(start.elapsed().as_secs_f64());
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
