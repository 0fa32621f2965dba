#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: platform_status
short_description: Wait (bounded) until platform bootstrap objects are ready, and say why they are not
version_added: 0.1.0
description:
  - Decides whether HelmChart installs (K3s helm-controller and their install Jobs), Argo CD Applications,
    CloudNativePG Clusters or plain Jobs are ready, pending or failed, with a message per object that says why.
  - Reads the objects from the Kubernetes API itself (kubernetes.core's client and connection options) and, with
    O(wait=true), polls every O(wait_sleep) seconds until every object is ready, one has failed for good, or
    O(wait_timeout) seconds have passed, as kubernetes.core's wait options do. This is the one readiness path of
    the platform roles.
  - Given O(resources) or O(jobs) it evaluates those objects instead and does not contact a cluster (for objects
    read elsewhere, and for tests).
  - In check mode it does not read the API (on a host that was never converged there is none yet) and says so
    in a warning, as it does with O(live=false).
  - The same evaluation decides the Argo CD rows of C(playbooks/verify.yml). Rules per kind are documented in the
    collection's C(docs/platform.md).
author:
  - parametric_portal maintainers (@parametric-portal)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
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
  namespace:
    description:
      - Namespace the objects are read from. For O(kind=HelmChart) the default is C(kube-system), where K3s keeps
        HelmCharts and their install Jobs; the other kinds need it when the API is read.
    type: str
  resources:
    description:
      - Objects of O(kind) to evaluate instead of reading the API (as C(resources) of M(kubernetes.core.k8s_info)).
    type: list
    elements: dict
  jobs:
    description: For O(kind=HelmChart), the helm-controller install Jobs (C(helm-install-<name>)) to evaluate instead of reading the API.
    type: list
    elements: dict
  require_wal_archiving:
    description: For O(kind=Cluster), also require the C(ContinuousArchiving) condition not to be False.
    type: bool
    default: true
  wait:
    description: Poll until every object is ready or one has failed for good, at most O(wait_timeout) seconds.
    type: bool
    default: false
  wait_timeout:
    description: How many seconds to wait at most.
    type: int
    default: 120
  wait_sleep:
    description: Seconds between two reads.
    type: int
    default: 5
  live:
    description:
      - Whether to check at all. With V(false) (no cluster runs, for example in tests) nothing is read and the result
        says that the objects were NOT checked against a cluster.
    type: bool
    default: true
  fail_when_not_ready:
    description: Fail (with the reasons) unless every object is ready.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Evaluates given objects the same way; does not read the API in check mode and says so.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
requirements:
  - kubernetes (Python) when the API is read
notes:
  - Changes nothing; it always returns C(changed=false).
"""

EXAMPLES = r"""
- name: Wait until the Argo CD Applications are Synced and Healthy (bounded)
  parametric_portal.infra.platform_status:
    kubeconfig: /etc/rancher/k3s/k3s.yaml
    kind: Application
    namespace: argocd
    names: [platform, parametric-portal-prod]
    wait: true
    wait_timeout: 600
    wait_sleep: 10

- name: Evaluate objects read elsewhere, without failing
  parametric_portal.infra.platform_status:
    kind: Cluster
    names: [api-db]
    resources: "{{ clusters.resources }}"
    fail_when_not_ready: false
"""

RETURN = r"""
checked:
  description: Whether the objects were evaluated (false with O(live=false) or when check mode skipped the API).
  returned: always
  type: bool
  sample: true
ready:
  description: Whether every named object is ready (false when nothing was checked).
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
      name: platform
      state: pending
      ready: false
      message: "Application platform is not ready (sync OutOfSync; health Progressing)"
pending:
  description: Messages of the objects that are not ready.
  returned: always
  type: list
  elements: str
  sample: ["Application platform is not ready (sync OutOfSync; health Progressing)"]
polls:
  description: How many times the API was read (0 when given objects or nothing was checked).
  returned: always
  type: int
  sample: 3
waited:
  description: Seconds spent waiting.
  returned: always
  type: float
  sample: 20.0
msg:
  description:
    - One-line summary. When O(wait=true) ran out, it starts with how long it waited (and how many reads).
  returned: always
  type: str
  sample: "Application ready: platform"
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.parametric_portal.infra.plugins.module_utils import _k8s_client, _readiness


def argument_spec():
    spec = _k8s_client.auth_argument_spec()  # kubernetes.core's connection options, unchanged
    spec.update(
        kind=dict(type="str", required=True, choices=list(_readiness.KINDS)),
        names=dict(type="list", elements="str", required=True),
        namespace=dict(type="str"),
        resources=dict(type="list", elements="dict"),
        jobs=dict(type="list", elements="dict"),
        require_wal_archiving=dict(type="bool", default=True),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=120),
        wait_sleep=dict(type="int", default=5),
        live=dict(type="bool", default=True),
        fail_when_not_ready=dict(type="bool", default=True),
    )
    return spec


