#!/usr/bin/env bash
# Builds every Rust plugin (SDK examples and test plugins) as a release
# WebAssembly component into plugins/target/wasm32-wasip2/release/*.wasm and
# lists them with their sizes. Usage: plugins/build.sh  (from anywhere)
set -euo pipefail
cd "$(dirname "$0")"

rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 \
    || rustup target add wasm32-wasip2

cargo build --release --target wasm32-wasip2 --workspace

out=target/wasm32-wasip2/release
status=0
for wasm in "$out"/*.wasm; do
    # A component starts with "\0asm" then version 0x0d 0x00 and layer 0x01 0x00;
    # a core module would carry version 1 and layer 0.
    header=$(head -c 8 "$wasm" | od -An -tx1 | tr -d ' \n')
    kind=component
    if [ "$header" != "0061736d0d000100" ]; then
        kind="NOT A COMPONENT ($header)"
        status=1
    fi
    printf '%8s  %s  %s\n' "$(stat -c %s "$wasm")" "$wasm" "$kind"
done
exit $status
