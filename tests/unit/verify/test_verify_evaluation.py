"""Pure evaluation of verify data: Kubernetes objects, headers, redirects, ssh output, expiry, table."""
from __future__ import annotations

import datetime
import json
from pathlib import Path

import kubernetes_validate
import pytest

from ansible_collections.parametric_portal.infra.plugins.filter import verify as filters
from ansible_collections.parametric_portal.infra.plugins.module_utils import _endpoint_checks as ec
from ansible_collections.parametric_portal.infra.plugins.module_utils._k8s_schema import SchemaValidator

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "verify"


def _items(name):
    return json.loads((FIXTURES / name).read_text())["items"]


@pytest.fixture(scope="module")
def application_validator(crds_dir):
    # Strict, as the README of the fixtures says: an unknown field is an error (the CRD's OpenAPI schema
    # alone, as plain JSON Schema, accepts any extra field).
    return SchemaValidator(crd_dirs=[str(crds_dir / "argo-cd")], k8s_version="1.32", strict=True)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("nodes-*.json")))
def test_node_fixtures_match_the_kubernetes_schema(name):
    for node in _items(name):
        kubernetes_validate.validate(node, "1.32", strict=True)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("argocd-apps-*.json")))
def test_application_fixtures_match_the_upstream_crd(name, application_validator):
    findings = [f for app in _items(name) for f in application_validator.validate(app, source=name)]
    assert not findings, "\n".join(str(f) for f in findings)


def test_the_application_check_would_catch_a_misspelt_field(application_validator):
    app = _items("argocd-apps-degraded.handwritten.json")[1]
    app["status"]["health"]["statuss"] = app["status"]["health"].pop("status")
    app["spec"]["syncPolicyy"] = {}
    assert sorted(f.path for f in application_validator.validate(app, source="typo")) == [
        "spec.syncPolicyy", "status.health.statuss"]


def test_nodes_all_ready():
    rows = filters.verify_node_rows({"resources": _items("nodes-all-ready.handwritten.json")})
    assert [(r["target"], r["result"]) for r in rows] == [("vps-1", "PASS"), ("vps-2", "PASS")]


def test_nodes_not_ready_and_unknown_fail():
    rows = filters.verify_node_rows(_items("nodes-not-ready.handwritten.json"))
    assert [(r["target"], r["result"]) for r in rows] == [("vps-1", "PASS"), ("vps-2", "FAIL"), ("vps-3", "FAIL")]
    assert "KubeletNotReady" in rows[1]["detail"] and "Ready=Unknown" in rows[2]["detail"]


def test_no_nodes_is_a_failure():
    assert [r["result"] for r in filters.verify_node_rows({"resources": []})] == ["FAIL"]


def test_apps_synced_healthy():
    rows = filters.verify_argocd_rows(_items("argocd-apps-synced-healthy.handwritten.json"))
    assert [(r["target"], r["result"]) for r in rows] == [("argocd/api", "PASS"), ("argocd/icons", "PASS")]


def test_apps_degraded():
    rows = filters.verify_argocd_rows(_items("argocd-apps-degraded.handwritten.json"))
    assert [(r["target"], r["result"]) for r in rows] == [
        ("argocd/api", "PASS"), ("argocd/icons", "FAIL"), ("argocd/monitoring", "FAIL"), ("argocd/postgres", "FAIL")]
    # the readiness evaluator's messages (one evaluator for the roles' waits and verify.yml)
    assert rows[1]["detail"] == "Application icons is not ready (sync OutOfSync; health Progressing)"
    assert "progress deadline" in rows[2]["detail"]
    assert rows[3]["detail"] == "Application postgres is not ready (sync Unknown; health Unknown)"


def test_filters_reject_wrong_input():
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="verify_node_rows"):
        filters.verify_node_rows("nodes")
    with pytest.raises(AnsibleFilterError, match="verify_table"):
        filters.verify_table({"check": "x"})


