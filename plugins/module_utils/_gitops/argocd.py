# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one Argo CD Application generator, and the argocd/ folder of the tree built with it.

PRIVATE to parametric_portal.infra. application() is the only place an Argo CD Application is
written: the tree's child Applications (argocd_objects) and the argocd role's bootstrap objects (the
argocd_bootstrap filter) both use it, so sync policy, retry and labels cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.k8s import PART_OF, PART_OF_LABELS, meta

IN_CLUSTER = "https://kubernetes.default.svc"
RETRY = {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}


def sync_policy(create_namespace: bool = False, server_side: bool = False) -> dict:
    """Automated sync with prune and self-heal, PruneLast, bounded retries."""
    options = []
    if create_namespace:
        options.append("CreateNamespace=true")
    if server_side:
        options.append("ServerSideApply=true")
    options.append("PruneLast=true")
    return {"automated": {"prune": True, "selfHeal": True}, "syncOptions": options, "retry": dict(RETRY)}


def git_source(argocd: Dict[str, Any], path: str) -> dict:
    """A path of the GitOps repository at the followed revision."""
    return {"repoURL": argocd["repo_url"], "targetRevision": argocd["revision"], "path": path}


def chart_source(part: Dict[str, Any]) -> dict:
    """Helm source of a platform Application from the owning role's chart pin and values."""
    return {"repoURL": part["chart_repo_url"], "chart": part["chart"], "targetRevision": part["chart_version"],
            "helm": {"releaseName": part["release"], "valuesObject": part["chart_values"]}}


def application(name: str, argocd: Dict[str, Any], source: dict, destination: str, wave: int, **sync: bool) -> dict:
    """An Application in Argo CD's namespace, deploying ``source`` into namespace ``destination``."""
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": meta(name, argocd["namespace"], dict(PART_OF_LABELS), {"argocd.argoproj.io/sync-wave": str(wave)}),
        "spec": {"project": argocd["project"], "source": source,
                 "destination": {"server": IN_CLUSTER, "namespace": destination},
                 "syncPolicy": sync_policy(**sync)},
    }


def _environments_appset(argocd: Dict[str, Any], environments: Dict[str, Dict[str, Any]]) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": meta(PART_OF, argocd["namespace"], dict(PART_OF_LABELS), {"argocd.argoproj.io/sync-wave": "3"}),
        "spec": {
            "goTemplate": True, "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": [{"env": name, "namespace": env["namespace"]}
                                                  for name, env in sorted(environments.items())]}}],
            "template": {
                "metadata": {"name": PART_OF + "-{{ .env }}", "labels": dict(PART_OF_LABELS)},
                "spec": {"project": argocd["project"],
                         "source": git_source(argocd, "infrastructure/overlays/{{ .env }}"),
                         "destination": {"server": IN_CLUSTER, "namespace": "{{ .namespace }}"},
                         "syncPolicy": sync_policy()},
            },
        },
    }


def argocd_objects(platform: Dict[str, Any], environments: Dict[str, Dict[str, Any]]) -> Dict[str, List[dict]]:
    """argocd/ files: the environments' ApplicationSet, Kyverno and its policies, LGTM and its resources."""
    argocd, kyverno, mon = platform["argocd"], platform["kyverno"], platform["monitoring"]
    return {
        "apps.yaml": [_environments_appset(argocd, environments)],
        "kyverno.yaml": [application("kyverno", argocd, chart_source(kyverno), kyverno["namespace"], 0,
                                     create_namespace=True, server_side=True)],
        "kyverno-policies.yaml": [application("kyverno-policies", argocd, git_source(argocd, "infrastructure/platform/kyverno"),
                                              kyverno["namespace"], 1)],
        "monitoring.yaml": [application("monitoring", argocd, chart_source(mon), mon["namespace"], 1,
                                        create_namespace=True, server_side=True)],
        "monitoring-resources.yaml": [application("monitoring-resources", argocd,
                                                  git_source(argocd, "infrastructure/platform/monitoring"), mon["namespace"], 2)],
    }
