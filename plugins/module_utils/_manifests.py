# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure manifest logic of the GitOps tree: apps model checks, object builders, restricted checks.

PRIVATE to the parametric_portal.infra collection: this module is not a public API and may
change at any time without notice. The gitops_render module, the manifest filters, roles and tests
of this collection use it. Everything here is deterministic and free of I/O except the explicit
file helpers of the renderer (render_tree/plan_tree work on an in-memory mapping).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, List, Optional, Tuple

# --------------------------------------------------------------------------------------------
# Pod Security Standards, restricted profile (Kubernetes docs "Pod Security Standards")
# --------------------------------------------------------------------------------------------
RESTRICTED_VOLUME_TYPES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
SAFE_SYSCTLS = (
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
)
ALLOWED_SELINUX_TYPES = ("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t")
ALLOWED_SECCOMP = ("RuntimeDefault", "Localhost")
WORKLOAD_POD_TEMPLATE_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def _d(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def pod_templates(obj: Any) -> List[Tuple[str, dict]]:
    """(dotted path, pod spec) of the pod template of a workload object; [] for other kinds."""
    if not isinstance(obj, dict):
        return []
    path = WORKLOAD_POD_TEMPLATE_PATHS.get(str(obj.get("kind")))
    if not path:
        return []
    node: Any = obj
    for key in path:
        node = _d(node).get(key)
    return [(".".join(path), node if isinstance(node, dict) else {})]


def restricted_violations(pod_spec: Any) -> List[str]:
    """Violations of the Pod Security Standards *restricted* profile (which includes baseline).

    Returns messages like ``containers[0].securityContext.allowPrivilegeEscalation must be false``
    (paths relative to the pod spec); an empty list means the pod spec is compliant. Checked:
    host namespaces, hostProcess, privileged, capabilities (drop ALL, add only NET_BIND_SERVICE),
    hostPath/volume types, host ports, AppArmor, SELinux, /proc mount, seccomp
    (RuntimeDefault/Localhost, set on the pod or on every container), sysctls, runAsNonRoot,
    runAsUser != 0 and allowPrivilegeEscalation false, for containers, initContainers and
    ephemeralContainers.
    """
    spec = _d(pod_spec)
    out: List[str] = []
    if not isinstance(pod_spec, dict):
        return ["pod spec is not an object"]
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            out.append("%s must not be true" % key)
    pod_sc = _d(spec.get("securityContext"))
    pod_seccomp = _d(pod_sc.get("seccompProfile")).get("type")
    if pod_seccomp is not None and pod_seccomp not in ALLOWED_SECCOMP:
        out.append("securityContext.seccompProfile.type must be RuntimeDefault or Localhost, not %s" % pod_seccomp)
    if pod_sc.get("runAsUser") == 0:
        out.append("securityContext.runAsUser must not be 0")
    if pod_sc.get("runAsNonRoot") is False:
        out.append("securityContext.runAsNonRoot must not be false")
    out.extend(_selinux_apparmor("securityContext", pod_sc))
    if _d(pod_sc.get("windowsOptions")).get("hostProcess"):
        out.append("securityContext.windowsOptions.hostProcess must not be true")
    for index, sysctl in enumerate(pod_sc.get("sysctls") or []):
        name = _d(sysctl).get("name")
        if name not in SAFE_SYSCTLS:
            out.append("securityContext.sysctls[%d] %s is not a safe sysctl" % (index, name))
    for index, volume in enumerate(spec.get("volumes") or []):
        kinds = [k for k in _d(volume) if k != "name"]
        bad = [k for k in kinds if k not in RESTRICTED_VOLUME_TYPES]
        if bad:
            out.append("volumes[%d] (%s) uses %s; allowed: %s" % (
                index, _d(volume).get("name"), ", ".join(sorted(bad)), ", ".join(RESTRICTED_VOLUME_TYPES)))

    pod_non_root = pod_sc.get("runAsNonRoot") is True
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in enumerate(spec.get(group) or []):
            where = "%s[%d]" % (group, index)
            out.extend(_container_violations(where, _d(container), pod_seccomp, pod_non_root))
    return out


def _selinux_apparmor(prefix: str, sc: dict) -> List[str]:
    out = []
    selinux = _d(sc.get("seLinuxOptions"))
    if selinux.get("type", "") not in ALLOWED_SELINUX_TYPES:
        out.append("%s.seLinuxOptions.type %s is not allowed" % (prefix, selinux.get("type")))
    for key in ("user", "role"):
        if selinux.get(key):
            out.append("%s.seLinuxOptions.%s must not be set" % (prefix, key))
    apparmor = _d(sc.get("appArmorProfile")).get("type")
    if apparmor == "Unconfined":
        out.append("%s.appArmorProfile.type must not be Unconfined" % prefix)
    return out


def _container_violations(where: str, container: dict, pod_seccomp: Optional[str], pod_non_root: bool) -> List[str]:
    out = []
    sc = _d(container.get("securityContext"))
    prefix = where + ".securityContext"
    if sc.get("privileged"):
        out.append("%s.privileged must not be true" % prefix)
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append("%s.allowPrivilegeEscalation must be false" % prefix)
    caps = _d(sc.get("capabilities"))
    if "ALL" not in (caps.get("drop") or []):
        out.append("%s.capabilities.drop must contain ALL" % prefix)
    added = [c for c in caps.get("add") or [] if c != "NET_BIND_SERVICE"]
    if added:
        out.append("%s.capabilities.add may only contain NET_BIND_SERVICE, not %s" % (prefix, ", ".join(added)))
    if sc.get("runAsNonRoot") is False or not (sc.get("runAsNonRoot") is True or pod_non_root):
        out.append("%s.runAsNonRoot must be true (here or on the pod)" % prefix)
    if sc.get("runAsUser") == 0:
        out.append("%s.runAsUser must not be 0" % prefix)
    seccomp = _d(sc.get("seccompProfile")).get("type")
    if seccomp is not None and seccomp not in ALLOWED_SECCOMP:
        out.append("%s.seccompProfile.type must be RuntimeDefault or Localhost, not %s" % (prefix, seccomp))
    elif seccomp is None and pod_seccomp not in ALLOWED_SECCOMP:
        out.append("%s.seccompProfile.type must be RuntimeDefault or Localhost (here or on the pod)" % prefix)
    if sc.get("procMount") not in (None, "Default"):
        out.append("%s.procMount must be Default" % prefix)
    if _d(sc.get("windowsOptions")).get("hostProcess"):
        out.append("%s.windowsOptions.hostProcess must not be true" % prefix)
    out.extend(_selinux_apparmor(prefix, sc))
    for pindex, port in enumerate(container.get("ports") or []):
        if _d(port).get("hostPort"):
            out.append("%s.ports[%d].hostPort must not be set" % (where, pindex))
    return out


def workload_restricted_violations(objects: Iterable[Any]) -> List[str]:
    """``Kind/name: path: message`` for every restricted violation of every pod template."""
    out = []
    for obj in objects:
        for path, spec in pod_templates(obj):
            meta = _d(_d(obj).get("metadata"))
            for message in restricted_violations(spec):
                out.append("%s/%s: %s.%s" % (obj.get("kind"), meta.get("name"), path, message))
    return out


# --------------------------------------------------------------------------------------------
# Apps model and environment table: validation with messages that name the field
# --------------------------------------------------------------------------------------------

APP_KINDS = ("node-api", "spa")
RATE_LIMITS = ("api", "web", "none")
LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
TAG_POLICIES = ("immutable", "mutable")
NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
IMAGE_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(\.[a-z0-9-]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$")
IMMUTABLE_TAG_RE = re.compile(r"^sha-[0-9a-f]{7}$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
QUANTITY_CPU_RE = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")
QUANTITY_MEM_RE = re.compile(r"^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$")
URL_SRC_RE = re.compile(r"^(https|wss)://[a-z0-9.-]+(:[0-9]+)?(/[^\s;,']*)?$")
HEALTH_PATH_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")
PART_OF = "parametric-portal"

APP_DEFAULTS = {
    "node-api": {"health_path": "/health", "requests": {"cpu": "100m", "memory": "256Mi"}},
    "spa": {"health_path": "/", "requests": {"cpu": "50m", "memory": "64Mi"}},
}


class ManifestError(ValueError):
    """Bad apps model / environment input; the message starts with the offending field."""


def _fail(field: str, message: str) -> None:
    raise ManifestError("%s: %s" % (field, message))


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        _fail(field, "must be true or false, got %r" % (value,))
    return value


def _str(value: Any, field: str, regex: Any = None, expected: str = "") -> str:
    if not isinstance(value, str) or not value:
        _fail(field, "must be a non-empty string%s, got %r" % (" (" + expected + ")" if expected else "", value))
    if regex is not None and not regex.match(value):
        _fail(field, "%r is not valid: expected %s" % (value, expected or regex.pattern))
    return value


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(field, "must be an integer between %d and %d, got %r" % (low, high, value))
    if not low <= value <= high:
        _fail(field, "%d is out of range: expected %d-%d" % (value, low, high))
    return value


def _resources(value: Any, field: str) -> Dict[str, str]:
    if not isinstance(value, dict) or set(value) - {"cpu", "memory"} or not value:
        _fail(field, "must be a mapping with cpu and/or memory, got %r" % (value,))
    out = {}
    if "cpu" in value:
        out["cpu"] = _str(str(value["cpu"]), field + ".cpu", QUANTITY_CPU_RE, "a CPU quantity like 500m or 1")
    if "memory" in value:
        out["memory"] = _str(str(value["memory"]), field + ".memory", QUANTITY_MEM_RE, "a memory quantity like 512Mi")
    return out


def validate_apps(apps: Any, field: str = "infra_apps") -> List[Dict[str, Any]]:
    """Checked and normalised copy of the apps model (defaults filled in).

    Raises ManifestError naming the field, e.g. ``infra_apps[1].port: 70000 is out of range``.
    """
    if not isinstance(apps, list) or not apps:
        _fail(field, "must be a non-empty list of apps")
    known = {"name", "kind", "domain", "port", "image", "rate_limit", "connect_src", "www_redirect",
             "health_path", "run_as_user", "requests", "env"}
    out: List[Dict[str, Any]] = []
    names: Dict[str, int] = {}
    domains: Dict[str, int] = {}
    ports: Dict[int, int] = {}
    for index, app in enumerate(apps):
        where = "%s[%d]" % (field, index)
        if not isinstance(app, dict):
            _fail(where, "must be a mapping, got %r" % (app,))
        unknown = sorted(set(app) - known)
        if unknown:
            _fail("%s.%s" % (where, unknown[0]), "unknown key (known: %s)" % ", ".join(sorted(known)))
        name = _str(app.get("name"), where + ".name", NAME_RE, "a DNS label: lower-case letters, digits, '-', max 40")
        where = "%s[%d] (%s)" % (field, index, name)
        if name in names:
            _fail(where + ".name", "duplicate app name %r (also %s[%d])" % (name, field, names[name]))
        names[name] = index
        kind = app.get("kind")
        if kind not in APP_KINDS:
            _fail(where + ".kind", "must be one of %s, got %r" % (", ".join(APP_KINDS), kind))
        domain = _str(app.get("domain"), where + ".domain", DOMAIN_RE, "a lower-case DNS name like api.example.com")
        www = _bool(app.get("www_redirect", False), where + ".www_redirect")
        for host in [domain] + (["www." + domain] if www else []):
            if host in domains:
                _fail(where + ".domain", "domain %r is already used by %s[%d]" % (host, field, domains[host]))
            domains[host] = index
        port = _int(app.get("port"), where + ".port", 1024, 65535)
        if port in ports:
            _fail(where + ".port", "port %d is already used by %s[%d]" % (port, field, ports[port]))
        ports[port] = index
        image = _str(app.get("image"), where + ".image", IMAGE_RE,
                     "an image repository without tag or digest, like ghcr.io/org/app")
        rate_limit = app.get("rate_limit", "none")
        if rate_limit not in RATE_LIMITS:
            _fail(where + ".rate_limit", "must be one of %s, got %r" % (", ".join(RATE_LIMITS), rate_limit))
        connect_src = app.get("connect_src", [])
        if not isinstance(connect_src, list):
            _fail(where + ".connect_src", "must be a list of https:// or wss:// origins")
        for cindex, src in enumerate(connect_src):
            _str(src, "%s.connect_src[%d]" % (where, cindex), URL_SRC_RE, "an https:// or wss:// origin")
        defaults = APP_DEFAULTS[kind]
        health = _str(app.get("health_path", defaults["health_path"]), where + ".health_path", HEALTH_PATH_RE,
                      "an absolute URL path like /health")
        run_as_user = _int(app.get("run_as_user", 10001), where + ".run_as_user", 1, 2147483647)
        requests = _resources(app.get("requests", defaults["requests"]), where + ".requests")
        env = app.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(k, str) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", k) for k in env):
            _fail(where + ".env", "must be a mapping of environment variable names to values")
        if "LOG_LEVEL" in env or "PORT" in env:
            _fail(where + ".env", "LOG_LEVEL and PORT are set by the generator (log_level, port)")
        out.append({
            "name": name, "kind": kind, "domain": domain, "www_redirect": www, "port": port, "image": image,
            "rate_limit": rate_limit, "connect_src": list(connect_src), "health_path": health,
            "run_as_user": run_as_user, "requests": requests, "env": {k: str(v) for k, v in env.items()},
        })
    return out


def validate_environment(name: str, env: Any, apps: List[Dict[str, Any]], field: str = "") -> Dict[str, Any]:
    """Checked and normalised environment table (the spec's section 4 column) for one environment."""
    field = field or "infra_env (%s)" % name
    if not isinstance(env, dict):
        _fail(field, "must be a mapping")
    known = {"namespace", "image_tag", "image_tag_policy", "log_level", "ingress", "tls", "rate_limiting",
             "tls_store", "cert_resolver", "app_defaults", "apps", "postgres"}
    unknown = sorted(set(env) - known)
    if unknown:
        _fail("%s.%s" % (field, unknown[0]), "unknown key (known: %s)" % ", ".join(sorted(known)))
    namespace = _str(env.get("namespace"), field + ".namespace", NAME_RE, "a namespace name (DNS label)")
    policy = env.get("image_tag_policy", "mutable")
    if policy not in TAG_POLICIES:
        _fail(field + ".image_tag_policy", "must be one of %s, got %r" % (", ".join(TAG_POLICIES), policy))
    tag = image_tag(env.get("image_tag"), policy, field + ".image_tag")
    log_level = env.get("log_level")
    if log_level not in LOG_LEVELS:
        _fail(field + ".log_level", "must be one of %s, got %r" % (", ".join(LOG_LEVELS), log_level))
    flags = {k: _bool(env.get(k, False), "%s.%s" % (field, k)) for k in ("ingress", "tls", "rate_limiting", "tls_store")}
    if not flags["ingress"]:
        for key in ("tls", "rate_limiting", "tls_store"):
            if flags[key]:
                _fail("%s.%s" % (field, key), "needs ingress: true (without ingress there is nothing to %s)" % key)
    elif not flags["tls"]:
        _fail(field + ".tls", "ingress without TLS is not supported: set tls: true or ingress: false")
    resolver = _str(env.get("cert_resolver", "letsencrypt"), field + ".cert_resolver", NAME_RE, "a Traefik resolver name")
    defaults = env.get("app_defaults", {}) or {}
    per_app = env.get("apps", {}) or {}
    if not isinstance(per_app, dict) or not isinstance(defaults, dict):
        _fail(field + ".apps", "must be a mapping app name -> settings")
    app_names = [a["name"] for a in apps]
    for extra in sorted(set(per_app) - set(app_names)):
        _fail("%s.apps.%s" % (field, extra), "no app of that name in infra_apps (apps: %s)" % ", ".join(app_names))
    settings = {}
    for app in apps:
        where = "%s.apps.%s" % (field, app["name"])
        merged = dict(defaults)
        merged.update(per_app.get(app["name"]) or {})
        unknown = sorted(set(merged) - {"replicas", "hpa", "limits", "requests"})
        if unknown:
            _fail("%s.%s" % (where, unknown[0]), "unknown key (known: hpa, limits, replicas, requests)")
        replicas = _int(merged.get("replicas", 1), where + ".replicas", 1, 100)
        hpa = merged.get("hpa")
        if hpa is not None:
            if not isinstance(hpa, dict):
                _fail(where + ".hpa", "must be null or a mapping with min, max, cpu_utilization, memory_utilization")
            bad = sorted(set(hpa) - {"min", "max", "cpu_utilization", "memory_utilization"})
            if bad:
                _fail("%s.hpa.%s" % (where, bad[0]), "unknown key (known: cpu_utilization, max, memory_utilization, min)")
            low = _int(hpa.get("min"), where + ".hpa.min", 1, 100)
            high = _int(hpa.get("max"), where + ".hpa.max", 1, 100)
            if low > high:
                _fail(where + ".hpa.min", "min replicas %d is greater than max replicas %d" % (low, high))
            hpa = {"min": low, "max": high,
                   "cpu_utilization": _int(hpa.get("cpu_utilization", 70), where + ".hpa.cpu_utilization", 1, 100),
                   "memory_utilization": _int(hpa.get("memory_utilization", 80), where + ".hpa.memory_utilization", 1, 100)}
        if "limits" not in merged:
            _fail(where + ".limits", "is required (memory and cpu limits, e.g. {memory: 512Mi, cpu: 500m})")
        limits = _resources(merged["limits"], where + ".limits")
        if set(limits) != {"cpu", "memory"}:
            _fail(where + ".limits", "needs both cpu and memory")
        requests = _resources(merged["requests"], where + ".requests") if "requests" in merged else dict(app["requests"])
        settings[app["name"]] = {"replicas": replicas, "hpa": hpa, "limits": limits, "requests": requests}
    postgres = env.get("postgres", {}) or {}
    if not isinstance(postgres, dict):
        _fail(field + ".postgres", "must be a mapping (read by the cnpg role)")
    return dict(flags, name=name, namespace=namespace, image_tag=tag, image_tag_policy=policy, log_level=log_level,
                cert_resolver=resolver, apps=settings)


def image_tag(tag: Any, policy: str = "mutable", field: str = "image_tag") -> str:
    """Check an image tag against the environment's tag policy and return it.

    ``immutable`` (prod): exactly ``sha-`` + 7 lower-case hex digits. ``mutable`` (dev): any valid
    tag except ``latest``.
    """
    if policy == "immutable":
        return _str(tag, field, IMMUTABLE_TAG_RE, "an immutable tag sha-XXXXXXX (sha- and 7 lower-case hex digits)")
    tag = _str(tag, field, TAG_RE, "a container image tag")
    if tag == "latest":
        _fail(field, "'latest' is not allowed: use a named tag")
    return tag


def image_reference(image: str, tag: Any, policy: str = "mutable") -> str:
    """``repository:tag`` after checking the repository and the tag (see image_tag)."""
    _str(image, "image", IMAGE_RE, "an image repository without tag or digest, like ghcr.io/org/app")
    return "%s:%s" % (image, image_tag(tag, policy))


# --------------------------------------------------------------------------------------------
# Object builders
# --------------------------------------------------------------------------------------------
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


def _labels(name: str, component: str = "") -> Dict[str, str]:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}
    if component:
        labels["app.kubernetes.io/component"] = component
    return labels


def _meta(name: str, namespace: Optional[str] = None, labels: Optional[dict] = None,
          annotations: Optional[dict] = None) -> dict:
    meta: Dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return meta


def _probe(app: Dict[str, Any], period: int, failure: int) -> dict:
    return {"httpGet": {"path": app["health_path"], "port": "http"}, "periodSeconds": period,
            "timeoutSeconds": 3, "failureThreshold": failure}


def deployment(app: Dict[str, Any], namespace: str, limits: Dict[str, str], log_level: str = "INFO") -> dict:
    sc = restricted_security_context(app["run_as_user"])
    env = [{"name": "PORT", "value": str(app["port"])}, {"name": "LOG_LEVEL", "value": log_level}]
    if app["kind"] == "node-api":
        env.append({"name": "NODE_ENV", "value": "production"})
    env.extend({"name": k, "value": v} for k, v in sorted(app["env"].items()))
    liveness = _probe(app, 10, 3)
    liveness["initialDelaySeconds"] = 10
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(app["name"], namespace, _labels(app["name"], "api" if app["kind"] == "node-api" else "frontend")),
        "spec": {
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app["name"]}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": _labels(app["name"], "api" if app["kind"] == "node-api" else "frontend")},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": sc["pod"],
                    "containers": [{
                        "name": app["name"],
                        # The tag comes from the overlay (kustomize images:): dev or sha-XXXXXXX.
                        "image": app["image"],
                        "imagePullPolicy": "IfNotPresent",
                        "ports": [{"name": "http", "containerPort": app["port"], "protocol": "TCP"}],
                        "env": env,
                        "resources": {"requests": dict(app["requests"]), "limits": dict(limits)},
                        "livenessProbe": liveness,
                        "readinessProbe": _probe(app, 5, 3),
                        "securityContext": sc["container"],
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def service(app: Dict[str, Any], namespace: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(app["name"], namespace, _labels(app["name"])),
        "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": app["name"]},
                 "ports": [{"name": "http", "port": app["port"], "targetPort": "http", "protocol": "TCP"}]},
    }


def _host_rule(hosts: List[str]) -> str:
    return " || ".join("Host(`%s`)" % h for h in hosts)


def app_ingressroute(app: Dict[str, Any], namespace: str, cert_resolver: str) -> dict:
    hosts = [app["domain"]] + (["www." + app["domain"]] if app["www_redirect"] else [])
    tls: Dict[str, Any] = {"certResolver": cert_resolver, "domains": [{"main": app["domain"]}]}
    if app["www_redirect"]:
        tls["domains"][0]["sans"] = ["www." + app["domain"]]
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "IngressRoute",
        "metadata": _meta("%s-https" % app["name"], namespace, _labels(app["name"])),
        "spec": {
            "entryPoints": ["websecure"],
            "routes": [{"kind": "Rule", "match": _host_rule(hosts),
                        "middlewares": [{"name": "%s-middleware-chain" % app["name"]}],
                        "services": [{"name": app["name"], "port": app["port"]}]}],
            "tls": tls,
        },
    }


def security_headers(name: str, namespace: str, csp: str, labels: Optional[dict] = None) -> dict:
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "Middleware",
        "metadata": _meta(name, namespace, labels),
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
    labels = _labels(app["name"])
    docs = [security_headers("%s-security-headers" % app["name"], namespace, content_security_policy(app), labels)]
    if app["www_redirect"]:
        docs.append({
            "apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
            "metadata": _meta("%s-www-redirect" % app["name"], namespace, labels),
            "spec": {"redirectRegex": {"regex": "^https?://www\\.%s/(.*)" % re.escape(app["domain"]).replace("\\-", "-"),
                                       "replacement": "https://%s/${1}" % app["domain"], "permanent": True}},
        })
    docs.append(chain_middleware(app, namespace, rate_limiting))
    return docs


def chain_middleware(app: Dict[str, Any], namespace: str, rate_limiting: bool = True) -> dict:
    return {
        "apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
        "metadata": _meta("%s-middleware-chain" % app["name"], namespace, _labels(app["name"])),
        "spec": {"chain": {"middlewares": [{"name": n} for n in middleware_chain(app, rate_limiting)]}},
    }


# --------------------------------------------------------------------------------------------
# Base (shared) resources
# --------------------------------------------------------------------------------------------
RATE_LIMITS_PER_SECOND = {"api": (100, 200), "web": (50, 100)}  # spec 3.1: average-burst req/s
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
    psa.update(_labels(name))
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name, labels=psa)}


