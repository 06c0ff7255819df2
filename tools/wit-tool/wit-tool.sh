#!/usr/bin/env bash
# Runs tools/wit-tool, building it first if needed (dev profile: its work takes
# milliseconds, and its dependencies are then shared with the workspace's tests).
# cargo runs from the repository root so that plugins/.cargo/config.toml (target
# wasm32-wasip2) does not apply; the arguments keep the caller's directory.
#   tools/wit-tool/wit-tool.sh c-bindings|embed|component-new ...
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
(cd "$root" && cargo build -q -p wasmdns-wit-tool)
target="${CARGO_TARGET_DIR:-target}"
[[ $target == /* ]] || target="$root/$target"
exec "$target/debug/wit-tool" "$@"
