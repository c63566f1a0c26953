#!/usr/bin/env bash
# The soak in short (scripts/soak, issue 21 item 2): 2 minutes in rows of 20 s (the first two
# are warm-up), the same load, churn and checks as the 30-minute run; fails when it does.
BADLINK=${1:?usage: $0 BADLINK}
[ "$(id -u)" -eq 0 ] || { echo "SKIP soak_short: needs root (network namespaces, iptables, NFQUEUE)"; exit 77; }
for tool in ip iptables iperf3 ping python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP soak_short: needs $tool"; exit 77; }
done
out=$(mktemp -d /tmp/badlink-soak_short.XXXXXX)
trap 'rm -rf "$out"' EXIT
status=0
# Over four rows of 20 s a single step of the allocator (a buffer reaching its high-water mark
# once: seen, 124 KiB) is a slope of 150 KiB/min, so the bound here is 512 KiB/min: a leak of
# 2 bytes per probe packet still trips it; the 30-minute run keeps 64.
"$(dirname "$0")/../../scripts/soak" --minutes 2 --period 20 --warmup 2 --rss-slope 512 --badlink "$BADLINK" \
  --out "$out" || status=$?
[ "$status" -eq 0 ] || tail -n 20 "$out/badlink.log" >&2
exit "$status"