def tls_option(ns: str) -> dict:
    return {
        "apiVersion": "traefik.io/v1alpha1", "kind": "TLSOption",
        "metadata": _meta("default", ns, {"app.kubernetes.io/part-of": PART_OF}),
        "spec": {"minVersion": "VersionTLS12", "maxVersion": "VersionTLS13", "sniStrict": True,
                 "cipherSuites": list(TLS_CIPHER_SUITES), "curvePreferences": ["X25519", "CurveP256", "CurveP384"]},
    }


def _dns_egress() -> dict:
    return {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}


def _np(name: str, ns: str, pod_selector: dict, types: List[str], purpose: str,
        ingress: Optional[list] = None, egress: Optional[list] = None) -> dict:
    spec: Dict[str, Any] = {"podSelector": pod_selector, "policyTypes": types}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _meta(name, ns, {"app.kubernetes.io/part-of": PART_OF},
                              {"parametric-portal.com/purpose": purpose}),
            "spec": spec}


def network_policies(apps: List[Dict[str, Any]], ns: str, platform: Dict[str, Any]) -> List[dict]:
    """default-deny-all, allow-traefik-ingress, allow-<app>-egress per app, allow-cnpg-operator."""
    cluster = {"cnpg.io/cluster": platform["cnpg"]["cluster_name"]}
    apis = [a for a in apps if a["kind"] == "node-api"]
    docs = [
        _np("default-deny-all", ns, {}, ["Ingress", "Egress"], "Zero-trust baseline: deny all traffic not allowed below"),
        _np("allow-traefik-ingress", ns,
            {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": [a["name"] for a in apps]}]},
            ["Ingress"], "Ingress from Traefik (kube-system) to the app ports",
            ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}}}],
                      "ports": [{"protocol": "TCP", "port": a["port"]} for a in apps]}]),
    ]
    for app in apps:
        egress = [_dns_egress()]
        if app["kind"] == "node-api":
            purpose = "DNS + PostgreSQL + HTTPS + OTLP egress of %s" % app["name"]
            egress.append({"to": [{"podSelector": {"matchLabels": cluster}}], "ports": [{"protocol": "TCP", "port": 5432}]})
            egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}],
                           "ports": [{"protocol": "TCP", "port": 443}]})
            egress.append({"to": [{"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": platform["monitoring"]["namespace"]}}}],
                "ports": [{"protocol": "TCP", "port": 4317}, {"protocol": "TCP", "port": 4318}]})
        else:
            purpose = "DNS + API service egress of %s" % app["name"]
            if apis:
                egress.append({"to": [{"podSelector": {"matchExpressions": [{
                    "key": "app.kubernetes.io/name", "operator": "In", "values": [a["name"] for a in apis]}]}}],
                    "ports": [{"protocol": "TCP", "port": a["port"]} for a in apis]})
        docs.append(_np("allow-%s-egress" % app["name"], ns, {"matchLabels": {"app.kubernetes.io/name": app["name"]}},
                        ["Egress"], purpose, egress=egress))
    operator_ns = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": platform["cnpg"]["operator_namespace"]}}}
    ingress = [
        {"from": [operator_ns], "ports": [{"protocol": "TCP", "port": 8000}, {"protocol": "TCP", "port": 5432}]},
        {"from": [{"podSelector": {"matchLabels": cluster}}], "ports": [{"protocol": "TCP", "port": 5432}]},
    ]
    if apis:
        ingress.append({"from": [{"podSelector": {"matchExpressions": [{
            "key": "app.kubernetes.io/name", "operator": "In", "values": [a["name"] for a in apis]}]}}],
            "ports": [{"protocol": "TCP", "port": 5432}]})
    egress = [
        _dns_egress(),
        {"to": [{"podSelector": {"matchLabels": cluster}}], "ports": [{"protocol": "TCP", "port": 5432}]},
        # Kubernetes API (instance manager) and S3 backups (barman-cloud).
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]},
    ]
    docs.append(_np("allow-cnpg-operator", ns, {"matchLabels": cluster}, ["Ingress", "Egress"],
                    "CNPG operator -> postgres (status 8000, 5432), replication, API clients; postgres egress to the Kubernetes API and S3",
                    ingress=ingress, egress=egress))
    return docs


