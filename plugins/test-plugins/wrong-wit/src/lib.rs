//! Test plugin `test_wrong_wit.wasm`: a valid component that exports
//! `wasmdns:plugin/policy@0.0.9` and not `@0.1.0`, so the host must refuse to
//! link it with an error naming the plugin and the missing export.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({ path: "wit", world: "plugin" });

    struct WrongWit;

    impl exports::wasmdns::plugin::policy::Guest for WrongWit {
        fn init(_config: String) -> Result<u8, String> {
            Ok(1)
        }

        fn on_query(_name: String) -> u8 {
            0
        }
    }

    export!(WrongWit);
}
