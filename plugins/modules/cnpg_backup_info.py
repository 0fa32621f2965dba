#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: cnpg_backup_info
short_description: Evaluate CloudNativePG Cluster and Backup objects for an on-demand backup
version_added: 0.1.0
description:
  - Pure evaluation of C(postgresql.cnpg.io/v1) objects already read from the API (for
    example with M(kubernetes.core.k8s_info)); this module does not talk to Kubernetes.
  - From a Cluster it returns the current primary pod, the backup methods the Cluster is
    configured for, the method to use and the retention policy CloudNativePG applies.
  - With O(backup_name) it returns the on-demand Backup manifest to create.
  - With O(backup) it evaluates the Backup status (running, completed or failed), its
    times, duration and size where the API reports one, and fails with the operator's error
    when the Backup failed.
author:
  - parametric_portal maintainers (@parametric-portal)
options:
  cluster:
    description: The Cluster object.
    type: dict
    required: true
  method:
    description: Backup method; C(auto) picks the barman-cloud plugin, then barmanObjectStore, then volumeSnapshot.
    type: str
    default: auto
    choices: [auto, barmanObjectStore, volumeSnapshot, plugin]
  require_method:
    description: Fail when the Cluster has no usable backup configuration.
    type: bool
    default: true
  require_primary:
    description: Fail when the Cluster status names no current primary (or is switching over).
    type: bool
    default: false
  backup_name:
    description: Name of the on-demand Backup to build a manifest for.
    type: str
  target:
    description: Backup target (C(primary) or C(prefer-standby)); empty keeps the Cluster's setting.
    type: str
    default: ''
  online:
    description: Online (hot) backup; unset keeps the Cluster's setting.
    type: bool
  labels:
    description: Labels for the Backup manifest.
    type: dict
    default: {}
  backup:
    description: The Backup object to evaluate.
    type: dict
  volume_snapshots:
    description: VolumeSnapshot objects of the Backup (optional), used to report its size.
    type: list
    elements: dict
    default: []
  object_store:
    description: The barman-cloud plugin's ObjectStore object (optional), used to report retention.
    type: dict
  fail_on_failed:
    description: Fail when O(backup) is in a failed phase.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Pure evaluation; changes nothing and runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
"""

EXAMPLES = r"""
- name: Read the Cluster
  kubernetes.core.k8s_info:
    api_version: postgresql.cnpg.io/v1
    kind: Cluster
    name: api-db
    namespace: parametric-portal
  register: cluster

- name: Plan the on-demand Backup
  parametric_portal.infra.cnpg_backup_info:
    cluster: "{{ cluster.resources[0] }}"
    backup_name: api-db-ondemand-20260101t000000z
  register: plan
"""

RETURN = r"""
cluster:
  description: Summary of the Cluster (name, phase, current_primary, methods, retention, last backups).
  returned: always
  type: dict
method:
  description: The chosen backup method (null when none is configured and O(require_method=false)).
  returned: always
  type: str
manifest:
  description: The Backup manifest to create.
  returned: when O(backup_name) is set
  type: dict
backup:
  description: Evaluation of O(backup) (name, phase, state, started_at, stopped_at, duration_seconds, size_bytes, size_note, error).
  returned: when O(backup) is set
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.parametric_portal.infra.plugins.module_utils import _cnpg_backup as cnpg


def main():
    module = AnsibleModule(
        argument_spec=dict(
            cluster=dict(type="dict", required=True),
            method=dict(type="str", default="auto", choices=["auto"] + list(cnpg.METHODS)),
            require_method=dict(type="bool", default=True),
            require_primary=dict(type="bool", default=False),
            backup_name=dict(type="str"),
            target=dict(type="str", default=""),
            online=dict(type="bool"),
            labels=dict(type="dict", default={}),
            backup=dict(type="dict"),
            volume_snapshots=dict(type="list", elements="dict", default=[]),
            object_store=dict(type="dict"),
            fail_on_failed=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False)
    try:
        result["cluster"] = cnpg.cluster_summary(p["cluster"], p["object_store"])
        if p["require_primary"]:
            cnpg.current_primary(p["cluster"])
        try:
            result["method"] = cnpg.choose_method(p["cluster"], p["method"])
        except cnpg.CnpgError:
            if p["require_method"]:
                raise
            result["method"] = None
        if p["backup_name"]:
            result["manifest"] = cnpg.build_backup(
                result["cluster"]["name"], result["cluster"]["namespace"], p["backup_name"], result["method"],
                p["target"] or None, p["online"], p["labels"],
            )
        if p["backup"]:
            result["backup"] = cnpg.backup_summary(p["backup"], p["volume_snapshots"])
    except cnpg.CnpgError as exc:
        module.fail_json(msg=str(exc), **result)
    if p["backup"] and p["fail_on_failed"] and result["backup"]["state"] == "failed":
        module.fail_json(msg=cnpg.failure_message(result["backup"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
