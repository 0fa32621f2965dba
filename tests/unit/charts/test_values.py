"""Our values use only keys the charts read, and never an empty value that silently renders nothing.

A key absent from a chart's values.yaml is usually a typo or a key of another chart version that
the templates ignore. Exceptions are listed below with the reason (free-form maps that the chart
passes through, keys read by templates without a declared default). Empty maps/lists/strings are
refused unless listed: `tlsChallenge: {}` looked like configuration and rendered nothing.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Tuple

import pytest

from . import chartmodel, conftest

# Paths (prefixes) whose subtree is free-form for the chart: passed through to the application's
# own configuration, a Kubernetes object, or a map the chart iterates over.
FREE_FORM: Dict[str, Tuple[str, ...]] = {
    "traefik": (
        "certificatesResolvers.",  # -> --certificatesresolvers.* flags (chart default {})
    ),
    "argocd": (
        "configs.params.",  # -> argocd-cmd-params-cm data
    ),
    "sealed_secrets": (),
    "cnpg": (),
    "kyverno": (),
    "monitoring": (
        "grafana.grafana.ini.",
        "loki.loki.structuredConfig.",  # merged over Loki's config
        "loki.loki.storageConfig.",     # Loki storage_config
        "loki.loki.schemaConfig.",
        "tempo.storage.trace.s3.",      # Tempo storage.trace.s3
        "tempo.ingester.config.",
        "tempo.compactor.config.",
    ),
}
# Keys whose value the templates pass through whole (toYaml) as a Kubernetes object: once the key
# itself is declared, its content is checked by its own schema (PSS and resources: test_components).
PASS_THROUGH = ("securityContext", "podSecurityContext", "containerSecurityContext", "resources")

# Intentionally empty values: they clear a chart default.
EMPTY_ALLOWED: Dict[str, Dict[str, str]] = {
    "monitoring": {
        "mimir.minio.users": "clears the MinIO chart's default consoleAdmin user console/console123",
        "mimir.minio.buckets": "the chart's bucket jobs cannot be PSS restricted; our own Job creates the buckets",
    },
}
# LGTM subcharts whose declared defaults are not available in shared/charts.
NO_SHARED_DEFAULTS = tuple("%s." % alias for alias in ("mimir",))


def leaves(node: Any, prefix: str = "") -> Iterator[Tuple[str, Any]]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from leaves(value, "%s%s." % (prefix, key))
    else:
        yield prefix[:-1], node


def declared(chart: str) -> Dict[str, Any]:
    """The declared defaults our values are layered over (LGTM: umbrella plus each subchart section)."""
    if chart != "monitoring":
        layers = conftest.value_layers(chart)[:-1]
        out: Dict[str, Any] = {}
        for layer in layers:
            out = chartmodel.merge(out, layer)
        return out
    umbrella = conftest.declared_defaults(conftest.CHART_DIRS["monitoring"])
    out = dict(umbrella)
    for alias in ("grafana", "loki", "tempo"):
        sub = conftest.declared_defaults("%s/charts/%s" % (conftest.CHART_DIRS["monitoring"], chartmodel.LGTM_SUBCHARTS[alias][0]))
        out[alias] = chartmodel.merge(sub, umbrella.get(alias) or {})
    return out


def _is_declared(defaults: Dict[str, Any], path: str) -> bool:
    node: Any = defaults
    for key in path.split("."):
        if isinstance(node, dict) and key in node:
            node = node[key]
            if node in ({}, []) or isinstance(node, list) or key in PASS_THROUGH:
                return True  # free-form: an empty declared map/list, a list (replaced whole), a k8s object
            continue
        return False
    return True


@pytest.mark.parametrize("chart", list(conftest.CHART_DIRS))
def test_every_key_we_set_is_read_by_the_chart(chart):
    defaults = declared(chart)
    unknown: List[str] = []
    for path in (leaf[0] for leaf in leaves(conftest.our_values(chart))):
        if path.startswith(FREE_FORM[chart]) or (chart == "monitoring" and path.startswith(NO_SHARED_DEFAULTS)):
            continue
        if not _is_declared(defaults, path):
            unknown.append(path)
    assert unknown == [], "%s: keys the chart does not declare: %s" % (chart, unknown)


@pytest.mark.parametrize("chart", list(conftest.CHART_DIRS))
def test_no_empty_value_that_renders_nothing(chart):
    allowed = EMPTY_ALLOWED.get(chart, {})
    empty = [path for path, value in leaves(conftest.our_values(chart))
             if value in ({}, [], "", None) and path not in allowed]
    assert empty == [], "%s: empty values %s (the chart renders nothing for them)" % (chart, empty)


def test_the_key_check_can_fail():
    """A misspelt key is reported (here: Argo CD's `controller.resource`)."""
    defaults = declared("argocd")
    assert _is_declared(defaults, "controller.resources.requests.cpu")
    assert not _is_declared(defaults, "controller.resource.requests")
    assert not _is_declared(defaults, "redis.imag.tag")