def pod_disruption_budgets(apps: List[Dict[str, Any]], ns: str, platform: Dict[str, Any]) -> List[dict]:
    docs = [{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
             "metadata": _meta("%s-pdb" % a["name"], ns, _labels(a["name"])),
             "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": a["name"]}}}}
            for a in apps]
    docs.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                 "metadata": _meta("postgres-pdb", ns, {"app.kubernetes.io/part-of": PART_OF}),
                 "spec": {"minAvailable": 1, "selector": {"matchLabels": {"cnpg.io/cluster": platform["cnpg"]["cluster_name"]}}}})
    return docs


def shared_middlewares(ns: str) -> List[dict]:
    labels = {"app.kubernetes.io/part-of": PART_OF}

    def mw(name: str, spec: dict) -> dict:
        return {"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware", "metadata": _meta(name, ns, labels), "spec": spec}

    docs = [mw("rate-limit-%s" % k, {"rateLimit": {"average": avg, "burst": burst, "period": "1s"}})
            for k, (avg, burst) in sorted(RATE_LIMITS_PER_SECOND.items())]
    docs.append(mw("redirect-to-https", {"redirectScheme": {"scheme": "https", "permanent": True}}))
    docs.append(mw("compress", {"compress": {"encodings": ["br", "gzip"], "minResponseBodyBytes": 1024}}))
    docs.append({"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute", "metadata": _meta("http-redirect", ns, labels),
                 "spec": {"entryPoints": ["web"],
                          "routes": [{"kind": "Rule", "match": "PathPrefix(`/`)", "priority": 1,
                                      "middlewares": [{"name": "redirect-to-https"}],
                                      "services": [{"kind": "TraefikService", "name": "noop@internal"}]}]}})
    return docs


