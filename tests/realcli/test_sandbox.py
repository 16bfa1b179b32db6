"""The harness itself: the namespace keeps everything in, and says so when something tries to get out.

Without this, a real-CLI test that "saw no network attempts" could mean the
capture saw nothing at all.
"""

from __future__ import annotations

import json
import sys

from .harness import API_URL

PROBE = f"""
import socket, urllib.request
# The stand-in answers on loopback inside the namespace...
with urllib.request.urlopen(urllib.request.Request("{API_URL}/", method="HEAD"), timeout=10) as r:
    print("standin", r.status)
# ...a DNS lookup and a connection to a public address go nowhere, and are recorded.
for target in (("example.com", 443), ("93.184.216.34", 443), ("1.1.1.1", 8443)):
    try:
        socket.create_connection(target, timeout=2).close()
        print("connected", target)
    except OSError as exc:
        print("refused", target, type(exc).__name__)
"""


def test_the_sandbox_records_every_attempt_to_get_out(agents):
    box = agents.start([sys.executable, "-c", PROBE], {})
    assert box.wait() == 0, box.stderr()
    out = box.stdout()
    assert "standin 200" in out and "connected" not in out
    attempts = json.loads(box.net_log.read_text())
    assert {"proto": "tcp", "to": "93.184.216.34", "port": 443} in attempts
    assert {"proto": "tcp", "to": "1.1.1.1", "port": 8443} in attempts
    assert any(a.get("dns") == "example.com" for a in attempts), attempts
    assert not any(a.get("port") == 18080 and a["to"] == "127.0.0.1" for a in attempts)
    # finish() is what every other test relies on: it must fail on this run.
    try:
        box.finish()
    except AssertionError as exc:
        assert "tried to reach past the stand-in" in str(exc)
    else:
        raise AssertionError("finish() passed a run that tried to reach the internet")
