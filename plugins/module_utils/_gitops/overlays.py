# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-environment part of the tree (overlays/<env>/): HPAs, TLSStore and the overlay kustomization.

PRIVATE to parametric_portal.infra. An overlay sets the environment's namespace, image tag, replicas
or HPAs, limits, log level, and removes every Traefik object where the environment has no ingress
(or only the rate limits where it has no rate limiting). It also removes base/'s Namespace: each
cluster's bootstrap (the argocd role) creates its environments' namespaces, so the apps' Argo CD
project may not create any cluster-scoped object.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.apps import (
    TRAEFIK_API,
    app_middlewares,
    chain_middleware,
)
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.base import RATE_LIMITS_PER_SECOND
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.dump import dump_documents
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.k8s import PART_OF_LABELS, labels, meta


def hpa(app_name: str, ns: str, settings: Dict[str, Any]) -> dict:
    """autoscaling/v2 HPA on CPU and memory utilisation, scale-down stabilised for 5 minutes."""
    def metric(name: str, key: str) -> dict:
        return {"type": "Resource", "resource": {"name": name, "target": {
            "type": "Utilization", "averageUtilization": settings[key]}}}

    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": meta(app_name, ns, labels(app_name)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app_name},
            "minReplicas": settings["min"], "maxReplicas": settings["max"],
            "metrics": [metric("cpu", "cpu_utilization"), metric("memory", "memory_utilization")],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def tls_store(ns: str, apps: List[Dict[str, Any]], resolver: str, domain: str) -> dict:
    """The default TLSStore: one certificate for every app host, the platform domain as main name when served."""
    hosts = []
    for app in apps:
        hosts.append(app["domain"])
        if app["www_redirect"]:
            hosts.append("www." + app["domain"])
    main = domain if domain in hosts else hosts[0]
    return {"apiVersion": TRAEFIK_API, "kind": "TLSStore",
            "metadata": meta("default", ns, dict(PART_OF_LABELS)),
            "spec": {"defaultGeneratedCert": {"resolver": resolver,
                                              "domain": {"main": main, "sans": [h for h in hosts if h != main]}}}}


def _patch(doc: dict) -> Dict[str, Any]:
    return {"patch": dump_documents([doc], explicit_start=False).strip("\n")}


def _delete_patch(api_version: str, kind: str, name: str, ns: str) -> Dict[str, Any]:
    return _patch({"$patch": "delete", "apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": ns}})


def _deployment_patch(app: Dict[str, Any], env: Dict[str, Any], base_ns: str) -> Dict[str, Any]:
    settings = env["apps"][app["name"]]
    return _patch({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": app["name"], "namespace": base_ns},
                   "spec": {"template": {"spec": {"containers": [{
                       "name": app["name"], "env": [{"name": "LOG_LEVEL", "value": env["log_level"]}],
                       "resources": {"limits": dict(settings["limits"]), "requests": dict(settings["requests"])}}]}}}})


def _without_ingress(apps: List[Dict[str, Any]], base_ns: str) -> List[Dict[str, Any]]:
    # The spec's environment table: no ingress, TLS or rate limiting here, so drop every Traefik object.
    patches = [_delete_patch(TRAEFIK_API, "TLSOption", "default", base_ns),
               _delete_patch(TRAEFIK_API, "IngressRoute", "http-redirect", base_ns)]
    for name in ["rate-limit-%s" % k for k in sorted(RATE_LIMITS_PER_SECOND)] + ["redirect-to-https", "compress"]:
        patches.append(_delete_patch(TRAEFIK_API, "Middleware", name, base_ns))
    for app in apps:
        patches.append(_delete_patch(TRAEFIK_API, "IngressRoute", "%s-https" % app["name"], base_ns))
        for mw in app_middlewares(app, base_ns):
            patches.append(_delete_patch(TRAEFIK_API, "Middleware", mw["metadata"]["name"], base_ns))
    return patches


def _without_rate_limits(apps: List[Dict[str, Any]], base_ns: str) -> List[Dict[str, Any]]:
    patches = []
    for app in apps:
        chain = chain_middleware(app, base_ns, rate_limiting=False)
        chain["metadata"] = {"name": chain["metadata"]["name"], "namespace": base_ns}
        patches.append(_patch(chain))
    for name in sorted(RATE_LIMITS_PER_SECOND):
        patches.append(_delete_patch(TRAEFIK_API, "Middleware", "rate-limit-%s" % name, base_ns))
    return patches


def overlay_kustomization(env: Dict[str, Any], apps: List[Dict[str, Any]], extra: List[str], base_ns: str) -> dict:
    """The overlay's Kustomization: namespace, environment label, image tags, replicas and patches."""
    patches = [_deployment_patch(app, env, base_ns) for app in apps]
    patches.append(_patch({"$patch": "delete", "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": base_ns}}))
    if not env["ingress"]:
        patches.extend(_without_ingress(apps, base_ns))
    elif not env["rate_limiting"]:
        patches.extend(_without_rate_limits(apps, base_ns))
    doc: Dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": env["namespace"],
        "labels": [{"pairs": {"parametric-portal.com/environment": env["name"]}, "includeSelectors": False}],
        "resources": ["../../base"] + ["../../apps/%s" % a["name"] for a in apps] + extra + ["secrets"],
        "images": [{"name": a["image"], "newTag": env["image_tag"]} for a in apps],
        "patches": patches,
    }
    fixed = [{"name": a["name"], "count": env["apps"][a["name"]]["replicas"]} for a in apps
             if env["apps"][a["name"]]["hpa"] is None]
    if fixed:
        doc["replicas"] = fixed
    return doc
