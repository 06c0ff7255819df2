//! [`PluginChain`]: the ordered plugins of one configuration generation, and the
//! chain semantics the pipeline relies on.
//!
//! on-query: plugins that declared the hook run in config order; the first
//! non-pass verdict wins and the rest are not called. on-response: the same over
//! the plugins that declared that hook. A failed call (trap, deadline, memory,
//! no free instance) counts as pass when the plugin's `on_error` is `pass`, and
//! ends the chain with `Failed` when it is `servfail`.

use std::sync::Arc;
use std::time::Instant;

use prometheus::IntCounter;

use super::engine::PluginEngine;
use super::info::PluginInfo;
use super::memo::{self, Memo, VerdictMemo};
use super::slot::{PluginSlot, Verdict};
use super::types::{
    ChainQueryVerdict, ChainResponseVerdict, ClientInfo, PluginRecord, QueryAction, QuestionView,
    ResponseAction, Reuse,
};
use crate::config::OnError;
use crate::metrics::Metrics;

#[derive(Default)]
pub struct PluginChain {
    /// In config order, only those that asked for on-query.
    on_query: Vec<Arc<PluginSlot>>,
    /// In config order, only those that asked for on-response.
    on_response: Vec<Arc<PluginSlot>>,
    all: Vec<Arc<PluginSlot>>,
    /// Reusable on-query verdicts; `None` when the first on-query plugin cannot
    /// declare any (a v0.1 plugin), since only a reusable prefix is ever kept.
    memo: Option<ChainMemo>,
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

    /// A chain of `slots` in config order, with a verdict memo of up to
    /// `memo_entries` entries when its first on-query plugin may reuse verdicts.
    pub(super) fn new(
        slots: Vec<PluginSlot>,
        engine: Arc<PluginEngine>,
        memo_entries: usize,
        metrics: &Metrics,
    ) -> PluginChain {
        let all: Vec<Arc<PluginSlot>> = slots.into_iter().map(Arc::new).collect();
        let on_query: Vec<_> = all.iter().filter(|s| s.hooks.on_query).cloned().collect();
        let memo = match on_query.first() {
            Some(first) if first.may_reuse() => VerdictMemo::new(memo_entries),
            _ => None,
        };
        PluginChain {
            memo: memo.map(|table| ChainMemo {
                table,
                hits: metrics.plugin_memo.with_label_values(&["hit"]),
                misses: metrics.plugin_memo.with_label_values(&["miss"]),
            }),
            on_query,
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

    /// The on-query phase for a query received at `now`. Verdicts plugins marked
    /// reusable come from the memo when it has them; the rest are called.
    pub fn on_query(
        &self,
        question: &QuestionView,
        client: &ClientInfo,
        now: Instant,
    ) -> ChainQueryVerdict {
        let Some(memo) = &self.memo else {
            return self.walk(0, question, client, &mut Recorder::closed());
        };
        let Some(known) = memo.table.get(question, now) else {
            memo.misses.inc();
            let mut rec = Recorder::open();
            let verdict = self.walk(0, question, client, &mut rec);
            if let Some(secs) = rec.kept_secs() {
                memo.table.offer(question, now, secs, || rec.memo(&verdict));
            }
            return verdict;
        };
        memo.hits.inc();
        for slot in self.on_query.iter().take(known.passed) {
            slot.reused(Verdict::Pass);
        }
        if let Some(v) = known.verdict {
            if let Some(slot) = self.on_query.get(known.passed) {
                slot.reused(Verdict::of_chain(&v));
            }
            return Arc::unwrap_or_clone(v);
        }
        self.walk(known.passed, question, client, &mut Recorder::closed())
    }

    /// Calls the on-query plugins from `first` on until one decides, telling `rec`
    /// each verdict and how far it may be reused.
    fn walk(
        &self,
        first: usize,
        question: &QuestionView,
        client: &ClientInfo,
        rec: &mut Recorder,
    ) -> ChainQueryVerdict {
        for slot in self.on_query.iter().skip(first) {
            let plugin = || slot.name.clone();
            let (verdict, reuse) = match slot.on_query(question, client) {
                Ok((QueryAction::Pass, reuse)) => {
                    rec.passed(reuse);
                    continue;
                }
                Ok((QueryAction::Block(kind), reuse)) => (
                    ChainQueryVerdict::Block {
                        plugin: plugin(),
                        kind,
                    },
                    reuse,
                ),
                Ok((QueryAction::Answer(records), reuse)) => (
                    ChainQueryVerdict::Answer {
                        plugin: plugin(),
                        records,
                    },
                    reuse,
                ),
                Ok((QueryAction::Rewrite(name), reuse)) => (
                    ChainQueryVerdict::Rewrite {
                        plugin: plugin(),
                        name,
                    },
                    reuse,
                ),
                Err(_) if slot.on_error == OnError::Pass => {
                    rec.passed(Reuse::Once);
                    continue;
                }
                Err(_) => (ChainQueryVerdict::Failed { plugin: plugin() }, Reuse::Once),
            };
            rec.decided(&verdict, reuse);
            return verdict;
        }
        ChainQueryVerdict::Pass
    }

    /// Entries in the verdict memo (0 without one), for tests.
    pub fn memo_len(&self) -> usize {
        self.memo.as_ref().map_or(0, |m| m.table.len())
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

/// The memo of a chain and its metric handles.
struct ChainMemo {
    table: VerdictMemo,
    hits: IntCounter,
    misses: IntCounter,
}

/// Follows one walk of the chain from its first plugin and says what the memo may
/// keep: the run of leading verdicts that were all reusable, for the shortest of
/// their lifetimes.
struct Recorder {
    /// Still in the reusable run.
    open: bool,
    passed: usize,
    secs: u32,
    /// The deciding verdict was reusable too.
    decided: bool,
}

impl Recorder {
    fn open() -> Recorder {
        Recorder {
            open: true,
            passed: 0,
            secs: u32::MAX,
            decided: false,
        }
    }

    /// For walks that did not start at the first plugin: nothing to keep.
    fn closed() -> Recorder {
        Recorder {
            open: false,
            ..Recorder::open()
        }
    }

    fn passed(&mut self, reuse: Reuse) {
        if self.extend(reuse) {
            self.passed += 1;
        }
    }

    fn decided(&mut self, verdict: &ChainQueryVerdict, reuse: Reuse) {
        // Too large to keep copies of: given, not reused.
        let reuse = if memo::fits(verdict) {
            reuse
        } else {
            Reuse::Once
        };
        self.decided = self.extend(reuse);
    }

    /// Whether the run goes on with a verdict of this reuse.
    fn extend(&mut self, reuse: Reuse) -> bool {
        match reuse {
            Reuse::Question(secs) if self.open => {
                self.secs = self.secs.min(secs);
                true
            }
            _ => {
                self.open = false;
                false
            }
        }
    }

    /// The lifetime of what the memo may keep, if the run covered any plugin.
    fn kept_secs(&self) -> Option<u32> {
        (self.passed > 0 || self.decided).then_some(self.secs)
    }

    /// The memo entry for the run; `verdict` is what the walk returned.
    fn memo(&self, verdict: &ChainQueryVerdict) -> Memo {
        Memo {
            passed: self.passed,
            verdict: self.decided.then(|| Arc::new(verdict.clone())),
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
