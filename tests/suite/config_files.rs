//! Every shipped file under `config/` is a valid configuration.

use std::path::Path;

use wasmdns::config::Config;

fn toml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            toml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

#[test]
fn every_shipped_config_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut files = Vec::new();
    if dir.is_dir() {
        toml_files(&dir, &mut files);
    }
    assert!(
        files.iter().any(|f| f.ends_with("config/wasmdns.toml")),
        "config/wasmdns.toml, the reference config, is missing"
    );
    for f in &files {
        if let Err(e) = Config::load(f) {
            panic!("{}: {e}", f.display());
        }
    }
}

#[test]
fn defaults_are_not_an_open_resolver() {
    let c = Config::defaults();
    let public: std::net::IpAddr = "8.8.8.8".parse().unwrap();
    assert!(
        !c.acl.allow.iter().any(|n| n.contains(&public)),
        "{:?}",
        c.acl.allow
    );
    let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    assert!(c.acl.allow.iter().any(|n| n.contains(&lo)));
    assert!(c.upstream.deadline <= std::time::Duration::from_secs(2));
}
