"""Our Helm values for every chart the platform deploys, and the charts' declared defaults.

Our values come from where they are produced for a real install: the HelmChart/HelmChartConfig
templates of the roles traefik, argocd, sealed_secrets and cnpg (rendered with ansible-core's Templar
from the role defaults and the prod inventory), and the Argo CD Applications of the committed GitOps
tree for Kyverno and the LGTM stack. The charts' declared defaults (values.yaml) are read from
PP_SHARED_DIR/charts (data only; no chart code anywhere in these tests).
"""
from __future__ import annotations

import copy
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

import role_templates

from . import chartmodel

REPO_ROOT = Path(__file__).resolve().parents[3]
ROLES = REPO_ROOT / "roles"
PROD = REPO_ROOT / "inventories" / "prod" / "group_vars" / "all"

# chart -> (directory under shared/charts, role or tree file that produces our values)
CHART_DIRS = {
    "traefik": "traefik-37.1.1+up37.1.0",
    "argocd": "argo-cd-7.8.28",
    "sealed_secrets": "sealed-secrets-2.17.1",
    "cnpg": "cloudnative-pg-0.27.0",
    "kyverno": "kyverno-3.6.1",
    "monitoring": "lgtm-distributed-3.0.1",
}
K3S_TRAEFIK_BASE = "k3s-v1.32.11+k3s1-traefik-base-values.RECONSTRUCTED.yaml"
HELMCHART_TEMPLATES = {"argocd": "argocd.yaml.j2", "sealed_secrets": "sealed-secrets.yaml.j2", "cnpg": "cnpg-operator.yaml.j2"}
TREE_APPS = {"kyverno": "kyverno.yaml", "monitoring": "monitoring.yaml"}


def prod_inventory() -> Dict[str, Any]:
    merged: Dict[str, Any] = {}
    for name in ("main.yml", "environment.yml", "apps.yml"):
        merged.update(yaml.safe_load((PROD / name).read_text()) or {})
    return merged


def prod_var(name: str) -> Any:
    """One variable of the prod inventory, templated as ansible would (e.g. infra_env)."""
    variables = prod_inventory()
    variables.setdefault("ansible_host", "203.0.113.10")
    return role_templates.templar(variables).template(role_templates.trust(variables[name]))


def render_role_template(role: str, template: str, overrides: Dict[str, Any] | None = None) -> str:
    """Render a role template as ansible would for a prod host (role defaults + vars + inventory)."""
    variables = role_templates.role_vars(role)
    variables.update(prod_inventory())
    variables.update({"ansible_managed": "Ansible managed", "ansible_host": "203.0.113.10"})
    variables.update(overrides or {})
    return role_templates.render(role, template, variables)


def our_values(chart: str, overrides: Dict[str, Any] | None = None) -> Dict[str, Any]:
    """The values file the collection hands to Helm for this chart (the last, winning layer)."""
    if overrides:
        return _our_values(chart, overrides)
    return copy.deepcopy(_our_values_cached(chart))


@lru_cache(maxsize=None)
def _our_values_cached(chart: str) -> Dict[str, Any]:
    return _our_values(chart, None)


def _our_values(chart: str, overrides: Dict[str, Any] | None) -> Dict[str, Any]:
    if chart == "traefik":
        doc = yaml.safe_load(render_role_template("traefik", "traefik-config.yaml.j2", overrides))
        return yaml.safe_load(doc["spec"]["valuesContent"])
    if chart in HELMCHART_TEMPLATES:
        role = chart
        docs = [d for d in yaml.safe_load_all(render_role_template(role, HELMCHART_TEMPLATES[chart], overrides)) if d]
        (helmchart,) = [d for d in docs if d.get("kind") == "HelmChart"]
        return yaml.safe_load(helmchart["spec"]["valuesContent"])
    (app,) = [d for d in yaml.safe_load_all((REPO_ROOT / "infrastructure" / "argocd" / TREE_APPS[chart]).read_text()) if d]
    return app["spec"]["source"]["helm"].get("valuesObject") or {}


def charts_dir() -> Path:
    shared = Path(os.environ.get("PP_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()
    path = shared / "charts"
    if not path.is_dir():
        pytest.fail(f"upstream chart defaults not found at {path}; set PP_SHARED_DIR to the shared/ folder")
    return path


@lru_cache(maxsize=None)
def declared_defaults(relative: str) -> Dict[str, Any]:
    path = charts_dir() / relative / "values.yaml"
    if not path.is_file():
        pytest.fail(f"chart defaults missing: {path}")
    return yaml.safe_load(path.read_text()) or {}


def value_layers(chart: str) -> List[Dict[str, Any]]:
    """Every values layer Helm merges for the chart, lowest first (chart defaults ... ours)."""
    if chart == "traefik":
        base = yaml.safe_load((charts_dir() / K3S_TRAEFIK_BASE).read_text())
        return [declared_defaults(CHART_DIRS[chart]), base, our_values(chart)]
    return [declared_defaults(CHART_DIRS[chart]), our_values(chart)]


def effective_values(chart: str) -> Dict[str, Any]:
    merged: Dict[str, Any] = {}
    for layer in value_layers(chart):
        merged = chartmodel.merge(merged, layer)
    return merged


@pytest.fixture(scope="session")
def shared_charts() -> Path:
    return charts_dir()