# --------------------------------------------------------------------------------------------
# Overlays
# --------------------------------------------------------------------------------------------
def hpa(app_name: str, ns: str, settings: Dict[str, Any]) -> dict:
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(app_name, ns, _labels(app_name)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app_name},
            "minReplicas": settings["min"], "maxReplicas": settings["max"],
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {
                    "type": "Utilization", "averageUtilization": settings["cpu_utilization"]}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {
                    "type": "Utilization", "averageUtilization": settings["memory_utilization"]}}},
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def tls_store(ns: str, apps: List[Dict[str, Any]], resolver: str, domain: str) -> dict:
    hosts = []
    for app in apps:
        hosts.append(app["domain"])
        if app["www_redirect"]:
            hosts.append("www." + app["domain"])
    main = domain if domain in hosts else hosts[0]
    return {"apiVersion": "traefik.io/v1alpha1", "kind": "TLSStore",
            "metadata": _meta("default", ns, {"app.kubernetes.io/part-of": PART_OF}),
            "spec": {"defaultGeneratedCert": {"resolver": resolver,
                                              "domain": {"main": main, "sans": [h for h in hosts if h != main]}}}}


def _delete_patch(api_version: str, kind: str, name: str, ns: str) -> Dict[str, Any]:
    return {"patch": dump_documents([{"$patch": "delete", "apiVersion": api_version, "kind": kind,
                                      "metadata": {"name": name, "namespace": ns}}], explicit_start=False).strip("\n")}


