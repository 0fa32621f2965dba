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


# Issue 17 item 3: a named set is resolved to its elements; "every address" is no restriction.
WORLD_NAMED_SET = """
table inet filter {
  set world_v4 { type ipv4_addr; flags interval; elements = { 0.0.0.0/0 } }
  chain input { type filter hook input priority filter; policy drop; udp dport 8472 ip saddr @world_v4 accept; }
}
"""
HALVES_NAMED_SET = """
table inet filter {
  set halves { type ipv4_addr; flags interval; elements = { 0.0.0.0/1, 128.0.0.0/1 } }
  chain input { type filter hook input priority filter; policy drop; udp dport 8472 ip saddr @halves accept; }
}
"""
NODES_NAMED_SET = """
table inet filter {
  set nodes_v4 { type ipv4_addr; flags interval; elements = { 198.51.100.10, 198.51.100.11, 203.0.113.0/28 } }
  set empty_v6 { type ipv6_addr; flags interval; }
  chain input {
    type filter hook input priority filter; policy drop;
    udp dport 8472 ip saddr @nodes_v4 accept
    udp dport 8472 ip6 saddr @empty_v6 accept
  }
}
"""
NEGATED_SET = """
table inet filter {
  set nodes_v4 { type ipv4_addr; flags interval; elements = { 198.51.100.10 } }
  chain input { type filter hook input priority filter; policy drop; udp dport 8472 ip saddr != @nodes_v4 accept; }
}
"""
WORLD_V6_ONLY = """
table inet filter {
  set world_v6 { type ipv6_addr; flags interval; elements = { ::/0 } }
  chain input { type filter hook input priority filter; policy drop; udp dport 8472 ip6 saddr @world_v6 accept; }
}
"""
VMAP_OPEN = """
table inet filter {
  chain input { type filter hook input priority filter; policy drop; udp dport vmap { 53 : drop, 8472 : accept }; }
}
"""
CT_NEW_OPEN = """
table inet filter {
  chain input { type filter hook input priority filter; policy drop; ct state new udp dport 8472 accept; }
}
"""
RESTRICTED_JUMP = """
table inet filter {
  set nodes_v4 { type ipv4_addr; flags interval; elements = { 198.51.100.10 } }
  chain k3s { udp dport 8472 accept; }
  chain input { type filter hook input priority filter; policy drop; ip saddr @nodes_v4 jump k3s; }
}
"""
EXPLICIT_DROP_FIRST = """
table inet filter {
  chain input { type filter hook input priority filter; policy accept; udp dport 8472 drop; udp dport 8472 accept; }
}
"""


def _ruleset(rules, tmp_path):
    path = tmp_path / "rules.nft"
    path.write_text(rules)
    proc = subprocess.run(["unshare", "--net", "sh", "-c", 'nft -f "$1" && nft -j list ruleset', "sh", str(path)],
                          capture_output=True, text=True, timeout=30, check=True)
    return json.loads(proc.stdout)


CASES = {
    "good": (GOOD_NFT, "PASS"), "side-table-accepts": (ACCEPTING_SIDE_TABLE, "PASS"), "bad-set": (BAD_NFT, "FAIL"),
    "jump": (JUMP_OPEN, "FAIL"), "policy-accept": (POLICY_ACCEPT, "FAIL"), "bare-accept": (BARE_ACCEPT, "FAIL"),
    "range": (RANGE_OPEN, "FAIL"), "empty": ("", "FAIL"),
    "named-set-world": (WORLD_NAMED_SET, "FAIL"), "named-set-two-halves": (HALVES_NAMED_SET, "FAIL"),
    "named-set-nodes": (NODES_NAMED_SET, "PASS"), "negated-set": (NEGATED_SET, "FAIL"),
    "ipv6-world": (WORLD_V6_ONLY, "FAIL"), "vmap": (VMAP_OPEN, "FAIL"), "ct-state-new": (CT_NEW_OPEN, "FAIL"),
    "restricted-jump": (RESTRICTED_JUMP, "PASS"), "drop-before-accept": (EXPLICIT_DROP_FIRST, "PASS"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_udp_8472(case, tmp_path, endpoints):  # endpoints: makes sure nftables is installed
    rules, result = CASES[case]
    rows = filters.verify_nft_rows(_ruleset(rules, tmp_path), 8472, "h")
    assert [r["result"] for r in rows] == [result], rows


def test_world_set_detail_names_the_set(tmp_path, endpoints):
    detail = filters.verify_nft_rows(_ruleset(WORLD_NAMED_SET, tmp_path), 8472, "h")[0]["detail"]
    assert "@world_v4 covers every IPv4 address" in detail, detail
