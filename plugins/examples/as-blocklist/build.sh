#!/usr/bin/env bash
# Builds the as-blocklist plugin: plugins/target/as/blocklist.wasm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../../sdk-as/build-plugin.sh" "$here/assembly/index.ts" "$here/../../target/as/blocklist.wasm"
