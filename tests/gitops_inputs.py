"""Inputs of the GitOps renderer for tests and benchmarks: the real apps model, environment tables, platform.

``platform()`` builds what playbooks/gitops_render.yml passes: each owning role's defaults and vars,
templated by Ansible with the prod inventory's variables, plus the files of roles/kyverno and
roles/monitoring. tests/integration/gitops proves the real playbook renders the committed tree.
"""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

REPO = Path(__file__).resolve().parents[1]
INVENTORY = REPO / "inventories" / "prod" / "group_vars" / "all"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def apps() -> list:
    return copy.deepcopy(_load(INVENTORY / "apps.yml")["infra_apps"])


def environments() -> dict:
    return copy.deepcopy(_load(INVENTORY / "apps.yml")["infra_environments"])


def _role_vars(loader: DataLoader) -> dict:
    variables = {}
    for role in ("traefik", "argocd", "cnpg", "kyverno", "monitoring"):
        for part in ("defaults", "vars"):
            path = REPO / "roles" / role / part / "main.yml"
            if path.is_file():
                variables.update(loader.load_from_file(str(path), trusted_as_template=True))
    variables.update(loader.load_from_file(str(INVENTORY / "main.yml"), trusted_as_template=True))
    return variables


@functools.lru_cache(maxsize=1)
def _platform() -> str:
    loader = DataLoader()
    variables = _role_vars(loader)
    templar = Templar(loader=loader, variables=variables)
    value = templar.template
    files = REPO / "roles"
    platform = {
        "domain": value(variables["infra_domain"]),
        "namespace": "parametric-portal",
        "traefik": {"cert_resolver": value(variables["traefik_acme_resolver"])},
        "argocd": {"namespace": value(variables["argocd_namespace"]), "project": value(variables["argocd_platform_project"]),
                   "repo_url": value(variables["argocd_repo_url"]), "revision": value(variables["argocd_repo_revision"])},
        "cnpg": {"cluster_name": value(variables["cnpg_cluster_name"]),
                 "operator_namespace": value(variables["cnpg_operator_namespace"])},
        "kyverno": {
            "namespace": value(variables["kyverno_namespace"]), "chart_repo_url": value(variables["kyverno_chart_repo_url"]),
            "chart": value(variables["__kyverno_chart"]), "chart_version": value(variables["kyverno_chart_version"]),
            "release": value(variables["__kyverno_release"]), "chart_values": value(variables["kyverno_chart_values"]),
            "policies": [_load(p) for p in sorted((files / "kyverno/files/policies").glob("*.yaml"))],
            "exceptions": [_load(p) for p in sorted((files / "kyverno/files/exceptions").glob("*.yaml"))],
        },
        "monitoring": {
            "namespace": value(variables["monitoring_namespace"]),
            "chart_repo_url": value(variables["monitoring_lgtm_chart_repo_url"]),
            "chart": value(variables["__monitoring_lgtm_chart"]),
            "chart_version": value(variables["monitoring_lgtm_chart_version"]),
            "release": value(variables["__monitoring_lgtm_release"]),
            "chart_values": value(variables["monitoring_lgtm_chart_values"]),
            "grafana_domain": value(variables["monitoring_grafana_domain"]),
            "grafana_service": value(variables["__monitoring_lgtm_release"]) + "-grafana",
            "grafana_port": value(variables["monitoring_lgtm_chart_values"])["grafana"]["service"]["port"],
            "grafana_allowed_cidrs": value(variables["monitoring_grafana_allowed_cidrs"]),
            "dashboards": {p.stem: json.loads(p.read_text()) for p in sorted((files / "monitoring/files/dashboards").glob("*.json"))},
        },
    }
    return json.dumps(platform)  # plain builtin types, copied per call


def platform() -> dict:
    return json.loads(_platform())


ARGOCD_DEFAULTS = _load(REPO / "roles" / "argocd" / "defaults" / "main.yml")


def bootstrap_settings(cluster_environments: list) -> dict:
    """What the argocd role hands the argocd_bootstrap filter, for a cluster deploying these environments."""
    plat = platform()
    return {
        "namespace": ARGOCD_DEFAULTS["argocd_namespace"], "repo_url": plat["argocd"]["repo_url"],
        "revision": plat["argocd"]["revision"], "path": ARGOCD_DEFAULTS["argocd_repo_path"],
        "root": ARGOCD_DEFAULTS["argocd_root_app_name"],
        "projects": {"bootstrap": ARGOCD_DEFAULTS["argocd_bootstrap_project"],
                     "platform": ARGOCD_DEFAULTS["argocd_platform_project"], "apps": ARGOCD_DEFAULTS["argocd_apps_project"]},
        "platform_source_repos": [plat["kyverno"]["chart_repo_url"], plat["monitoring"]["chart_repo_url"]],
        "platform_namespaces": [plat["kyverno"]["namespace"], plat["monitoring"]["namespace"]],
        "environments": list(cluster_environments), "environment_tables": environments(),
        "apps_namespace_resources": ARGOCD_DEFAULTS["argocd_apps_namespace_resources"],
    }
