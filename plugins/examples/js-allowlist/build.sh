#!/usr/bin/env bash
# Builds the js-allowlist plugin: plugins/target/js/allowlist.wasm.
# Installs the pinned componentize-js/jco from package-lock.json when needed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
out="$here/../../target/js"
mkdir -p "$out"
[[ -x node_modules/.bin/componentize-js ]] || npm ci --no-audit --no-fund
# Every WASI feature off: the policy needs none, and the component then imports
# only wasmdns:plugin/host (no stdio, random, clocks, http).
node_modules/.bin/componentize-js allowlist.js \
    --wit ../../../wit/v0.1 --world-name plugin \
    --disable stdio random clocks http fetch-event \
    -o "$out/allowlist.wasm"
ls -l "$out/allowlist.wasm"
