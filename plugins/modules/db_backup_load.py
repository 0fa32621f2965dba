#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: db_backup_load
short_description: Restore a checksummed pg_dump archive into a new database through an exec prefix
version_added: 0.1.0
description:
  - Compares the expected sha256 (from the manifest) with the archive's C(.sha256) file and refuses to
    start when they differ.
  - Checks that the PostgreSQL data volume has room for the restored copy (O(space_check)), before
    anything is created; measuring, deciding and C(CREATE DATABASE) take one round trip through the prefix.
  - Creates the target database (it must not exist), then streams the archive from the host running
    the module into C(pg_restore --exit-on-error) run through the exec prefix, computing the archive's
    sha256 on the way (the archive is read once).
  - When the streamed archive's sha256 differs from the expected one, the restored database is dropped
    again and the module fails. Nothing is lost that way either - the target is a new database - and no
    second read of the archive delays the restore.
  - If the restore fails or is interrupted, the database this module created is dropped again; it never
    drops or changes any other database.
author:
  - parametric_portal maintainers (@parametric-portal)
extends_documentation_fragment:
  - parametric_portal.infra.db_backup
options:
  backup:
    description: Path of the C(.dump) archive.
    type: path
    required: true
  sha256:
    description: Expected sha256 of the archive (from its manifest).
    type: str
    required: true
  database:
    description: Database to create and restore into; must not exist yet.
    type: str
    required: true
  owner:
    description: Owner of the new database; empty keeps the connecting user.
    type: str
    default: ''
  space_check:
    description:
      - Before creating anything, measure the free space of the file system holding the server's
        C(data_directory) (C(stat -f), run through the exec prefix, so in the pod) and fail unless the
        restored copy fits and O(min_free_percent) of the volume stays free.
      - The size of the copy is estimated as the current size of O(size_reference_database)
        (C(pg_database_size)), or O(archive_size_factor) times the archive size when that database does
        not exist. Tablespaces and a separate WAL volume are not looked at.
      - Needs a role that may read C(data_directory) (superuser, or a member of C(pg_read_all_settings)).
    type: bool
    default: true
  size_reference_database:
    description: The database the backup was taken from (its size is the estimate); empty uses O(database).
    type: str
    default: ''
  min_free_percent:
    description: Share of the data volume that must still be free after the restore, in percent.
    type: int
    default: 10
  archive_size_factor:
    description: Estimate of the restored size per archive byte when no reference database exists.
    type: int
    default: 5
attributes:
  check_mode:
    support: full
    description: The checksum is verified (the archive is read); nothing is created or restored.
  diff_mode:
    support: none
    description: A restore has no meaningful diff.
"""

EXAMPLES = r"""
- name: Restore into a scratch database
  parametric_portal.infra.db_backup_load:
    exec_prefix: [podman, exec, -i, -u, postgres, pp-backup-pg17]
    backup: /srv/backups/dev/api-db/appdb-20260101T000000Z.dump
    sha256: "{{ manifest.dump.sha256 }}"
    database: appdb_drill
    owner: app
    size_reference_database: appdb
"""

RETURN = r"""
database:
  description: The database that now holds the restored data.
  returned: success
  type: str
sha256:
  description: The verified sha256.
  returned: success
  type: str
seconds:
  description: Wall time of the restore (space check, CREATE DATABASE and the pg_restore stream).
  returned: success and not check mode
  type: float
cpu_seconds:
  description:
    - CPU time used on the host running the module during the restore (this process and the exec prefix's
      client processes, for example kubectl), for benchmarks; the server's own work is not included.
  returned: success and not check mode
  type: float
space:
  description:
    - The free-space check - data_directory, volume size, free bytes, estimated size of the copy and how
      it was estimated, bytes that stay free afterwards - or null with O(space_check=false).
  returned: success and not check mode
  type: dict
