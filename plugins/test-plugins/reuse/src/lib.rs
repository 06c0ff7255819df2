//! Test plugin `test_reuse.wasm`: the first label of the question picks the
//! on-query verdict and its reuse scope, so the host's tests can drive the
//! verdict memo (hits, expiry, once, reload) with one component.
//!
//! | first label   | on-query verdict | reuse            |
//! |---------------|------------------|------------------|
//! | `block`       | block(nxdomain)  | question(3600)   |
//! | `pass`        | pass             | question(3600)   |
//! | `once`        | block(refused)   | once             |
//! | `short`       | block(nxdomain)  | question(1)      |
//! | `zero`        | block(nxdomain)  | question(0)      |
//! | anything else | pass             | once             |
//!
//! Hooks: on-query only.

use wasmdns_plugin_sdk::{
    export_plugin, Block, Client, NoConfig, Plugin, QueryAction, Question, Reuse,
};

pub struct ReuseTable;

/// The table above: one place, read by both `on_query` and `query_reuse`.
fn row(question: &Question) -> (QueryAction, Reuse) {
    const NX: QueryAction = QueryAction::Block(Block::NxDomain);
    let first = question.name.split('.').next().unwrap_or("");
    match first {
        "block" => (NX, Reuse::Question(3600)),
        "pass" => (QueryAction::Pass, Reuse::Question(3600)),
        "once" => (QueryAction::Block(Block::Refused), Reuse::Once),
        "short" => (NX, Reuse::Question(1)),
        "zero" => (NX, Reuse::Question(0)),
        _ => (QueryAction::Pass, Reuse::Once),
    }
}

impl Plugin for ReuseTable {
    type Config = NoConfig;

    fn init(_config: NoConfig) -> Result<Self, String> {
        Ok(ReuseTable)
    }

    fn on_query(&self, question: &Question, _client: &Client) -> QueryAction {
        row(question).0
    }

    fn query_reuse(&self, question: &Question, _action: &QueryAction) -> Reuse {
        row(question).1
    }
}

export_plugin!(ReuseTable);

#[cfg(test)]
mod tests {
    use super::*;
    use wasmdns_plugin_sdk::{load, rtype, Hooks};

    /// What the glue hands the host for `name`: the verdict, then its reuse.
    fn ask(name: &str) -> (QueryAction, Reuse) {
        let p = load::<ReuseTable>("{}").unwrap();
        let q = Question::new(name, rtype::A);
        let action = p.on_query(&q, &Client::udp("127.0.0.1".parse().unwrap()));
        let reuse = p.query_reuse(&q, &action);
        (action, reuse)
    }

    #[test]
    fn first_label_picks_verdict_and_reuse() {
        let nx = QueryAction::Block(Block::NxDomain);
        assert_eq!(ask("block.test"), (nx.clone(), Reuse::Question(3600)));
        assert_eq!(ask("pass.test"), (QueryAction::Pass, Reuse::Question(3600)));
        assert_eq!(
            ask("once.test"),
            (QueryAction::Block(Block::Refused), Reuse::Once)
        );
        assert_eq!(ask("short.a.b.test"), (nx.clone(), Reuse::Question(1)));
        assert_eq!(ask("zero"), (nx, Reuse::Question(0)));
    }

    #[test]
    fn other_names_pass_once() {
        for name in ["other.test", "", "blocked.test", "x.block.test", "block-x"] {
            assert_eq!(ask(name), (QueryAction::Pass, Reuse::Once), "{name:?}");
        }
    }

    #[test]
    fn asks_for_on_query_only_and_no_config() {
        let p = load::<ReuseTable>("{}").unwrap();
        assert_eq!(p.hooks(), Hooks::ON_QUERY);
        assert!(load::<ReuseTable>(r#"{"x":1}"#).is_err());
    }
}
