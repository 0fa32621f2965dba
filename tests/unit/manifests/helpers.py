"""Shared inputs of the manifest tests: the real apps model, environment tables and platform pins."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def apps() -> list:
    return copy.deepcopy(_load(REPO / "inventories/prod/group_vars/all/apps.yml")["infra_apps"])


def environments() -> dict:
    return {env: copy.deepcopy(_load(REPO / f"inventories/{env}/group_vars/all/environment.yml")["infra_env"])
            for env in ("dev", "prod")}


def platform() -> dict:
    """The values playbooks/gitops_render.yml passes (role defaults + the playbook's own defaults)."""
    kyverno = _load(REPO / "roles/kyverno/defaults/main.yml")
    monitoring = _load(REPO / "roles/monitoring/defaults/main.yml")
    play = _load(REPO / "playbooks/gitops_render.yml")[0]["vars"]
    domain = "parametric-portal.com"
    return {
        "domain": domain,
        "repo_url": play["argocd_repo_url"],
        "revision": play["argocd_repo_revision"],
        "kyverno_chart_version": kyverno["kyverno_chart_version"],
        "kyverno_chart_repo_url": kyverno["kyverno_chart_repo_url"],
        "lgtm_chart_version": monitoring["monitoring_lgtm_chart_version"],
        "lgtm_chart_repo_url": monitoring["monitoring_lgtm_chart_repo_url"],
        "grafana_domain": monitoring["monitoring_grafana_domain"].replace("{{ infra_domain }}", domain),
        "grafana_admin_secret": monitoring["monitoring_grafana_admin_secret_name"],
        "postgres_cluster_name": play["gitops_render_postgres_cluster_name"],
    }
