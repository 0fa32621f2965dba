"""Pod Security Standards restricted checks of plugins/module_utils/_gitops/pss.py."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.pss import (
    pod_templates,
    restricted_violations,
    workload_restricted_violations,
)

GOOD = {
    "automountServiceAccountToken": False,
    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{
        "name": "app",
        "image": "x",
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
    }],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}


def _mut(fn):
    spec = copy.deepcopy(GOOD)
    fn(spec)
    return restricted_violations(spec)


def test_good_spec_is_compliant():
    assert restricted_violations(GOOD) == []


@pytest.mark.parametrize("mutation, expected", [
    (lambda s: s.update(hostNetwork=True), "hostNetwork must not be true"),
    (lambda s: s.update(hostPID=True), "hostPID must not be true"),
    (lambda s: s["securityContext"].pop("runAsNonRoot"), "containers[0].securityContext.runAsNonRoot must be true"),
    (lambda s: s["securityContext"].update(runAsUser=0), "securityContext.runAsUser must not be 0"),
    (lambda s: s["containers"][0]["securityContext"].update(runAsUser=0), "containers[0].securityContext.runAsUser must not be 0"),
    (lambda s: s["securityContext"].pop("seccompProfile"), "containers[0].securityContext.seccompProfile.type must be"),
    (lambda s: s["securityContext"].update(seccompProfile={"type": "Unconfined"}), "securityContext.seccompProfile.type must be"),
    (lambda s: s["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"), "allowPrivilegeEscalation must be false"),
    (lambda s: s["containers"][0]["securityContext"].update(capabilities={"drop": ["NET_RAW"]}), "capabilities.drop must contain ALL"),
    (lambda s: s["containers"][0]["securityContext"]["capabilities"].update(add=["NET_ADMIN"]), "may only contain NET_BIND_SERVICE"),
    (lambda s: s["containers"][0]["securityContext"].update(privileged=True), "privileged must not be true"),
    (lambda s: s["volumes"].append({"name": "h", "hostPath": {"path": "/"}}), "volumes[1] (h) uses hostPath"),
    (lambda s: s["containers"][0].update(ports=[{"containerPort": 80, "hostPort": 80}]), "ports[0].hostPort must not be set"),
    (lambda s: s["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]), "not a safe sysctl"),
    (lambda s: s.update(initContainers=[{"name": "i", "image": "x"}]), "initContainers[0].securityContext.allowPrivilegeEscalation"),
])
def test_each_violation_is_reported(mutation, expected):
    found = _mut(mutation)
    assert any(expected in v for v in found), found


def test_net_bind_service_is_allowed():
    assert _mut(lambda s: s["containers"][0]["securityContext"]["capabilities"].update(add=["NET_BIND_SERVICE"])) == []


def test_pod_templates_of_workloads():
    dep = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": GOOD}}}
    cron = {"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {}}}}}}
    assert pod_templates(dep) == [("spec.template.spec", GOOD)]
    assert pod_templates({"kind": "Service"}) == []
    assert workload_restricted_violations([dep]) == []
    assert workload_restricted_violations([cron]) == []  # no containers: nothing to violate
    bad = copy.deepcopy(dep)
    bad["spec"]["template"]["spec"]["hostIPC"] = True
    assert workload_restricted_violations([bad]) == ["Deployment/d: spec.template.spec.hostIPC must not be true"]
