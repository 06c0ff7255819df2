//! Test plugin `test_memhog.wasm`: on-query keeps allocating 1 MiB blocks (and
//! touching them) until allocation fails, so only the host's memory limit can
//! end the call: the failed `memory.grow` makes the allocator abort → trap.

use std::hint::black_box;

use wasmdns_plugin_sdk::{export_plugin, Client, NoConfig, Plugin, QueryAction, Question};

const BLOCK: usize = 1 << 20;

pub struct MemHog;

/// Allocates `BLOCK`-sized, filled blocks until `limit` blocks are held (the
/// component passes `usize::MAX`); returns the blocks held.
fn hog(limit: usize) -> Vec<Vec<u8>> {
    let mut held = Vec::new();
    while held.len() < limit {
        // Non-zero fill: every page is written, not just reserved.
        held.push(black_box(vec![0xa5u8; BLOCK]));
    }
    held
}

impl Plugin for MemHog {
    type Config = NoConfig;

    fn init(_config: NoConfig) -> Result<Self, String> {
        Ok(MemHog)
    }

    fn on_query(&self, _q: &Question, _c: &Client) -> QueryAction {
        black_box(hog(usize::MAX));
        QueryAction::Pass
    }
}

export_plugin!(MemHog);

#[cfg(test)]
mod tests {
    #[test]
    fn hog_holds_filled_blocks() {
        let held = super::hog(3);
        assert_eq!(held.len(), 3);
        assert!(held
            .iter()
            .all(|b| b.len() == super::BLOCK && b[BLOCK_LAST] == 0xa5));
    }
    const BLOCK_LAST: usize = super::BLOCK - 1;
}
