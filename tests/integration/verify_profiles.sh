#!/usr/bin/env bash
# badlink verify on shipped profiles holds every figure (exit 0): the built-in default (lte:
# normal jitter with correlation, Bernoulli loss, 8/30 Mbit/s), dsl (kbit/s rates, where
# serialisation is part of the delay) and satellite-leo (Gilbert-Elliott bursts, 100 Mbit/s).
# Each run leaves no namespace, process or rule behind, and its --json agrees.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

rules_before=$(iptables-save | grep -ci badlink || true)

verify_ok() {  # verify_ok NAME [PROFILE]
  local name=$1 status=0
  shift
  say "badlink verify $*"
  "$BADLINK" verify "$@" --seed "${BADLINK_SEED:-20261124}" --json "$WORK/$name.json" >"$WORK/$name.out" 2>"$WORK/$name.log" &
  local pid=$!
  BACKGROUND+=("$pid")
  wait "$pid" || status=$?
  cat "$WORK/$name.out"
  [ "$status" -eq 0 ] || { cat "$WORK/$name.log" >&2; fail "verify $name exited with $status"; }
  grep -q '"ok": true' "$WORK/$name.json" || fail "--json disagrees: $(cat "$WORK/$name.json")"
  grep -q "verdict: all .* within tolerance" "$WORK/$name.out" || fail "no verdict line"
  check "$name: no namespace left" "$(ip netns list | grep -c "^blv-$pid-" || true) == 0"
  check "$name: no badlink run left" "$(pgrep -fc -- "--wan blv-$pid-gs" || true) == 0"
}

verify_ok default                                   # no PROFILE: the built-in lte
grep -q "profile 'lte' (builtin:lte)" "$WORK/default.out" || fail "default is not the built-in lte"
verify_ok dsl "$ROOT/profiles/dsl.toml"
verify_ok satellite-leo "$ROOT/profiles/satellite-leo.toml"

check "no rule left in this namespace" "$(iptables-save | grep -ci badlink || true) == $rules_before"
say "passed"
