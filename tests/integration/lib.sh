# Shared by the integration tests (sourced): argument handling, the root check, network
# namespaces and veth pairs named uniquely for this run, a trap that removes all of it on every
# path, badlink started and stopped in a namespace, and the measuring helpers.
#
# A test script is called as: TEST.sh BADLINK. The measuring stick is `badlink probe`.
set -euo pipefail

BADLINK=${1:?usage: $0 BADLINK}
# shellcheck source=scripts/netns-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/netns-lib.sh"
TEST_NAME=$(basename "$0" .sh)

skip() {
  echo "SKIP $TEST_NAME: $*"
  exit 77
}

fail() {
  echo "FAIL $TEST_NAME: $*" >&2
  exit 1
}

say() { echo "== $TEST_NAME: $*"; }

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, veth pairs, iptables, NFQUEUE)"
for tool in ip iptables ip6tables iptables-save ping awk; do
  command -v "$tool" >/dev/null 2>&1 || skip "needs $tool"
done
[ -x "$BADLINK" ] || fail "no badlink at $BADLINK"

# Names unique per run: bl-<pid>-<x> (interface names stay within 15 characters).
ID="bl-$$"
WORK=$(mktemp -d "/tmp/badlink-$TEST_NAME.XXXXXX")
NAMESPACES=()
BACKGROUND=()

cleanup() {
  local status=$?
  set +e
  teardown "${BACKGROUND[@]}" -- "${NAMESPACES[@]}"
  if [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; then
    tail_logs "$WORK" 30
  fi
  if [ -n "${KEEP_WORK:-}" ]; then
    echo "kept $WORK (KEEP_WORK)" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# link_ns A IFA B IFB: a veth pair between namespaces $ID-A (interface $ID-IFA) and $ID-B.
link_ns() {
  ip link add "$ID-$2" netns "$ID-$1" type veth peer name "$ID-$4" netns "$ID-$3"
  ip -n "$ID-$1" link set "$ID-$2" up
  ip -n "$ID-$3" link set "$ID-$4" up
}

# addr NS IF ADDRESS/PREFIX
addr() {
  case "$3" in
    *:*) ip -n "$ID-$1" addr add "$3" dev "$ID-$2" nodad ;;
    *) ip -n "$ID-$1" addr add "$3" dev "$ID-$2" ;;
  esac
}

in_ns() {
  local ns=$1
  shift
  ip netns exec "$ID-$ns" "$@"
}

# The usual pair: namespaces a (192.0.2.1, 2001:db8::1) and b (192.0.2.2, 2001:db8::2).
two_hosts() {
  make_ns a b
  link_ns a a0 b b0
  addr a a0 192.0.2.1/24
  addr b b0 192.0.2.2/24
  addr a a0 2001:db8::1/64
  addr b b0 2001:db8::2/64
}

# profile NAME <<EOF ... EOF: writes $WORK/NAME.toml from standard input, prints its path.
profile() {
  cat >"$WORK/$1.toml"
  echo "$WORK/$1.toml"
}

# start_badlink NS LOGNAME ARGS...: runs `badlink run ARGS` in namespace NS, in the background,
# and waits until it says it is running. Sets BADLINK_PID.
start_badlink() {
  local ns=$1 log="$WORK/$2.log"
  shift 2
  # A fixed seed: the statistical checks' 4.5-sigma bounds hold for this draw, and a failure
  # repeats (BADLINK_SEED overrides it to try others).
  ip netns exec "$ID-$ns" "$BADLINK" run --stats-interval 0 --seed "${BADLINK_SEED:-20261124}" "$@" >"$WORK/$(basename "$log" .log).out" 2>"$log" &
  BADLINK_PID=$!
  BACKGROUND+=("$BADLINK_PID")
  for _ in $(seq 100); do
    grep -q "running profile" "$log" 2>/dev/null && return 0
    kill -0 "$BADLINK_PID" 2>/dev/null || fail "badlink exited during start-up: $(cat "$log")"
    sleep 0.1
  done
  fail "badlink did not start within 10 s: $(cat "$log")"
}

# stop_badlink [SIGNAL]: stops the last badlink started and checks it exited with 0.
stop_badlink() {
  local signal=${1:-TERM} status=0
  kill "-$signal" "$BADLINK_PID"
  wait "$BADLINK_PID" || status=$?
  [ "$status" -eq 0 ] || fail "badlink exited with $status after SIG$signal"
}

# badlink_rules NS: how many iptables/ip6tables lines mention badlink in namespace NS.
badlink_rules() {
  local n4 n6
  n4=$(in_ns "$1" iptables-save | grep -ci badlink || true)
  n6=$(in_ns "$1" ip6tables-save | grep -ci badlink || true)
  echo $((n4 + n6))
}

