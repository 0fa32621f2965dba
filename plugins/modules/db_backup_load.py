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
  - Verifies the archive's sha256 against the expected value (from the manifest) and against
    its C(.sha256) file, and refuses to continue when either differs.
  - Creates the target database (it must not exist), then streams the archive from the host
    running the module into C(pg_restore --exit-on-error) run through the exec prefix.
  - If the restore fails or is interrupted, the database this module created is dropped
    again; it never drops or changes any other database.
author:
  - parametric_portal maintainers (@parametric-portal)
options:
  exec_prefix:
    description: Command prefix that reaches the PostgreSQL server's machine, as a list.
    type: list
    elements: str
    required: true
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
  user:
    description: PostgreSQL user (C(-U)); empty uses the client default.
    type: str
    default: ''
  host:
    description: Server host or socket directory (C(-h)); empty uses the local socket.
    type: str
    default: ''
  port:
    description: Server port (C(-p)).
    type: int
  password:
    description: Password; sent on stdin to the remote wrapper.
    type: str
    default: ''
attributes:
  check_mode:
    support: full
    description: The checksum is verified; nothing is created or restored.
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
  description: Wall time of the restore.
  returned: success and not check mode
  type: float
"""

import os
import signal
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.parametric_portal.infra.plugins.module_utils import _db_exec as dbx
from ansible_collections.parametric_portal.infra.plugins.module_utils import _dump_retention as ret


class _Interrupted(Exception):
    pass


def _on_signal(signum, _frame):
    raise _Interrupted("interrupted by signal %d" % signum)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            exec_prefix=dict(type="list", elements="str", required=True),
            backup=dict(type="path", required=True),
            sha256=dict(type="str", required=True),
            database=dict(type="str", required=True),
            owner=dict(type="str", default=""),
            user=dict(type="str", default=""),
            host=dict(type="str", default=""),
            port=dict(type="int"),
            password=dict(type="str", default="", no_log=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for name in [p["database"]] + ([p["owner"]] if p["owner"] else []):
        if not ret.DATABASE_RE.match(name):
            module.fail_json(msg="name %r is not accepted (expected %s)" % (name, ret.DATABASE_RE.pattern))
    expected = p["sha256"].strip().lower()
    try:
        actual = dbx.sha256_file(p["backup"])
        side = p["backup"] + ".sha256"
        recorded = dbx.read_sha256_file(side) if os.path.exists(side) else expected
    except (OSError, ValueError) as exc:
        module.fail_json(msg="cannot read the backup: %s" % exc)
    if actual != expected or recorded != expected:
        module.fail_json(
            msg="checksum mismatch for %s: file has %s, manifest says %s, .sha256 file says %s; refusing to restore"
            % (p["backup"], actual, expected, recorded),
            error_kind="checksum",
        )
    if module.check_mode:
        module.exit_json(changed=True, database=p["database"], sha256=actual)

    runner = dbx.Runner(p["exec_prefix"], p["password"])
    conn = ["-w"] + dbx.conn_args(p["user"], p["host"], p["port"])
    ident = dbx.quote_ident(p["database"])
    owner = (" OWNER " + dbx.quote_ident(p["owner"])) if p["owner"] else ""
    created = False
    started = time.time()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    try:
        runner.run(dbx.psql_command("CREATE DATABASE %s%s" % (ident, owner), "postgres", conn))
        created = True
        runner.stream_in(["pg_restore", "--exit-on-error"] + conn + ["-d", p["database"]], p["backup"])
    except (dbx.DbExecError, _Interrupted, OSError) as exc:
        runner.kill_child()
        note = ""
        if created:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            try:
                runner.run(dbx.psql_command("DROP DATABASE IF EXISTS %s WITH (FORCE)" % ident, "postgres", conn))
                note = "; the partly restored database %s was dropped" % p["database"]
            except (dbx.DbExecError, OSError) as drop_exc:
                note = "; dropping the partly restored database %s failed too: %s" % (p["database"], drop_exc)
        module.fail_json(msg="restore into %s failed: %s%s" % (p["database"], exc, note),
                         error_kind=getattr(exc, "kind", "local"))
    module.exit_json(changed=True, database=p["database"], sha256=actual, seconds=round(time.time() - started, 3))


if __name__ == "__main__":
    main()
