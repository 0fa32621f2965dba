# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deterministic manifest filters; documentation lives in the sidecar <filter>.yml files."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.dump import dump_documents


def k8s_yaml(docs, indent_sequences=True, explicit_start=True, sort_keys=True):
    """Deterministic multi-document YAML of a list of objects (or one object)."""
    if isinstance(docs, dict):
        docs = [docs]
    try:
        return dump_documents(list(docs), bool(indent_sequences), bool(explicit_start), bool(sort_keys))
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("k8s_yaml: %s" % exc)


class FilterModule:
    """parametric_portal.infra manifest filters."""

    def filters(self):
        return {"k8s_yaml": k8s_yaml}
