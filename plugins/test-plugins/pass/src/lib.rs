//! Test plugin `test_pass.wasm`: declares on-query and passes every query, so a
//! benchmark measures the bare cost of one plugin call.

use wasmdns_plugin_sdk::{export_plugin, NoConfig, Plugin};

pub struct Pass;

impl Plugin for Pass {
    type Config = NoConfig;

    fn init(_config: NoConfig) -> Result<Self, String> {
        Ok(Pass)
    }
}

export_plugin!(Pass);

#[cfg(test)]
mod tests {
    use super::*;
    use wasmdns_plugin_sdk::{load, Client, Hooks, QueryAction, Question};

    #[test]
    fn passes_everything_and_asks_for_on_query_only() {
        let p = load::<Pass>("{}").unwrap();
        assert_eq!(p.hooks(), Hooks::ON_QUERY);
        let client = Client::udp("127.0.0.1".parse().unwrap());
        assert_eq!(
            p.on_query(&Question::new("example.com", 1), &client),
            QueryAction::Pass
        );
    }
}
