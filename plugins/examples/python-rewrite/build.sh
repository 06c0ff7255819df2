#!/usr/bin/env bash
# Builds the python-rewrite plugin: plugins/target/python/rewrite.wasm.
# Needs componentize-py 0.25.x (pip install componentize-py==0.25.1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../../target/python"
mkdir -p "$out"
cd "$here"
componentize-py -d ../../../wit/v0.1 -w plugin componentize app -o "$out/rewrite.wasm"
ls -l "$out/rewrite.wasm"
