//! The Rust guest SDK for wasmdns policy plugins (WIT `wasmdns:plugin@0.3.0`).
//!
//! A plugin is a type implementing [`Plugin`] plus one [`export_plugin!`] line:
//!
//! ```ignore
//! use serde::Deserialize;
//! use wasmdns_plugin_sdk::{export_plugin, Block, Client, Plugin, QueryAction, Question, Reuse};
//!
//! #[derive(Default, Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct Config { deny: Vec<String> }
//!
//! struct Deny(Config);
//!
//! impl Plugin for Deny {
//!     type Config = Config;
//!     fn init(config: Config) -> Result<Self, String> { Ok(Deny(config)) }
//!     fn on_query(&self, q: &Question, _c: &Client) -> QueryAction {
//!         if self.0.deny.iter().any(|d| *d == q.name) {
//!             QueryAction::Block(Block::NxDomain)
//!         } else {
//!             QueryAction::Pass
//!         }
//!     }
//!     // Verdicts depend only on the name and the config: the host may reuse them
//!     // for the same question until the next reload instead of calling again.
//!     fn query_reuse(&self, _q: &Question, _action: &QueryAction) -> Reuse {
//!         Reuse::UNTIL_RELOAD
//!     }
//! }
//!
//! export_plugin!(Deny);
//! ```
//!
//! | module      | what it holds                                                  |
//! |-------------|----------------------------------------------------------------|
//! | `plugin`    | the [`Plugin`] trait: phases with do-nothing defaults          |
//! | `types`     | [`Question`], [`Client`], [`Record`], [`RData`], type/rcode numbers |
//! | `action`    | verdicts ([`QueryAction`], [`ResponseAction`], [`Block`]), their [`Reuse`] and [`Hooks`] |
//! | [`log`]     | logging through the host (`log::info!`)                        |
//! | [`name`]    | name normalisation and the suffix walk for subdomain matching  |
//! | [`hosts`]   | a hosts-file parser                                            |
//! | [`lists`]   | the list files the config names, streamed in chunks of whole lines |
//! | `runtime`   | config parsing ([`load`], the same path the component uses)    |
//! | `glue`, `bindings` | wasm32 only, hidden: the generated bindings and their mapping |
//!
//! The plugin logic is plain Rust: `cargo test --target x86_64-unknown-linux-gnu`
//! runs it natively, where `export_plugin!` only checks that the type is a plugin.

// Lets the generated bindings name this crate by its public name, the same path
// they use when the export macro expands inside a plugin crate.
extern crate self as wasmdns_plugin_sdk;

mod action;
pub mod hosts;
pub mod lists;
pub mod log;
pub mod name;
mod plugin;
mod runtime;
mod types;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod bindings;
#[cfg(target_arch = "wasm32")]
mod glue;

pub use action::{Block, Hooks, QueryAction, ResponseAction, Reuse};
pub use plugin::{NoConfig, Plugin};
pub use runtime::{load, parse_config};
pub use types::{rcode, rtype, Client, Protocol, Question, RData, Record, CLASS_IN};

/// Implementation details of `export_plugin!`; not a stable API.
#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::bindings;
    #[cfg(target_arch = "wasm32")]
    pub use crate::glue::{init, on_query, on_response};
    #[cfg(target_arch = "wasm32")]
    pub use crate::runtime::Slot;
    #[cfg(target_arch = "wasm32")]
    pub use wit_bindgen;
}

/// Exports a [`Plugin`] type as the component's `wasmdns:plugin/policy@0.3.0`.
///
/// Use it once per crate (a component is one plugin). On wasm32 it keeps one
/// instance in a static (initialised by the host's `init` call, with the
/// `[plugin.config]` JSON parsed into `Plugin::Config`) and routes the hooks to
/// it; natively it only checks that the type implements [`Plugin`], so the
/// crate's unit tests build without any wasm tooling.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::__private::bindings::exports::wasmdns::plugin::policy as __policy;

            static __WASMDNS_INSTANCE: $crate::__private::Slot<$plugin> =
                $crate::__private::Slot::new();

            struct __WasmdnsExport;

            impl __policy::Guest for __WasmdnsExport {
                fn init(
                    config: ::std::string::String,
                ) -> ::std::result::Result<__policy::Hooks, ::std::string::String> {
                    $crate::__private::init(&__WASMDNS_INSTANCE, config)
                }

                fn on_query(q: __policy::Question, c: __policy::Client) -> __policy::QueryVerdict {
                    $crate::__private::on_query(&__WASMDNS_INSTANCE, q, c)
                }

                fn on_response(
                    q: __policy::Question,
                    c: __policy::Client,
                    rcode: u16,
                    answers: ::std::vec::Vec<__policy::Record>,
                ) -> __policy::ResponseAction {
                    $crate::__private::on_response(&__WASMDNS_INSTANCE, q, c, rcode, answers)
                }
            }

            $crate::__private::bindings::__wasmdns_export_world!(__WasmdnsExport with_types_in $crate::__private::bindings);
        };

        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            const fn __wasmdns_is_plugin<P: $crate::Plugin>() {}
            __wasmdns_is_plugin::<$plugin>();
        };
    };
}
