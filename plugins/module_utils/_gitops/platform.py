# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the owning roles contribute to the tree, checked, and the platform/ objects built from it.

PRIVATE to parametric_portal.infra. The roles publish their part through their ``gitops`` entry point
(traefik_gitops, argocd_gitops, cnpg_gitops, kyverno_gitops, monitoring_gitops); validate_platform
requires every key of PLATFORM_SPEC (the generator has no defaults of its own). kyverno_objects checks
the kyverno role's policies and exceptions; monitoring_resources builds platform/monitoring/.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.parametric_portal.infra.plugins.module_utils._host_inputs import network_errors
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.apps import (
    TRAEFIK_API,
    host_rule,
    security_headers,
)
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.checks import (
    DOMAIN_RE,
    NAME_RE,
    ManifestError,
    as_dict,
    check_int,
    check_str,
    fail,
)
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.k8s import PART_OF_LABELS, meta

_RULES = {
    "dns": (DOMAIN_RE, "a DNS name"),
    "label": (NAME_RE, "a DNS label"),
    "url": (re.compile(r"^(https://|ssh://|git@)\S+$"), "an https:// or ssh git/chart URL"),
    "version": (re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$"), "a chart version like 3.6.1"),
    "revision": (re.compile(r"^\S+$"), "a git revision"),
}
_CHART = {"chart_repo_url": "url", "chart": "label", "chart_version": "version", "release": "label", "chart_values": dict}
# What the renderer takes from the roles that own it (playbooks/gitops_render.yml collects it from their
# `gitops` entry points): every key is required, the renderer has no defaults of its own.
PLATFORM_SPEC: Dict[str, Any] = {
    "domain": "dns",
    "namespace": "label",
    "traefik": {"cert_resolver": "label"},
    "argocd": {"namespace": "label", "project": "label", "repo_url": "url", "revision": "revision"},
    "cnpg": {"operator_namespace": "label", "cluster_name": "label"},
    "kyverno": dict(_CHART, namespace="label", policies=list, exceptions=list),
    "monitoring": dict(_CHART, namespace="label", grafana_domain="dns", grafana_service="label", grafana_port=int,
                       grafana_allowed_cidrs=list, dashboards=dict),
}
DASHBOARD_PANEL_HEIGHT = 8
DASHBOARD_PANEL_WIDTH = 12
GRAFANA_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
               "object-src 'none'; base-uri 'self'")
ARGOCD_METRICS_COMPONENTS = ["argocd-application-controller", "argocd-applicationset-controller", "argocd-repo-server",
                             "argocd-server"]


def validate_platform(platform: Any, spec: Optional[Dict[str, Any]] = None, field: str = "platform") -> Dict[str, Any]:
    """Checked copy of the platform settings: exactly the keys of PLATFORM_SPEC, each of its form."""
    spec = PLATFORM_SPEC if spec is None else spec
    if not isinstance(platform, dict):
        fail(field, "must be a mapping with %s" % ", ".join(sorted(spec)))
    for key in sorted(platform):
        if key not in spec:
            fail("%s.%s" % (field, key), "unknown key (known: %s)" % ", ".join(sorted(spec)))
    out = {}
    for key, rule in spec.items():
        where = "%s.%s" % (field, key)
        if key not in platform or platform[key] is None:
            fail(where, "is required")
        out[key] = _platform_value(platform[key], rule, where)
    return out


def _platform_value(value: Any, rule: Any, where: str) -> Any:
    if isinstance(rule, dict):
        return validate_platform(value, rule, where)
    if rule is int:
        return check_int(value, where, 1, 65535)
    if isinstance(rule, type):
        if not isinstance(value, rule):
            fail(where, "must be a %s, got %r" % ("mapping" if rule is dict else "list", value))
        return value
    regex, expected = _RULES[rule]
    return check_str(str(value) if rule in ("version", "revision") else value, where, regex, expected)


def _rule_names(policy: dict) -> List[str]:
    return [str(as_dict(rule).get("name")) for rule in as_dict(policy.get("spec")).get("rules") or []]


def _object_of_kind(obj: Any, kind: str, where: str) -> None:
    if not isinstance(obj, dict) or obj.get("kind") != kind or not as_dict(obj.get("metadata")).get("name"):
        fail(where, "must be a %s object with metadata.name" % kind)


def _check_exception(exception: dict, rules: Dict[str, set], where: str) -> None:
    for entry in as_dict(exception.get("spec")).get("exceptions") or []:
        name = as_dict(entry).get("policyName")
        if name not in rules:
            fail(where, "names policy %r, which the kyverno role does not ship (%s)" % (name, ", ".join(sorted(rules))))
        unknown = [r for r in entry.get("ruleNames") or [] if str(r).replace("autogen-", "", 1) not in rules[name]]
        if unknown:
            fail(where, "names rule(s) %s that policy %s does not have" % (", ".join(unknown), name))


