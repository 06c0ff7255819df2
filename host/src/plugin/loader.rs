//! Loading one plugin: read, compile, link, check the exported contract, and make
//! the [`PluginFactory`] that builds warm, initialised instances.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::UpdateDeadline;

use super::cpu_deadline::{thread_cpu_ns, CpuDeadline, Expiry};
use super::engine::PluginEngine;
use super::init_config::InitConfig;
use super::instance::{Bindings, Instance};
use super::lists::ListFiles;
use super::precompiled::{Origin, PrecompiledCache};
use super::sandbox;
use super::state::HostState;
use super::types::Hooks;
use super::PluginError;
use super::{v0_1, v0_2, v0_3};
use crate::config::{OnError, PluginConfig};

/// Contract versions a component can export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Version {
    V0_1,
    V0_2,
    V0_3,
}

/// A component linked for the contract version it exports.
enum Pre {
    V0_1(v0_1::PluginPre<HostState>),
    V0_2(v0_2::PluginPre<HostState>),
    V0_3(v0_3::PluginPre<HostState>),
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
    pre: Pre,
    /// What `init` gets; list files are read again for a rebuild (see [`InitConfig`]).
    config: InitConfig,
    /// The list files `init` may open (v0.3; empty for older contracts, whose
    /// files are in `config`).
    lists: Arc<ListFiles>,
    memory_limit: usize,
    /// CPU time per call (see [`CpuDeadline`]).
    deadline: Duration,
}

