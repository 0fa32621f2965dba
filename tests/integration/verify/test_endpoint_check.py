"""Each endpoint check PASSes on the GOOD nginx/sshd and FAILs on the BAD one (real processes)."""
from __future__ import annotations

import subprocess
import shutil

import pytest

from ansible_collections.parametric_portal.infra.plugins.module_utils import _endpoint_checks as ec


def _run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def _rows(ep, side, checks, **extra):
    s = getattr(ep, side)
    params = {"address": s["address"], "domains": ep.domains, "https_port": s["https_port"], "http_port": s["http_port"],
              "ca_file": ep.ca_file, "cert_min_days": 14, "hsts_min_age": 31536000, "ssh_port": s["ssh_port"],
              "closed_tcp_ports": [s["closed_port"]], "checks": checks, "timeout": 3}
    params.update(extra)
    return ec.run_endpoint_checks(params, _run, shutil.which("ssh"))


def _by_check(rows):
    out = {}
    for r in rows:
        out.setdefault(r["check"], []).append(r)
    return out


# check name -> which probe group produces it; the BAD endpoint that must make it fail.
CASES = [
    ("TLS 1.0 refused", "tls_versions", {}),
    ("TLS 1.1 refused", "tls_versions", {}),
    ("TLS 1.2 accepted", "tls_versions", {"https_port": "https13_port"}),
    ("TLS 1.3 accepted", "tls_versions", {}),
    ("No TLS handshake without SNI", "sni_strict", {}),
    ("Certificate valid for domain", "certificate", {}),
    ("Certificate expiry >= 14 days", "certificate", {}),
    ("HTTP redirects to HTTPS (301/308)", "http_redirect", {}),
    ("HSTS max-age >= 31536000", "headers", {}),
    ("X-Frame-Options DENY/SAMEORIGIN", "headers", {}),
    ("X-Content-Type-Options nosniff", "headers", {}),
    ("Content-Security-Policy present", "headers", {}),
    ("Referrer-Policy present", "headers", {}),
    ("SSH refuses password auth", "ssh_password", {}),
]


@pytest.mark.parametrize("check,group,bad_override", CASES, ids=[c[0] for c in CASES])
def test_check_passes_on_good_and_fails_on_bad(endpoints, check, group, bad_override):
    good = _by_check(_rows(endpoints, "good", [group]))[check]
    assert good and all(r["result"] == "PASS" for r in good), good
    extra = {k: endpoints.bad[v] for k, v in bad_override.items()}
    bad = _by_check(_rows(endpoints, "bad", [group], **extra))[check]
    assert bad and all(r["result"] == "FAIL" for r in bad), bad


def test_closed_port(endpoints):
    good = _rows(endpoints, "good", ["closed_ports"])
    bad = _rows(endpoints, "bad", ["closed_ports"])
    assert [r["result"] for r in good] == ["PASS"], good
    assert [r["result"] for r in bad] == ["FAIL"], bad
    assert bad[0]["detail"] == "TCP connection accepted"


def test_evidence_in_details(endpoints):
    """The details carry the evidence an operator needs, not just the verdict."""
    rows = _by_check(_rows(endpoints, "bad", ["tls_versions", "certificate", "http_redirect", "ssh_password"]))
    assert "TLSv1" in rows["TLS 1.0 refused"][0]["detail"]
    assert "Hostname mismatch" in rows["Certificate valid for domain"][0]["detail"]
    assert "days left" in rows["Certificate expiry >= 14 days"][0]["detail"]
    assert "status 302" in rows["HTTP redirects to HTTPS (301/308)"][0]["detail"]
    assert "password" in rows["SSH refuses password auth"][0]["detail"]
    good = _by_check(_rows(endpoints, "good", ["certificate", "ssh_password"]))
    assert "offered: publickey" == good["SSH refuses password auth"][0]["detail"]
    assert "verified" in good["Certificate valid for domain"][0]["detail"]


def test_unreachable_is_fail_not_pass(endpoints):
    """Nothing listening: TLS/SNI/redirect/header checks must FAIL (nothing was proven)."""
    port = endpoints.good["closed_port"]
    rows = _rows(endpoints, "good", ["tls_versions", "sni_strict", "http_redirect", "headers", "certificate"],
                 https_port=port, http_port=port)
    assert rows and all(r["result"] == "FAIL" for r in rows), rows


def test_ca_mismatch_fails(endpoints, tmp_path):
    """The chain must verify against the given bundle: another CA is not enough."""
    other = tmp_path / "other-ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(tmp_path / "k"), "-out", str(other), "-days", "2", "-subj", "/CN=other"],
                   check=True, capture_output=True, timeout=30)
    rows = _by_check(_rows(endpoints, "good", ["certificate"], ca_file=str(other)))
    assert all(r["result"] == "FAIL" for r in rows["Certificate valid for domain"])
    assert all(r["result"] == "PASS" for r in rows["Certificate expiry >= 14 days"])


def test_exposed_ports(endpoints):
    """Issue 14 item 20: a published NodePort/hostPort that accepts a connection is FAIL, naming its owner."""
    good = _rows(endpoints, "good", ["exposed_ports"],
                 exposed_ports=[{"port": endpoints.good["closed_port"], "protocol": "TCP", "what": "NodePort of Service a/b"}])
    bad = _rows(endpoints, "bad", ["exposed_ports"],
                exposed_ports=[{"port": endpoints.bad["closed_port"], "protocol": "TCP", "what": "hostPort of Pod c/d"}])
    assert [r["result"] for r in good] == ["PASS"], good
    assert [r["result"] for r in bad] == ["FAIL"], bad
    assert bad[0]["check"] == "hostPort %d/tcp not reachable" % endpoints.bad["closed_port"]
    assert "TCP connection accepted (hostPort of Pod c/d)" == bad[0]["detail"]
