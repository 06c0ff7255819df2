//! The generated WIT bindings for `wasmdns:plugin@0.3.0` (wasm32 only, hidden).
//!
//! Paths point through `wasmdns_plugin_sdk::__private` so that the export macro,
//! which expands in the plugin's crate, resolves without the plugin depending on
//! `wit-bindgen` itself.

wit_bindgen::generate!({
    path: "../../wit/v0.3",
    world: "wasmdns:plugin/plugin@0.3.0",
    pub_export_macro: true,
    export_macro_name: "__wasmdns_export_world",
    default_bindings_module: "wasmdns_plugin_sdk::__private::bindings",
    runtime_path: "wasmdns_plugin_sdk::__private::wit_bindgen::rt",
    bitflags_path: "wasmdns_plugin_sdk::__private::wit_bindgen::rt::bitflags",
});
