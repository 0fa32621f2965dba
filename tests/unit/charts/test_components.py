"""Every pod every chart deploys with our values: PSS restricted, requests and limits, named images.

The pods and the values paths their templates read are the model in chartmodel.py (learned by
rendering the real charts; see that module). Here each component's pod spec is built from the
chart's declared defaults merged with our values, exactly as the templates would build it, and
checked with the collection's own Pod Security Standards check (restricted_violations).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable, Dict, List, Tuple

import pytest

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.pss import restricted_violations

from . import chartmodel, conftest
from .chartmodel import Component

MODEL: Dict[str, Tuple[Component, ...]] = {
    "traefik": chartmodel.TRAEFIK,
    "argocd": chartmodel.ARGOCD,
    "sealed_secrets": chartmodel.SEALED_SECRETS,
    "cnpg": chartmodel.CNPG,
    "kyverno": chartmodel.KYVERNO,
    "monitoring": chartmodel.LGTM,
}
# Helm test hooks are never run: neither K3s' helm-controller nor Argo CD (gitops-engine maps only
# pre/post-install/upgrade Helm hooks) runs `helm test`. They are listed, not held to the checks.
NEVER_RUN_HOOKS = ("test",)


def lgtm_defaults(alias: str) -> dict:
    if alias == "lgtm":
        return conftest.declared_defaults(conftest.CHART_DIRS["monitoring"])
    if alias in chartmodel.LGTM_WITHOUT_SHARED_DEFAULTS:
        return {}
    return conftest.declared_defaults("%s/charts/%s" % (conftest.CHART_DIRS["monitoring"], chartmodel.LGTM_SUBCHARTS[alias][0]))


@lru_cache(maxsize=None)
def values_for(chart: str) -> Callable[[Component], dict]:
    if chart == "monitoring":
        return chartmodel.lgtm_effective_values(lgtm_defaults, conftest.our_values("monitoring"))
    merged = conftest.effective_values(chart)
    return lambda component: merged


def ours_for(chart: str, component: Component) -> dict:
    """The part of OUR values a component's paths are relative to."""
    ours = conftest.our_values(chart)
    if chart != "monitoring":
        return ours
    parent = chartmodel.LGTM_SUBCHARTS[component.chart][1]
    if parent:
        return (ours.get(parent) or {}).get(component.chart) or {}
    return ours.get(component.chart) or {}


def deployed(chart: str) -> List[Tuple[Component, dict]]:
    values = values_for(chart)
    return [(c, values(c)) for c in MODEL[chart] if c.enabled(values(c))]


def cases(predicate=lambda c: True):
    return [pytest.param(chart, c.pod, id="%s:%s" % (chart, c.pod)) for chart, comps in MODEL.items() for c in comps
            if predicate(c)]


def _component(chart: str, pod: str) -> Tuple[Component, dict, bool]:
    values = values_for(chart)
    (component,) = [c for c in MODEL[chart] if c.pod == pod]
    return component, values(component), component.enabled(values(component))


@pytest.mark.parametrize("chart, pod", cases(lambda c: not c.never))
def test_pod_is_pss_restricted(chart, pod):
    component, values, enabled = _component(chart, pod)
    if not enabled:
        pytest.skip("not deployed with our values")
    if component.hook in NEVER_RUN_HOOKS:
        pytest.skip("Helm test hook: never run by helm-controller or Argo CD")
    spec = component.pod_spec(values)
    assert restricted_violations(spec) == [], "%s %s" % (chart, pod)


@pytest.mark.parametrize("chart, pod", cases(lambda c: not c.never))
def test_every_container_has_requests_and_limits(chart, pod):
    component, values, enabled = _component(chart, pod)
    if not enabled:
        pytest.skip("not deployed with our values")
    if component.hook in NEVER_RUN_HOOKS:
        pytest.skip("Helm test hook: never run by helm-controller or Argo CD")
    for container in component.pod_spec(values).get("initContainers", []) + component.pod_spec(values)["containers"]:
        resources = container["resources"]
        for kind in ("requests", "limits"):
            assert set(resources.get(kind) or {}) >= {"cpu", "memory"}, "%s %s %s: %s.%s" % (
                chart, pod, container["name"], kind, sorted(resources.get(kind) or {}))


@pytest.mark.parametrize("chart, pod", cases(lambda c: bool(c.never)))
def test_components_that_cannot_be_restricted_stay_off(chart, pod):
    component, values, enabled = _component(chart, pod)
    assert not enabled, "%s %s must stay off: %s" % (chart, pod, component.never)


@pytest.mark.parametrize("chart, pod", cases(lambda c: not c.never))
def test_images_are_named_by_the_collection(chart, pod):
    """The version of every image comes from our values, not from a chart default or appVersion."""
    component, values, enabled = _component(chart, pod)
    if not enabled:
        pytest.skip("not deployed with our values")
    if component.hook in NEVER_RUN_HOOKS:
        pytest.skip("Helm test hook: never run by helm-controller or Argo CD")
    ours = ours_for(chart, component)
    if chart == "traefik":
        # Default: K3s names the image (its bundled chart values, under ours); the pin option names it here.
        ours = chartmodel.merge(conftest.value_layers("traefik")[1], ours)
    for container in component.containers:
        named = [p for p in container.image.version_paths if chartmodel.has(ours, p)]
        assert named, "%s %s/%s: image version not set by our values (%s)" % (
            chart, pod, container.name, container.image.version_paths)
        assert container.image.render(values).count(":") >= 1


@pytest.mark.parametrize("subchart", chartmodel.LGTM_WITHOUT_SHARED_DEFAULTS)
def test_lgtm_subcharts_without_shared_defaults_are_explicit(subchart):
    """Mimir and MinIO defaults are not in shared/charts: every switch, replica count, securityContext
    and resources the checks above evaluate must then be set by our values, not left to the chart."""
    values = values_for("monitoring")
    for component in chartmodel.LGTM:
        if component.chart != subchart:
            continue
        ours = ours_for("monitoring", component)
        when = (component.when,) if isinstance(component.when, str) else (component.when or ())
        for path in when:
            assert chartmodel.has(ours, path.split("==")[0]), "%s: %s not set" % (component.pod, path)
        if not component.enabled(values(component)) or component.hook in NEVER_RUN_HOOKS:
            continue
        if isinstance(component.replicas, str):
            assert chartmodel.has(ours, component.replicas), "%s: %s not set" % (component.pod, component.replicas)
        for container in component.containers:
            assert chartmodel.has(ours, container.resources), "%s: %s not set" % (component.pod, container.resources)
            assert container.sc and chartmodel.has(ours, container.sc), "%s: container securityContext not set" % component.pod
