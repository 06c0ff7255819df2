#!/usr/bin/env bash
# Latency while the plugin chain is reloaded: NSD on CPU 0, a fresh wasmdns on
# CPU 1 with the load benchmark's config but a 1M-name hosts list, W1 (cache
# hits) at a fixed rate with dnsperf -v while SIGHUP reloads the proxy every 2 s;
# prints the latency percentiles of every query. RELOADS=0 is the baseline.
#
# Usage: benches/reload_latency.sh NAME   (after one benches/load.sh run, which
# generates the zone and the query files in $WORK)
# Env: WORK [/tmp/wasmdns-load], BIN [target/release/wasmdns], RELOADS [4],
#      QPS [20000], SECONDS_ [2 * RELOADS + 2, at least 10], NAMES [1000000].
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WORK:-/tmp/wasmdns-load}
NAME=${1:?usage: reload_latency.sh NAME}
RELOADS=${RELOADS:-4} QPS=${QPS:-20000} NAMES=${NAMES:-1000000}
T=${SECONDS_:-$((2 * RELOADS + 2 > 10 ? 2 * RELOADS + 2 : 10))}
BIN=${BIN:-$PWD/target/release/wasmdns}
OUT=${TMPDIR:-/tmp}/reload_latency.$NAME
# shellcheck source=benches/bench_lib.sh
source benches/bench_lib.sh
need reload_latency "run benches/load.sh once" \
    "$W/bench.test.zone" "$W/w1.txt" "$W/wasmdns-blocklist-rewrite.toml" "$BIN"
alone reload_latency
mkdir -p "$OUT"
LIST=$W/hosts-$NAMES.txt
hosts_list "$NAMES" "$LIST"
sed -e "s|$W/blocked-100000.txt|$LIST|; s|format = \"domains\"|format = \"hosts\"|" \
    -e 's|127.0.0.1:9153|127.0.0.1:0|; s|128MiB|256MiB|; s|level = "warn"|level = "info"|' \
    "$W/wasmdns-blocklist-rewrite.toml" > "$OUT/wasmdns.toml"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
start_nsd "$OUT" "$W"
taskset -c 1 "$BIN" run --config "$OUT/wasmdns.toml" > "$OUT/log" 2>&1 & P=$!
pids+=("$P")
wait_for_proxy
sleep 3 # the spare instance
taskset -c 0 dnsperf -s 127.0.0.1 -p 5353 -d "$W/w1.txt" -l 2 -Q "$QPS" >/dev/null 2>&1
( for _ in $(seq "$RELOADS"); do sleep 2; kill -HUP "$P"; done ) & H=$!
taskset -c 0 dnsperf -s 127.0.0.1 -p 5353 -d "$W/w1.txt" -l "$T" -Q "$QPS" -v > "$OUT/dnsperf.txt" 2>&1
wait "$H"
reloads=$(grep -o 'configuration reloaded.*ms=[0-9]*' "$OUT/log" | sed 's/.*ms=//' | paste -sd, - || true)
python3 - "$OUT/dnsperf.txt" "$NAME" "$RELOADS" "${reloads:-none}" <<'P'
import sys
lat = sorted(float(l.split()[-1]) for l in open(sys.argv[1]) if l.startswith('> '))
n = len(lat)
q = lambda p: lat[min(n - 1, int(p * n))] * 1000
print(f"{sys.argv[2]}: {n} queries, {sys.argv[3]} reloads (ms: {sys.argv[4]}): "
      f"p50 {q(.5):.3f} ms, p99 {q(.99):.3f} ms, p99.9 {q(.999):.3f} ms, max {lat[-1] * 1000:.2f} ms")
P
grep -E "Queries lost" "$OUT/dnsperf.txt"
