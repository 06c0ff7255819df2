#!/usr/bin/env bash
# Sourced by the bench scripts that run a fresh wasmdns: checks their inputs,
# generates big hosts lists, and (for those run against NSD serving the load
# benchmark's zone, which benches/load.sh generates in $WORK) starts NSD on CPU 0
# and waits for the proxy. Callers keep the pids to kill in `pids`.

# need SCRIPT HINT FILE...: exits 2 naming the first FILE missing, with HINT.
need() {
    local script=$1 hint=$2 f
    shift 2
    for f in "$@"; do
        [[ -e $f ]] || { echo "$script: $f missing ($hint)" >&2; exit 2; }
    done
}

# alone SCRIPT: exits 1 if another wasmdns runs (it would hold the ports and the CPUs).
alone() {
    if pgrep -f "wasmdns run" >/dev/null; then echo "$1: another wasmdns is running" >&2; exit 1; fi
}

# hosts_list N FILE: writes an N-line hosts file (N distinct names under 5,000
# parents) unless FILE already holds one; the bench scripts share and reuse it.
hosts_list() {
    [[ -s $2 ]] || awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
        printf "0.0.0.0 ads%d.tracker%d.example\n", i, i % 5000 }' > "$2"
}

# Writes $1/nsd.conf for the zone in $2 and starts NSD on 127.0.0.1:5300, CPU 0.
start_nsd() {
    local out=$1 zones=$2
    cat > "$out/nsd.conf" <<EON
server:
  ip-address: 127.0.0.1@5300
  server-count: 1
  database: ""
  zonelistfile: "$out/zl"
  pidfile: "$out/nsd.pid"
  xfrdfile: "$out/xfrd"
  zonesdir: "$zones"
  username: ""
  chroot: ""
  verbosity: 0
zone:
  name: bench.test
  zonefile: bench.test.zone
EON
    taskset -c 0 nsd -d -c "$out/nsd.conf" >/dev/null 2>&1 &
    pids+=($!)
    sleep 1
}

# Waits (up to 2 min: a cold start compiles the plugins) until the proxy on
# 127.0.0.1:5353 answers.
wait_for_proxy() {
    for _ in $(seq 240); do
        dig +time=1 +tries=1 @127.0.0.1 -p 5353 warmup.bench.test >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    echo "no answer from the proxy on 127.0.0.1:5353" >&2
    return 1
}
