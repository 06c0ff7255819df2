//! Test plugin `test_loop.wasm`: on-query spins forever, so only the host's epoch
//! deadline can end the call.

use std::hint::black_box;

use wasmdns_plugin_sdk::{export_plugin, Client, NoConfig, Plugin, QueryAction, Question};

pub struct Loop;

/// Spins until `stop` says so; the component passes a predicate that never
/// does, tests pass one that stops.
fn spin(mut stop: impl FnMut(u64) -> bool) -> u64 {
    let mut turns = 0u64;
    // black_box keeps the optimiser from proving the loop has no effect.
    while !stop(black_box(turns)) {
        turns = black_box(turns.wrapping_add(1));
    }
    turns
}

impl Plugin for Loop {
    type Config = NoConfig;

    fn init(_config: NoConfig) -> Result<Self, String> {
        Ok(Loop)
    }

    fn on_query(&self, _q: &Question, _c: &Client) -> QueryAction {
        spin(|_| false);
        QueryAction::Pass
    }
}

export_plugin!(Loop);

#[cfg(test)]
mod tests {
    #[test]
    fn spin_only_stops_when_told() {
        assert_eq!(super::spin(|turns| turns == 1000), 1000);
    }
}
