//! The `Plugin` trait: one method per phase, each with a do-nothing default.

use serde::de::DeserializeOwned;

use crate::action::{Hooks, QueryAction, ResponseAction};
use crate::types::{Client, Question, Record};

/// A wasmdns policy plugin. Implement it, then `export_plugin!(YourType)`.
///
/// Phases, in the order the host runs them for one query:
///
/// 1. `on_query` — before the cache, for every query (cache hits included), in
///    config order; the first plugin that does not return `Pass` decides.
/// 2. cache, then upstream — skipped when a plugin answered or blocked; after a
///    rewrite they resolve the new name instead.
/// 3. `on_response` — with the answer from the cache or upstream, only for plugins
///    whose `hooks()` includes it; the first non-`Pass` verdict decides.
///
/// One instance serves one query at a time (a component instance is
/// single-threaded); the host keeps one warm instance per worker, each initialised
/// with the same config, and replaces an instance after it traps.
pub trait Plugin: Sized + 'static {
    /// The plugin's `[plugin.config]` table, deserialised from JSON. Use
    /// `#[serde(default, deny_unknown_fields)]` so that a typo is an init error and
    /// an absent table means `Default`.
    type Config: DeserializeOwned + Default;

    /// Builds the plugin from its config. An `Err` rejects the plugin at load time
    /// (or keeps the old chain on reload); the message is shown to the operator.
    fn init(config: Self::Config) -> Result<Self, String>;

    /// Builds the plugin from the host's JSON rendering of `[plugin.config]`,
    /// handed over by value. The default parses it into `Self::Config` (empty or
    /// `null` meaning `Default`) and calls [`Plugin::init`]. Override it when the
    /// config is large (e.g. list contents of tens of MiB): the plugin may then
    /// borrow from the text or reuse its buffer instead of holding a decoded copy,
    /// since wasm linear memory never shrinks and a plugin's peak during init is
    /// the memory it keeps.
    fn from_json(config_json: String) -> Result<Self, String> {
        Self::init(crate::runtime::parse_config::<Self::Config>(&config_json)?)
    }

    /// The hooks the host must call; the others are never called. Defaults to
    /// on-query only. Override to add `on_response` (or to opt out of both when the
    /// config leaves the plugin with nothing to do).
    fn hooks(&self) -> Hooks {
        Hooks::default()
    }

    /// Decides a query before the cache and the upstream see it.
    fn on_query(&self, question: &Question, client: &Client) -> QueryAction {
        let _ = (question, client);
        QueryAction::Pass
    }

    /// Inspects the upstream's (or cache's) answer section and response code.
    fn on_response(
        &self,
        question: &Question,
        client: &Client,
        rcode: u16,
        answers: &[Record],
    ) -> ResponseAction {
        let _ = (question, client, rcode, answers);
        ResponseAction::Pass
    }
}

/// `Plugin::Config` for plugins that take no settings: accepts only an empty
/// table, so a stray key is reported instead of silently ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}
