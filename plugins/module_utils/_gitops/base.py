# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared objects of base/: Namespace (PSA restricted), TLSOption, NetworkPolicies, PDBs, Middlewares.

PRIVATE to parametric_portal.infra. Numbers that are requirements of the spec live here as constants
(rate limits per second, TLS cipher suites); names the database pods are selected by come from the
cnpg role (platform["cnpg"]).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.apps import TRAEFIK_API
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.k8s import PART_OF_LABELS, labels, meta

RATE_LIMITS_PER_SECOND = {"api": (100, 200), "web": (50, 100)}  # the spec's base resources: average/burst req/s
TLS_CIPHER_SUITES = [
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
]
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


def namespace(name: str) -> dict:
    psa = {"pod-security.kubernetes.io/%s" % mode: "restricted" for mode in ("enforce", "audit", "warn")}
    psa.update({"pod-security.kubernetes.io/%s-version" % mode: "latest" for mode in ("enforce", "audit", "warn")})
    psa.update(labels(name))
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name, object_labels=psa)}


def tls_option(ns: str) -> dict:
    return {
        "apiVersion": TRAEFIK_API, "kind": "TLSOption",
        "metadata": meta("default", ns, dict(PART_OF_LABELS)),
        "spec": {"minVersion": "VersionTLS12", "maxVersion": "VersionTLS13", "sniStrict": True,
                 "cipherSuites": list(TLS_CIPHER_SUITES), "curvePreferences": ["X25519", "CurveP256", "CurveP384"]},
    }


def _namespace_selector(name: str) -> dict:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def _names_in(apps: List[Dict[str, Any]]) -> dict:
    return {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": [a["name"] for a in apps]}]}


def _tcp(*ports: int) -> List[dict]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _dns_egress() -> dict:
    return {"to": [dict(_namespace_selector("kube-system"), podSelector={"matchLabels": {"k8s-app": "kube-dns"}})],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}


def _np(name: str, ns: str, pod_selector: dict, types: List[str], purpose: str,
        ingress: Optional[list] = None, egress: Optional[list] = None) -> dict:
    spec: Dict[str, Any] = {"podSelector": pod_selector, "policyTypes": types}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": meta(name, ns, dict(PART_OF_LABELS), {"parametric-portal.com/purpose": purpose}),
            "spec": spec}


def network_policies(apps: List[Dict[str, Any]], ns: str, platform: Dict[str, Any]) -> List[dict]:
    """default-deny-all, allow-traefik-ingress, allow-<app>-egress per app, allow-cnpg-operator."""
    traefik = dict(_namespace_selector("kube-system"), podSelector={"matchLabels": {"app.kubernetes.io/name": "traefik"}})
    docs = [
        _np("default-deny-all", ns, {}, ["Ingress", "Egress"], "Zero-trust baseline: deny all traffic not allowed below"),
        _np("allow-traefik-ingress", ns, _names_in(apps), ["Ingress"], "Ingress from Traefik (kube-system) to the app ports",
            ingress=[{"from": [traefik], "ports": _tcp(*[a["port"] for a in apps])}]),
    ]
    docs.extend(_app_egress(app, apps, ns, platform) for app in apps)
    docs.append(_cnpg_policy(apps, ns, platform))
    return docs


def _app_egress(app: Dict[str, Any], apps: List[Dict[str, Any]], ns: str, platform: Dict[str, Any]) -> dict:
    cluster = {"cnpg.io/cluster": platform["cnpg"]["cluster_name"]}
    apis = [a for a in apps if a["kind"] == "node-api"]
    egress = [_dns_egress()]
    if app["kind"] == "node-api":
        purpose = "DNS + PostgreSQL + HTTPS + OTLP egress of %s" % app["name"]
        egress.append({"to": [{"podSelector": {"matchLabels": cluster}}], "ports": _tcp(5432)})
        egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}], "ports": _tcp(443)})
        egress.append({"to": [_namespace_selector(platform["monitoring"]["namespace"])], "ports": _tcp(4317, 4318)})
    else:
        purpose = "DNS + API service egress of %s" % app["name"]
        if apis:
            egress.append({"to": [{"podSelector": _names_in(apis)}], "ports": _tcp(*[a["port"] for a in apis])})
    return _np("allow-%s-egress" % app["name"], ns, {"matchLabels": {"app.kubernetes.io/name": app["name"]}},
               ["Egress"], purpose, egress=egress)


def _cnpg_policy(apps: List[Dict[str, Any]], ns: str, platform: Dict[str, Any]) -> dict:
    cluster = {"cnpg.io/cluster": platform["cnpg"]["cluster_name"]}
    apis = [a for a in apps if a["kind"] == "node-api"]
    ingress = [
        {"from": [_namespace_selector(platform["cnpg"]["operator_namespace"])], "ports": _tcp(8000, 5432)},
        {"from": [{"podSelector": {"matchLabels": cluster}}], "ports": _tcp(5432)},
    ]
    if apis:
        ingress.append({"from": [{"podSelector": _names_in(apis)}], "ports": _tcp(5432)})
    egress = [
        _dns_egress(),
        {"to": [{"podSelector": {"matchLabels": cluster}}], "ports": _tcp(5432)},
        # Kubernetes API (instance manager) and S3 backups (barman-cloud).
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": _tcp(443, 6443)},
    ]
    return _np("allow-cnpg-operator", ns, {"matchLabels": cluster}, ["Ingress", "Egress"],
               "CNPG operator -> postgres (status 8000, 5432), replication, API clients; postgres egress to the "
               "Kubernetes API and S3", ingress=ingress, egress=egress)


def pod_disruption_budgets(apps: List[Dict[str, Any]], ns: str, platform: Dict[str, Any]) -> List[dict]:
    """minAvailable 1 for every app and for the database pods."""
    docs = [{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
             "metadata": meta("%s-pdb" % a["name"], ns, labels(a["name"])),
             "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": a["name"]}}}}
            for a in apps]
    docs.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                 "metadata": meta("postgres-pdb", ns, dict(PART_OF_LABELS)),
                 "spec": {"minAvailable": 1, "selector": {"matchLabels": {"cnpg.io/cluster": platform["cnpg"]["cluster_name"]}}}})
    return docs


def _middleware(name: str, ns: str, spec: dict) -> dict:
    return {"apiVersion": TRAEFIK_API, "kind": "Middleware", "metadata": meta(name, ns, dict(PART_OF_LABELS)), "spec": spec}


def shared_middlewares(ns: str) -> List[dict]:
    """rate-limit-api/-web, redirect-to-https, compress and the http-redirect IngressRoute."""
    docs = [_middleware("rate-limit-%s" % k, ns, {"rateLimit": {"average": avg, "burst": burst, "period": "1s"}})
            for k, (avg, burst) in sorted(RATE_LIMITS_PER_SECOND.items())]
    docs.append(_middleware("redirect-to-https", ns, {"redirectScheme": {"scheme": "https", "permanent": True}}))
    docs.append(_middleware("compress", ns, {"compress": {"encodings": ["br", "gzip"], "minResponseBodyBytes": 1024}}))
    docs.append({"apiVersion": TRAEFIK_API, "kind": "IngressRoute", "metadata": meta("http-redirect", ns, dict(PART_OF_LABELS)),
                 "spec": {"entryPoints": ["web"],
                          "routes": [{"kind": "Rule", "match": "PathPrefix(`/`)", "priority": 1,
                                      "middlewares": [{"name": "redirect-to-https"}],
                                      "services": [{"kind": "TraefikService", "name": "noop@internal"}]}]}})
    return docs
