//! [`PluginChain`]: the ordered plugins of one configuration generation, and the
//! chain semantics the pipeline relies on.
//!
//! on-query: plugins that declared the hook run in config order; the first
//! non-pass verdict wins and the rest are not called. on-response: the same over
//! the plugins that declared that hook. A failed call (trap, deadline, memory,
//! no free instance) counts as pass when the plugin's `on_error` is `pass`, and
//! ends the chain with `Failed` when it is `servfail`.

use std::sync::Arc;

use super::engine::PluginEngine;
use super::info::PluginInfo;
use super::slot::PluginSlot;
use super::types::{
    ChainQueryVerdict, ChainResponseVerdict, ClientInfo, PluginRecord, QueryAction, QuestionView,
    ResponseAction,
};
use crate::config::OnError;

#[derive(Default)]
pub struct PluginChain {
    /// In config order, only those that asked for on-query.
    on_query: Vec<Arc<PluginSlot>>,
    /// In config order, only those that asked for on-response.
    on_response: Vec<Arc<PluginSlot>>,
    all: Vec<Arc<PluginSlot>>,
    /// Keeps the epoch ticker running while the chain can be called.
    _engine: Option<Arc<PluginEngine>>,
    /// Reload generation this chain was built for (0 = never built).
    generation: u64,
    /// Unix seconds when it was built.
    loaded_at: u64,
}

impl PluginChain {
    /// No plugins: every call returns `Pass` at once.
    pub fn empty() -> PluginChain {
        PluginChain::default()
    }

    pub(super) fn new(slots: Vec<PluginSlot>, engine: Arc<PluginEngine>) -> PluginChain {
        let all: Vec<Arc<PluginSlot>> = slots.into_iter().map(Arc::new).collect();
        PluginChain {
            on_query: all.iter().filter(|s| s.hooks.on_query).cloned().collect(),
            on_response: all
                .iter()
                .filter(|s| s.hooks.on_response)
                .cloned()
                .collect(),
            all,
            _engine: Some(engine),
            generation: 0,
            loaded_at: unix_now(),
        }
    }

    /// Marks the chain as generation `n` of the configuration (reload bookkeeping).
    pub fn with_generation(mut self, n: u64) -> PluginChain {
        self.generation = n;
        self.loaded_at = unix_now();
        self
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Unix seconds when the chain was built.
    pub fn loaded_at(&self) -> u64 {
        self.loaded_at
    }

    /// Every plugin, in config order, for the admin API.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.all
            .iter()
            .map(|s| s.info(self.generation, self.loaded_at))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Plugin names in config order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.all.iter().map(|s| &*s.name)
    }

    /// True when some plugin wants on-response: only then does the pipeline need to
    /// decode upstream answers into [`PluginRecord`]s.
    pub fn wants_response(&self) -> bool {
        !self.on_response.is_empty()
    }

    pub fn on_query(&self, question: &QuestionView, client: &ClientInfo) -> ChainQueryVerdict {
        for slot in &self.on_query {
            let plugin = || slot.name.clone();
            match slot.on_query(question, client) {
                Ok(QueryAction::Pass) => {}
                Ok(QueryAction::Block(kind)) => {
                    return ChainQueryVerdict::Block {
                        plugin: plugin(),
                        kind,
                    }
                }
                Ok(QueryAction::Answer(records)) => {
                    return ChainQueryVerdict::Answer {
                        plugin: plugin(),
                        records,
                    }
                }
                Ok(QueryAction::Rewrite(name)) => {
                    return ChainQueryVerdict::Rewrite {
                        plugin: plugin(),
                        name,
                    }
                }
                Err(_) if slot.on_error == OnError::Pass => {}
                Err(_) => return ChainQueryVerdict::Failed { plugin: plugin() },
            }
        }
        ChainQueryVerdict::Pass
    }

    pub fn on_response(
        &self,
        question: &QuestionView,
        client: &ClientInfo,
        rcode: u16,
        answers: &[PluginRecord],
    ) -> ChainResponseVerdict {
        for slot in &self.on_response {
            let plugin = || slot.name.clone();
            match slot.on_response(question, client, rcode, answers) {
                Ok(ResponseAction::Pass) => {}
                Ok(ResponseAction::Block(kind)) => {
                    return ChainResponseVerdict::Block {
                        plugin: plugin(),
                        kind,
                    }
                }
                Ok(ResponseAction::Replace(records)) => {
                    return ChainResponseVerdict::Replace {
                        plugin: plugin(),
                        records,
                    }
                }
                Err(_) if slot.on_error == OnError::Pass => {}
                Err(_) => return ChainResponseVerdict::Failed { plugin: plugin() },
            }
        }
        ChainResponseVerdict::Pass
    }

    /// Warm instances of `name` ready now; `None` if no such plugin.
    pub fn available(&self, name: &str) -> Option<usize> {
        self.all
            .iter()
            .find(|s| &*s.name == name)
            .map(|s| s.available())
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
