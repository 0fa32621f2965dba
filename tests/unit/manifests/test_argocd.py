"""The one Argo CD Application generator (module_utils/_gitops/argocd.py) and Grafana's allow-list."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.parametric_portal.infra.plugins.filter.manifests import FilterModule
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import argocd
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import checks as gc
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import tree as gt

from .helpers import apps, environments, platform

SETTINGS = {
    "namespace": "argocd", "repo_url": "https://github.com/parametric-portal/infra.git", "revision": "main",
    "path": "infrastructure/argocd", "root": "platform",
    "projects": {"bootstrap": "pp-bootstrap", "platform": "pp-platform", "apps": "pp-apps"},
    "platform_source_repos": ["https://kyverno.github.io/kyverno/"], "platform_namespaces": ["kyverno", "monitoring"],
    "environments": ["prod"], "environment_tables": {"dev": {"namespace": "pp-dev"}, "prod": {"namespace": "pp"}},
    "apps_namespace_resources": [{"group": "apps", "kind": "Deployment"}],
}


def settings(**changes):
    out = copy.deepcopy(SETTINGS)
    out.update(changes)
    return out


def test_bootstrap_and_tree_applications_come_from_one_generator():
    bootstrap = {d["metadata"]["name"]: d for d in argocd.bootstrap_objects(settings()) if d["kind"] == "Application"}
    tree = gt.build_tree(apps(), environments(), platform())
    child = tree["argocd/kyverno-policies.yaml"][0]
    for app in bootstrap.values():
        assert app["spec"]["syncPolicy"] == child["spec"]["syncPolicy"]  # same retries, prune, self-heal
        assert app["metadata"]["labels"] == child["metadata"]["labels"]
    assert child["spec"]["syncPolicy"]["retry"]["limit"] == 5


def test_bootstrap_objects_in_apply_order():
    docs = argocd.bootstrap_objects(settings(environments=["dev", "prod"]))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("AppProject", "default"), ("AppProject", "pp-bootstrap"), ("AppProject", "pp-platform"), ("AppProject", "pp-apps"),
        ("Application", "platform"), ("Namespace", "pp-dev"), ("Application", "parametric-portal-dev"),
        ("Namespace", "pp"), ("Application", "parametric-portal-prod")]
    projects = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "AppProject"}
    assert projects["pp-bootstrap"]["namespaceResourceWhitelist"] == [{"group": "argoproj.io", "kind": "Application"}]
    assert [d["namespace"] for d in projects["pp-apps"]["destinations"]] == ["pp", "pp-dev"]
    assert projects["default"]["namespaceResourceBlacklist"] == [{"group": "*", "kind": "*"}]


@pytest.mark.parametrize("changes, message", [
    ({"environments": ["stage"]}, "argocd_bootstrap.environments: 'stage' has no environment table (known: dev, prod)"),
    ({"environments": []}, "argocd_bootstrap.environments: must list the environments"),
    ({"environment_tables": {"prod": {"namespace": "kube-system"}}}, "namespace 'kube-system' is reserved"),
    ({"environment_tables": {"prod": {"namespace": "argocd"}}}, "namespace 'argocd' is reserved"),
    ({"projects": {"bootstrap": "default", "platform": "p", "apps": "a"}}, "projects.bootstrap: must not be 'default'"),
    ({"projects": {"platform": "p", "apps": "a"}}, "argocd_bootstrap.projects: must name the bootstrap, platform, apps"),
    ({"bogus": 1}, "argocd_bootstrap.bogus: unknown key"),
])
def test_bad_bootstrap_settings_name_the_key(changes, message):
    with pytest.raises(gc.ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        argocd.bootstrap_objects(settings(**changes))


def test_the_filter_reports_bad_settings():
    from ansible.errors import AnsibleFilterError
    f = FilterModule().filters()["argocd_bootstrap"]
    assert len(f(settings())) == 7
    with pytest.raises(AnsibleFilterError, match="^argocd_bootstrap: argocd_bootstrap.environments"):
        f(settings(environments=["stage"]))


@pytest.mark.parametrize("cidrs, message", [
    ([], "must list the networks allowed to reach Grafana"),
    (["0.0.0.0/0"], "0.0.0.0/0 allows the whole Internet"),
    (["198.51.100.0/24", "::/0"], "::/0 allows the whole Internet"),
    (["203.0.113.7/24"], "has host bits set"),
])
def test_grafana_is_never_published_without_an_allow_list(cidrs, message):
    bad = platform()
    bad["monitoring"]["grafana_allowed_cidrs"] = cidrs
    with pytest.raises(gc.ManifestError, match=r"^platform.monitoring.grafana_allowed_cidrs \(monitoring_grafana_allowed_cidrs\)") as exc:
        gt.build_tree(apps(), environments(), bad)
    assert message in str(exc.value)
