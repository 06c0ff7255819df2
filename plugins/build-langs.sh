#!/usr/bin/env bash
# Installs the toolchains for the non-Rust example plugins (issue 7), skipping
# what is present, and builds all four components into plugins/target/<lang>/:
#   c/blocklist.wasm  python/rewrite.wasm  js/allowlist.wasm  as/blocklist.wasm
# Usage: plugins/build-langs.sh [c|python|js|as ...]   (default: all)
# apt-get needs root or sudo. Versions are pinned to what issue 7 verified.
set -euo pipefail
cd "$(dirname "$0")"

COMPONENTIZE_PY_VERSION=0.25.1

step() { printf '\n=== lang plugins: %s\n' "$*"; }
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
export PATH="$HOME/.cargo/bin:$PATH"

# WIT bindings and component encoding come from tools/wit-tool, a member of the
# main workspace that tools/wit-tool/wit-tool.sh builds on first use: library
# crates instead of `cargo install wasm-tools wit-bindgen-cli`, which took 24
# minutes on 2 cores (times in plugins/README.md).

build_c() {
    local pkgs=()
    command -v clang-19 >/dev/null || pkgs+=(clang-19)
    command -v wasm-ld-19 >/dev/null || [[ -x /usr/lib/llvm-19/bin/wasm-ld ]] || pkgs+=(lld-19)
    [[ -e /usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a ]] || pkgs+=(libclang-rt-19-dev-wasm32)
    [[ -d /usr/lib/wasm32-wasi ]] || pkgs+=(wasi-libc)
    if ((${#pkgs[@]})); then
        step "apt-get install ${pkgs[*]}"
        "${sudo_cmd[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
    fi
    step "c-blocklist"
    examples/c-blocklist/build.sh
}

build_python() {
    if ! componentize-py --version 2>/dev/null | grep -q "$COMPONENTIZE_PY_VERSION"; then
        step "pip install componentize-py==$COMPONENTIZE_PY_VERSION"
        python3 -m pip install --quiet "componentize-py==$COMPONENTIZE_PY_VERSION"
    fi
    step "python-rewrite"
    examples/python-rewrite/build.sh
}

build_js() {
    step "js-allowlist"
    examples/js-allowlist/build.sh
}

build_as() {
    step "as-blocklist"
    examples/as-blocklist/build.sh
}

langs=("$@")
((${#langs[@]})) || langs=(c python js as)
for lang in "${langs[@]}"; do
    case $lang in
        c) build_c ;;
        python) build_python ;;
        js) build_js ;;
        as) build_as ;;
        *) echo "unknown language: $lang (c, python, js, as)" >&2; exit 2 ;;
    esac
done
