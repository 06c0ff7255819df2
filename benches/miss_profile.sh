#!/usr/bin/env bash
# The miss path under load, for profiling: NSD on CPU 0 and a fresh wasmdns on
# CPU 1, blast W2 (every query a cache miss) for a few seconds; prints the
# queries completed, the proxy's CPU per query and syscall counts (perf stat),
# or a perf profile with RECORD=1; CALLGRIND=1 instead runs the proxy under
# callgrind at a fixed 500 QPS (dnsperf) and prints instructions per miss.
#
# WORKLOAD=W1 or W3 profiles the hit path or the 90/10 mix the same way; QPS=N
# offers a fixed rate with dnsperf instead of blast (CPU per query and syscalls
# per query at a rate where the proxy sleeps between packets).
#
# Usage: benches/miss_profile.sh NAME [seconds]   (after one benches/load.sh run,
# which generates the zone, the query files and the blast generator in $WORK)
# Env: WORK [/tmp/wasmdns-load], BIN [target/release/wasmdns],
#      CFG [$WORK/wasmdns-blocklist-rewrite.toml], QUERIES (callgrind) [3000],
#      WORKLOAD [W2], QPS (fixed rate; unset = blast).
# Keep T at 2 s or less: W2 has 200k names and a fast proxy would reach hits.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WORK:-/tmp/wasmdns-load}
NAME=${1:?usage: miss_profile.sh NAME [seconds]}
T=${2:-2}
CFG=${CFG:-$W/wasmdns-blocklist-rewrite.toml}
BIN=${BIN:-$PWD/target/release/wasmdns}
BLAST=$W/harness/limit/target/release/blast
QFILE=$W/$(tr '[:upper:]' '[:lower:]' <<<"${WORKLOAD:-W2}").txt
OUT=${TMPDIR:-/tmp}/miss_profile.$NAME
# shellcheck source=benches/bench_lib.sh
source benches/bench_lib.sh
need miss_profile "run benches/load.sh once" "$W/bench.test.zone" "$QFILE" "$CFG" "$BIN"
alone miss_profile
mkdir -p "$OUT"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
start_nsd "$OUT" "$W"
run=(run --config "$CFG" --listen 127.0.0.1:5353 --upstream 127.0.0.1:5300 --cache-entries 300000)
if [[ ${CALLGRIND:-0} == 1 ]]; then
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out" \
        "$BIN" "${run[@]}" 2>"$OUT/valgrind.log" & P=$!
else
    taskset -c 1 "$BIN" "${run[@]}" & P=$!
fi
pids+=("$P")
wait_for_proxy
if [[ ${CALLGRIND:-0} == 1 ]]; then
    N=${QUERIES:-3000}
    head -"$N" "$W/w2.txt" > "$OUT/warm.q"; tail -"$N" "$W/w2.txt" > "$OUT/measured.q"
    dnsperf -s 127.0.0.1 -p 5353 -d "$OUT/warm.q" -n 1 -Q 500 >/dev/null 2>&1 || true
    callgrind_control -i on "$P" >/dev/null
    dnsperf -s 127.0.0.1 -p 5353 -d "$OUT/measured.q" -n 1 -Q 500 2>&1 | grep -E "completed|lost"
    callgrind_control -i off "$P" >/dev/null
    kill "$P"; wait "$P" 2>/dev/null || true
    # awk reads to the end: exiting at the match would close the pipe early, and
    # under pipefail callgrind_annotate's SIGPIPE ended the script before the echo.
    IR=$(callgrind_annotate "$OUT/callgrind.out" 2>/dev/null |
        awk '/PROGRAM TOTALS/ && ir == "" {gsub(",", "", $1); ir = $1} END {print ir}')
    [[ -n $IR ]] || { echo "miss_profile: no totals in $OUT/callgrind.out" >&2; exit 1; }
    echo "$NAME: $((IR / N)) instructions per miss ($N measured); profile in $OUT/callgrind.out"
    exit 0
fi
C0=$(awk '{print $14+$15}' "/proc/$P/stat")
if [[ ${RECORD:-0} == 1 ]]; then
    perf record -F 2000 -g -p "$P" -o "$OUT/perf.data" -- sleep "$T" >/dev/null 2>&1 & PR=$!
else
    events=syscalls:sys_enter_recvmmsg,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_sendto
    events+=,syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex
    events+=,context-switches,task-clock
    perf stat -e "$events" -p "$P" -o "$OUT/perf.stat" -- sleep "$T" & PR=$!
fi
if [[ -n ${QPS:-} ]]; then
    taskset -c 0 dnsperf -s 127.0.0.1 -p 5353 -d "$QFILE" -l "$T" -Q "$QPS" -n 1 \
        > "$OUT/blast.txt" 2>&1 || true
else
    taskset -c 0 "$BLAST" -s 127.0.0.1 -p 5353 -d "$QFILE" -l "$T" -c 8 -q 128 -t 0.5 -b 32 \
        > "$OUT/blast.txt" 2>&1 || true
fi
wait "$PR" || true
C1=$(awk '{print $14+$15}' "/proc/$P/stat")
Q=$(grep -i "completed" "$OUT/blast.txt" | grep -oE "[0-9]+" | head -1)
echo "$NAME: completed=$Q proxy_cpu_ticks=$((C1 - C0)) cpu_us_per_query=$(( (C1 - C0) * 10000 / ${Q:-1} ))"
if [[ ${RECORD:-0} == 1 ]]; then
    perf report -i "$OUT/perf.data" --no-children --sort dso,sym -g none --percent-limit 0.7 --stdio 2>/dev/null | grep "%" | head -60
else
    grep -v "^#" "$OUT/perf.stat" | grep -v "^$"
fi
