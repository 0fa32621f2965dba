#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: platform_status
short_description: Decide whether platform bootstrap objects are ready, from objects read with k8s_info
version_added: 0.1.0
description:
  - Evaluates HelmChart install Jobs (K3s helm-controller), Argo CD Applications, CloudNativePG
    Clusters or plain Jobs that M(kubernetes.core.k8s_info) read from the cluster, and reports per
    object whether it is ready, still pending or failed, with a message that says why.
  - It never contacts the cluster itself; run M(kubernetes.core.k8s_info) with C(retries)/C(until)
    first (the P(parametric_portal.infra.platform_readiness#filter) filter gives the same verdict
    for C(until)), then this module to fail with a clear message when the wait ran out.
  - Rules per kind are documented in the collection's C(docs/platform.md).
author:
  - parametric_portal maintainers (@parametric-portal)
options:
  kind:
    description: Kind of the objects to evaluate.
    type: str
    required: true
    choices: [HelmChart, Application, Cluster, Job]
  names:
    description: Names of the objects that must be ready (at least one).
    type: list
    elements: str
    required: true
  resources:
    description:
      - Objects of O(kind) as returned in C(resources) by M(kubernetes.core.k8s_info).
      - For O(kind=HelmChart) this may be empty; the install Jobs in O(jobs) decide.
    type: list
    elements: dict
    default: []
  jobs:
    description: For O(kind=HelmChart), the helm-controller install Jobs (C(helm-install-<name>)).
    type: list
    elements: dict
    default: []
  require_wal_archiving:
    description: For O(kind=Cluster), also require the C(ContinuousArchiving) condition not to be False.
    type: bool
    default: true
  fail_when_not_ready:
    description: Fail (with the reasons) unless every object is ready.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Evaluates the same way in check mode; it never changes anything.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
notes:
  - Reads nothing and changes nothing; it always returns C(changed=false).
"""

EXAMPLES = r"""
- name: Wait for the Argo CD Applications (bounded)
  kubernetes.core.k8s_info:
    api_version: argoproj.io/v1alpha1
    kind: Application
    namespace: argocd
  register: apps
  retries: 60
  delay: 10
  until: >-
    apps is succeeded and
    (apps.resources | parametric_portal.infra.platform_readiness('Application', ['root'])).done
  failed_when: false

- name: Fail with the reasons when they are still not Synced/Healthy
  parametric_portal.infra.platform_status:
    kind: Application
    names: [root]
    resources: "{{ apps.resources | default([]) }}"
"""

RETURN = r"""
ready:
  description: Whether every named object is ready.
  returned: always
  type: bool
  sample: false
failed_objects:
  description: Whether any object is in a terminal failure (waiting longer will not help).
  returned: always
  type: bool
  sample: false
components:
  description: One entry per name, in the order of O(names).
  returned: always
  type: list
  elements: dict
  sample:
    - kind: Application
      name: root
      state: pending
      ready: false
      message: "Application root is not ready (sync OutOfSync; health Progressing)"
pending:
  description: Messages of the objects that are not ready.
  returned: always
  type: list
  elements: str
  sample: ["Application root is not ready (sync OutOfSync; health Progressing)"]
msg:
  description: One-line summary.
  returned: always
  type: str
  sample: "Application ready: root"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.parametric_portal.infra.plugins.module_utils._readiness import KINDS, evaluate


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kind=dict(type="str", required=True, choices=list(KINDS)),
            names=dict(type="list", elements="str", required=True),
            resources=dict(type="list", elements="dict", default=[]),
            jobs=dict(type="list", elements="dict", default=[]),
            require_wal_archiving=dict(type="bool", default=True),
            fail_when_not_ready=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        report = evaluate(params["kind"], params["names"], params["resources"], params["jobs"],
                          params["require_wal_archiving"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    result = dict(
        changed=False,
        ready=report["ready"],
        failed_objects=report["failed"],
        components=report["components"],
        pending=report["pending"],
        msg=report["msg"],
    )
    if params["fail_when_not_ready"] and not report["ready"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
