"""The platform's resource budget and image table, computed from our values (docs/platform.md shows them).

Budget rows: K3s' own components as K3s documents and ships them; every pod every chart deploys
with our values (chartmodel; steady state: Jobs and hook pods are transient and not counted); the
PostgreSQL instances of the CloudNativePG Cluster; the apps of inventories/prod at their production
replica count (the HPA minimum, from `kubectl kustomize infrastructure/overlays/prod`). A pod's
request is Kubernetes' effective request: max(sum of its containers, largest init container).
"""
from __future__ import annotations

import re
import shutil
from functools import lru_cache
import subprocess
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import yaml

from . import conftest

# K3s v1.32 packaged components (not values of ours). Sources: docs.k3s.io "Resource Profiling"
# (K3s server with a workload, Kine/SQLite: 6 % of a core, 1596 M), and the manifests K3s ships
# (manifests/coredns.yaml, manifests/metrics-server/metrics-server-deployment.yaml,
# manifests/local-storage.yaml; ServiceLB's svclb DaemonSet pods carry no resources).
K3S_ROWS = (
    ("host", "k3s server (k3s.service: API server, controllers, kubelet, containerd)", 1,
     {"requests": {"cpu": "60m", "memory": "1596M"}}, "K3s docs, Resource Profiling (documented minimum)"),
    ("kube-system", "coredns", 1, {"requests": {"cpu": "100m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}},
     "K3s manifests/coredns.yaml"),
    ("kube-system", "metrics-server", 1, {"requests": {"cpu": "100m", "memory": "70Mi"}},
     "K3s manifests/metrics-server"),
    ("kube-system", "local-path-provisioner", 1, {}, "K3s manifests/local-storage.yaml (no resources)"),
    ("kube-system", "svclb-traefik (ServiceLB, 2 containers)", 1, {}, "K3s ServiceLB DaemonSet (no resources)"),
)
CHART_NAMESPACES = {"traefik": "kube-system", "argocd": "argocd", "sealed_secrets": "kube-system",
                    "cnpg": "cnpg-system", "kyverno": "kyverno", "monitoring": "monitoring"}
HEADROOM = 0.25

_UNITS = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def cpu_m(value) -> float:
    text = str(value)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


def mem_mi(value) -> float:
    text = str(value)
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text)
    if not match:
        raise ValueError("not a quantity: %r" % value)
    number, unit = match.groups()
    return float(number) * (_UNITS[unit] if unit else 1) / 2 ** 20


@dataclass
class Row:
    namespace: str
    pod: str
    replicas: int
    cpu_req: float
    mem_req: float
    cpu_lim: Optional[float]  # None: no limit (unbounded)
    mem_lim: Optional[float]
    source: str


def pod_resources(containers: List[dict], inits: List[dict]) -> Tuple[float, float, Optional[float], Optional[float]]:
    def total(items, kind, key, conv):
        values = [(c.get("resources") or {}).get(kind, {}).get(key) for c in items]
        if kind == "limits" and any(v is None for v in values):
            return None
        return sum(conv(v) for v in values if v is not None)

    out = []
    for kind, key, conv in (("requests", "cpu", cpu_m), ("requests", "memory", mem_mi),
                            ("limits", "cpu", cpu_m), ("limits", "memory", mem_mi)):
        main = total(containers, kind, key, conv)
        init = [total([c], kind, key, conv) for c in inits]
        if main is None or any(i is None for i in init):
            out.append(None if kind == "limits" else (main or 0))
        else:
            out.append(max([main] + init))
    return tuple(out)  # type: ignore[return-value]


def chart_rows() -> List[Row]:
    from .test_components import MODEL, values_for

    rows = []
    for chart, components in MODEL.items():
        values = values_for(chart)
        for component in components:
            vals = values(component)
            if not component.enabled(vals) or component.hook or component.pod.startswith(("Job/", "Pod/")):
                continue
            spec = component.pod_spec(vals)
            req_cpu, req_mem, lim_cpu, lim_mem = pod_resources(spec["containers"], spec.get("initContainers", []))
            rows.append(Row(CHART_NAMESPACES[chart], component.pod, component.replica_count(vals), req_cpu, req_mem,
                            lim_cpu, lim_mem, "chart values (%s)" % chart))
    return rows


def postgres_rows() -> List[Row]:
    defaults = yaml.safe_load((conftest.ROLES / "cnpg" / "defaults" / "main.yml").read_text())
    infra_env = conftest.prod_var("infra_env")
    instances = int(infra_env["postgres"]["instances"])
    res = defaults["cnpg_resources"]
    name = defaults["cnpg_cluster_name"]
    return [Row(infra_env["namespace"], "Cluster/%s (PostgreSQL instances)" % name, instances,
                cpu_m(res["requests"]["cpu"]), mem_mi(res["requests"]["memory"]), cpu_m(res["limits"]["cpu"]),
                mem_mi(res["limits"]["memory"]), "roles/cnpg cnpg_resources x infra_env.postgres.instances")]


@lru_cache(maxsize=None)
def _prod_overlay() -> str:
    kubectl = shutil.which("kubectl") or str(conftest.REPO_ROOT / ".venv" / "bin" / "kubectl")
    return subprocess.run([kubectl, "kustomize", str(conftest.REPO_ROOT / "infrastructure" / "overlays" / "prod")],
                          capture_output=True, text=True, check=True, timeout=120).stdout


def app_rows() -> List[Row]:
    docs = [d for d in yaml.safe_load_all(_prod_overlay()) if d]
    hpa_min = {d["spec"]["scaleTargetRef"]["name"]: d["spec"]["minReplicas"] for d in docs
               if d["kind"] == "HorizontalPodAutoscaler"}
    rows = []
    for d in docs:
        if d["kind"] != "Deployment":
            continue
        name = d["metadata"]["name"]
        spec = d["spec"]["template"]["spec"]
        req_cpu, req_mem, lim_cpu, lim_mem = pod_resources(spec["containers"], spec.get("initContainers", []))
        replicas = hpa_min.get(name, d["spec"].get("replicas", 1))
        rows.append(Row(d["metadata"]["namespace"], "Deployment/%s" % name, replicas, req_cpu, req_mem, lim_cpu, lim_mem,
                        "overlays/prod (HPA minimum)" if name in hpa_min else "overlays/prod"))
    return rows


def k3s_rows() -> List[Row]:
    rows = []
    for namespace, pod, replicas, res, source in K3S_ROWS:
        req, lim = res.get("requests", {}), res.get("limits", {})
        rows.append(Row(namespace, pod, replicas, cpu_m(req.get("cpu", "0")), mem_mi(req.get("memory", "0")),
                        cpu_m(lim["cpu"]) if "cpu" in lim else None, mem_mi(lim["memory"]) if "memory" in lim else None,
                        source))
    return rows


def node_capacity() -> Tuple[float, float]:
    """The smallest VPS preflight accepts for prod (inventories/prod): vCPUs and MiB of memory."""
    return float(conftest.prod_var("preflight_min_vcpus")) * 1000, float(conftest.prod_var("preflight_min_memory_mib"))


def budget() -> Tuple[List[Row], Dict[str, float]]:
    rows = k3s_rows() + chart_rows() + postgres_rows() + app_rows()
    cpu, mem = node_capacity()
    totals = {
        "cpu_req": sum(r.cpu_req * r.replicas for r in rows),
        "mem_req": sum(r.mem_req * r.replicas for r in rows),
        "cpu_lim": sum((r.cpu_lim or 0) * r.replicas for r in rows),
        "mem_lim": sum((r.mem_lim or 0) * r.replicas for r in rows),
        "cpu_cap": cpu, "mem_cap": mem,
        "cpu_budget": cpu * (1 - HEADROOM), "mem_budget": mem * (1 - HEADROOM),
    }
    return rows, totals


def _fmt_cpu(value: Optional[float]) -> str:
    return "-" if value is None else ("%dm" % round(value))


def _fmt_mem(value: Optional[float]) -> str:
    return "-" if value is None else ("%dMi" % round(value))


def budget_table() -> str:
    rows, t = budget()
    lines = ["| namespace | pod | replicas | CPU request | memory request | CPU limit | memory limit | source |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append("| %s | %s | %d | %s | %s | %s | %s | %s |" % (
            r.namespace, r.pod, r.replicas, _fmt_cpu(r.cpu_req * r.replicas), _fmt_mem(r.mem_req * r.replicas),
            _fmt_cpu(None if r.cpu_lim is None else r.cpu_lim * r.replicas),
            _fmt_mem(None if r.mem_lim is None else r.mem_lim * r.replicas), r.source))
    lines.append("| **total** | %d pods | | **%s** | **%s** | %s | %s | limits: '-' = none (not counted) |" % (
        sum(r.replicas for r in rows), _fmt_cpu(t["cpu_req"]), _fmt_mem(t["mem_req"]), _fmt_cpu(t["cpu_lim"]),
        _fmt_mem(t["mem_lim"])))
    lines.append(("| **budget** | 75 %% of the node (%s CPU, %s memory: preflight minimum of inventories/prod) | | %s | %s "
                  "| | | %d %% / %d %% of the budget used |") % (
        _fmt_cpu(t["cpu_cap"]), _fmt_mem(t["mem_cap"]), _fmt_cpu(t["cpu_budget"]), _fmt_mem(t["mem_budget"]),
        round(100 * t["cpu_req"] / t["cpu_budget"]), round(100 * t["mem_req"] / t["mem_budget"])))
    return "\n".join(lines)


def image_table() -> str:
    from .test_components import MODEL, NEVER_RUN_HOOKS, values_for

    lines = ["| chart | image | used by |", "|---|---|---|"]
    for chart, components in MODEL.items():
        values = values_for(chart)
        used: Dict[str, List[str]] = {}
        for component in components:
            vals = values(component)
            if not component.enabled(vals):
                continue
            note = component.pod + (" (Helm test hook, never run)" if component.hook in NEVER_RUN_HOOKS else "")
            for container in component.containers:
                used.setdefault(container.image.render(vals), []).append(note)
        for image in sorted(used):
            lines.append("| %s | `%s` | %s |" % (chart, image, ", ".join(sorted(set(used[image])))))
    cnpg = yaml.safe_load((conftest.ROLES / "cnpg" / "defaults" / "main.yml").read_text())
    lines.append("| cnpg (Cluster operand) | `%s` | Cluster/%s |" % (cnpg["cnpg_postgres_image"], cnpg["cnpg_cluster_name"]))
    return "\n".join(lines)
