"""Issue 14 item 21: a TCP port counts as closed only on a refusal or a timeout.

Each case runs the real probe (``check_tcp_closed``) inside a private, empty network namespace
(``unshare --net``), where the kernel gives deterministic answers: nothing listens on loopback
(refused), an nftables rule drops the port (timeout), there is no route to 192.0.2.1 (ENETUNREACH)
and no name server is reachable (the name does not resolve). Only the first two may PASS.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = REPO / "build" / "pytest-collections"  # created by tests/conftest.py

PROBE = r"""
import json, socket, subprocess, sys
from ansible_collections.parametric_portal.infra.plugins.module_utils import _endpoint_checks as ec
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["nft", "-f", "-"], check=True, text=True,
               input="table inet t { chain i { type filter hook input priority 0; tcp dport 4702 drop; }; }")
listener = socket.socket()
listener.bind(("127.0.0.1", 4703))
listener.listen(1)
rows = {
    "refused": ec.check_tcp_closed("127.0.0.1", 4701, 1),
    "filtered": ec.check_tcp_closed("127.0.0.1", 4702, 1),
    "accepted": ec.check_tcp_closed("127.0.0.1", 4703, 1),
    "no-route": ec.check_tcp_closed("192.0.2.1", 6443, 1),
    "no-dns": ec.check_tcp_closed("closed-port-check.invalid", 6443, 1),
}
print(json.dumps(rows))
"""


@pytest.fixture(scope="module")
def rows(endpoints):  # endpoints: makes sure nftables is installed
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS))
    proc = subprocess.run(["unshare", "--net", sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=60, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("case,result,evidence", [
    ("refused", "PASS", "connection refused"),
    ("filtered", "PASS", "no answer within 1s"),
    ("accepted", "FAIL", "TCP connection accepted"),
    ("no-route", "FAIL", "not tested"),
    ("no-dns", "FAIL", "does not resolve"),
])
def test_only_refused_or_timeout_pass(rows, case, result, evidence):
    assert rows[case]["result"] == result, rows[case]
    assert evidence in rows[case]["detail"], rows[case]
