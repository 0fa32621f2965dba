"""The platform roles' readiness waits (platform_status reading the API itself) and verify.yml's cluster rows,
against real objects on the v1.32.11 API server.

No helm-controller, Argo CD, CloudNativePG operator or kubelet runs here: THE TEST creates the objects those
controllers would create (the HelmCharts K3s applies from the manifests directory, the helm-install Jobs,
the Applications the root app creates) and sets their status itself, as the controllers would. The install
Jobs carry spec.managedBy, so the real job controller leaves them (and their status) to "another
controller", which is this test. The Node objects for verify.yml have a status the test sets too.
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cp_collection import PLATFORM_ROLES, PLATFORM_VARS, REPO
from platform_play import run_platform_roles

ARGOCD_NS = "argocd"
T0 = "2026-01-01T00:00:00Z"
HELMCHARTS = ["sealed-secrets", "argocd", "cnpg"]
READINESS_ROLES = ["sealed_secrets", "argocd", "cnpg", "kyverno", "monitoring"]
APPLICATIONS = ["platform", "parametric-portal-dev", "kyverno", "kyverno-policies", "monitoring", "monitoring-resources"]


def set_status(api, api_version, kind, name, namespace, status):
    """Through the status subresource where the CRD has one; Argo CD's Application has none (Argo CD
    writes status with the object), so there a merge patch of the object sets it."""
    path = api.path(api_version, kind, name, namespace)
    code, body, _headers = api.cp.request("PATCH", path + "/status", body={"status": status}, content_type="application/merge-patch+json")
    if code == 404:
        code, body, _headers = api.cp.request("PATCH", path, body={"status": status}, content_type="application/merge-patch+json")
    assert code == 200, (kind, name, code, body.get("message") if isinstance(body, dict) else body)
    return body


def install_job(name):
    """A helm-install Job like the helm-controller's, handed to "another controller" (this test)."""
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "helm-install-" + name, "namespace": "kube-system"},
            "spec": {"managedBy": "parametric-portal.test/stand-in-for-helm-controller", "backoffLimit": 1000,
                     "template": {"spec": {"restartPolicy": "OnFailure", "containers": [
                         {"name": "helm", "image": "rancher/klipper-helm:v0.9.4-build20250113"}]}}}}


def job_done(api, name):
    set_status(api, "batch/v1", "Job", "helm-install-" + name, "kube-system", {
        "startTime": T0, "completionTime": "2026-01-01T00:01:00Z", "succeeded": 1, "ready": 0, "terminating": 0,
        "conditions": [{"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": "2026-01-01T00:01:00Z", "lastProbeTime": "2026-01-01T00:01:00Z"},
                       {"type": "Complete", "status": "True", "lastTransitionTime": "2026-01-01T00:01:00Z", "lastProbeTime": "2026-01-01T00:01:00Z"}]})


def job_failed(api, name):
    set_status(api, "batch/v1", "Job", "helm-install-" + name, "kube-system", {
        "startTime": T0, "failed": 3, "ready": 0, "terminating": 0,
        "conditions": [{"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit",
                        "lastTransitionTime": "2026-01-01T00:01:00Z", "lastProbeTime": "2026-01-01T00:01:00Z"},
                       {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit",
                        "lastTransitionTime": "2026-01-01T00:01:00Z", "lastProbeTime": "2026-01-01T00:01:00Z"}]})


def app(name, sync="Synced", health="Healthy"):
    return {"sync": {"status": sync}, "health": {"status": health}}


@pytest.fixture(scope="module")
def platform_objects(control_plane, cp_api, platform_manifests):
    """What K3s would apply from the manifests directory, plus the objects its controllers would make."""
    for name, docs in platform_manifests.items():
        for obj in docs:
            ns = obj["metadata"].get("namespace")
            if ns and cp_api.get("v1", "Namespace", ns) is None:
                cp_api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            status, body, _warnings = cp_api.apply(copy.deepcopy(obj))
            assert status in (200, 201), (name, obj["kind"], body)
    for chart in HELMCHARTS:
        status, body, _warnings = cp_api.apply(install_job(chart))
        assert status in (200, 201), body
    for name in APPLICATIONS:
        if cp_api.get("argoproj.io/v1alpha1", "Application", name, ARGOCD_NS) is None:
            status, body, _warnings = cp_api.apply({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name, "namespace": ARGOCD_NS},
                "spec": {"project": "default", "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
                         "source": {"repoURL": "https://github.com/parametric-portal/infra.git", "path": "infrastructure/" + name,
                                    "targetRevision": "main"}}})
            assert status in (200, 201), body
    return platform_manifests


