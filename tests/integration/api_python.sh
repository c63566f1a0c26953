#!/usr/bin/env bash
# scripts/badlink_client.py as a test would use it: the context manager changes the link,
# the change is measured on the wire, and leaving the block (also through an exception)
# restores the profile's values; its errors carry the API's status and message.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "needs python3"

CLIENT_DIR="$(cd "$(dirname "$0")/../../scripts" && pwd)"
two_hosts
SOCK="$WORK/api.sock"
p=$(profile start <<'TOML'
[profile]
name = "py"
[outbound]
delay = "20ms"
TOML
)
say "sanity"
udp_probe a b 192.0.2.2 300 1000 base
base=$(value "$WORK/base.recv" delay_p50_ms)
start_badlink a badlink --profile "$p" --api "unix:$SOCK"

# The Python test measures through `badlink probe`, the same stick as the shell tests.
cat >"$WORK/test_link.py" <<PY
import subprocess, sys
sys.path.insert(0, "$CLIENT_DIR")
from badlink_client import Badlink, BadlinkError

BADLINK, NS_A, NS_B, WORK, BASE = "$BADLINK", "$ID-a", "$ID-b", "$WORK", float("$base")
n = 0

def added_delay_ms():
    global n
    n += 1
    ready = f"{WORK}/py{n}.ready"
    recv = subprocess.Popen(["ip", "netns", "exec", NS_B, BADLINK, "probe", "recv", "--bind",
                             "192.0.2.2", "--port", "5000", "--count", "500", "--idle", "2",
                             "--ready", ready], stdout=subprocess.PIPE, text=True)
    import os, time
    for _ in range(100):
        if os.path.exists(ready):
            break
        time.sleep(0.05)
    subprocess.run(["ip", "netns", "exec", NS_A, BADLINK, "probe", "send", "--to", "192.0.2.2",
                    "--port", "5000", "--count", "500", "--rate", "1000", "--size", "200"],
                   check=True, stdout=subprocess.DEVNULL)
    out = dict(l.split("=", 1) for l in recv.communicate()[0].split() if "=" in l)
    return float(out["delay_p50_ms"]) - BASE

def near(d, want):
    assert 0.99 * want <= d <= 1.03 * want, f"{d:.2f} ms, wanted {want} ms"

link = Badlink("unix:$SOCK")
assert link.health()["status"] == "ok"
near(added_delay_ms(), 20)
with link.outbound(delay="70ms"):
    near(added_delay_ms(), 70)
    print("ok: 70 ms inside the block")
near(added_delay_ms(), 20)
print("ok: 20 ms again after it")

try:
    with link.outbound(delay="50ms", loss="0%"):
        near(added_delay_ms(), 50)
        raise RuntimeError("the test failed")
except RuntimeError:
    pass
assert link.profile()["outbound"]["delay"] == "20ms", link.profile()
near(added_delay_ms(), 20)
print("ok: restored after an exception")

try:
    link.set("outbound", dealy="5ms")
    raise AssertionError("no error")
except BadlinkError as e:
    assert e.status == 400 and "did you mean 'delay'" in e.message, e
try:
    link.set("outbound", link="nope", delay="5ms")
    raise AssertionError("no error")
except BadlinkError as e:
    assert e.status == 404, e
print("ok: errors")
both = link.set_link(outbound={"delay": "30ms"}, inbound={"loss": "0%"})
assert both["outbound"]["delay"] == "30ms" and both["inbound"]["loss"] == "0%", both
near(added_delay_ms(), 30)
link.set_link(outbound={"delay": None}, inbound={"loss": None})
assert link.profile()["outbound"]["delay"] == "20ms", link.profile()
print("ok: both directions in one change")
stats = link.stats()
assert stats["links"]["default"]["outbound"]["received"] >= 2500, stats
assert "badlink_packets_total" in link.metrics()
PY
python3 "$WORK/test_link.py" || fail "the Python client's test failed"
stop_badlink TERM
say "passed"
