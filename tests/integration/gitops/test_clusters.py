"""What each cluster deploys from the committed tree, and what Argo CD lets it deploy.

Argo CD does not run here. These tests take the objects Argo CD would be handed: the cluster's
bootstrap (built by the argocd_bootstrap filter from the argocd role's defaults, as the role writes it
into K3s's manifests directory) plus every Application and ApplicationSet of the committed tree's
argocd/ folder (the root Application's source), and apply two rules of Argo CD's, written out below:

* an ApplicationSet's list generator makes one Application per element (its goTemplate fields filled in);
* an AppProject admits a namespaced object only in one of its destination namespaces and of a kind in its
  namespaceResourceWhitelist (when it has one), a cluster-scoped object only of a kind in its
  clusterResourceWhitelist (``*`` matches anything).

Issue 14 items 1 and 9: each cluster deploys exactly its own environments (both topologies), every
Application names a restricted project, and the apps' project admits what the overlays build and refuses
cluster-scoped RBAC, a Namespace and anything in kube-system.
"""
from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.parametric_portal.infra.plugins.module_utils import _k8s_schema as ks
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.argocd import bootstrap_objects

import gitops_inputs

REPO = Path(__file__).resolve().parents[3]
TREE = REPO / "infrastructure"
ARGOCD_DEFAULTS = gitops_inputs.ARGOCD_DEFAULTS
settings = gitops_inputs.bootstrap_settings
TOPOLOGIES = {"one VPS per environment: prod": ["prod"], "one VPS per environment: dev": ["dev"],
              "one VPS hosting both": ["dev", "prod"]}


def tree_argocd_objects():
    return [doc for path in sorted((TREE / "argocd").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def _fill(value, element):
    if isinstance(value, dict):
        return {k: _fill(v, element) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, element) for v in value]
    if isinstance(value, str):
        return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: str(element[m.group(1)]), value)
    return value


def generated_applications(appset):
    """Argo CD's list generator: one Application per element."""
    out = []
    for generator in appset["spec"]["generators"]:
        for element in generator.get("list", {}).get("elements", []):
            out.append(dict(_fill(appset["spec"]["template"], element), kind="Application"))
    return out


def cluster_applications(cluster_environments):
    docs = bootstrap_objects(settings(cluster_environments)) + tree_argocd_objects()
    apps = [d for d in docs if d["kind"] == "Application"]
    for appset in (d for d in docs if d["kind"] == "ApplicationSet"):
        apps.extend(generated_applications(appset))
    return apps, {d["metadata"]["name"]: d for d in docs if d["kind"] == "AppProject"}


@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
def test_each_cluster_deploys_exactly_its_own_environments(topology):
    wanted = TOPOLOGIES[topology]
    apps, _projects = cluster_applications(wanted)
    overlays = sorted(a["spec"]["source"]["path"] for a in apps if "overlays/" in a["spec"]["source"].get("path", ""))
    assert overlays == ["infrastructure/overlays/%s" % env for env in sorted(wanted)]
    namespaces = sorted(a["spec"]["destination"]["namespace"] for a in apps
                        if "overlays/" in a["spec"]["source"].get("path", ""))
    assert namespaces == sorted(gitops_inputs.environments()[env]["namespace"] for env in wanted)


@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
def test_every_application_names_a_restricted_project(topology):
    apps, projects = cluster_applications(TOPOLOGIES[topology])
    assert projects["default"]["spec"]["sourceRepos"] == [] and projects["default"]["spec"]["destinations"] == []
    for app in apps:
        project = app["spec"]["project"]
        assert project != "default" and project in projects, app["metadata"]["name"]
        assert app["spec"]["destination"]["namespace"] in {d["namespace"] for d in projects[project]["spec"]["destinations"]}
        assert app["spec"]["source"]["repoURL"] in projects[project]["spec"]["sourceRepos"]


def _matches(rules, group, kind):
    return any(r["group"] in ("*", group) and r["kind"] in ("*", kind) for r in rules)


def admitted(project, obj):
    """Argo CD's project check of one object of an Application's sync (see the module docstring)."""
    spec = project["spec"]
    group = obj["apiVersion"].rpartition("/")[0] if "/" in obj["apiVersion"] else ""
    namespace = obj["metadata"].get("namespace")
    if namespace is None:
        return _matches(spec.get("clusterResourceWhitelist", []), group, obj["kind"])
    if namespace not in {d["namespace"] for d in spec["destinations"]}:
        return False
    return "namespaceResourceWhitelist" not in spec or _matches(spec["namespaceResourceWhitelist"], group, obj["kind"])


def build(overlay):
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl not on PATH (it ships in the venv)"
    proc = subprocess.run([kubectl, "kustomize", str(TREE / "overlays" / overlay)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return ks.load_yaml_documents(proc.stdout)


@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
def test_the_apps_project_admits_the_overlays_and_nothing_more(topology):
    apps, projects = cluster_applications(TOPOLOGIES[topology])
    apps_project = projects[ARGOCD_DEFAULTS["argocd_apps_project"]]
    assert apps_project["spec"]["clusterResourceWhitelist"] == []
    for env in TOPOLOGIES[topology]:
        objects = build(env)
        refused = ["%s/%s" % (o["kind"], o["metadata"]["name"]) for o in objects if not admitted(apps_project, o)]
        assert refused == [], refused
        deployment = next(o for o in objects if o["kind"] == "Deployment")
    escalations = [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "x"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}},
        dict(copy.deepcopy(deployment), metadata={"name": "x", "namespace": "kube-system"}),
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "x", "namespace": deployment["metadata"]["namespace"]}},
    ]
    assert [admitted(apps_project, o) for o in escalations] == [False] * len(escalations)


def test_the_bootstrap_namespaces_are_restricted():
    docs = bootstrap_objects(settings(["dev", "prod"]))
    namespaces = {d["metadata"]["name"]: d["metadata"]["labels"] for d in docs if d["kind"] == "Namespace"}
    assert sorted(namespaces) == ["parametric-portal", "parametric-portal-dev"]
    for labels in namespaces.values():
        assert {labels["pod-security.kubernetes.io/%s" % m] for m in ("enforce", "audit", "warn")} == {"restricted"}


def test_grafana_is_published_only_behind_an_allow_list():
    docs = {(d["kind"], d["metadata"]["name"]): d
            for d in yaml.safe_load_all((TREE / "platform/monitoring/ingressroute.yaml").read_text()) if d}
    route = docs[("IngressRoute", "grafana")]["spec"]["routes"][0]
    assert route["middlewares"][0] == {"name": "grafana-allowlist"}
    allow = docs[("Middleware", "grafana-allowlist")]["spec"]["ipAllowList"]["sourceRange"]
    assert allow == gitops_inputs.platform()["monitoring"]["grafana_allowed_cidrs"] and allow
    assert not {"0.0.0.0/0", "::/0"} & set(allow)