def set_all_ready(api, manifests):
    for chart in HELMCHARTS:
        job_done(api, chart)
    for name in APPLICATIONS:
        set_status(api, "argoproj.io/v1alpha1", "Application", name, ARGOCD_NS, app(name))
    cluster = next(o for o in manifests["cnpg-cluster.yaml"] if o["kind"] == "Cluster")
    set_status(api, "postgresql.cnpg.io/v1", "Cluster", cluster["metadata"]["name"], cluster["metadata"]["namespace"], {
        "phase": "Cluster in healthy state", "instances": 1, "readyInstances": 1,
        "currentPrimary": cluster["metadata"]["name"] + "-1",
        "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterIsReady", "message": "ready", "lastTransitionTime": T0},
                       {"type": "ContinuousArchiving", "status": "True", "reason": "ContinuousArchivingSuccess",
                        "message": "Continuous archiving is working", "lastTransitionTime": T0}]})
    return cluster


def run_roles(tmp, env, kubeconfig, roles, retries=2, delay=1):
    """The roles' own readiness tasks (tags <role>_readiness; their argument specs are checked too), run
    by ansible-playbook on this machine. The manifests they would write are already applied (fixture)."""
    overrides = {}
    for role in READINESS_ROLES:
        overrides.update({"%s_kubeconfig" % role: str(kubeconfig), "%s_ready_retries" % role: retries, "%s_ready_delay" % role: delay})
    return run_platform_roles(tmp, env, dict(PLATFORM_VARS, platform_wait_for_ready=True), PLATFORM_ROLES, overrides, roles=roles,
                              extra_args=("-v", "--tags", ",".join("%s_readiness" % r for r in roles)),
                              name="platform roles with live readiness")


def test_readiness_waits_pass_when_the_controllers_report_ready(control_plane, cp_api, platform_objects, ansible_env, tmp_path):
    set_all_ready(cp_api, platform_objects)
    result = run_roles(tmp_path, ansible_env, control_plane.kubeconfig_path, READINESS_ROLES)
    out = result.stdout
    assert result.returncode == 0, out[-5000:]
    assert "NOT checked" not in out and "not checked" not in out
    for line in ("HelmChart ready: sealed-secrets", "HelmChart ready: argocd", "HelmChart ready: cnpg",
                 "Application ready: platform, parametric-portal-dev", "Application ready: kyverno, kyverno-policies",
                 "Application ready: monitoring, monitoring-resources", "Cluster ready: api-db"):
        assert line in out, (line, out[-5000:])


def test_readiness_timeout_names_what_is_not_ready(control_plane, cp_api, platform_objects, ansible_env, tmp_path):
    """The CNPG Cluster is left in a phase that is not healthy: the wait runs out and says why."""
    cluster = set_all_ready(cp_api, platform_objects)
    set_status(cp_api, "postgresql.cnpg.io/v1", "Cluster", cluster["metadata"]["name"], cluster["metadata"]["namespace"],
               {"phase": "Setting up primary", "readyInstances": 0})
    try:
        result = run_roles(tmp_path, ansible_env, control_plane.kubeconfig_path, ["cnpg"], retries=3, delay=1)
        out = result.stdout.replace('\\"', '"')
        assert result.returncode != 0, out[-5000:]
        assert "CNPG Cluster api-db: phase 'Setting up primary', 0/1 instances ready" in out, out[-5000:]
        # the message says that the bounded wait ran out (wait_timeout = cnpg_ready_retries x cnpg_ready_delay = 3 s)
        assert re.search(r"Still not ready after waiting 3(\.\d)? s \(wait_timeout 3, \d+ reads\): 1 of 1 Cluster not ready", out), out[-5000:]
    finally:
        set_all_ready(cp_api, platform_objects)


def recreate_job(api, chart):
    """A finished Job's conditions are final (the API server refuses Complete -> Failed): start a new one."""
    name = "helm-install-" + chart
    api.delete("batch/v1", "Job", name, "kube-system")
    api.wait_for(lambda: api.get("batch/v1", "Job", name, "kube-system") is None, timeout=60, what="Job %s deleted" % name)
    status, body, _warnings = api.apply(install_job(chart))
    assert status in (200, 201), body


