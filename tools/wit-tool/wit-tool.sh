#!/usr/bin/env bash
# Runs tools/wit-tool, building it first if needed (dev profile: its work takes
# milliseconds). It is its own workspace (see its Cargo.toml) built into the root
# target dir; cargo runs from the repository root so that plugins/.cargo/config.toml
# (target wasm32-wasip2) does not apply; the arguments keep the caller's directory.
#   tools/wit-tool/wit-tool.sh c-bindings|embed|component-new ...
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-target}"
[[ $target == /* ]] || target="$root/$target"
(cd "$root" && cargo build -q --manifest-path tools/wit-tool/Cargo.toml --target-dir "$target")
exec "$target/debug/wit-tool" "$@"
