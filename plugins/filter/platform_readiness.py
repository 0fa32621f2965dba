# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: platform_readiness
short_description: Readiness verdict for platform bootstrap objects read with k8s_info
version_added: 0.1.0
description:
  - Same evaluation as M(parametric_portal.infra.platform_status), as a deterministic filter so it
    can drive C(until) on a M(kubernetes.core.k8s_info) task (bounded waits).
  - Rules per kind are documented in the collection's C(docs/platform.md).
author:
  - parametric_portal maintainers (@parametric-portal)
options:
  _input:
    description: Objects of O(kind) (C(resources) of M(kubernetes.core.k8s_info)); for HelmChart the install Jobs.
    type: list
    elements: dict
    required: true
  kind:
    description: Kind to evaluate. For V(HelmChart) the input is the list of install Jobs.
    type: str
    required: true
    choices: [HelmChart, Application, Cluster, Job]
  names:
    description: Names of the objects that must be ready.
    type: list
    elements: str
    required: true
  require_wal_archiving:
    description: For V(Cluster), also require C(ContinuousArchiving) not to be False.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Wait until the HelmChart install Jobs complete
  kubernetes.core.k8s_info:
    kind: Job
    namespace: kube-system
  register: jobs
  retries: 60
  delay: 10
  until: (jobs.resources | default([]) | parametric_portal.infra.platform_readiness('HelmChart', ['argocd'])).done
"""

RETURN = r"""
_value:
  description: Report with C(ready), C(failed), C(done) (ready or failed), C(components), C(pending) and C(msg).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.parametric_portal.infra.plugins.module_utils._readiness import evaluate


def platform_readiness(resources, kind, names, require_wal_archiving=True):
    """Readiness report; for HelmChart the input is the list of install Jobs."""
    if resources is None:
        resources = []
    if not isinstance(resources, list):
        raise AnsibleFilterError("platform_readiness: input must be a list of objects, got %s" % type(resources).__name__)
    try:
        if kind == "HelmChart":
            return evaluate(kind, names, [], resources, require_wal_archiving)
        return evaluate(kind, names, resources, None, require_wal_archiving)
    except ValueError as exc:
        raise AnsibleFilterError("platform_readiness: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"platform_readiness": platform_readiness}