@pytest.mark.parametrize("status,location,result", [
    (301, "https://a.example/", "PASS"), (308, "https://a.example/x", "PASS"), (302, "https://a.example/", "FAIL"),
    (307, "https://a.example/", "FAIL"), (301, "http://a.example/", "FAIL"), (301, None, "FAIL"), (200, None, "FAIL"),
])
def test_redirect(status, location, result):
    assert ec.evaluate_redirect(status, location)[0] == result


@pytest.mark.parametrize("value,age", [
    ("max-age=31536000; includeSubDomains; preload", 31536000), ("includeSubDomains; max-age=\"63072000\"", 63072000),
    ("MAX-AGE = 10", 10), ("includeSubDomains", None), ("", None), (None, None),
])
def test_hsts_parse(value, age):
    assert ec.parse_hsts_max_age(value) == age


def test_headers_boundaries():
    good = {"strict-transport-security": "max-age=31536000", "x-frame-options": "sameorigin",
            "x-content-type-options": "nosniff", "content-security-policy": "default-src 'self'", "referrer-policy": "no-referrer"}
    assert [r["result"] for r in ec.evaluate_headers(good, 31536000, "t")] == ["PASS"] * 5
    bad = dict(good, **{"strict-transport-security": "max-age=31535999", "x-frame-options": "ALLOW-FROM https://x",
                        "x-content-type-options": "sniff", "content-security-policy": " ", "referrer-policy": ""})
    assert [r["result"] for r in ec.evaluate_headers(bad, 31536000, "t")] == ["FAIL"] * 5
    assert [r["result"] for r in ec.evaluate_headers({}, 31536000, "t", 404)] == ["FAIL"] * 5


@pytest.mark.parametrize("output,result,methods", [
    ("debug1: Authentications that can continue: publickey\r\n", "PASS", ["publickey"]),
    ("debug1: Authentications that can continue: publickey,password\n", "FAIL", ["password", "publickey"]),
    ("debug1: Authentications that can continue: publickey,keyboard-interactive\n", "FAIL", ["keyboard-interactive", "publickey"]),
    ("ssh: connect to host 127.0.0.1 port 1: Connection refused\n", "FAIL", None),
])
def test_ssh_methods(output, result, methods):
    assert ec.parse_ssh_auth_methods(output) == methods
    assert ec.evaluate_ssh_methods(ec.parse_ssh_auth_methods(output))[0] == result


def test_expiry_boundary():
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert ec.evaluate_expiry(now + datetime.timedelta(days=14), 14, now)[0] == "PASS"
    assert ec.evaluate_expiry(now + datetime.timedelta(days=13, hours=23), 14, now)[0] == "FAIL"
    assert ec.evaluate_expiry(now - datetime.timedelta(days=1), 14, now)[0] == "FAIL"


def test_table_alignment_and_summary():
    rows = [ec.row("TLS 1.0 refused", "a @ 1:443", "PASS", "refused"), ec.row("SSH", "1:22", "FAIL", "offered: password"),
            ec.row("Nodes", "cluster", "SKIP", "SKIPPED (no kubeconfig)")]
    lines = filters.verify_table(rows)
    assert lines[0].startswith("CHECK") and "RESULT" in lines[0]
    assert len({line.index("|") for line in lines[:1] + lines[2:5]}) == 1
    assert lines[-1] == "3 checks: 1 PASS, 1 FAIL, 1 SKIP"


def test_schema_checks_can_fail(application_validator):
    """The fixture validation is not a formality: a wrong type is caught."""
    app = _items("argocd-apps-synced-healthy.handwritten.json")[0]
    app["status"]["sync"]["status"] = 1
    assert application_validator.validate(app, source="wrong type")
    node = _items("nodes-all-ready.handwritten.json")[0]
    node["status"]["conditions"] = "Ready"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(node, "1.32", strict=True)


# --- NodePorts and hostPorts (issue 14 item 20) ----------------------------------------------------

