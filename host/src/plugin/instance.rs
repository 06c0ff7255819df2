//! One warm, initialised plugin instance: its store (limits, deadline) and the
//! bindings of the contract version it exports.

use std::sync::Arc;

use wasmtime::{Store, Trap};

use super::activity::Activity;
use super::cpu_deadline::CpuDeadline;
use super::error::CallFailure;
use super::state::HostState;
use super::types::{ClientInfo, PluginRecord, QueryAction, QuestionView, ResponseAction, Reuse};
use super::{v0_1, v0_2, v0_3};

/// Typed exports, one variant per supported WIT version.
pub enum Bindings {
    V0_1(v0_1::Plugin),
    V0_2(v0_2::Plugin),
    V0_3(v0_3::Plugin),
}

pub struct Instance {
    store: Store<HostState>,
    bindings: Bindings,
    /// The engine's: a call holds its guard so the epoch ticker runs.
    activity: Arc<Activity>,
}

impl Instance {
    /// `store` has its epoch-deadline callback installed and its [`CpuDeadline`]
    /// armed with the per-call budget.
    pub fn new(store: Store<HostState>, bindings: Bindings, activity: Arc<Activity>) -> Instance {
        Instance {
            store,
            bindings,
            activity,
        }
    }

    /// Starts the CPU-time deadline of one call.
    fn arm(&mut self) {
        self.store.data_mut().deadline.rearm();
        self.store.set_epoch_deadline(CpuDeadline::FIRST_TICKS);
    }

    /// Runs `on-query`: the plugin's action and how far it may be reused. On
    /// `Err` the instance must be dropped: its state after a trap is undefined.
    pub fn on_query(
        &mut self,
        q: &QuestionView,
        c: &ClientInfo,
    ) -> Result<(QueryAction, Reuse), CallFailure> {
        self.arm();
        let running = self.activity.enter();
        let (q, c) = (v0_1::question(q), v0_1::client(c));
        let result = match &self.bindings {
            Bindings::V0_1(p) => p
                .wasmdns_plugin_policy()
                .call_on_query(&mut self.store, q, c)
                .map(|a| (v0_1::query_action(a), Reuse::Once)),
            Bindings::V0_2(p) => p
                .wasmdns_plugin_policy()
                .call_on_query(&mut self.store, q, c)
                .map(v0_2::query_verdict),
            Bindings::V0_3(p) => p
                .wasmdns_plugin_policy()
                .call_on_query(&mut self.store, q, c)
                .map(v0_3::query_verdict),
        };
        drop(running);
        result.map_err(|e| self.classify(&e))
    }

    /// Runs `on-response`; same failure rule as [`Instance::on_query`].
    pub fn on_response(
        &mut self,
        q: &QuestionView,
        c: &ClientInfo,
        rcode: u16,
        answers: &[PluginRecord],
    ) -> Result<ResponseAction, CallFailure> {
        self.arm();
        let running = self.activity.enter();
        let (q, c) = (v0_1::question(q), v0_1::client(c));
        let result = v0_1::with_records(answers, |records| match &self.bindings {
            Bindings::V0_1(p) => {
                p.wasmdns_plugin_policy()
                    .call_on_response(&mut self.store, q, c, rcode, records)
            }
            Bindings::V0_2(p) => {
                p.wasmdns_plugin_policy()
                    .call_on_response(&mut self.store, q, c, rcode, records)
            }
            Bindings::V0_3(p) => {
                p.wasmdns_plugin_policy()
                    .call_on_response(&mut self.store, q, c, rcode, records)
            }
        })
        .map(v0_1::response_action);
        drop(running);
        result.map_err(|e| self.classify(&e))
    }

    fn classify(&self, e: &wasmtime::Error) -> CallFailure {
        if self.store.data().limiter.breached() {
            CallFailure::Memory
        } else if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            CallFailure::Timeout
        } else {
            CallFailure::Trap
        }
    }
}
