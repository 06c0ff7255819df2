#!/usr/bin/env bash
# What a big blocklist costs the whole proxy: runs `wasmdns run` with the example
# blocklist naming a generated N-line hosts file, and again with a one-line file,
# and prints the RSS difference (VmRSS 3 s after "serving", so the spare is
# built) and the time from the config being read to the chain being live.
#
# Usage: benches/list_memory.sh [N=1000000] [CPUS=0-1] [INSTANCES]
#   CPUS goes to taskset (the default pool is one instance per core + a spare);
#   INSTANCES sets the plugin's `instances`.
# Env: BIN [target/release/wasmdns], WASM [plugins/.../release/blocklist.wasm],
#      WORK [/tmp/wasmdns-lists] (the generated files are kept and reused).
# Needs `plugins/build.sh` and `cargo build --release` first.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000} CPUS=${2:-0-1} INSTANCES=${3:-}
BIN=${BIN:-$PWD/target/release/wasmdns}
WASM=${WASM:-$PWD/plugins/target/wasm32-wasip2/release/blocklist.wasm}
W=${WORK:-/tmp/wasmdns-lists}
# shellcheck source=benches/bench_lib.sh
source benches/bench_lib.sh
need list_memory "build first" "$BIN" "$WASM"
mkdir -p "$W"
hosts_list "$N" "$W/hosts-$N.txt"
echo "0.0.0.0 one.example" > "$W/hosts-1.txt"

# Prints "rss_kib load_ms" for a run whose list is $1.
measure() {
    cat > "$W/c.toml" <<T
[server]
listen = ["127.0.0.1:25353"]
[upstream]
servers = ["127.0.0.1:9"]
[admin]
listen = "127.0.0.1:0"
[[plugin]]
name = "blocklist"
path = "$WASM"
memory_limit = "256MiB"
${INSTANCES:+instances = $INSTANCES}
[plugin.config]
lists = [{ format = "hosts", file = "$1" }]
T
    taskset -c "$CPUS" "$BIN" run --config "$W/c.toml" > "$W/log" 2>&1 &
    local pid=$! i
    for i in $(seq 300); do grep -q "serving\|rror" "$W/log" && break; sleep 0.1; done
    grep -q serving "$W/log" || { cat "$W/log" >&2; kill "$pid"; exit 1; }
    sleep 3
    local rss; rss=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
    kill -TERM "$pid"; wait "$pid" || true
    local ms; ms=$(python3 - "$W/log" <<'P'
import datetime, re, sys
t = {}
for line in open(sys.argv[1]):
    m = re.match(r'(\S+Z)', line)
    if not m:
        continue
    ts = datetime.datetime.fromisoformat(m.group(1).replace('Z', '+00:00'))
    if 'precompiled plugin cache' in line: t['read'] = ts
    if 'plugin loaded' in line: t['live'] = ts
print(round((t['live'] - t['read']).total_seconds() * 1000))
P
)
    echo "$rss $ms"
}

read -r base _ < <(measure "$W/hosts-1.txt")
read -r big ms < <(measure "$W/hosts-$N.txt")
echo "names=$N cpus=$CPUS instances=${INSTANCES:-default}: extra RSS $(( (big - base) / 1024 )) MiB ($big vs $base KiB), config read -> live ${ms} ms"
