# What the live benchmark scripts share (sourced, not run): the testbed's network namespaces,
# clean-up on every path, and small helpers. tests/integration/lib.sh is the tests' own; both
# make namespaces and tear them down with scripts/netns-lib.sh.
#
#   bench_begin NAME ID   after option parsing: WORK (a temporary directory), NAMESPACES,
#                         PIDS, STARTED, and a trap that on every path stops every process
#                         started (track PID) and everything in the namespaces, deletes the
#                         namespaces and WORK, prints the logs of a failed run, and fails a run
#                         that leaves a namespace or process behind
#   bench_pair            namespaces $ID-a (192.0.2.1) -- $ID-b (192.0.2.2), veth $ID-a0/$ID-b0
#   bench_gateway         $ID-c (198.51.100.2) -- $ID-g (198.51.100.1 | 203.0.113.1, forwarding)
#                         -- $ID-s (203.0.113.2), veths $ID-c0/$ID-gc and $ID-s0/$ID-gs
# Only documentation prefixes, only inside namespaces made here; the root namespace is not
# touched.

# shellcheck source=scripts/netns-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/netns-lib.sh"

bench_begin() {
  BENCH_NAME=$1
  ID=$2
  [ "$(id -u)" -eq 0 ] || { echo "$BENCH_NAME: needs root" >&2; exit 1; }
  [ -z "$(ip netns list | awk -v p="$ID-" 'index($1, p) == 1')" ] || die "namespaces $ID-* exist already"
  WORK=$(mktemp -d "/tmp/$BENCH_NAME.XXXXXX")
  NAMESPACES=()
  PIDS=()     # running, stopped in the trap
  STARTED=()  # every process started, checked on the way out
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local status=$?
  set +e
  local pid ns
  teardown "${PIDS[@]}" -- "${NAMESPACES[@]}"
  [ "$status" -eq 0 ] || tail_logs "$WORK" 20
  rm -rf "$WORK"
  local left=()
  for ns in "${NAMESPACES[@]}"; do [ -e "/run/netns/$ns" ] && left+=("namespace $ns"); done
  for pid in "${STARTED[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("process $pid"); done
  if [ ${#left[@]} -gt 0 ]; then
    echo "$BENCH_NAME: left behind: ${left[*]}" >&2
    [ "$status" -ne 0 ] || status=1
  fi
  exit "$status"
}

die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 1; }
# Background processes are started with ip netns exec itself (it execs: $! is the process).
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
track() { PIDS+=("$1"); STARTED+=("$1"); }
forget() { local keep=() p; for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done; PIDS=("${keep[@]}"); }
stop_pid() { kill -TERM "$1"; wait "$1" || true; forget "$1"; }
# value FILE KEY: KEY=VALUE lines (badlink probe's output); jfield FILE KEY: the first
# "KEY": value in a JSON file; jsection FILE SECTION KEY: KEY inside the object SECTION.
value() { awk -F= -v k="$2" '$1 == k { print $2; f = 1 } END { exit !f }' "$1" || die "no $2 in $1"; }
jfield() { awk -v k="\"$2\":" '$1 == k { gsub(/[",]/, "", $2); print $2; exit }' "$1"; }
jsection() {
  awk -v s="\"$2\":" -v k="\"$3\":" '$1 == s { on = 1 } on && $1 == k { gsub(/[",]/, "", $2); print $2; exit }' "$1"
}
calc() { awk "BEGIN { printf \"$1\n\", $2 }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

bench_pair() {
  make_ns a b
  ip link add "$ID-a0" netns "$ID-a" type veth peer name "$ID-b0" netns "$ID-b"
  ip -n "$ID-a" addr add 192.0.2.1/24 dev "$ID-a0"
  ip -n "$ID-b" addr add 192.0.2.2/24 dev "$ID-b0"
  ip -n "$ID-a" link set "$ID-a0" up
  ip -n "$ID-b" link set "$ID-b0" up
  in_ns "$ID-a" ping -q -c 2 -i 0.2 -W 2 192.0.2.2 >/dev/null || die "no connectivity a -> b"
}

bench_gateway() {
  make_ns c g s
  ip link add "$ID-c0" netns "$ID-c" type veth peer name "$ID-gc" netns "$ID-g"
  ip link add "$ID-s0" netns "$ID-s" type veth peer name "$ID-gs" netns "$ID-g"
  ip -n "$ID-c" addr add 198.51.100.2/24 dev "$ID-c0"
  ip -n "$ID-g" addr add 198.51.100.1/24 dev "$ID-gc"
  ip -n "$ID-g" addr add 203.0.113.1/24 dev "$ID-gs"
  ip -n "$ID-s" addr add 203.0.113.2/24 dev "$ID-s0"
  local pair
  for pair in c:c0 g:gc g:gs s:s0; do ip -n "$ID-${pair%%:*}" link set "$ID-${pair#*:}" up; done
  ip -n "$ID-c" route add default via 198.51.100.1
  ip -n "$ID-s" route add default via 203.0.113.1
  in_ns "$ID-g" sysctl -qw net.ipv4.ip_forward=1
  in_ns "$ID-c" ping -q -c 2 -i 0.2 -W 2 203.0.113.2 >/dev/null || die "no connectivity c -> g -> s"
}
