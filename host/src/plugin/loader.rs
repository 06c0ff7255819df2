//! Loading one plugin: read, compile, link, check the exported contract, and make
//! the [`PluginFactory`] that builds warm, initialised instances.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};

use super::engine::PluginEngine;
use super::instance::{Bindings, Instance};
use super::precompiled::{Origin, PrecompiledCache};
use super::sandbox;
use super::state::HostState;
use super::types::Hooks;
use super::v0_1;
use super::PluginError;
use crate::config::{OnError, PluginConfig};

/// Contract versions a component can export, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V0_1,
}

const POLICY_PREFIX: &str = "wasmdns:plugin/policy@";

/// A compiled and linked plugin: builds instances without recompiling.
pub struct PluginFactory {
    pub name: Arc<str>,
    pub file: PathBuf,
    /// SHA-256 of the component file as loaded.
    pub sha256: [u8; 32],
    /// Whether the code came from the precompiled cache.
    pub origin: Origin,
    pub on_error: OnError,
    engine: Arc<PluginEngine>,
    pre: v0_1::PluginPre<HostState>,
    config_json: String,
    memory_limit: usize,
    deadline_ticks: u64,
}

impl PluginFactory {
    /// Reads, compiles (or maps from `precompiled`) and links `cfg.path`;
    /// `config_dir` anchors `file` references in the plugin config (see [`expand_files`]).
    pub fn load(
        engine: &Arc<PluginEngine>,
        cfg: &PluginConfig,
        config_dir: &Path,
        precompiled: Option<&PrecompiledCache>,
    ) -> Result<PluginFactory, PluginError> {
        let name = cfg.name.clone();
        let file = cfg.path.clone();
        let bytes = std::fs::read(&file).map_err(|source| PluginError::Read {
            name: name.clone(),
            file: file.clone(),
            source,
        })?;
        let sha256: [u8; 32] = Sha256::digest(&bytes).into();
        let compiled = match precompiled {
            Some(cache) => cache.component(engine.engine(), &bytes, &sha256),
            None => Component::from_binary(engine.engine(), &bytes).map(|c| (c, Origin::Compiled)),
        };
        let (component, origin) = compiled.map_err(|e| PluginError::Compile {
            name: name.clone(),
            file: file.clone(),
            reason: format!("{e:#}"),
        })?;
        let contract = |reason: String| PluginError::Contract {
            name: name.clone(),
            file: file.clone(),
            reason,
        };
        let Version::V0_1 = pick_version(engine, &component).map_err(contract)?;
        let link = |e: wasmtime::Error| PluginError::Link {
            name: name.clone(),
            file: file.clone(),
            reason: format!("{e:#}"),
        };
        let mut linker = Linker::<HostState>::new(engine.engine());
        sandbox::add_wasi(&mut linker).map_err(link)?;
        v0_1::Plugin::add_to_linker::<_, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(link)?;
        // Whatever else the component imports (sockets, ...) is denied: calling it traps.
        sandbox::deny_other_imports(&mut linker, engine.engine(), &component).map_err(link)?;
        let pre = linker.instantiate_pre(&component).map_err(link)?;
        let pre = v0_1::PluginPre::new(pre).map_err(|e| contract(format!("{e:#}")))?;
        let config_json =
            expand_files(&cfg.config_json, config_dir).map_err(|reason| PluginError::Config {
                name: name.clone(),
                file: file.clone(),
                reason,
            })?;
        Ok(PluginFactory {
            name: name.into(),
            file,
            sha256,
            origin,
            on_error: cfg.on_error,
            engine: engine.clone(),
            pre,
            config_json,
            memory_limit: cfg.memory_limit,
            deadline_ticks: PluginEngine::deadline_ticks(cfg.deadline),
        })
    }

    /// A fresh instance with `init` run. Slow (instantiation + init): never call it
    /// on the query path.
    pub fn instantiate(&self) -> Result<(Instance, Hooks), PluginError> {
        let mut store = wasmtime::Store::new(
            self.engine.engine(),
            HostState::new(self.name.clone(), self.memory_limit),
        );
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        // init gets the same budget as a call: a plugin that needs longer to parse its
        // config should do less work per instance.
        store.set_epoch_deadline(self.deadline_ticks.saturating_mul(INIT_BUDGET_FACTOR));
        let fail = |reason: String| PluginError::Instantiate {
            name: self.name.to_string(),
            file: self.file.clone(),
            reason,
        };
        let plugin = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| fail(format!("{e:#}")))?;
        let init = plugin
            .wasmdns_plugin_policy()
            .call_init(&mut store, &self.config_json);
        let init_err = |reason: String| PluginError::Init {
            name: self.name.to_string(),
            file: self.file.clone(),
            reason,
        };
        let hooks = match init {
            Ok(Ok(h)) => v0_1::hooks(h),
            Ok(Err(msg)) => return Err(init_err(msg)),
            Err(e) => return Err(init_err(format!("trapped: {e:#}"))),
        };
        let instance = Instance::new(store, Bindings::V0_1(plugin), self.deadline_ticks);
        Ok((instance, hooks))
    }
}

/// `init` may take this many call deadlines: loading a large list is legitimately
/// slower than answering a query, and it happens off the query path.
const INIT_BUDGET_FACTOR: u64 = 5000;

/// The newest contract version the component exports.
fn pick_version(engine: &PluginEngine, component: &Component) -> Result<Version, String> {
    let ty = component.component_type();
    let mut found = Vec::new();
    for (name, _) in ty.exports(engine.engine()) {
        if let Some(v) = name.strip_prefix(POLICY_PREFIX) {
            if v.starts_with("0.1.") {
                return Ok(Version::V0_1);
            }
            found.push(v.to_string());
        }
    }
    if found.is_empty() {
        Err(format!(
            "missing export {POLICY_PREFIX}0.1.0 (not a wasmdns plugin)"
        ))
    } else {
        Err(format!(
            "unsupported WIT version {} (this host supports 0.1.x)",
            found.join(", ")
        ))
    }
}

/// Gives every JSON object in the plugin config that has a string `"file"` key a
/// sibling `"content"` key holding that file's text, the path taken relative to
/// the config file's directory. This is how plugins get list files without any
/// filesystem access. An existing `"content"` is an error (ambiguous).
pub fn expand_files(json: &str, base: &Path) -> Result<String, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("invalid JSON: {e}"))?;
    let mut changed = false;
    expand_value(&mut value, base, &mut changed)?;
    if !changed {
        return Ok(json.to_string());
    }
    serde_json::to_string(&value).map_err(|e| e.to_string())
}

fn expand_value(v: &mut serde_json::Value, base: &Path, changed: &mut bool) -> Result<(), String> {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(f)) = map.get("file") {
                let path = base.join(f);
                if map.contains_key("content") {
                    return Err(format!(
                        "{}: both \"file\" and \"content\" given",
                        path.display()
                    ));
                }
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                map.insert("content".into(), serde_json::Value::String(text));
                *changed = true;
            }
            for (_, child) in map.iter_mut() {
                expand_value(child, base, changed)?;
            }
        }
        serde_json::Value::Array(items) => {
            for child in items {
                expand_value(child, base, changed)?;
            }
        }
        _ => {}
    }
    Ok(())
}