def overlay_kustomization(env: Dict[str, Any], apps: List[Dict[str, Any]], extra: List[str], base_ns: str) -> dict:
    patches = []
    for app in apps:
        settings = env["apps"][app["name"]]
        patch = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": app["name"], "namespace": base_ns},
                 "spec": {"template": {"spec": {"containers": [{
                     "name": app["name"], "env": [{"name": "LOG_LEVEL", "value": env["log_level"]}],
                     "resources": {"limits": dict(settings["limits"]), "requests": dict(settings["requests"])}}]}}}}
        patches.append({"patch": dump_documents([patch], explicit_start=False).strip("\n")})
    traefik = "traefik.io/v1alpha1"
    if not env["ingress"]:
        # Spec section 4: no ingress, TLS or rate limiting here: drop every Traefik object.
        patches.append(_delete_patch(traefik, "TLSOption", "default", base_ns))
        patches.append(_delete_patch(traefik, "IngressRoute", "http-redirect", base_ns))
        for name in ["rate-limit-%s" % k for k in sorted(RATE_LIMITS_PER_SECOND)] + ["redirect-to-https", "compress"]:
            patches.append(_delete_patch(traefik, "Middleware", name, base_ns))
        for app in apps:
            patches.append(_delete_patch(traefik, "IngressRoute", "%s-https" % app["name"], base_ns))
            for mw in app_middlewares(app, base_ns):
                patches.append(_delete_patch(traefik, "Middleware", mw["metadata"]["name"], base_ns))
    elif not env["rate_limiting"]:
        for app in apps:
            chain = chain_middleware(app, base_ns, rate_limiting=False)
            chain["metadata"] = {"name": chain["metadata"]["name"], "namespace": base_ns}
            patches.append({"patch": dump_documents([chain], explicit_start=False).strip("\n")})
        for name in sorted(RATE_LIMITS_PER_SECOND):
            patches.append(_delete_patch(traefik, "Middleware", "rate-limit-%s" % name, base_ns))
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


def kustomization(resources: List[str]) -> dict:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}


# --------------------------------------------------------------------------------------------
# Platform: Kyverno policies (PSS restricted, Enforce) and exceptions, monitoring resources
# --------------------------------------------------------------------------------------------
def _rule_names(policy: dict) -> List[str]:
    return [str(_d(rule).get("name")) for rule in _d(policy.get("spec")).get("rules") or []]


