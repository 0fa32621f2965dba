# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The objects of one app of the apps model (apps/<name>/): Deployment, Service, IngressRoute, Middlewares.

PRIVATE to parametric_portal.infra. Inputs are normalised apps-model entries (model.validate_apps).
Every Deployment satisfies Pod Security Standards restricted plus a read-only root filesystem.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.checks import ManifestError
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.k8s import labels, meta

TRAEFIK_API = "traefik.io/v1alpha1"


def restricted_security_context(run_as_user: int = 10001, run_as_group: Optional[int] = None) -> Dict[str, dict]:
    """Pod- and container-level securityContext that satisfy PSS restricted (plus read-only root).

    Returns ``{"pod": {...}, "container": {...}}``.
    """
    if isinstance(run_as_user, bool) or not isinstance(run_as_user, int) or run_as_user < 1:
        raise ManifestError("run_as_user: must be a positive integer (0 is root), got %r" % (run_as_user,))
    group = run_as_user if run_as_group is None else run_as_group
    seccomp = {"type": "RuntimeDefault"}
    return {
        "pod": {"runAsNonRoot": True, "runAsUser": run_as_user, "runAsGroup": group, "fsGroup": group,
                "seccompProfile": dict(seccomp)},
        "container": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                      "runAsUser": run_as_user, "runAsGroup": group, "privileged": False,
                      "capabilities": {"drop": ["ALL"]}, "seccompProfile": dict(seccomp)},
    }


def middleware_chain(app: Dict[str, Any], rate_limiting: bool = True) -> List[str]:
    """Ordered middleware names of an app's chain: www redirect, rate limit, security headers, compress."""
    chain = []
    if app.get("www_redirect"):
        chain.append("%s-www-redirect" % app["name"])
    if rate_limiting and app.get("rate_limit", "none") != "none":
        chain.append("rate-limit-%s" % app["rate_limit"])
    chain.append("%s-security-headers" % app["name"])
    chain.append("compress")
    return chain


def content_security_policy(app: Dict[str, Any]) -> str:
    """CSP of an app: strict ``'self'`` for SPAs with the app's connect-src, ``'none'`` for APIs."""
    connect = " ".join(["'self'"] + list(app.get("connect_src") or []))
    if app.get("kind") == "node-api":
        return "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            "connect-src %s; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; "
            "upgrade-insecure-requests" % connect)


def _probe(app: Dict[str, Any], period: int, failure: int) -> dict:
    return {"httpGet": {"path": app["health_path"], "port": "http"}, "periodSeconds": period,
            "timeoutSeconds": 3, "failureThreshold": failure}


def _container(app: Dict[str, Any], limits: Dict[str, str], log_level: str, security_context: dict) -> dict:
    env = [{"name": "PORT", "value": str(app["port"])}, {"name": "LOG_LEVEL", "value": log_level}]
    if app["kind"] == "node-api":
        env.append({"name": "NODE_ENV", "value": "production"})
    env.extend({"name": k, "value": v} for k, v in sorted(app["env"].items()))
    liveness = _probe(app, 10, 3)
    liveness["initialDelaySeconds"] = 10
    return {
        "name": app["name"],
        # The tag comes from the overlay (kustomize images:): dev or sha-XXXXXXX.
        "image": app["image"],
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": app["port"], "protocol": "TCP"}],
        "env": env,
        "resources": {"requests": dict(app["requests"]), "limits": dict(limits)},
        "livenessProbe": liveness,
        "readinessProbe": _probe(app, 5, 3),
        "securityContext": security_context,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def deployment(app: Dict[str, Any], namespace: str, limits: Dict[str, str], log_level: str = "INFO") -> dict:
    """The app's restricted Deployment (no replicas: the overlay or an HPA decides)."""
    sc = restricted_security_context(app["run_as_user"])
    component = "api" if app["kind"] == "node-api" else "frontend"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(app["name"], namespace, labels(app["name"], component)),
        "spec": {
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app["name"]}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels(app["name"], component)},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": sc["pod"],
                    "containers": [_container(app, limits, log_level, sc["container"])],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def service(app: Dict[str, Any], namespace: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(app["name"], namespace, labels(app["name"])),
        "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": app["name"]},
                 "ports": [{"name": "http", "port": app["port"], "targetPort": "http", "protocol": "TCP"}]},
    }


def host_rule(hosts: List[str]) -> str:
    """Traefik rule matching any of ``hosts``."""
    return " || ".join("Host(`%s`)" % h for h in hosts)


def app_ingressroute(app: Dict[str, Any], namespace: str, cert_resolver: str) -> dict:
    hosts = [app["domain"]] + (["www." + app["domain"]] if app["www_redirect"] else [])
    tls: Dict[str, Any] = {"certResolver": cert_resolver, "domains": [{"main": app["domain"]}]}
    if app["www_redirect"]:
        tls["domains"][0]["sans"] = ["www." + app["domain"]]
    return {
        "apiVersion": TRAEFIK_API,
        "kind": "IngressRoute",
        "metadata": meta("%s-https" % app["name"], namespace, labels(app["name"])),
        "spec": {
            "entryPoints": ["websecure"],
            "routes": [{"kind": "Rule", "match": host_rule(hosts),
                        "middlewares": [{"name": "%s-middleware-chain" % app["name"]}],
                        "services": [{"name": app["name"], "port": app["port"]}]}],
            "tls": tls,
        },
    }


def security_headers(name: str, namespace: str, csp: str, object_labels: Optional[dict] = None) -> dict:
    """A headers Middleware: HSTS (1 year, preload), frame deny, nosniff, referrer and permissions policy, CSP."""
    return {
        "apiVersion": TRAEFIK_API,
        "kind": "Middleware",
        "metadata": meta(name, namespace, object_labels),
        "spec": {"headers": {
            "stsSeconds": 31536000, "stsIncludeSubdomains": True, "stsPreload": True, "forceSTSHeader": True,
            "frameDeny": True, "contentTypeNosniff": True, "browserXssFilter": True,
            "referrerPolicy": "strict-origin-when-cross-origin",
            "permissionsPolicy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
            "contentSecurityPolicy": csp,
            "customResponseHeaders": {"Server": "", "X-Powered-By": ""},
        }},
    }


def app_middlewares(app: Dict[str, Any], namespace: str, rate_limiting: bool = True) -> List[dict]:
    """The app's Middlewares: security headers, the www redirect (when asked for) and the chain."""
    app_labels = labels(app["name"])
    docs = [security_headers("%s-security-headers" % app["name"], namespace, content_security_policy(app), app_labels)]
    if app["www_redirect"]:
        docs.append({
            "apiVersion": TRAEFIK_API, "kind": "Middleware",
            "metadata": meta("%s-www-redirect" % app["name"], namespace, app_labels),
            "spec": {"redirectRegex": {"regex": "^https?://www\\.%s/(.*)" % re.escape(app["domain"]).replace("\\-", "-"),
                                       "replacement": "https://%s/${1}" % app["domain"], "permanent": True}},
        })
    docs.append(chain_middleware(app, namespace, rate_limiting))
    return docs


def chain_middleware(app: Dict[str, Any], namespace: str, rate_limiting: bool = True) -> dict:
    return {
        "apiVersion": TRAEFIK_API, "kind": "Middleware",
        "metadata": meta("%s-middleware-chain" % app["name"], namespace, labels(app["name"])),
        "spec": {"chain": {"middlewares": [{"name": n} for n in middleware_chain(app, rate_limiting)]}},
    }
