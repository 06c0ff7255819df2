//! Plugins written in other Wasm languages (issue 7), loaded through the real
//! [`ChainBuilder`] exactly as the proxy loads them, with the hostile-input checks
//! Rust plugins get: every verdict is checked, odd questions and clients never trap,
//! and bad configs are start-up errors naming the plugin.
//!
//! The components are built by `plugins/build-langs.sh` (CI runs it). Where one is
//! missing the test says so loudly and skips; with `WASMDNS_REQUIRE_LANG_PLUGINS=1`
//! (CI) a missing component fails the test.

mod as_blocklist;
mod c_blocklist;
mod js_allowlist;
mod python_rewrite;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmdns::config::{OnError, PluginConfig};
use wasmdns::metrics::{Metrics, Proto};
use wasmdns::plugin::{
    ChainBuilder, ChainQueryVerdict, ClientInfo, PluginChain, PluginEngine, PluginError,
    QuestionView,
};

/// Instances per plugin in these tests: two, so a trap's rebuild would show.
pub const POOL: usize = 2;

/// `plugins/target/<lang>/<file>`, or `None` (after a loud notice) when it was not
/// built and the environment does not require it.
pub fn component(lang: &str, file: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/target")
        .join(lang)
        .join(file);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("WASMDNS_REQUIRE_LANG_PLUGINS").as_deref() == Ok("1") {
        panic!(
            "{} is missing and WASMDNS_REQUIRE_LANG_PLUGINS=1: run plugins/build-langs.sh",
            path.display()
        );
    }
    eprintln!(
        "\n!!!!!!!! SKIPPED: {} not built; run plugins/build-langs.sh !!!!!!!!\n",
        path.display()
    );
    None
}

pub fn plugin_config(name: &str, path: PathBuf, config_json: &str) -> PluginConfig {
    PluginConfig {
        name: name.into(),
        path,
        // servfail: any trap or timeout shows up as `Failed` instead of hiding as pass.
        on_error: OnError::Servfail,
        // Generous: debug-build hosts under a loaded CI machine; the bench measures speed.
        deadline: Duration::from_millis(500),
        memory_limit: 64 << 20,
        instances: None,
        config_json: config_json.into(),
    }
}

/// A loaded one-plugin chain and the pool it must keep full.
pub struct Loaded {
    pub chain: PluginChain,
    pub name: &'static str,
}

pub fn build(name: &str, path: PathBuf, config_json: &str) -> Result<PluginChain, PluginError> {
    let engine = Arc::new(PluginEngine::new().expect("engine"));
    let builder = ChainBuilder::new(engine, Arc::new(Metrics::new())).pool_size(POOL);
    builder.build(&[plugin_config(name, path, config_json)], Path::new("."))
}

pub fn load(name: &'static str, path: PathBuf, config_json: &str) -> Loaded {
    let chain = build(name, path, config_json).unwrap_or_else(|e| panic!("{name} loads: {e}"));
    assert_eq!(chain.available(name), Some(POOL));
    Loaded { chain, name }
}

impl Loaded {
    pub fn query(&self, name: &str, qtype: u16, ip: IpAddr) -> ChainQueryVerdict {
        self.chain
            .on_query(&question(name, qtype), &client(ip), Instant::now())
    }

    /// The hostile-input guarantees: none of these questions or clients traps or
    /// times out (the verdict would be `Failed`), and the pool is still full after.
    pub fn survives_hostile_input(&self) {
        let long_label = "a".repeat(63);
        let max_name = [long_label.as_str(); 4].join(".")[..253].to_string();
        let many_labels = vec!["x"; 127].join(".");
        let names = [
            "",
            ".",
            "..",
            "\\000.\\255.example",
            "a\\.b.example.com",
            "ünïcode.example",
            long_label.as_str(),
            max_name.as_str(),
            many_labels.as_str(),
            "*.example.com",
            "-.example.com",
        ];
        let ips = [
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V4(Ipv4Addr::BROADCAST),
            "::".parse().unwrap(),
            "::ffff:10.1.2.3".parse().unwrap(),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
        ];
        for name in names {
            for ip in ips {
                for qtype in [0, 1, 28, 255, 0xffff] {
                    let v = self.query(name, qtype, ip);
                    assert!(
                        !matches!(v, ChainQueryVerdict::Failed { .. }),
                        "{}: {name:?} type {qtype} from {ip} failed",
                        self.name
                    );
                }
            }
        }
        assert_eq!(self.chain.available(self.name), Some(POOL));
    }
}

pub fn question(name: &str, qtype: u16) -> QuestionView {
    QuestionView {
        name: name.into(),
        qtype,
        qclass: 1,
    }
}

pub fn client(ip: IpAddr) -> ClientInfo {
    ClientInfo {
        ip,
        port: 40000,
        proto: Proto::Udp,
    }
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().expect("test IP")
}

/// Asserts that `config_json` is rejected at load with a message naming the plugin
/// and containing `reason`.
/// Configs the C and AssemblyScript blocklists must both reject (they share the
/// Rust blocklist's config schema), with the words the error must contain.
pub const BLOCKLIST_BAD_CONFIGS: [(&str, &str); 6] = [
    ("{", "invalid JSON"),
    ("[]", "not a table"),
    (r#"{"domain":[]}"#, "unknown key"),
    (r#"{"domains":"a.b"}"#, "must be a list"),
    (r#"{"domains":["a..b"]}"#, "not a domain name"),
    (r#"{"block":"drop"}"#, "block must be"),
];

pub fn rejects_config(name: &str, path: PathBuf, config_json: &str, reason: &str) {
    let err = match build(name, path, config_json) {
        Ok(_) => panic!("{name}: config {config_json} was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(name), "error names the plugin: {err}");
    assert!(err.contains(reason), "error says {reason:?}: {err}");
}