def api_reader(params):
    """A reader for _readiness.wait: the objects of the kind (and, for HelmCharts, the install Jobs).

    THE SEAM of tests against a real API server: only the connection options point somewhere else."""
    client = _k8s_client.k8s_client(params)
    kind, namespace = params["kind"], params["namespace"]

    def items(kind_name):
        resource = client.resource(kind_name, _readiness.API_VERSIONS[kind_name])
        return client.get(resource, namespace=namespace).to_dict().get("items") or []

    def read():
        try:
            return items(kind), (items("Job") if kind == "HelmChart" else [])
        except _k8s_client.API_ERRORS as exc:
            raise RuntimeError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    return read


def not_checked(params, why):
    names = ", ".join(params["names"])
    return dict(changed=False, checked=False, ready=False, failed_objects=False, components=[], pending=[], polls=0,
                waited=0.0, msg="%s %s were NOT checked against a cluster (%s)." % (params["kind"], names, why))


def report(module):
    params = module.params
    if params["resources"] is not None or params["jobs"] is not None:
        return dict(_readiness.evaluate(params["kind"], params["names"], params["resources"], params["jobs"],
                                        params["require_wal_archiving"]), polls=0, waited=0.0)
    if not _k8s_client.HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=_k8s_client.KUBERNETES_IMPORT_ERROR)
    if params["namespace"] is None:
        if params["kind"] != "HelmChart":
            module.fail_json(msg="namespace is required to read %s objects from the API" % params["kind"])
        params["namespace"] = "kube-system"
    timeout = params["wait_timeout"] if params["wait"] else 0
    return _readiness.wait(api_reader(params), params["kind"], params["names"], timeout, params["wait_sleep"],
                           params["require_wal_archiving"])


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if not params["names"]:
        module.fail_json(msg="names must list at least one %s to check" % params["kind"])
    if not params["live"]:
        skipped = not_checked(params, "live is false")
    elif module.check_mode and params["resources"] is None and params["jobs"] is None:
        skipped = not_checked(params, "check mode writes nothing, so there is nothing new to wait for")
    else:
        skipped = None
    if skipped:
        module.warn(skipped["msg"])  # shown in the play output: nobody may read this as a passed check
        module.exit_json(**skipped)
    try:
        result = report(module)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    msg = result["msg"]
    if params["wait"] and result["timed_out"]:  # say that the bounded wait ran out, not only what is pending
        msg = "Still not ready after waiting %s s (wait_timeout %s, %d reads): %s" % (
            result["waited"], params["wait_timeout"], result["polls"], msg)
    out = dict(changed=False, checked=True, ready=result["ready"], failed_objects=result["failed"],
               components=result["components"], pending=result["pending"], polls=result["polls"],
               waited=result["waited"], msg=msg)
    if params["fail_when_not_ready"] and not result["ready"]:
        module.fail_json(**out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
