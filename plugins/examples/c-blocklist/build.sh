#!/usr/bin/env bash
# Builds the c-blocklist plugin: plugins/target/c/blocklist.wasm.
# Needs: clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc (Debian) and cargo:
# bindings and the component come from tools/wit-tool (the wit-bindgen-c and
# wit-component crates; the first run compiles it, ~1 CPU-minute), the adapter from
# plugins/tools/wasi-adapter. plugins/build-langs.sh installs the apt packages.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
target="$here/../../target"
out="$target/c"
mkdir -p "$out" bindings
wit_tool="$here/../../../tools/wit-tool/wit-tool.sh"

# 1. The policy logic, natively, with sanitizers (fast, catches memory errors).
cc -std=c11 -Wall -Wextra -Werror -fsanitize=address,undefined names.c test_names.c -o "$out/test_names"
"$out/test_names"

# 2. C bindings for the world `plugin` of wit/v0.1 (generated, not committed).
"$wit_tool" c-bindings ../../../wit/v0.1 plugin bindings

# 3. A preview-1 core module: Debian's wasi-libc targets WASI preview 1. -mexec-model
#    =reactor: a library (no main); its exports are called by the host.
clang-19 --target=wasm32-wasi --sysroot=/usr -O2 -std=c11 -Wall -Wextra -Werror \
    -mexec-model=reactor -fuse-ld=lld \
    -Wl,--strip-debug \
    plugin.c names.c bindings/plugin.c bindings/plugin_component_type.o \
    -o "$out/blocklist.core.wasm"

# 4. The preview1 → preview2 adapter matching the host's wasmtime 48.
host=$(rustc -vV | sed -n 's/^host: //p')
cargo run -q --release --manifest-path ../../tools/wasi-adapter/Cargo.toml \
    --target "$host" --target-dir "$target/tools" -- "$out/wasi_snapshot_preview1.wasm"

# 5. Core module + adapter → component (validated by the encoder).
"$wit_tool" component-new "$out/blocklist.core.wasm" \
    --adapt "wasi_snapshot_preview1=$out/wasi_snapshot_preview1.wasm" \
    -o "$out/blocklist.wasm"
rm -f "$out/blocklist.core.wasm"
ls -l "$out/blocklist.wasm"