impl PluginFactory {
    /// Reads, compiles (or maps from `precompiled`) and links `cfg.path`;
    /// `config_dir` anchors `file` references in the plugin config (see [`InitConfig`]).
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
        let version = pick_version(engine, &component).map_err(contract)?;
        let link = |e: wasmtime::Error| PluginError::Link {
            name: name.clone(),
            file: file.clone(),
            reason: format!("{e:#}"),
        };
        let mut linker = Linker::<HostState>::new(engine.engine());
        sandbox::add_wasi(&mut linker).map_err(link)?;
        type Data = wasmtime::component::HasSelf<HostState>;
        match version {
            Version::V0_1 => v0_1::Plugin::add_to_linker::<_, Data>(&mut linker, |s| s),
            Version::V0_2 => v0_2::Plugin::add_to_linker::<_, Data>(&mut linker, |s| s),
            Version::V0_3 => v0_3::Plugin::add_to_linker::<_, Data>(&mut linker, |s| s),
        }
        .map_err(link)?;
        // Whatever else the component imports (sockets, ...) is denied: calling it traps.
        sandbox::deny_other_imports(&mut linker, engine.engine(), &component).map_err(link)?;
        let pre = linker.instantiate_pre(&component).map_err(link)?;
        let typed = |e: wasmtime::Error| contract(format!("{e:#}"));
        let pre = match version {
            Version::V0_1 => Pre::V0_1(v0_1::PluginPre::new(pre).map_err(typed)?),
            Version::V0_2 => Pre::V0_2(v0_2::PluginPre::new(pre).map_err(typed)?),
            Version::V0_3 => Pre::V0_3(v0_3::PluginPre::new(pre).map_err(typed)?),
        };
        let config_err = |reason| PluginError::Config {
            name: name.clone(),
            file: file.clone(),
            reason,
        };
        // v0.3 plugins stream their list files; older ones get them in the text.
        let (config, lists) = if version >= Version::V0_3 {
            let lists = ListFiles::from_config(&cfg.config_json, config_dir).map_err(config_err)?;
            (InitConfig::as_written(&cfg.config_json), lists)
        } else {
            let config = InitConfig::read(&cfg.config_json, config_dir).map_err(config_err)?;
            (config, ListFiles::default())
        };
        Ok(PluginFactory {
            name: name.into(),
            file,
            sha256,
            origin,
            on_error: cfg.on_error,
            engine: engine.clone(),
            pre,
            config,
            lists: Arc::new(lists),
            memory_limit: cfg.memory_limit,
            deadline: cfg.deadline,
        })
    }

    /// Lets go of the config text once every instance wanted now is built: list
    /// files are read again (and checked unchanged) only to rebuild one.
    pub fn release_config(&self) {
        self.config.release();
    }

    /// Whether its contract lets on-query verdicts be reused (WIT v0.2 `reuse`).
    pub fn may_reuse(&self) -> bool {
        !matches!(self.pre, Pre::V0_1(_))
    }

    /// The contract version it exports, for the admin API.
    pub fn contract(&self) -> &'static str {
        match self.pre {
            Pre::V0_1(_) => "0.1",
            Pre::V0_2(_) => "0.2",
            Pre::V0_3(_) => "0.3",
        }
    }

    /// A fresh instance with `init` run. Slow (instantiation + init): never call it
    /// on the query path.
    pub fn instantiate(&self) -> Result<(Instance, Hooks), PluginError> {
        self.instantiate_with_clock(thread_cpu_ns)
    }

    /// [`PluginFactory::instantiate`] with the CPU clock the deadline reads.
    pub(super) fn instantiate_with_clock(
        &self,
        clock: fn() -> Option<u64>,
    ) -> Result<(Instance, Hooks), PluginError> {
        // init gets many call budgets: loading a large list is legitimately slower
        // than answering a query, and it happens off the query path.
        let init_budget = self.deadline.saturating_mul(INIT_BUDGET_FACTOR);
        let state = HostState::new(
            self.name.clone(),
            self.memory_limit,
            CpuDeadline::new(init_budget, clock),
        );
        let mut store = wasmtime::Store::new(self.engine.engine(), state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|mut cx| {
            Ok(match cx.data_mut().deadline.expired() {
                Expiry::Continue(ticks) => UpdateDeadline::Continue(ticks),
                Expiry::Stop => UpdateDeadline::Interrupt,
            })
        });
        store.set_epoch_deadline(CpuDeadline::FIRST_TICKS);
        let fail = |reason: String| PluginError::Instantiate {
            name: self.name.to_string(),
            file: self.file.clone(),
            reason,
        };
        let fail = |e: wasmtime::Error| fail(format!("{e:#}"));
        let config = self.config.text().map_err(|reason| PluginError::Config {
            name: self.name.to_string(),
            file: self.file.clone(),
            reason,
        })?;
        let config = config.as_str();
        // Instantiation runs start functions and `init` runs the plugin's loading:
        // both are guest code under the deadline, so the ticker must run.
        let running = self.engine.activity().enter();
        let (bindings, init) = match &self.pre {
            Pre::V0_1(pre) => {
                let p = pre.instantiate(&mut store).map_err(fail)?;
                let init = p.wasmdns_plugin_policy().call_init(&mut store, config);
                (Bindings::V0_1(p), init)
            }
            Pre::V0_2(pre) => {
                let p = pre.instantiate(&mut store).map_err(fail)?;
                let init = p.wasmdns_plugin_policy().call_init(&mut store, config);
                (Bindings::V0_2(p), init)
            }
            Pre::V0_3(pre) => {
                let p = pre.instantiate(&mut store).map_err(fail)?;
                store.data_mut().begin_init(self.lists.clone());
                let init = p.wasmdns_plugin_policy().call_init(&mut store, config);
                store.data_mut().end_init();
                (Bindings::V0_3(p), init)
            }
        };
        drop(running);
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
        store.data_mut().deadline.arm(self.deadline);
        let instance = Instance::new(store, bindings, self.engine.activity().clone());
        Ok((instance, hooks))
    }
}

/// `init` may take this many call deadlines of CPU time.
const INIT_BUDGET_FACTOR: u32 = 5000;

/// The newest contract version the component exports.
fn pick_version(engine: &PluginEngine, component: &Component) -> Result<Version, String> {
    let ty = component.component_type();
    let mut newest = None;
    let mut found = Vec::new();
    for (name, _) in ty.exports(engine.engine()) {
        let Some(v) = name.strip_prefix(POLICY_PREFIX) else {
            continue;
        };
        let version = if v.starts_with("0.3.") {
            Version::V0_3
        } else if v.starts_with("0.2.") {
            Version::V0_2
        } else if v.starts_with("0.1.") {
            Version::V0_1
        } else {
            found.push(v.to_string());
            continue;
        };
        newest = newest.max(Some(version));
    }
    match newest {
        Some(v) => Ok(v),
        None if found.is_empty() => Err(format!(
            "missing export {POLICY_PREFIX}0.3.0, 0.2.0 or 0.1.0 (not a wasmdns plugin)"
        )),
        None => Err(format!(
            "unsupported WIT version {} (this host supports 0.3.x, 0.2.x and 0.1.x)",
            found.join(", ")
        )),
    }
}