def kyverno_objects(kyverno: Dict[str, Any]) -> Tuple[List[dict], List[dict]]:
    """The kyverno role's ClusterPolicies and PolicyExceptions, checked; exceptions put into its namespace.

    Every exception must name existing policies and rules (``autogen-<rule>`` counts: Kyverno generates
    it for the pod controllers).
    """
    rules = {}
    for index, policy in enumerate(kyverno["policies"]):
        _object_of_kind(policy, "ClusterPolicy", "platform.kyverno.policies[%d]" % index)
        rules[policy["metadata"]["name"]] = set(_rule_names(policy))
    exceptions = []
    for index, exception in enumerate(kyverno["exceptions"]):
        where = "platform.kyverno.exceptions[%d]" % index
        _object_of_kind(exception, "PolicyException", where)
        _check_exception(exception, rules, where)
        exceptions.append(dict(exception, metadata=dict(exception["metadata"], namespace=kyverno["namespace"])))
    return list(kyverno["policies"]), exceptions


def _replace_token(value: Any, token: str, text: str) -> Any:
    if isinstance(value, dict):
        return {k: _replace_token(v, token, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_token(v, token, text) for v in value]
    if isinstance(value, str):
        return value.replace(token, text)
    return value


def dashboard(board: Any, apps: List[Dict[str, Any]], where: str) -> dict:
    """A Grafana dashboard of the monitoring role with its panels laid out two per row.

    A panel with ``perApp: true`` stands for one panel per app of the apps model: every ``<app>`` in its
    strings becomes the app's name. ``id`` and ``gridPos`` are assigned here, in panel order.
    """
    if not isinstance(board, dict) or not isinstance(board.get("panels"), list):
        fail(where, "must be a Grafana dashboard object with a panels list")
    panels = []
    for panel in board["panels"]:
        panel = dict(as_dict(panel))
        if panel.pop("perApp", False):
            panels.extend(_replace_token(panel, "<app>", app["name"]) for app in apps)
        else:
            panels.append(panel)
    for index, panel in enumerate(panels):
        panel["id"] = index + 1
        panel["gridPos"] = {"h": DASHBOARD_PANEL_HEIGHT, "w": DASHBOARD_PANEL_WIDTH,
                            "x": (index % 2) * DASHBOARD_PANEL_WIDTH, "y": (index // 2) * DASHBOARD_PANEL_HEIGHT}
    return dict(board, panels=panels)


def grafana_allow_list(cidrs: Any) -> List[str]:
    """The networks allowed to reach Grafana: at least one, none of them the whole Internet.

    Grafana is published only behind this allow-list (Traefik ipAllowList, client addresses kept by the
    traefik role's externalTrafficPolicy Local); its own login is the second barrier.
    """
    field = "platform.monitoring.grafana_allowed_cidrs (monitoring_grafana_allowed_cidrs)"
    if not isinstance(cidrs, list) or not cidrs:
        fail(field, "must list the networks allowed to reach Grafana (e.g. [203.0.113.0/24]); Grafana is never "
                    "published to the whole Internet")
    errors = network_errors({field: cidrs}, allow_any=False)
    if errors:
        raise ManifestError("; ".join(errors))
    return [str(c).strip() for c in cidrs]


def _grafana_ingress(platform: Dict[str, Any]) -> List[dict]:
    mon = platform["monitoring"]
    ns, labels = mon["namespace"], dict(PART_OF_LABELS)
    allow = {"apiVersion": TRAEFIK_API, "kind": "Middleware", "metadata": meta("grafana-allowlist", ns, labels),
             "spec": {"ipAllowList": {"sourceRange": grafana_allow_list(mon["grafana_allowed_cidrs"])}}}
    return [
        allow,
        security_headers("grafana-security-headers", ns, GRAFANA_CSP, labels),
        {"apiVersion": TRAEFIK_API, "kind": "IngressRoute", "metadata": meta("grafana", ns, labels),
         "spec": {"entryPoints": ["websecure"],
                  "routes": [{"kind": "Rule", "match": host_rule([mon["grafana_domain"]]),
                              "middlewares": [{"name": "grafana-allowlist"}, {"name": "grafana-security-headers"}],
                              "services": [{"name": mon["grafana_service"], "port": mon["grafana_port"]}]}],
                  "tls": {"certResolver": platform["traefik"]["cert_resolver"], "domains": [{"main": mon["grafana_domain"]}]}}},
    ]


def _argocd_podmonitor(platform: Dict[str, Any]) -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
        "metadata": meta("argocd", platform["monitoring"]["namespace"], dict(PART_OF_LABELS),
                         {"argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true"}),
        "spec": {"namespaceSelector": {"matchNames": [platform["argocd"]["namespace"]]},
                 "selector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In",
                                                    "values": list(ARGOCD_METRICS_COMPONENTS)}]},
                 "podMetricsEndpoints": [{"port": "metrics", "interval": "30s", "path": "/metrics"}]},
    }


def monitoring_resources(platform: Dict[str, Any], apps: List[Dict[str, Any]]) -> Dict[str, List[dict]]:
    """platform/monitoring files: Grafana IngressRoute (+ headers), Argo CD PodMonitor, dashboards."""
    mon = platform["monitoring"]
    out: Dict[str, List[dict]] = {"ingressroute.yaml": _grafana_ingress(platform),
                                  "podmonitor-argocd.yaml": [_argocd_podmonitor(platform)]}
    for name, board in sorted(mon["dashboards"].items()):
        board = dashboard(board, apps, "platform.monitoring.dashboards.%s" % name)
        out["dashboard-%s.yaml" % name] = [{
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": meta("dashboard-%s" % name, mon["namespace"], dict(PART_OF_LABELS, grafana_dashboard="1")),
            "data": {"%s.json" % name: json.dumps(board, indent=2, sort_keys=True) + "\n"},
        }]
    return out
