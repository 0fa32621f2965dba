# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apps model (infra_apps) and the environment tables (infra_env): validation and normalisation.

PRIVATE to parametric_portal.infra. validate_apps and validate_environment return checked copies with
the documented defaults filled in; image_tag checks a tag against an environment's tag policy. Errors
name the field (see checks).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.checks import (
    DOMAIN_RE,
    NAME_RE,
    check_bool,
    check_choice,
    check_int,
    check_keys,
    check_resources,
    check_str,
    fail,
)

APP_KINDS = ("node-api", "spa")
RATE_LIMITS = ("api", "web", "none")
LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
TAG_POLICIES = ("immutable", "mutable")
IMAGE_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(\.[a-z0-9-]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$")
IMMUTABLE_TAG_RE = re.compile(r"^sha-[0-9a-f]{7}$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
URL_SRC_RE = re.compile(r"^(https|wss)://[a-z0-9.-]+(:[0-9]+)?(/[^\s;,']*)?$")
HEALTH_PATH_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

APP_KEYS = ("name", "kind", "domain", "port", "image", "rate_limit", "connect_src", "www_redirect", "health_path",
            "run_as_user", "requests", "env")
ENV_KEYS = ("namespace", "image_tag", "image_tag_policy", "log_level", "ingress", "tls", "rate_limiting", "tls_store",
            "cert_resolver", "app_defaults", "apps", "postgres")
APP_SETTING_KEYS = ("replicas", "hpa", "limits", "requests")
HPA_KEYS = ("min", "max", "cpu_utilization", "memory_utilization")
# Per kind: what an app gets when the apps model leaves it out.
APP_DEFAULTS = {
    "node-api": {"health_path": "/health", "requests": {"cpu": "100m", "memory": "256Mi"}},
    "spa": {"health_path": "/", "requests": {"cpu": "50m", "memory": "64Mi"}},
}


def validate_apps(apps: Any, field: str = "infra_apps") -> List[Dict[str, Any]]:
    """Checked and normalised copy of the apps model (defaults filled in).

    Raises ManifestError naming the field, e.g. ``infra_apps[1].port: 70000 is out of range``.
    Names, domains (and their www. aliases) and ports must be unique.
    """
    if not isinstance(apps, list) or not apps:
        fail(field, "must be a non-empty list of apps")
    out: List[Dict[str, Any]] = []
    seen: Dict[str, Dict[Any, int]] = {"name": {}, "domain": {}, "port": {}}
    for index, app in enumerate(apps):
        out.append(_app(app, index, field, seen))
    return out


def _unique(kind: str, value: Any, index: int, seen: Dict[str, Dict[Any, int]], where: str, field: str) -> None:
    if value in seen[kind]:
        if kind == "name":
            fail(where + ".name", "duplicate app name %r (also %s[%d])" % (value, field, seen[kind][value]))
        fail("%s.%s" % (where, kind), "%s %r is already used by %s[%d]" % (kind, value, field, seen[kind][value]))
    seen[kind][value] = index


def _app(app: Any, index: int, field: str, seen: Dict[str, Dict[Any, int]]) -> Dict[str, Any]:
    where = "%s[%d]" % (field, index)
    if not isinstance(app, dict):
        fail(where, "must be a mapping, got %r" % (app,))
    check_keys(app, APP_KEYS, where)
    name = check_str(app.get("name"), where + ".name", NAME_RE, "a DNS label: lower-case letters, digits, '-', max 40")
    where = "%s[%d] (%s)" % (field, index, name)
    _unique("name", name, index, seen, where, field)
    kind = check_choice(app.get("kind"), where + ".kind", APP_KINDS)
    domain = check_str(app.get("domain"), where + ".domain", DOMAIN_RE, "a lower-case DNS name like api.example.com")
    www = check_bool(app.get("www_redirect", False), where + ".www_redirect")
    for host in [domain] + (["www." + domain] if www else []):
        _unique("domain", host, index, seen, where, field)
    port = check_int(app.get("port"), where + ".port", 1024, 65535)
    _unique("port", port, index, seen, where, field)
    defaults = APP_DEFAULTS[kind]
    return {
        "name": name, "kind": kind, "domain": domain, "www_redirect": www, "port": port,
        "image": check_str(app.get("image"), where + ".image", IMAGE_RE,
                           "an image repository without tag or digest, like ghcr.io/org/app"),
        "rate_limit": check_choice(app.get("rate_limit", "none"), where + ".rate_limit", RATE_LIMITS),
        "connect_src": _connect_src(app.get("connect_src", []), where + ".connect_src"),
        "health_path": check_str(app.get("health_path", defaults["health_path"]), where + ".health_path",
                                 HEALTH_PATH_RE, "an absolute URL path like /health"),
        "run_as_user": check_int(app.get("run_as_user", 10001), where + ".run_as_user", 1, 2147483647),
        "requests": check_resources(app.get("requests", defaults["requests"]), where + ".requests"),
        "env": _app_env(app.get("env", {}), where + ".env"),
    }


def _connect_src(value: Any, field: str) -> List[str]:
    if not isinstance(value, list):
        fail(field, "must be a list of https:// or wss:// origins")
    for index, src in enumerate(value):
        check_str(src, "%s[%d]" % (field, index), URL_SRC_RE, "an https:// or wss:// origin")
    return list(value)


def _app_env(env: Any, field: str) -> Dict[str, str]:
    if not isinstance(env, dict) or not all(isinstance(k, str) and ENV_NAME_RE.match(k) for k in env):
        fail(field, "must be a mapping of environment variable names to values")
    if "LOG_LEVEL" in env or "PORT" in env:
        fail(field, "LOG_LEVEL and PORT are set by the generator (log_level, port)")
    return {k: str(v) for k, v in env.items()}


def validate_environment(name: str, env: Any, apps: List[Dict[str, Any]], field: str = "") -> Dict[str, Any]:
    """Checked and normalised environment table (one column of the spec's environment table)."""
    field = field or "infra_env (%s)" % name
    if not isinstance(env, dict):
        fail(field, "must be a mapping")
    check_keys(env, ENV_KEYS, field)
    namespace = check_str(env.get("namespace"), field + ".namespace", NAME_RE, "a namespace name (DNS label)")
    policy = check_choice(env.get("image_tag_policy", "mutable"), field + ".image_tag_policy", TAG_POLICIES)
    tag = image_tag(env.get("image_tag"), policy, field + ".image_tag")
    log_level = check_choice(env.get("log_level"), field + ".log_level", LOG_LEVELS)
    flags = _ingress_flags(env, field)
    resolver = check_str(env.get("cert_resolver", "letsencrypt"), field + ".cert_resolver", NAME_RE, "a Traefik resolver name")
    settings = _app_settings(env, apps, field)
    if not isinstance(env.get("postgres", {}) or {}, dict):
        fail(field + ".postgres", "must be a mapping (read by the cnpg role)")
    return dict(flags, name=name, namespace=namespace, image_tag=tag, image_tag_policy=policy, log_level=log_level,
                cert_resolver=resolver, apps=settings)


def _ingress_flags(env: Dict[str, Any], field: str) -> Dict[str, bool]:
    flags = {k: check_bool(env.get(k, False), "%s.%s" % (field, k)) for k in ("ingress", "tls", "rate_limiting", "tls_store")}
    if not flags["ingress"]:
        for key in ("tls", "rate_limiting", "tls_store"):
            if flags[key]:
                fail("%s.%s" % (field, key), "needs ingress: true (without ingress there is nothing to %s)" % key)
    elif not flags["tls"]:
        fail(field + ".tls", "ingress without TLS is not supported: set tls: true or ingress: false")
    return flags


def _app_settings(env: Dict[str, Any], apps: List[Dict[str, Any]], field: str) -> Dict[str, Dict[str, Any]]:
    defaults = env.get("app_defaults", {}) or {}
    per_app = env.get("apps", {}) or {}
    if not isinstance(per_app, dict) or not isinstance(defaults, dict):
        fail(field + ".apps", "must be a mapping app name -> settings")
    app_names = [a["name"] for a in apps]
    for extra in sorted(set(per_app) - set(app_names)):
        fail("%s.apps.%s" % (field, extra), "no app of that name in infra_apps (apps: %s)" % ", ".join(app_names))
    settings = {}
    for app in apps:
        merged = dict(defaults)
        merged.update(per_app.get(app["name"]) or {})
        settings[app["name"]] = _app_setting(merged, app, "%s.apps.%s" % (field, app["name"]))
    return settings


def _app_setting(merged: Dict[str, Any], app: Dict[str, Any], where: str) -> Dict[str, Any]:
    check_keys(merged, APP_SETTING_KEYS, where)
    replicas = check_int(merged.get("replicas", 1), where + ".replicas", 1, 100)
    hpa = merged.get("hpa")
    if hpa is not None:
        hpa = _hpa(hpa, where + ".hpa")
    if "limits" not in merged:
        fail(where + ".limits", "is required (memory and cpu limits, e.g. {memory: 512Mi, cpu: 500m})")
    limits = check_resources(merged["limits"], where + ".limits")
    if set(limits) != {"cpu", "memory"}:
        fail(where + ".limits", "needs both cpu and memory")
    requests = check_resources(merged["requests"], where + ".requests") if "requests" in merged else dict(app["requests"])
    return {"replicas": replicas, "hpa": hpa, "limits": limits, "requests": requests}


def _hpa(hpa: Any, where: str) -> Dict[str, int]:
    if not isinstance(hpa, dict):
        fail(where, "must be null or a mapping with min, max, cpu_utilization, memory_utilization")
    check_keys(hpa, HPA_KEYS, where)
    low = check_int(hpa.get("min"), where + ".min", 1, 100)
    high = check_int(hpa.get("max"), where + ".max", 1, 100)
    if low > high:
        fail(where + ".min", "min replicas %d is greater than max replicas %d" % (low, high))
    return {"min": low, "max": high,
            "cpu_utilization": check_int(hpa.get("cpu_utilization", 70), where + ".cpu_utilization", 1, 100),
            "memory_utilization": check_int(hpa.get("memory_utilization", 80), where + ".memory_utilization", 1, 100)}


def image_tag(tag: Any, policy: str = "mutable", field: str = "image_tag") -> str:
    """Check an image tag against the environment's tag policy and return it.

    ``immutable`` (prod): exactly ``sha-`` + 7 lower-case hex digits. ``mutable`` (dev): any valid
    tag except ``latest``.
    """
    if policy == "immutable":
        return check_str(tag, field, IMMUTABLE_TAG_RE, "an immutable tag sha-XXXXXXX (sha- and 7 lower-case hex digits)")
    tag = check_str(tag, field, TAG_RE, "a container image tag")
    if tag == "latest":
        fail(field, "'latest' is not allowed: use a named tag")
    return tag