def test_readiness_fails_fast_on_a_failed_install_job(control_plane, cp_api, platform_objects, ansible_env, tmp_path):
    set_all_ready(cp_api, platform_objects)
    recreate_job(cp_api, "sealed-secrets")
    job_failed(cp_api, "sealed-secrets")
    try:
        result = run_roles(tmp_path, ansible_env, control_plane.kubeconfig_path, ["sealed_secrets"], retries=60, delay=1)
        out = result.stdout.replace('\\"', '"')
        assert result.returncode != 0, out[-5000:]
        assert "helm-install-sealed-secrets failed (BackoffLimitExceeded: Job has reached the specified backoff limit)" in out, out[-5000:]
        assert "kubectl -n kube-system logs job/helm-install-sealed-secrets" in out
    finally:
        recreate_job(cp_api, "sealed-secrets")
        job_done(cp_api, "sealed-secrets")


# --- verify.yml's cluster rows ------------------------------------------------------------------------

def verify(tmp, env, kubeconfig):
    inventory = tmp / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"k3s_servers": {"hosts": {"verify-cp": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "infra_public_address": "127.0.0.1", "infra_domain": "verify.test", "infra_apps": [{"name": "a", "domain": "a.verify.test"}],
        "monitoring_grafana_domain": "grafana.verify.test", "hardening_ssh_port": 22, "hardening_admin_user": "deploy",
        "verify_kubeconfig": str(kubeconfig)}}}}}}))
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks" / "verify.yml"),
                           "--tags", "verify_kubernetes"], cwd=str(REPO), env=env, capture_output=True, text=True, timeout=600, check=False)


def rows(stdout):
    out = []
    for raw in re.findall(r'^\s+"(.+ \| .+)",?$', stdout, re.M):
        parts = [p.strip() for p in json.loads('"%s"' % raw).split(" | ", 3)]
        if len(parts) == 4 and parts[2] in ("PASS", "FAIL", "SKIP"):
            out.append(dict(zip(("check", "target", "result", "detail"), parts)))
    return out


@pytest.fixture
def verify_cluster(fresh_control_plane):
    """Its own control plane: only the objects this test makes (a Node, the Argo CD Applications)."""
    from cp_api import Api

    cp = fresh_control_plane("verify", crd_projects=["argo-cd"])
    api = Api(cp)
    api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ARGOCD_NS}})
    api.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "vps-1"}})
    for name in ("platform", "parametric-portal-prod"):
        api.apply({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name, "namespace": ARGOCD_NS},
                   "spec": {"project": "default", "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
                            "source": {"repoURL": "https://github.com/parametric-portal/infra.git", "path": "x", "targetRevision": "main"}}})
    return cp, api


def node_ready(api, ready):
    now = "2026-01-01T00:00:00Z"
    set_status(api, "v1", "Node", "vps-1", None, {"conditions": [{
        "type": "Ready", "status": "True" if ready else "False", "reason": "KubeletReady" if ready else "KubeletNotReady",
        "message": "kubelet is posting ready status (set by the test)" if ready else "container runtime is down (set by the test)",
        "lastHeartbeatTime": now, "lastTransitionTime": now}]})


def test_verify_cluster_rows_pass_and_fail_on_real_objects(verify_cluster, ansible_env, tmp_path):
    cp, api = verify_cluster
    node_ready(api, True)
    for name in ("platform", "parametric-portal-prod"):
        set_status(api, "argoproj.io/v1alpha1", "Application", name, ARGOCD_NS, app(name))
    result = verify(tmp_path, ansible_env, cp.kubeconfig_path)
    table = {(r["check"], r["target"]): r for r in rows(result.stdout)}
    assert result.returncode == 0, result.stdout[-5000:]
    assert table[("Node Ready", "vps-1")]["result"] == "PASS", table
    apps = [r for r in table.values() if r["check"] == "Argo CD app Synced/Healthy"]
    assert apps and all(r["result"] == "PASS" for r in apps), apps
    assert "platform" in " ".join(r["target"] + r["detail"] for r in apps)

    node_ready(api, False)
    set_status(api, "argoproj.io/v1alpha1", "Application", "parametric-portal-prod", ARGOCD_NS,
               {"sync": {"status": "OutOfSync"}, "health": {"status": "Degraded", "message": "Deployment api has 0/2 ready (set by the test)"}})
    result = verify(tmp_path, ansible_env, cp.kubeconfig_path)
    failed = [r for r in rows(result.stdout) if r["result"] == "FAIL"]
    assert result.returncode != 0, result.stdout[-5000:]
    details = " ".join(r["detail"] for r in failed)
    assert {"check": "Node Ready", "target": "vps-1", "result": "FAIL", "detail": "Ready=False (KubeletNotReady)"} in failed, failed
    assert "parametric-portal-prod" in details and "OutOfSync" in details and "Degraded" in details, failed