# copy_ranges NS: the copy range of each NFQUEUE bound in namespace NS, one per line (how many
# bytes of a packet the kernel copies to the reader).
copy_ranges() {
  in_ns "$1" awk '{ print $5 }' /proc/net/netfilter/nfnetlink_queue
}

# udp_probe SRC DST ADDRESS COUNT RATE NAME [RECEIVER OPTIONS...]: COUNT packets at RATE from
# namespace SRC to ADDRESS (port 5000, or $PROBE_PORT) in namespace DST. Results in
# $WORK/NAME.send and .recv.
udp_probe() {
  local src=$1 dst=$2 address=$3 count=$4 rate=$5 name=$6 port=${PROBE_PORT:-5000}
  shift 6
  local ready="$WORK/$name.ready"
  rm -f "$ready"
  in_ns "$dst" "$BADLINK" probe recv --bind "$address" --port "$port" --count "$count" --idle 3 \
    --max-time 120 --ready "$ready" "$@" >"$WORK/$name.recv" &
  local receiver=$!
  for _ in $(seq 100); do [ -f "$ready" ] && break; sleep 0.05; done
  [ -f "$ready" ] || fail "udp_probe receiver did not start"
  in_ns "$src" "$BADLINK" probe send --to "$address" --port "$port" --count "$count" --rate "$rate" \
    --size 200 >"$WORK/$name.send"
  wait "$receiver" || fail "udp_probe receiver failed"
}

# value FILE KEY: the value of KEY=... in FILE.
value() {
  awk -F= -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) exit 1 }' "$1" ||
    fail "no $2 in $1"
}

# check "DESCRIPTION" AWK-CONDITION: evaluates the condition (numbers substituted by the caller)
# and fails the test with DESCRIPTION when it does not hold.
check() {
  local what=$1 condition=$2
  if awk "BEGIN { exit !($condition) }"; then
    say "ok: $what  [$condition]"
  else
    fail "$what  [$condition]"
  fi
}

# binomial_bounds N P: the 4.5-sigma interval of a Binomial(N, P) count, as "LOW HIGH".
# (4.5 sigma: a correct implementation fails once in ~150,000 runs.)
binomial_bounds() {
  awk -v n="$1" -v p="$2" 'BEGIN {
    m = n * p; s = sqrt(n * p * (1 - p));
    lo = m - 4.5 * s; if (lo < 0) lo = 0;
    printf "%d %d\n", lo, m + 4.5 * s + 0.999 }'
}

# iperf_rtt SRC DST ADDRESS PORT: iperf3's mean TCP round trip in ms over 2 s at 20 Mbit/s,
# from namespace SRC to ADDRESS in namespace DST on PORT (the kernel's smoothed RTT).
iperf_rtt() {
  in_ns "$2" iperf3 -s -D -1 -p "$4" --logfile "$WORK/iperf-server-$4.log" >/dev/null
  sleep 0.3
  in_ns "$1" iperf3 -c "$3" -p "$4" -t 2 -b 20M --json >"$WORK/iperf-$4.json" 2>&1 ||
    fail "iperf3 failed: $(cat "$WORK/iperf-$4.json")"
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["end"]["streams"][0]["sender"]["mean_rtt"] / 1000)' \
    "$WORK/iperf-$4.json"
}

# ping_avg NS ADDRESS COUNT: the average round trip in ms.
ping_avg() {
  in_ns "$1" ping -q -c "$3" -i 0.05 -W 2 "$2" | awk -F/ '/^rtt|^round-trip/ { print $5 }'
}

# Client c -- gateway g -- server s: c0 198.51.100.2 / 2001:db8:c::2 behind g's gc
# (198.51.100.1 / 2001:db8:c::1); s0 203.0.113.2 / 2001:db8:5::2 behind g's gs (203.0.113.1 /
# 2001:db8:5::1), the gateway's WAN side. g forwards.
three_hosts() {
  make_ns c g s
  link_ns c c0 g gc
  link_ns g gs s s0
  addr c c0 198.51.100.2/24
  addr g gc 198.51.100.1/24
  addr g gs 203.0.113.1/24
  addr s s0 203.0.113.2/24
  addr c c0 2001:db8:c::2/64
  addr g gc 2001:db8:c::1/64
  addr g gs 2001:db8:5::1/64
  addr s s0 2001:db8:5::2/64
  in_ns c ip route add default via 198.51.100.1
  in_ns s ip route add default via 203.0.113.1
  in_ns c ip -6 route add default via 2001:db8:c::1
  in_ns s ip -6 route add default via 2001:db8:5::1
  in_ns g sysctl -q -w net.ipv4.ip_forward=1
  in_ns g sysctl -q -w net.ipv6.conf.all.forwarding=1
}