def kyverno_objects(kyverno: Dict[str, Any]) -> Tuple[List[dict], List[dict]]:
    """The kyverno role's ClusterPolicies and PolicyExceptions, checked; exceptions put into its namespace.

    Every exception must name existing policies and rules (``autogen-<rule>`` counts: Kyverno generates
    it for the pod controllers).
    """
    policies, rules = [], {}
    for index, policy in enumerate(kyverno["policies"]):
        where = "platform.kyverno.policies[%d]" % index
        _object_of_kind(policy, "ClusterPolicy", where)
        rules[policy["metadata"]["name"]] = set(_rule_names(policy))
        policies.append(policy)
    exceptions = []
    for index, exception in enumerate(kyverno["exceptions"]):
        where = "platform.kyverno.exceptions[%d]" % index
        _object_of_kind(exception, "PolicyException", where)
        for entry in _d(exception.get("spec")).get("exceptions") or []:
            name = _d(entry).get("policyName")
            if name not in rules:
                _fail(where, "names policy %r, which the kyverno role does not ship (%s)" % (name, ", ".join(sorted(rules))))
            unknown = [r for r in entry.get("ruleNames") or [] if str(r).replace("autogen-", "", 1) not in rules[name]]
            if unknown:
                _fail(where, "names rule(s) %s that policy %s does not have" % (", ".join(unknown), name))
        exception = dict(exception, metadata=dict(exception["metadata"], namespace=kyverno["namespace"]))
        exceptions.append(exception)
    return policies, exceptions


def _object_of_kind(obj: Any, kind: str, where: str) -> None:
    if not isinstance(obj, dict) or obj.get("kind") != kind or not _d(obj.get("metadata")).get("name"):
        _fail(where, "must be a %s object with metadata.name" % kind)


DASHBOARD_PANEL_HEIGHT = 8
DASHBOARD_PANEL_WIDTH = 12


def dashboard(board: Any, apps: List[Dict[str, Any]], where: str) -> dict:
    """A Grafana dashboard of the monitoring role with its panels laid out two per row.

    A panel with ``perApp: true`` stands for one panel per app of the apps model: every ``<app>`` in its
    strings becomes the app's name. ``id`` and ``gridPos`` are assigned here, in panel order.
    """
    if not isinstance(board, dict) or not isinstance(board.get("panels"), list):
        _fail(where, "must be a Grafana dashboard object with a panels list")
    panels = []
    for panel in board["panels"]:
        panel = dict(_d(panel))
        if panel.pop("perApp", False):
            panels.extend(_replace_token(panel, "<app>", app["name"]) for app in apps)
        else:
            panels.append(panel)
    for index, panel in enumerate(panels):
        panel["id"] = index + 1
        panel["gridPos"] = {"h": DASHBOARD_PANEL_HEIGHT, "w": DASHBOARD_PANEL_WIDTH,
                            "x": (index % 2) * DASHBOARD_PANEL_WIDTH, "y": (index // 2) * DASHBOARD_PANEL_HEIGHT}
    return dict(board, panels=panels)


def _replace_token(value: Any, token: str, text: str) -> Any:
    if isinstance(value, dict):
        return {k: _replace_token(v, token, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_token(v, token, text) for v in value]
    if isinstance(value, str):
        return value.replace(token, text)
    return value


def monitoring_resources(platform: Dict[str, Any], apps: List[Dict[str, Any]]) -> Dict[str, List[dict]]:
    """platform/monitoring files: Grafana IngressRoute (+ headers), Argo CD PodMonitor, dashboards."""
    mon = platform["monitoring"]
    ns = mon["namespace"]
    labels = {"app.kubernetes.io/part-of": PART_OF}
    grafana_domain = mon["grafana_domain"]
    grafana_csp = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
                   "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                   "object-src 'none'; base-uri 'self'")
    ingress = [
        security_headers("grafana-security-headers", ns, grafana_csp, labels),
        {"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute", "metadata": _meta("grafana", ns, labels),
         "spec": {"entryPoints": ["websecure"],
                  "routes": [{"kind": "Rule", "match": "Host(`%s`)" % grafana_domain,
                              "middlewares": [{"name": "grafana-security-headers"}],
                              "services": [{"name": mon["grafana_service"], "port": mon["grafana_port"]}]}],
                  "tls": {"certResolver": platform["traefik"]["cert_resolver"], "domains": [{"main": grafana_domain}]}}},
    ]
    podmonitor = [{
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
        "metadata": _meta("argocd", ns, labels, {"argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true"}),
        "spec": {"namespaceSelector": {"matchNames": [platform["argocd"]["namespace"]]},
                 "selector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": [
                     "argocd-application-controller", "argocd-applicationset-controller", "argocd-repo-server",
                     "argocd-server"]}]},
                 "podMetricsEndpoints": [{"port": "metrics", "interval": "30s", "path": "/metrics"}]},
    }]
    dashboards = {name: dashboard(board, apps, "platform.monitoring.dashboards.%s" % name)
                  for name, board in mon["dashboards"].items()}
    out: Dict[str, List[dict]] = {"ingressroute.yaml": ingress, "podmonitor-argocd.yaml": podmonitor}
    for key, board in sorted(dashboards.items()):
        out["dashboard-%s.yaml" % key] = [{
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": _meta("dashboard-%s" % key, ns, dict(labels, grafana_dashboard="1")),
            "data": {"%s.json" % key: json.dumps(board, indent=2, sort_keys=True) + "\n"},
        }]
    return out


# --------------------------------------------------------------------------------------------
# Argo CD
# --------------------------------------------------------------------------------------------
def _sync_policy(create_namespace: bool = False, server_side: bool = False) -> dict:
    options = []
    if create_namespace:
        options.append("CreateNamespace=true")
    if server_side:
        options.append("ServerSideApply=true")
    options.append("PruneLast=true")
    return {"automated": {"prune": True, "selfHeal": True}, "syncOptions": options,
            "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}}


def _application(name: str, platform: Dict[str, Any], source: dict, dest_ns: str, wave: int, **sync: bool) -> dict:
    argocd = platform["argocd"]
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": _meta(name, argocd["namespace"], {"app.kubernetes.io/part-of": PART_OF},
                          {"argocd.argoproj.io/sync-wave": str(wave)}),
        "spec": {"project": argocd["project"], "source": source,
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": dest_ns},
                 "syncPolicy": _sync_policy(**sync)},
    }


def _chart_source(part: Dict[str, Any]) -> dict:
    """Helm source of a platform Application from the owning role's chart pin and values."""
    return {"repoURL": part["chart_repo_url"], "chart": part["chart"], "targetRevision": part["chart_version"],
            "helm": {"releaseName": part["release"], "valuesObject": part["chart_values"]}}


