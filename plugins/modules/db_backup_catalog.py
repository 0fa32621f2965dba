#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: db_backup_catalog
short_description: List the db_backup manifests in a directory and apply manifest-driven retention
version_added: 0.1.0
description:
  - Reads every C(*.manifest.json) written by M(parametric_portal.infra.db_backup_dump) in
    O(path) and returns the backups per database, newest first.
  - With O(prune=true), deletes expired backups. A backup is kept when it is among the newest
    O(keep_last) of its database or younger than O(keep_days) days; the newest complete backup
    of every database is always kept.
  - Only files named by a valid manifest of ours (and that manifest) are ever deleted; foreign
    files, orphans and unreadable or foreign manifests are left alone and reported.
author:
  - parametric_portal maintainers (@parametric-portal)
options:
  path:
    description: Directory holding the backups of one environment and cluster.
    type: path
    required: true
  prune:
    description: Delete expired backups.
    type: bool
    default: false
  keep_last:
    description: Keep the newest N backups of every database (0 switches the rule off).
    type: int
    default: 7
  keep_days:
    description: Keep every backup younger than D days (0 switches the rule off).
    type: int
    default: 30
  now:
    description: Reference time as C(YYYYmmddTHHMMSSZ); defaults to the current UTC time.
    type: str
attributes:
  check_mode:
    support: full
    description: Reports what would be deleted without deleting.
  diff_mode:
    support: full
    description: Shows the names of the removed files.
"""

EXAMPLES = r"""
- name: Apply retention (newest 7 and everything younger than 30 days are kept)
  parametric_portal.infra.db_backup_catalog:
    path: /srv/backups/prod/api-db
    prune: true
"""

RETURN = r"""
backups:
  description: All valid backups, newest first per database (before pruning).
  returned: always
  type: list
  elements: dict
newest:
  description: Newest complete backup per database name.
  returned: always
  type: dict
deleted:
  description: Paths deleted (or, in check mode, that would be deleted).
  returned: always
  type: list
  elements: str
kept:
  description: Manifests kept, with the reason.
  returned: always
  type: list
  elements: dict
ignored:
  description: Manifest files that were not read (not ours, malformed), with the reason.
  returned: always
  type: list
  elements: dict
"""

import datetime
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.parametric_portal.infra.plugins.module_utils import _dump_retention as ret


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            prune=dict(type="bool", default=False),
            keep_last=dict(type="int", default=7),
            keep_days=dict(type="int", default=30),
            now=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["keep_last"] < 0 or p["keep_days"] < 0:
        module.fail_json(msg="keep_last and keep_days must be >= 0")
    try:
        now = ret.parse_stamp(p["now"]) if p["now"] else datetime.datetime.now(datetime.timezone.utc)
    except ret.ManifestError as exc:
        module.fail_json(msg="now: %s" % exc)
    backups, ignored = ret.scan(p["path"])
    newest = {}
    for backup in backups:
        best = ret.newest(backups, backup["database"])
        if best is not None:
            newest[backup["database"]] = ret.public_view(best)
    result = dict(changed=False, backups=[ret.public_view(b) for b in backups], newest=newest,
                  deleted=[], kept=[], ignored=ignored)
    if p["prune"]:
        keep, expire = ret.select_expired(backups, now, p["keep_last"], p["keep_days"])
        result["kept"] = [{"manifest": b["manifest"], "reason": b["reason"]} for b in keep]
        for backup in expire:
            for path in ret.deletion_paths(p["path"], backup):
                if os.path.lexists(path):
                    result["deleted"].append(path)
                    if not module.check_mode:
                        os.unlink(path)
        result["changed"] = bool(result["deleted"])
        if module._diff and result["deleted"]:
            result["diff"] = {
                "before": "".join(os.path.basename(x) + "\n" for x in result["deleted"]),
                "after": "",
                "before_header": p["path"] + " (expired backups)",
                "after_header": p["path"] + " (expired backups)",
            }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
