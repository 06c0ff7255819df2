#!/usr/bin/env bash
# Sourced by the bench scripts that run a fresh wasmdns against NSD serving the
# load benchmark's zone (benches/load.sh generates it in $WORK): starts NSD on
# CPU 0 and waits for the proxy. Callers keep the pids to kill in `pids`.

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
