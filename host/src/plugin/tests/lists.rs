//! List files and WIT v0.3: what `init` gets per contract version, and load errors.
//! Streaming itself is tested in `plugin::lists` and, with the real blocklist, in
//! the integration suite.

use super::*;
use crate::plugin::types::Reuse;

/// The config text `init` got, from a guest that fails with it as the message.
fn init_text(f: &Fixture, cfg: PluginConfig) -> String {
    let e = load_error(f, cfg);
    let (_, text) = e.split_once("init failed: ").expect("an init error");
    text.to_string()
}

fn v0_3_plugin(f: &Fixture, name: &str, guest: &Guest, json: &str) -> PluginConfig {
    let path = f.write(&format!("{name}.wasm"), &guest.wasm_v0_3());
    PluginConfig {
        config_json: json.into(),
        ..config(name, path)
    }
}

const LIST: &str = r#"{"lists":[{"file":"list.txt"}]}"#;

#[test]
fn a_v0_3_plugin_gets_its_config_as_written_and_older_ones_the_list_text() {
    let f = fixture();
    let echo = Guest::init_echoes_config().reusable(Reuse::Once);
    let old = f.plugin_with_list("old", &Guest::init_echoes_config());
    let text: serde_json::Value = serde_json::from_str(&init_text(&f, old)).unwrap();
    assert_eq!(text["lists"][0]["content"], "ads.example\n");
    let new = v0_3_plugin(&f, "new", &echo, LIST);
    assert_eq!(
        init_text(&f, new),
        LIST,
        "no content key, nothing rewritten"
    );
}

#[test]
fn a_v0_3_plugin_reports_its_contract_and_answers() {
    let f = fixture();
    f.write("list.txt", b"ads.example\n");
    let guest = Guest::pass().reusable(Reuse::Question(60));
    let chain = f.build(&[v0_3_plugin(&f, "p", &guest, LIST)]).unwrap();
    assert_eq!(chain.plugins()[0].contract, "0.3");
    let verdict = chain.on_query(&question(), &client(), Instant::now());
    assert_eq!(verdict, ChainQueryVerdict::Pass);
}

#[test]
fn a_v0_3_plugins_missing_list_file_fails_at_load_by_name() {
    let f = fixture();
    let guest = Guest::pass().reusable(Reuse::Once);
    let cfg = v0_3_plugin(&f, "bl", &guest, r#"{"lists":[{"file":"absent.txt"}]}"#);
    let e = load_error(&f, cfg);
    assert!(e.contains("plugin bl") && e.contains("absent.txt"), "{e}");
}