@pytest.mark.parametrize("name", ["services-nodeports.handwritten.json", "pods-hostports.handwritten.json"])
def test_exposed_port_fixtures_match_the_kubernetes_schema(name):
    for obj in _items(name):
        kubernetes_validate.validate(obj, "1.32", strict=True)


def test_exposed_ports_lists_nodeports_and_non_public_hostports():
    ports = filters.verify_exposed_ports({"resources": _items("services-nodeports.handwritten.json")},
                                         {"resources": _items("pods-hostports.handwritten.json")}, [80, 443])
    assert [(p["port"], p["protocol"]) for p in ports] == [(5432, "TCP"), (30080, "TCP"), (30480, "TCP"),
                                                           (30514, "UDP"), (31443, "TCP")]
    what = {p["port"]: p["what"] for p in ports}
    assert what[5432] == "hostPort of Pod parametric-portal/pg-debug-0"
    assert what[30480] == "NodePort of Service kube-system/traefik"
    # Traefik's 80/443 hostPorts (ServiceLB) are public on purpose; ClusterIP Services publish nothing.
    assert 80 not in what and 443 not in what and 53 not in what


def test_exposed_ports_without_public_list_keeps_every_hostport():
    ports = ec.exposed_ports([], _items("pods-hostports.handwritten.json"))
    assert [p["port"] for p in ports] == [80, 443, 5432]


def test_exposed_udp_port_is_a_skip_row_not_a_pass():
    rows = ec.check_exposed_ports("192.0.2.1", [{"port": 30514, "protocol": "UDP", "what": "NodePort of Service a/b"}], 1)
    assert [r["result"] for r in rows] == ["SKIP"]
    assert "cannot be proven closed" in rows[0]["detail"]


def test_exposed_ports_filter_rejects_wrong_input():
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="verify_exposed_ports"):
        filters.verify_exposed_ports("not objects", [])


# --- rows from registered results (the row building verify.yml used to do in Jinja) -----------------------

def test_unanswered_k8s_reads_become_fail_rows():
    nodes = filters.verify_node_rows({"failed": True, "msg": "connection refused"})
    assert nodes == [{"check": "Nodes Ready", "target": "cluster", "result": "FAIL", "detail": "API error: connection refused"}]
    apps = filters.verify_argocd_rows({"skipped": True, "changed": False}, "argocd")
    assert [(r["result"], r["detail"]) for r in apps] == [("FAIL", "not queried: the API did not answer the Node query")]
    apps = filters.verify_argocd_rows({"failed": True, "msg": "the server could not find the requested resource"}, "argocd")
    assert apps[0]["detail"] == "API error: the server could not find the requested resource"


def test_udp_rows_from_the_registered_nft_result():
    open_port = {"nftables": [{"table": {"family": "inet", "name": "f"}},
                              {"chain": {"family": "inet", "table": "f", "name": "input", "type": "filter",
                                         "hook": "input", "prio": 0, "policy": "accept"}}]}
    rows = filters.verify_udp_rows({"rc": 0, "stdout": json.dumps(open_port)}, [8472, 51820], "vps-1")
    assert [(r["check"], r["target"], r["result"]) for r in rows] == [
        ("UDP 8472 not accepted from 0.0.0.0/0", "vps-1", "FAIL"), ("UDP 51820 not accepted from 0.0.0.0/0", "vps-1", "FAIL")]
    skipped = filters.verify_udp_rows({"skipped": True}, [8472], "vps-1", False)
    assert [r["result"] for r in skipped] == ["SKIP"] and "verify_check_host_firewall" in skipped[0]["detail"]
    failed = filters.verify_udp_rows({"rc": 1, "stderr": "nft: permission denied\n"}, [8472], "vps-1")
    assert failed[0]["result"] == "FAIL" and failed[0]["detail"] == "could not read the host nft ruleset: nft: permission denied"
    garbage = filters.verify_udp_rows({"rc": 0, "stdout": "not json"}, [8472], "vps-1")
    assert garbage[0]["result"] == "FAIL" and "could not parse" in garbage[0]["detail"]
