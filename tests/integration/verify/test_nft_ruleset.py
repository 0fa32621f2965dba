"""8472/udp evaluation against rulesets loaded into a REAL nftables in a private network namespace.

``unshare --net`` gives a fresh, empty netns, so the host's own firewall is never read or touched.
"""
from __future__ import annotations

import json
import subprocess

import pytest

from ansible_collections.parametric_portal.infra.plugins.filter import verify as filters
from verify_nft_rulesets import BAD_NFT, GOOD_NFT

# K3s/kube-proxy style iptables-nft table that accepts everything, plus our strict inet table:
# the packet must pass both base chains, so the port stays closed.
ACCEPTING_SIDE_TABLE = GOOD_NFT + """
table ip filter {
  chain INPUT { type filter hook input priority filter; policy accept; udp dport 8472 accept; }
}
"""
JUMP_OPEN = """
table inet filter {
  chain k3s { udp dport 8472 accept; }
  chain input { type filter hook input priority filter; policy drop; jump k3s; }
}
"""
POLICY_ACCEPT = """
table inet filter {
  chain input { type filter hook input priority filter; policy accept; tcp dport 22 accept; }
}
"""
BARE_ACCEPT = """
table inet filter {
  chain input { type filter hook input priority filter; policy drop; accept; }
}
"""
RANGE_OPEN = """
table inet filter {
  chain input { type filter hook input priority filter; policy drop; udp dport 8000-9000 accept; }
}
"""


def _ruleset(rules, tmp_path):
    path = tmp_path / "rules.nft"
    path.write_text(rules)
    proc = subprocess.run(["unshare", "--net", "sh", "-c", 'nft -f "$1" && nft -j list ruleset', "sh", str(path)],
                          capture_output=True, text=True, timeout=30, check=True)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("rules,result", [
    (GOOD_NFT, "PASS"), (ACCEPTING_SIDE_TABLE, "PASS"), (BAD_NFT, "FAIL"), (JUMP_OPEN, "FAIL"),
    (POLICY_ACCEPT, "FAIL"), (BARE_ACCEPT, "FAIL"), (RANGE_OPEN, "FAIL"), ("", "FAIL"),
], ids=["good", "side-table-accepts", "bad-set", "jump", "policy-accept", "bare-accept", "range", "empty"])
def test_udp_8472(rules, result, tmp_path, endpoints):  # endpoints: makes sure nftables is installed
    rows = filters.verify_nft_rows(_ruleset(rules, tmp_path), 8472, "h")
    assert [r["result"] for r in rows] == [result], rows
