#!/usr/bin/env bash
# Builds an AssemblyScript plugin into a wasmdns component.
#   plugins/sdk-as/build-plugin.sh ENTRY.ts OUT.wasm
# ENTRY.ts registers a Plugin and re-exports <sdk>/assembly/exports. Needs node/npm
# (assemblyscript is installed here from package-lock.json) and cargo (the WIT
# embedding and the component come from tools/wit-tool, built on first use).
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 ENTRY.ts OUT.wasm" >&2; exit 2; }
entry="$(realpath "$1")"
out="$(realpath -m "$2")"
sdk="$(cd "$(dirname "$0")" && pwd)"
wit="$sdk/../../wit/v0.1"
[[ -x "$sdk/node_modules/.bin/asc" ]] || (cd "$sdk" && npm ci --no-audit --no-fund)
mkdir -p "$(dirname "$out")"
core="${out%.wasm}.core.wasm"
# --use abort= : a failed assertion traps (unreachable) instead of importing env.abort,
# so the module imports nothing but wasmdns:plugin/host. The incremental GC keeps
# memory bounded across queries; -O3 with shrink level 1 balances speed and size.
"$sdk/node_modules/.bin/asc" "$entry" \
    --outFile "$core" \
    --runtime incremental --use abort= \
    --optimizeLevel 3 --shrinkLevel 1 --noAssert \
    --transform "$sdk/transform.js"
wit_tool="$sdk/../../tools/wit-tool/wit-tool.sh"
"$wit_tool" embed "$wit" plugin "$core" -o "$core"
"$wit_tool" component-new "$core" -o "$out" # validated by the encoder
rm -f "$core"
ls -l "$out"
