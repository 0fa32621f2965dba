# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deterministic manifest filters; documentation lives in the sidecar <filter>.yml files."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.parametric_portal.infra.plugins.module_utils import _manifests as m


def _guard(func):
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (m.ManifestError, TypeError, ValueError) as exc:
            raise AnsibleFilterError("%s: %s" % (func.__name__, exc))

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@_guard
def restricted_security_context(run_as_user=10001, run_as_group=None):
    """{pod: ..., container: ...} securityContext pair satisfying Pod Security Standards restricted."""
    return m.restricted_security_context(int(run_as_user), None if run_as_group is None else int(run_as_group))


@_guard
def image_reference(image, tag, policy="mutable"):
    """repository:tag after checking the tag against the environment's tag policy."""
    if policy not in m.TAG_POLICIES:
        raise m.ManifestError("policy must be one of %s, got %r" % (", ".join(m.TAG_POLICIES), policy))
    return m.image_reference(str(image), tag, policy)


@_guard
def middleware_chain(app, rate_limiting=True):
    """Ordered middleware names of an app's Traefik chain."""
    if not isinstance(app, dict) or "name" not in app:
        raise m.ManifestError("input must be an apps-model entry (a mapping with at least name)")
    return m.middleware_chain(m.plain(app), bool(rate_limiting))


@_guard
def k8s_yaml(docs, indent_sequences=True, explicit_start=True, sort_keys=True):
    """Deterministic multi-document YAML of a list of objects (or one object)."""
    if isinstance(docs, dict):
        docs = [docs]
    return m.dump_documents(list(docs), bool(indent_sequences), bool(explicit_start), bool(sort_keys))


@_guard
def pss_restricted_violations(obj):
    """Restricted-profile violations of a pod spec or of a workload object's pod template."""
    obj = m.plain(obj)
    if isinstance(obj, dict) and obj.get("kind") in m.WORKLOAD_POD_TEMPLATE_PATHS:
        return m.workload_restricted_violations([obj])
    return m.restricted_violations(obj)


class FilterModule:
    """parametric_portal.infra manifest filters."""

    def filters(self):
        return {
            "restricted_security_context": restricted_security_context,
            "image_reference": image_reference,
            "middleware_chain": middleware_chain,
            "k8s_yaml": k8s_yaml,
            "pss_restricted_violations": pss_restricted_violations,
        }