def _environments_appset(platform: Dict[str, Any], environments: Dict[str, Dict[str, Any]]) -> dict:
    argocd = platform["argocd"]
    repo = {"repoURL": argocd["repo_url"], "targetRevision": argocd["revision"]}
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": _meta(PART_OF, argocd["namespace"], {"app.kubernetes.io/part-of": PART_OF},
                          {"argocd.argoproj.io/sync-wave": "3"}),
        "spec": {
            "goTemplate": True, "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": [{"env": name, "namespace": env["namespace"]}
                                                  for name, env in sorted(environments.items())]}}],
            "template": {
                "metadata": {"name": PART_OF + "-{{ .env }}", "labels": {"app.kubernetes.io/part-of": PART_OF}},
                "spec": {"project": argocd["project"],
                         "source": dict(repo, path="infrastructure/overlays/{{ .env }}"),
                         "destination": {"server": "https://kubernetes.default.svc", "namespace": "{{ .namespace }}"},
                         "syncPolicy": _sync_policy()},
            },
        },
    }


def argocd_objects(platform: Dict[str, Any], environments: Dict[str, Dict[str, Any]]) -> Dict[str, List[dict]]:
    argocd, kyverno, mon = platform["argocd"], platform["kyverno"], platform["monitoring"]
    repo = {"repoURL": argocd["repo_url"], "targetRevision": argocd["revision"]}
    kyverno_app = _application("kyverno", platform, _chart_source(kyverno), kyverno["namespace"], 0,
                               create_namespace=True, server_side=True)
    policies = _application("kyverno-policies", platform, dict(repo, path="infrastructure/platform/kyverno"),
                            kyverno["namespace"], 1)
    monitoring = _application("monitoring", platform, _chart_source(mon), mon["namespace"], 1,
                              create_namespace=True, server_side=True)
    resources = _application("monitoring-resources", platform, dict(repo, path="infrastructure/platform/monitoring"),
                             mon["namespace"], 2)
    return {"apps.yaml": [_environments_appset(platform, environments)], "kyverno.yaml": [kyverno_app],
            "kyverno-policies.yaml": [policies], "monitoring.yaml": [monitoring], "monitoring-resources.yaml": [resources]}


# --------------------------------------------------------------------------------------------
# Deterministic YAML
# --------------------------------------------------------------------------------------------
HEADER_MARK = "# Generated by parametric_portal.infra.gitops_render"
HEADER = HEADER_MARK + " from the apps model (inventories/*/group_vars/all). Do not edit: change the model, re-render.\n"


def _yaml_dumper(indent_sequences: bool):
    import yaml

    base = yaml.SafeDumper
    if not indent_sequences:
        base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc,valid-type]
        pass

    def str_representer(dumper, value):
        if "\n" in value:
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", value)

    Dumper.add_representer(str, str_representer)
    # Shared sub-objects must be written out in full: no &id001 anchors / *id001 aliases.
    Dumper.ignore_aliases = lambda self, data: True
    if indent_sequences:
        def increase_indent(self, flow=False, indentless=False):
            return yaml.SafeDumper.increase_indent(self, flow, False)

        Dumper.increase_indent = increase_indent
    return Dumper


_DUMPERS: Dict[bool, Any] = {}


def plain(value: Any) -> Any:
    """Copy with builtin types only (Ansible passes str/dict/list subclasses that PyYAML's safe
    dumper refuses)."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def dump_documents(docs: Iterable[Any], indent_sequences: bool = True, explicit_start: bool = True,
                   sort_keys: bool = True) -> str:
    """Deterministic multi-document YAML: sorted keys, documents in the given order, literal blocks
    for multi-line strings, block style, width 120.

    ``indent_sequences=True`` (default) indents lists under their key, which yamllint's default
    ``indentation`` rule wants (pure-Python emitter). ``indent_sequences=False`` uses the libyaml C
    emitter when PyYAML was built with it (faster, kubectl-style indentless lists).
    """
    import yaml

    dumper = _DUMPERS.get(indent_sequences)
    if dumper is None:
        dumper = _DUMPERS[indent_sequences] = _yaml_dumper(indent_sequences)
    return yaml.dump_all([plain(d) for d in docs], Dumper=dumper, sort_keys=sort_keys, default_flow_style=False,
                         explicit_start=explicit_start, width=120, allow_unicode=True)


# --------------------------------------------------------------------------------------------
# The tree
# --------------------------------------------------------------------------------------------
SECRETS_KUSTOMIZATION = (
    "---\n# SealedSecrets of this overlay (playbooks/seal_secret.yml adds files here). Not generated:\n"
    "# the renderer creates this file once and never changes or deletes anything in this folder.\n"
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"
)


_URL_RE = re.compile(r"^(https://|ssh://|git@)\S+$")
_PLATFORM_RULES = {
    "dns": (DOMAIN_RE, "a DNS name"),
    "label": (NAME_RE, "a DNS label"),
    "url": (_URL_RE, "an https:// or ssh git/chart URL"),
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
                       dashboards=dict),
}


def validate_platform(platform: Any, spec: Optional[Dict[str, Any]] = None, field: str = "platform") -> Dict[str, Any]:
    """Checked copy of the platform settings: exactly the keys of PLATFORM_SPEC, each of its form."""
    spec = PLATFORM_SPEC if spec is None else spec
    if not isinstance(platform, dict):
        _fail(field, "must be a mapping with %s" % ", ".join(sorted(spec)))
    for key in sorted(platform):
        if key not in spec:
            _fail("%s.%s" % (field, key), "unknown key (known: %s)" % ", ".join(sorted(spec)))
    out = {}
    for key, rule in spec.items():
        where = "%s.%s" % (field, key)
        if key not in platform or platform[key] is None:
            _fail(where, "is required")
        out[key] = _platform_value(platform[key], rule, where)
    return out


def _platform_value(value: Any, rule: Any, where: str) -> Any:
    if isinstance(rule, dict):
        return validate_platform(value, rule, where)
    if rule is int:
        return _int(value, where, 1, 65535)
    if isinstance(rule, type):
        if not isinstance(value, rule):
            _fail(where, "must be a %s, got %r" % ("mapping" if rule is dict else "list", value))
        return value
    regex, expected = _PLATFORM_RULES[rule]
    return _str(str(value) if rule in ("version", "revision") else value, where, regex, expected)


def build_tree(apps: Any, environments: Any, platform: Any) -> Dict[str, List[dict]]:
    """Every generated file of the tree as ``relative path -> list of objects`` (kustomizations too).

    ``environments`` maps environment name -> environment table (``{"dev": ..., "prod": ...}``).
    """
    apps = validate_apps(apps)
    if not isinstance(environments, dict) or not environments:
        _fail("environments", "must be a mapping environment name -> infra_env table (e.g. dev, prod)")
    plat = validate_platform(platform)
    envs = {}
    for name in sorted(environments):
        _str(name, "environments key", NAME_RE, "an environment name like dev or prod")
        envs[name] = validate_environment(name, environments[name], apps)
    ns = plat["namespace"]
    tree: Dict[str, List[dict]] = {}
    base_files = {
        "namespace.yaml": [namespace(ns)],
        "tlsoption.yaml": [tls_option(ns)],
        "networkpolicy.yaml": network_policies(apps, ns, plat),
        "poddisruptionbudget.yaml": pod_disruption_budgets(apps, ns, plat),
        "shared-middleware.yaml": shared_middlewares(ns),
    }
    for fname, docs in base_files.items():
        tree["base/" + fname] = docs
    tree["base/kustomization.yaml"] = [kustomization(list(base_files))]
    for app in apps:
        prefix = "apps/%s/" % app["name"]
        files = {
            "deployment.yaml": [deployment(app, ns, app_default_limits(app, envs))],
            "service.yaml": [service(app, ns)],
            "ingressroute.yaml": [app_ingressroute(app, ns, plat["traefik"]["cert_resolver"])],
            "middleware.yaml": app_middlewares(app, ns),
        }
        for fname, docs in files.items():
            tree[prefix + fname] = docs
        tree[prefix + "kustomization.yaml"] = [kustomization(list(files))]
    for name, env in envs.items():
        prefix = "overlays/%s/" % name
        extra = []
        for app in apps:
            settings = env["apps"][app["name"]]["hpa"]
            if settings is not None:
                fname = "hpa-%s.yaml" % app["name"]
                tree[prefix + fname] = [hpa(app["name"], ns, settings)]
                extra.append(fname)
        if env["tls_store"]:
            tree[prefix + "tlsstore.yaml"] = [tls_store(ns, apps, env["cert_resolver"], plat["domain"])]
            extra.append("tlsstore.yaml")
        tree[prefix + "kustomization.yaml"] = [overlay_kustomization(env, apps, extra, ns)]
    policies, exceptions = kyverno_objects(plat["kyverno"])
    kyv = []
    for doc in policies:
        tree["platform/kyverno/policies/%s.yaml" % doc["metadata"]["name"]] = [doc]
        kyv.append("policies/%s.yaml" % doc["metadata"]["name"])
    for doc in exceptions:
        tree["platform/kyverno/exceptions/%s.yaml" % doc["metadata"]["name"]] = [doc]
        kyv.append("exceptions/%s.yaml" % doc["metadata"]["name"])
    tree["platform/kyverno/kustomization.yaml"] = [kustomization(kyv)]
    mon = monitoring_resources(plat, apps)
    for fname, docs in mon.items():
        tree["platform/monitoring/" + fname] = docs
    tree["platform/monitoring/kustomization.yaml"] = [kustomization(sorted(mon))]
    for fname, docs in argocd_objects(plat, envs).items():
        tree["argocd/" + fname] = docs
    return dict(sorted(tree.items()))


def app_default_limits(app: Dict[str, Any], envs: Dict[str, Dict[str, Any]]) -> Dict[str, str]:
    """Limits written into apps/<name> (overlays patch their own): the smallest environment's."""
    first = sorted(envs)[0]
    return dict(envs[first]["apps"][app["name"]]["limits"])


