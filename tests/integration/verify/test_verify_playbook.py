"""playbooks/verify.yml end to end with ansible-playbook against the GOOD and BAD endpoint sets.

GOOD: rc 0, every row PASS except the cluster rows, which say SKIPPED (no kubeconfig).
BAD: rc != 0 and every expected row FAIL (TLS 1.2 is still accepted there, so that row PASSes).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]


def _inventory(ep, side, tmp_path, **extra):
    s = getattr(ep, side)
    nft = ep.good_nft if side == "good" else ep.bad_nft
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        # like the real inventories: become is on (as root here, su needs no password)
        "ansible_become": True,
        "ansible_become_method": "su",
        "infra_public_address": s["address"],
        "infra_domain": "verify.test",
        "infra_apps": [{"name": "a", "domain": ep.domains[0]}],
        "monitoring_grafana_domain": ep.domains[1],
        "hardening_ssh_port": s["ssh_port"],
        "hardening_admin_user": "deploy",
        "verify_https_port": s["https_port"],
        "verify_http_port": s["http_port"],
        "verify_ca_file": ep.ca_file,
        "verify_expect_closed_ports": [s["closed_port"]],
        "verify_timeout": 3,
        # the host's ruleset, read from a private network namespace holding the test ruleset
        "verify_nft_command": ["unshare", "--net", "sh", "-c", 'nft -f "$1" && nft -j list ruleset', "sh", str(nft)],
    }
    host.update(extra)
    path = tmp_path / ("inventory-%s.yml" % side)
    path.write_text(yaml.safe_dump({"all": {"children": {"k3s_servers": {"hosts": {"verify-%s" % side: host}}}}}))
    return path


def _run(inventory, *args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.environ["ANSIBLE_COLLECTIONS_PATH"], ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default")
    proc = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory),
                           "playbooks/verify.yml", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    if os.environ.get("VERIFY_SHOW_OUTPUT"):  # to look at the table: VERIFY_SHOW_OUTPUT=1 pytest -s ...
        print(proc.stdout, proc.stderr)
    return proc


def _table(stdout):
    """Rows as printed: the debug msg lines 'check | target | result | detail'."""
    rows = []
    for raw in re.findall(r'^\s+"(.+ \| .+)",?$', stdout, re.M):
        line = json.loads('"%s"' % raw)
        parts = [p.strip() for p in line.split(" | ", 3)]
        if len(parts) == 4 and parts[2] in ("PASS", "FAIL", "SKIP"):
            rows.append(dict(zip(("check", "target", "result", "detail"), parts)))
    return rows


def test_good_set_passes(endpoints, tmp_path):
    proc = _run(_inventory(endpoints, "good", tmp_path))
    rows = _table(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    # 1 SNI + per domain (4 TLS + 2 cert + 1 redirect + 5 headers) x2 + ssh + 1 port + 1 node ports + 1 udp + 2 cluster
    assert len(rows) == 1 + 12 * 2 + 1 + 1 + 1 + 1 + 2, rows
    cluster = [r for r in rows if r["check"] in ("Nodes Ready", "Argo CD app Synced/Healthy", "NodePorts and hostPorts not reachable")]
    assert [r["result"] for r in cluster] == ["SKIP", "SKIP", "SKIP"]
    assert all(r["detail"].startswith("SKIPPED (no kubeconfig") for r in cluster)
    others = [r for r in rows if r not in cluster]
    assert all(r["result"] == "PASS" for r in others), [r for r in others if r["result"] != "PASS"]
    assert "31 checks: 28 PASS, 0 FAIL, 3 SKIP" in proc.stdout


def test_good_set_check_mode(endpoints, tmp_path):
    """Read-only: --check gives the same verdicts and changes nothing."""
    proc = _run(_inventory(endpoints, "good", tmp_path), "--check")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "31 checks: 28 PASS, 0 FAIL, 3 SKIP" in proc.stdout
    assert re.search(r"changed=0 ", proc.stdout)


EXPECTED_BAD_FAILS = [
    "No TLS handshake without SNI", "TLS 1.0 refused", "TLS 1.1 refused", "TLS 1.3 accepted",
    "Certificate valid for domain", "Certificate expiry >= 14 days", "HTTP redirects to HTTPS (301/308)",
    "HSTS max-age >= 31536000", "X-Frame-Options DENY/SAMEORIGIN", "X-Content-Type-Options nosniff",
    "Content-Security-Policy present", "Referrer-Policy present", "SSH refuses password auth",
    "UDP 8472 not accepted from 0.0.0.0/0", "Nodes Ready", "Argo CD app Synced/Healthy",
    "NodePorts and hostPorts not reachable",
]


def test_bad_set_fails(endpoints, tmp_path):
    # A kubeconfig whose API server refuses connections: the cluster rows must FAIL, not SKIP.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": "https://%s:%d" % (endpoints.good["address"], endpoints.good["closed_port"]),
                                               "insecure-skip-tls-verify": True}}],
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
        "users": [{"name": "x", "user": {"token": "not-a-secret"}}]}))
    proc = _run(_inventory(endpoints, "bad", tmp_path, verify_kubeconfig=str(kubeconfig)))
    rows = _table(proc.stdout)
    assert proc.returncode != 0, proc.stdout[-3000:]
    failed = {r["check"] for r in rows if r["result"] == "FAIL"}
    missing = [c for c in EXPECTED_BAD_FAILS if c not in failed]
    assert not missing, (missing, rows)
    tcp = [r for r in rows if r["check"].startswith("TCP ")]
    assert [r["result"] for r in tcp] == ["FAIL"]
    assert [r["result"] for r in rows if r["check"] == "TLS 1.2 accepted"] == ["PASS", "PASS"]
    assert "check(s) failed on verify-bad" in proc.stdout
    assert "API error: " in next(r["detail"] for r in rows if r["check"] == "Nodes Ready")
    assert "could not list Services/Pods: API error" in next(
        r["detail"] for r in rows if r["check"] == "NodePorts and hostPorts not reachable")
    assert "cert CN=wrong.verify.test" in next(r["detail"] for r in rows if r["check"] == "No TLS handshake without SNI")


@pytest.mark.parametrize("var,value", [
    ("verify_domains", ["Not A Domain"]), ("verify_https_port", 70000), ("verify_expect_closed_ports", [0]),
    ("verify_ca_file", "/nonexistent/ca.pem"), ("verify_kubeconfig", "/nonexistent/kubeconfig"),
])
def test_bad_input_is_rejected_naming_the_variable(endpoints, tmp_path, var, value):
    proc = _run(_inventory(endpoints, "good", tmp_path, **{var: value}))
    assert proc.returncode != 0
    assert var in proc.stdout, proc.stdout[-2000:]
    assert "Print the verification table" not in proc.stdout


def test_udp_row_without_host_access_says_so(endpoints, tmp_path):
    """Firewall check disabled: SKIP saying UDP is not testable from outside; unreadable ruleset: FAIL."""
    inv = tmp_path / "inventory-udp.yml"
    common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "ansible_become": False,
              "infra_public_address": endpoints.good["address"], "infra_domain": "verify.test", "verify_domains": []}
    inv.write_text(yaml.safe_dump({"all": {"children": {"k3s_servers": {"hosts": {
        "udp-skip": dict(common, verify_check_host_firewall=False),
        "udp-unreadable": dict(common, verify_nft_command=["sh", "-c", "echo 'nft: permission denied' >&2; exit 1"]),
    }}}}}))
    proc = _run(inv, "--tags", "verify_firewall")
    rows = {r["target"]: r for r in _table(proc.stdout) if r["check"] == "UDP 8472 not accepted from 0.0.0.0/0"}
    assert rows["udp-skip"]["result"] == "SKIP" and "not testable from outside" in rows["udp-skip"]["detail"], rows
    assert rows["udp-unreadable"]["result"] == "FAIL" and "permission denied" in rows["udp-unreadable"]["detail"], rows
    assert proc.returncode != 0
