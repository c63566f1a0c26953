# Namespaces and their clean-up, shared by the integration tests (tests/integration/lib.sh)
# and the live benchmarks (scripts/bench-lib.sh), sourced by both: what they start and the
# namespaces they make go on every path. Both set ID (a prefix unique to the run) and
# NAMESPACES (an array) first.
#
#   make_ns NAME...            namespaces $ID-NAME with loopback up (no forwarding), each
#                              added to NAMESPACES
#   teardown PID... -- NS...   SIGTERM to each PID, up to 5 s for it to exit (a badlink
#                              removes its rules), then SIGKILL; then every process left in
#                              each namespace is killed and the namespace deleted
#   tail_logs DIR LINES        the last LINES lines of every DIR/*.log, on stderr

make_ns() {
  local n
  for n in "$@"; do
    ip netns add "$ID-$n"
    NAMESPACES+=("$ID-$n")
    ip -n "$ID-$n" link set lo up
  done
}

teardown() {
  local pids=() pid ns
  while [ $# -gt 0 ] && [ "$1" != -- ]; do pids+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for ns in "$@"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  return 0
}

tail_logs() {
  local log
  for log in "$1"/*.log; do
    [ -f "$log" ] || continue
    echo "---- $log (last $2 lines)" >&2
    tail -n "$2" "$log" >&2
  done
}
