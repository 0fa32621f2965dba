# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: k8s_drift
short_description: The objects of a build that really differ from the cluster
version_added: 0.1.0
description:
  - Takes the documents of a build file and the per-document results of M(kubernetes.core.k8s) run with
    C(apply), check mode and diff, and returns the pairs whose result is changed by more than volatile fields.
  - Volatile are C(status) and the metadata that the API server and controllers keep (C(resourceVersion),
    C(managedFields), C(generation)). A controller that writes status between the module's read of the live
    object and its dry-run (the HPA controller does every 15 seconds) would otherwise show an unchanged
    object as drifted.
author:
  - parametric_portal maintainers (@parametric-portal)
options:
  _input:
    description: The build's documents, in file order.
    type: list
    elements: dict
    required: true
  results:
    description: The module's results in the same order (C(result.results) of a multi-document C(src)).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: List what differs
  ansible.builtin.debug:
    msg: "{{ item[0].kind }} {{ item[0].metadata.name }}"
  loop: "{{ objects | parametric_portal.infra.k8s_drift(k8s_result.result.results) }}"
"""

RETURN = r"""
_value:
  description: Pairs C([object, result]) of the documents that differ, in file order.
  type: list
  elements: list
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.parametric_portal.infra.plugins.module_utils._k8s_drift import drifted


def k8s_drift(objects, results):
    """The [object, result] pairs of a check-mode apply that differ by more than status and volatile metadata."""
    if not isinstance(objects, list) or not isinstance(results, list):
        raise AnsibleFilterError("k8s_drift: input and results must be lists, got %s and %s"
                                 % (type(objects).__name__, type(results).__name__))
    try:
        return drifted(objects, results)
    except ValueError as exc:
        raise AnsibleFilterError("k8s_drift: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"k8s_drift": k8s_drift}
