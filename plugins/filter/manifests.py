# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deterministic manifest filters; documentation lives in the sidecar <filter>.yml files.

Both wrap the private GitOps generator (module_utils/_gitops): k8s_yaml its deterministic YAML,
argocd_bootstrap its one Argo CD Application generator (the argocd role's bootstrap objects).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.argocd import bootstrap_objects
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.checks import ManifestError
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.dump import dump_documents, plain


def k8s_yaml(docs, indent_sequences=True, explicit_start=True, sort_keys=True):
    """Deterministic multi-document YAML of a list of objects (or one object)."""
    if isinstance(docs, dict):
        docs = [docs]
    try:
        return dump_documents(list(docs), bool(indent_sequences), bool(explicit_start), bool(sort_keys))
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("k8s_yaml: %s" % exc)


def argocd_bootstrap(settings):
    """The AppProjects, root Application and environment Namespaces/Applications of one cluster."""
    try:
        return bootstrap_objects(plain(settings))
    except ManifestError as exc:
        raise AnsibleFilterError("argocd_bootstrap: %s" % exc)


class FilterModule:
    """parametric_portal.infra manifest filters."""

    def filters(self):
        return {"k8s_yaml": k8s_yaml, "argocd_bootstrap": argocd_bootstrap}
