//! Test plugin `test_panic.wasm`: on-query panics, which traps the component
//! (panic = abort on wasm32).

use wasmdns_plugin_sdk::{export_plugin, Client, NoConfig, Plugin, QueryAction, Question};

pub struct Panic;

impl Plugin for Panic {
    type Config = NoConfig;

    fn init(_config: NoConfig) -> Result<Self, String> {
        Ok(Panic)
    }

    fn on_query(&self, question: &Question, _c: &Client) -> QueryAction {
        panic!("test-panic plugin: deliberate panic on {:?}", question.name)
    }
}

export_plugin!(Panic);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "deliberate panic on \"example.com\"")]
    fn on_query_panics() {
        let p = Panic;
        p.on_query(
            &Question::new("example.com", 1),
            &Client::udp("127.0.0.1".parse().unwrap()),
        );
    }
}
