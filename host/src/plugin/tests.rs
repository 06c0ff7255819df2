//! Plugin runtime tests against real (hand-written WAT) components.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::testing::Guest;
use super::*;
use crate::config::{OnError, PluginConfig};
use crate::metrics::{Metrics, Proto};

struct Fixture {
    dir: tempfile::TempDir,
    metrics: Arc<Metrics>,
    builder: ChainBuilder,
}

fn fixture() -> Fixture {
    let engine = Arc::new(PluginEngine::new().unwrap());
    let metrics = Arc::new(Metrics::new());
    let builder = ChainBuilder::new(engine, metrics.clone()).pool_size(2);
    Fixture {
        dir: tempfile::tempdir().unwrap(),
        metrics,
        builder,
    }
}

impl Fixture {
    fn write(&self, file: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(file);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn plugin(&self, name: &str, guest: &Guest) -> PluginConfig {
        let path = self.write(&format!("{name}.wasm"), &guest.wasm());
        config(name, path)
    }

    fn build(&self, configs: &[PluginConfig]) -> Result<PluginChain, PluginError> {
        self.builder.build(configs, self.dir.path())
    }

    fn counter(&self, metric: &str, labels: &[(&str, &str)]) -> u64 {
        let families = self.metrics.registry().gather();
        let Some(f) = families.iter().find(|f| f.name() == format!("wasmdns_{metric}")) else {
            return 0;
        };
        f.get_metric()
            .iter()
            .find(|m| {
                labels.iter().all(|(k, v)| {
                    m.get_label().iter().any(|l| l.name() == *k && l.value() == *v)
                })
            })
            .map_or(0, |m| m.get_counter().get_value() as u64)
    }
}

fn config(name: &str, path: PathBuf) -> PluginConfig {
    PluginConfig {
        name: name.into(),
        path,
        on_error: OnError::Pass,
        deadline: Duration::from_millis(2),
        memory_limit: 1 << 20,
        config_json: "{}".into(),
    }
}

fn question() -> QuestionView {
    QuestionView {
        name: "www.example.com".into(),
        qtype: 1,
        qclass: 1,
    }
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        port: 5353,
        proto: Proto::Udp,
    }
}

fn wait_for_instances(chain: &PluginChain, name: &str, n: usize) {
    for _ in 0..500 {
        if chain.available(name) == Some(n) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("pool of {name} never refilled to {n}");
}

#[test]
fn pass_plugin_loads_and_passes() {
    let f = fixture();
    let chain = f.build(&[f.plugin("p", &Guest::pass())]).unwrap();
    assert!(!chain.is_empty());
    assert!(!chain.wants_response());
    assert_eq!(chain.available("p"), Some(2));
    assert_eq!(chain.on_query(&question(), &client()), ChainQueryVerdict::Pass);
    assert_eq!(f.counter("plugin_calls_total", &[("plugin", "p"), ("hook", "on_query")]), 1);
    assert_eq!(f.counter("plugin_verdicts_total", &[("plugin", "p"), ("verdict", "pass")]), 1);
}
