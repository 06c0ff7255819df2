#!/usr/bin/env bash
# End-to-end check: Debian's dig (and kdig if present) against the built wasmdns
# binary, forwarding to Debian's nsd serving a small zone. Prints PASS/FAIL per
# check; exits non-zero if any check fails. Everything lives in a temp dir and on
# 127.0.0.1 ports found free at start; a trap stops both daemons.
#
# Usage: .ci/e2e.sh            (builds target/debug/wasmdns first)
#        WASMDNS_BIN=path .ci/e2e.sh
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${WASMDNS_BIN:-target/debug/wasmdns}
if [[ -z ${WASMDNS_BIN:-} ]]; then
    cargo build --quiet --bin wasmdns
fi
for tool in nsd nsd-checkconf dig; do
    command -v "$tool" >/dev/null || { echo "e2e: $tool not installed" >&2; exit 2; }
done

WORK=$(mktemp -d)
NSD_PID=
PROXY_PID=
BLOCK_PID=
cleanup() {
    [[ -n $PROXY_PID ]] && kill "$PROXY_PID" 2>/dev/null || true
    [[ -n $BLOCK_PID ]] && kill "$BLOCK_PID" 2>/dev/null || true
    [[ -f $WORK/nsd.pid ]] && kill "$(cat "$WORK/nsd.pid")" 2>/dev/null || true
    [[ -n $NSD_PID ]] && kill "$NSD_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# A port free for UDP and TCP on 127.0.0.1 (raced, but only against this host's tests).
free_port() {
    python3 - <<'PY'
import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", port)); print(port); break
    except OSError:
        pass
    finally:
        t.close(); u.close()
PY
}
NSD_PORT=$(free_port)
DNS_PORT=$(free_port)
ADMIN_PORT=$(free_port)

# --- the zone: A, AAAA, CNAME, TXT, MX and 40 long TXT records for truncation ----
{
    cat <<ZONE
\$ORIGIN e2e.test.
\$TTL 300
@       IN SOA ns1.e2e.test. hostmaster.e2e.test. 1 3600 600 86400 60
@       IN NS  ns1
ns1     IN A   127.0.0.1
www     IN A   192.0.2.80
www     IN AAAA 2001:db8::80
alias   IN CNAME www
txt     IN TXT "hello from nsd"
@       IN MX  10 mail
mail    IN A   192.0.2.25
ttl     IN A   192.0.2.53
ZONE
    for i in $(seq -w 1 40); do
        echo "big     IN TXT \"$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\""
    done
} >"$WORK/e2e.test.zone"

cat >"$WORK/nsd.conf" <<CONF
server:
    ip-address: 127.0.0.1
    port: $NSD_PORT
    zonesdir: "$WORK"
    pidfile: "$WORK/nsd.pid"
    database: ""
    zonelistfile: "$WORK/zone.list"
    xfrdfile: "$WORK/xfrd.state"
    xfrdir: "$WORK"
    username: ""
    chroot: ""
    logfile: "$WORK/nsd.log"
    server-count: 1
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: e2e.test
    zonefile: e2e.test.zone
CONF
nsd-checkconf "$WORK/nsd.conf"

cat >"$WORK/wasmdns.toml" <<CONF
[server]
listen = ["127.0.0.1:$DNS_PORT"]

[upstream]
servers = ["127.0.0.1:$NSD_PORT"]

[admin]
listen = "127.0.0.1:$ADMIN_PORT"
CONF
"$BIN" check --config "$WORK/wasmdns.toml"

nsd -d -c "$WORK/nsd.conf" &
NSD_PID=$!
"$BIN" run --config "$WORK/wasmdns.toml" 2>"$WORK/wasmdns.log" &
PROXY_PID=$!

DIG=(dig @127.0.0.1 -p "$DNS_PORT" +time=2 +tries=1)
# Wait (bounded) until nsd answers directly and the proxy answers through it.
for _ in $(seq 50); do
    if dig @127.0.0.1 -p "$NSD_PORT" +time=1 +tries=1 +short www.e2e.test A 2>/dev/null | grep -q 192.0.2.80 &&
        "${DIG[@]}" +short ns1.e2e.test A 2>/dev/null | grep -q 127.0.0.1; then
        break
    fi
    sleep 0.1
done

FAILED=0
check() { # name, command...: PASS when the command succeeds
    local name=$1
    shift
    if "$@" >"$WORK/out" 2>&1; then
        echo "PASS  $name"
    else
        echo "FAIL  $name"
        sed 's/^/      /' "$WORK/out"
        FAILED=1
    fi
}
# dig with the given arguments; its output must match every following regex.
dig_expect() {
    local args=$1
    shift
    # shellcheck disable=SC2086
    local out
    out=$("${DIG[@]}" $args)
    echo "$out"
    local re
    for re in "$@"; do
        grep -Eq -- "$re" <<<"$out" || { echo ">>> no match for: $re"; return 1; }
    done
}
# Like dig_expect, against another server: dig_expect_at "dig @.. -p .." "args" regex...
dig_expect_at() {
    local dig=$1 args=$2
    shift 2
    local out
    # shellcheck disable=SC2086
    out=$($dig $args)
    echo "$out"
    local re
    for re in "$@"; do
        grep -Eq -- "$re" <<<"$out" || { echo ">>> no match for: $re"; return 1; }
    done
}
ttl_of() { # the TTL of the first answer record, from +noall +answer output
    awk 'NF >= 5 { print $2; exit }'
}

check "A answer over UDP" dig_expect "www.e2e.test A" 'status: NOERROR' '^www\.e2e\.test\.\s+[0-9]+\s+IN\s+A\s+192\.0\.2\.80'
check "AAAA answer" dig_expect "www.e2e.test AAAA" 'IN\s+AAAA\s+2001:db8::80'
check "CNAME chased by the authority" dig_expect "alias.e2e.test A" 'IN\s+CNAME\s+www\.e2e\.test\.' 'IN\s+A\s+192\.0\.2\.80'
check "TXT answer" dig_expect "txt.e2e.test TXT" '"hello from nsd"'
check "MX answer" dig_expect "e2e.test MX" 'IN\s+MX\s+10 mail\.e2e\.test\.'
check "question case echoed (0x20)" dig_expect "WwW.E2e.TeSt A" '^;WwW\.E2e\.TeSt\.\s+IN\s+A' '192\.0\.2\.80'
check "case echoed on a cache hit" dig_expect "wWw.e2E.tEsT A" '^;wWw\.e2E\.tEsT\.\s+IN\s+A'
check "NXDOMAIN with SOA" dig_expect "nope.e2e.test A" 'status: NXDOMAIN' 'IN\s+SOA\s+ns1\.e2e\.test\.'
check "answer over TCP" dig_expect "+tcp mail.e2e.test A" 'status: NOERROR' '192\.0\.2\.25'

cached_ttl() {
    local first second
    "${DIG[@]}" ttl.e2e.test A >"$WORK/uncached.txt"
    sleep 1.1
    "${DIG[@]}" ttl.e2e.test A >"$WORK/cached.txt"
    first=$(grep -E '^ttl\.e2e\.test\.' "$WORK/uncached.txt" | ttl_of)
    second=$(grep -E '^ttl\.e2e\.test\.' "$WORK/cached.txt" | ttl_of)
    echo "uncached TTL=$first cached TTL=$second"
    [[ -n $first && -n $second && $first -eq 300 && $second -lt $first ]]
}
check "cached answer has a lower TTL" cached_ttl

check "large TXT over 512-byte UDP: TC=1" dig_expect "+bufsize=512 +ignore big.e2e.test TXT" 'flags:[^;]* tc[ ;]'
check "large TXT: dig retries over TCP, gets all 40" bash -c \
    "\"\$0\" \"\$@\" | tee /dev/stderr | grep -c 'IN[[:space:]]*TXT' | grep -qx 40" \
    "${DIG[@]}" +bufsize=512 +noall +answer big.e2e.test TXT
check "no EDNS: large TXT truncated" dig_expect "+noedns +ignore big.e2e.test TXT" 'flags:[^;]* tc[ ;]'
check "EDNS version 1: BADVERS" dig_expect "+edns=1 +noednsnegotiation www.e2e.test A" 'status: BADVERS'

if command -v kdig >/dev/null; then
    # kdig lower-cases names it parses, so it checks DO and TCP rather than case.
    kdig_do_tcp() {
        kdig @127.0.0.1 -p "$DNS_PORT" +time=2 +retry=0 +dnssec www.e2e.test A |
            tee /dev/stderr | grep -Eiq 'version: 0; flags: do' &&
            kdig @127.0.0.1 -p "$DNS_PORT" +time=2 +retry=0 +tcp www.e2e.test AAAA |
            tee /dev/stderr | grep -q '2001:db8::80'
    }
    check "kdig: DO echoed, AAAA over TCP" kdig_do_tcp
else
    echo "SKIP  kdig not installed"
fi

check "metrics served" bash -c "python3 -c 'import urllib.request,sys; sys.stdout.write(urllib.request.urlopen(\"http://127.0.0.1:$ADMIN_PORT/metrics\", timeout=2).read().decode())' | grep -q '^wasmdns_cache_hits_total [1-9]'"

# The README's plugin example in front of the same nsd: doubleclick.net and its
# subdomains are blocked with NXDOMAIN and an RFC 8914 "Blocked" error.
BLOCK_PORT=$(free_port)
[[ -f plugins/target/wasm32-wasip2/release/blocklist.wasm ]] || plugins/build.sh >/dev/null
"$BIN" run --config config/examples/blocklist.toml --upstream "127.0.0.1:$NSD_PORT" \
    --listen "127.0.0.1:$BLOCK_PORT" --admin 127.0.0.1:0 2>"$WORK/blocklist.log" &
BLOCK_PID=$!
BDIG=(dig @127.0.0.1 -p "$BLOCK_PORT" +time=2 +tries=1)
for _ in $(seq 100); do
    "${BDIG[@]}" +short www.e2e.test A 2>/dev/null | grep -q 192.0.2.80 && break
    sleep 0.1
done
check "blocklist example: doubleclick.net NXDOMAIN with EDE 15" dig_expect_at "${BDIG[*]}" \
    "ads.doubleclick.net A" 'status: NXDOMAIN' 'EDE: 15 \(Blocked\)' 'blocklist'
check "blocklist example: other names forwarded" dig_expect_at "${BDIG[*]}" \
    "www.e2e.test A" 'status: NOERROR' '192\.0\.2\.80'
kill "$BLOCK_PID" 2>/dev/null || true
wait "$BLOCK_PID" 2>/dev/null || true

sigterm_exit_0() {
    kill -TERM "$PROXY_PID"
    local rc=0
    wait "$PROXY_PID" || rc=$?
    PROXY_PID=
    echo "exit status $rc"
    [[ $rc -eq 0 ]]
}
check "SIGTERM: exits 0" sigterm_exit_0

echo "--- dig, uncached:"
cat "$WORK/uncached.txt" 2>/dev/null || true
echo "--- dig, the same query cached 1.1 s later:"
cat "$WORK/cached.txt" 2>/dev/null || true

if [[ $FAILED -ne 0 ]]; then
    echo "--- wasmdns log (tail)"; tail -n 30 "$WORK/wasmdns.log" || true
    echo "--- nsd log (tail)"; tail -n 30 "$WORK/nsd.log" || true
    echo "e2e: FAIL"
    exit 1
fi
echo "e2e: PASS"