def render_tree(apps: Any, environments: Any, platform: Any) -> Dict[str, str]:
    """``relative path -> file text`` (with the generated-file header) for the whole tree."""
    return {path: HEADER + dump_documents(docs) for path, docs in build_tree(apps, environments, platform).items()}


def is_generated(text: str) -> bool:
    return text.startswith(HEADER_MARK)


def secrets_dirs(environments: Iterable[str]) -> List[str]:
    return ["overlays/%s/secrets" % name for name in sorted(environments)]


# --------------------------------------------------------------------------------------------
# Writing the tree: plan (pure, reads the destination) and apply
# --------------------------------------------------------------------------------------------
def _is_secrets_path(rel: str) -> bool:
    parts = rel.replace("\\", "/").split("/")
    return len(parts) >= 3 and parts[0] == "overlays" and parts[2] == "secrets"


def plan_tree(dest: str, rendered: Dict[str, str], environments: Iterable[str], remove_stale: bool = True) -> Dict[str, Any]:
    """Compare the rendered tree with what is under ``dest``.

    Returns ``{"create": {rel: text}, "update": {rel: (old, new)}, "remove": {rel: old},
    "unchanged": [rel]}``. Secrets folders (``overlays/<env>/secrets``) are never updated or removed;
    only their kustomization.yaml is created when absent. Stale files are removed only when they
    carry the generated-file header.
    """
    import os

    plan: Dict[str, Any] = {"create": {}, "update": {}, "remove": {}, "unchanged": []}
    wanted = dict(rendered)
    for sdir in secrets_dirs(environments):
        rel = sdir + "/kustomization.yaml"
        if not os.path.exists(os.path.join(dest, rel)):
            plan["create"][rel] = SECRETS_KUSTOMIZATION
    for rel, text in sorted(wanted.items()):
        path = os.path.join(dest, rel)
        if not os.path.exists(path):
            plan["create"][rel] = text
            continue
        with open(path, encoding="utf-8") as handle:
            old = handle.read()
        if old == text:
            plan["unchanged"].append(rel)
        elif not is_generated(old):
            raise ManifestError("%s: exists and was not generated (no '%s' header); move it away or add it to the "
                                "apps model instead of editing the tree" % (rel, HEADER_MARK))
        else:
            plan["update"][rel] = (old, text)
    if remove_stale and os.path.isdir(dest):
        for root, dirs, files in os.walk(dest):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, dest).replace(os.sep, "/")
                if rel in wanted or _is_secrets_path(rel) or not name.endswith((".yaml", ".yml")):
                    continue
                try:
                    with open(path, encoding="utf-8") as handle:
                        old = handle.read()
                except (OSError, UnicodeDecodeError):
                    continue
                if is_generated(old):
                    plan["remove"][rel] = old
    return plan


def apply_plan(dest: str, plan: Dict[str, Any], atomic_move: Any = None) -> None:
    """Write creates/updates (via a temporary file + rename) and delete stale generated files."""
    import os
    import tempfile

    for rel, text in list(plan["create"].items()) + [(r, new) for r, (_old, new) in plan["update"].items()]:
        path = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".gitops_render.", dir=os.path.dirname(path))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        if atomic_move is not None:
            atomic_move(tmp, path)
        else:
            os.replace(tmp, path)
    for rel in plan["remove"]:
        path = os.path.join(dest, rel)
        os.remove(path)
        parent = os.path.dirname(path)
        while os.path.abspath(parent) != os.path.abspath(dest) and not os.listdir(parent):
            os.rmdir(parent)
            parent = os.path.dirname(parent)
