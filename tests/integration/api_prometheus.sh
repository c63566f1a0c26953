#!/usr/bin/env bash
# Debian's real Prometheus scrapes badlink's /metrics (TCP on the loopback of badlink's
# namespace, with a bearer token) and its own query API gives back badlink_packets_total,
# matching what the stats JSON says once traffic has stopped.
source "$(dirname "$0")/lib.sh"
command -v prometheus >/dev/null || skip "needs prometheus (scripts/install-deps)"
command -v curl >/dev/null || skip "needs curl"
command -v python3 >/dev/null || skip "needs python3"

two_hosts
echo "prom-$$" >"$WORK/token"
p=$(profile start <<'TOML'
[profile]
name = "scraped"
[outbound]
delay = "5ms"
loss = "10%"
TOML
)
start_badlink a badlink --profile "$p" --api 127.0.0.1:9187 --api-token-file "$WORK/token"

cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: badlink
    authorization:
      credentials_file: $WORK/token
    static_configs:
      - targets: ["127.0.0.1:9187"]
YAML
in_ns a prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address=127.0.0.1:9190 >"$WORK/prometheus.log" 2>&1 &
BACKGROUND+=("$!")
query() {  # query PROMQL: the first result's value, or nothing
  in_ns a curl -sS --get --data-urlencode "query=$1" http://127.0.0.1:9190/api/v1/query |
    python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")'
}
for _ in $(seq 100); do
  in_ns a curl -sf http://127.0.0.1:9190/-/ready >/dev/null 2>&1 && break
  sleep 0.2
done
in_ns a curl -sf http://127.0.0.1:9190/-/ready >/dev/null || fail "prometheus did not start"

say "traffic, then a scrape after it"
udp_probe a b 192.0.2.2 2000 1000 traffic
sleep 3  # three scrapes after the last packet
stats=$(in_ns a curl -sS -H "Authorization: Bearer prom-$$" http://127.0.0.1:9187/v1/stats)
for outcome in received sent lost; do
  key=$outcome
  [ "$outcome" = lost ] && key=dropped_loss
  want=$(python3 -c "import json, sys
print(json.loads(sys.argv[1])['links']['default']['outbound']['$key'])" "$stats")
  got=$(query "badlink_packets_total{job=\"badlink\",link=\"default\",direction=\"outbound\",outcome=\"$outcome\"}")
  [ -n "$got" ] || fail "Prometheus has no badlink_packets_total for $outcome: $(tail -5 "$WORK/prometheus.log")"
  check "Prometheus' $outcome ($got) is the stats JSON's ($want)" "$got == $want"
done
check "the 2000 probes counted (and the namespace's few own packets)" "$(query 'sum(badlink_packets_total{outcome="received",direction="outbound"})') >= 2000"
up=$(query 'up{job="badlink"}')
check "the target is up" "$up == 1"
h=$(query 'histogram_quantile(0.5, badlink_delay_seconds_bucket{direction="outbound"})')
check "the delay histogram puts the median in 5..10 ms ($h s)" "$h >= 0.005 && $h <= 0.01"

stop_badlink TERM
say "passed"