"""

import hashlib
import os
import resource
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.parametric_portal.infra.plugins.module_utils import _db_exec as dbx
from ansible_collections.parametric_portal.infra.plugins.module_utils import _dump_retention as ret


class _ChecksumMismatch(Exception):
    kind = "checksum"


def _cpu_seconds():
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def restore(p, runner, conn, expected):
    """Space check, CREATE DATABASE, streamed pg_restore with sha256; drops what it created on failure.

    Returns (sha256, space). Raises DbExecError / SpaceError / _ChecksumMismatch / dbx.Interrupted /
    OSError with a note about the dropped database appended to the message."""
    space_check = None
    if p["space_check"]:
        space_check = {"reference": p["size_reference_database"] or p["database"], "archive_size": os.path.getsize(p["backup"]),
                       "factor": p["archive_size_factor"], "min_free_percent": p["min_free_percent"]}
    # One round trip: measure, decide and create (nothing is created when the copy does not fit).
    space = dbx.create_database(runner, conn, p["database"], p["owner"], space_check)
    ident = dbx.quote_ident(p["database"])
    digest = hashlib.sha256()
    try:
        try:
            runner.stream_in(["pg_restore", "--exit-on-error"] + conn + ["-d", p["database"]], p["backup"], digest)
            failure = None
        except dbx.DbExecError as exc:  # the whole archive was still hashed: a corrupt one is named as such
            failure = exc
        if digest.hexdigest() != expected:
            raise _ChecksumMismatch(
                "checksum mismatch for %s: the streamed archive has %s, the manifest says %s%s"
                % (p["backup"], digest.hexdigest(), expected, "; pg_restore: %s" % failure if failure else ""))
        if failure is not None:
            raise failure
    except (dbx.DbExecError, _ChecksumMismatch, dbx.Interrupted, OSError) as exc:
        dbx.ignore_signals()
        runner.kill_child()
        try:
            runner.run(dbx.psql_command("DROP DATABASE IF EXISTS %s WITH (FORCE)" % ident, "postgres", conn))
            note = "; the restored database %s was dropped again, nothing else was changed" % p["database"]
        except (dbx.DbExecError, OSError) as drop_exc:
            note = "; dropping the restored database %s failed too: %s" % (p["database"], drop_exc)
        exc.args = ("%s%s" % (exc, note),)
        raise
    return digest.hexdigest(), space


def main():
    module = AnsibleModule(
        argument_spec=dbx.argument_spec(
            backup=dict(type="path", required=True),
            sha256=dict(type="str", required=True),
            database=dict(type="str", required=True),
            owner=dict(type="str", default=""),
            space_check=dict(type="bool", default=True),
            size_reference_database=dict(type="str", default=""),
            min_free_percent=dict(type="int", default=10),
            archive_size_factor=dict(type="int", default=5),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for name in [p["database"]] + [n for n in (p["owner"], p["size_reference_database"]) if n]:
        if not ret.DATABASE_RE.match(name):
            module.fail_json(msg="name %r is not accepted (expected %s)" % (name, ret.DATABASE_RE.pattern))
    if not 0 <= p["min_free_percent"] < 100 or p["archive_size_factor"] < 1:
        module.fail_json(msg="min_free_percent must be 0-99 and archive_size_factor at least 1")
    expected = p["sha256"].strip().lower()
    try:
        side = p["backup"] + ".sha256"
        recorded = dbx.read_sha256_file(side) if os.path.exists(side) else expected
        if not os.path.isfile(p["backup"]):
            raise OSError("%s: no such file" % p["backup"])
    except (OSError, ValueError) as exc:
        module.fail_json(msg="cannot read the backup: %s" % exc)
    if recorded != expected:
        module.fail_json(msg="checksum mismatch for %s: manifest says %s, .sha256 file says %s; refusing to restore"
                         % (p["backup"], expected, recorded), error_kind="checksum")
    if module.check_mode:
        actual = dbx.sha256_file(p["backup"])
        if actual != expected:
            module.fail_json(msg="checksum mismatch for %s: file has %s, manifest says %s; refusing to restore"
                             % (p["backup"], actual, expected), error_kind="checksum")
        module.exit_json(changed=True, database=p["database"], sha256=actual)

    runner, conn = dbx.runner_and_conn(p)
    started, cpu_started = time.time(), _cpu_seconds()
    dbx.raise_on_signals()
    try:
        actual, space = restore(p, runner, conn, expected)
    except dbx.SpaceError as exc:
        module.fail_json(msg="restore into %s refused: %s" % (p["database"], exc), error_kind="space", space=exc.space)
    except (dbx.DbExecError, _ChecksumMismatch, dbx.Interrupted, OSError) as exc:
        runner.kill_child()
        module.fail_json(msg="restore into %s failed: %s" % (p["database"], exc), error_kind=getattr(exc, "kind", "local"))
    module.exit_json(changed=True, database=p["database"], sha256=actual, seconds=round(time.time() - started, 3),
                     cpu_seconds=round(_cpu_seconds() - cpu_started, 3), space=space)


if __name__ == "__main__":
    main()
