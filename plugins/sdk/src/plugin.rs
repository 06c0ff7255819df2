//! The `Plugin` trait: one method per phase, each with a do-nothing default.

use serde::de::DeserializeOwned;

use crate::action::{Hooks, QueryAction, ResponseAction, Reuse};
use crate::types::{Client, Question, Record};

/// A wasmdns policy plugin. Implement it, then `export_plugin!(YourType)`.
///
/// Phases, in the order the host runs them for one query:
///
/// 1. `on_query` — before the cache, for every query (cache hits included), in
///    config order; the first plugin that does not return `Pass` decides. Right
///    after it, `query_reuse` says which other queries that verdict holds for:
///    while a reusable verdict holds, the host answers such queries from its memo
///    and calls neither method.
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
    /// config text itself is large (inline data of MiBs): the plugin may then
    /// borrow from the text or reuse its buffer instead of holding a decoded copy,
    /// since wasm linear memory never shrinks and a plugin's peak during init is
    /// the memory it keeps. Large lists belong in files instead, read with
    /// [`crate::lists::ListFile`]: the host never inlines them.
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

    /// Which other queries the verdict `on_query` just gave for `question` also
    /// holds for; called right after `on_query`, with the same question and its
    /// verdict, so a plugin can pick per verdict. Defaults to [`Reuse::Once`].
    ///
    /// Return [`Reuse::Question`] (or [`Reuse::UNTIL_RELOAD`]) when the verdict
    /// depends only on the question and the config: the host then gives it to
    /// every query for the same name, qtype and qclass from any client without
    /// calling the plugin, which on hot names saves the call. Keep `Once` when it
    /// depends on the client, the time, counters or randomness. A `Pass` is a
    /// verdict too: reusing it lets the host skip this plugin for the question.
    fn query_reuse(&self, question: &Question, action: &QueryAction) -> Reuse {
        let _ = (question, action);
        Reuse::Once
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Block;

    /// Implements only what the trait requires, so every default is in play.
    struct Minimal;

    impl Plugin for Minimal {
        type Config = NoConfig;
        fn init(_config: NoConfig) -> Result<Self, String> {
            Ok(Minimal)
        }
    }

    #[test]
    fn defaults_pass_once_on_query_only() {
        let p = Minimal::from_json("{}".into()).unwrap();
        let q = Question::new("example.com", crate::rtype::A);
        let c = Client::udp(std::net::Ipv4Addr::LOCALHOST.into());
        assert_eq!(p.hooks(), Hooks::ON_QUERY);
        assert_eq!(p.on_query(&q, &c), QueryAction::Pass);
        for action in [
            QueryAction::Pass,
            QueryAction::Block(Block::NxDomain),
            QueryAction::Rewrite("example.net".into()),
        ] {
            assert_eq!(p.query_reuse(&q, &action), Reuse::Once, "{action:?}");
        }
        assert_eq!(p.on_response(&q, &c, 0, &[]), ResponseAction::Pass);
    }

    #[test]
    fn no_config_rejects_stray_keys() {
        assert!(Minimal::from_json(r#"{"x":1}"#.into()).is_err());
    }
}
