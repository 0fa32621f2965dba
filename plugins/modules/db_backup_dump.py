#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: db_backup_dump
short_description: Write one verified, checksummed pg_dump archive and its manifest
version_added: 0.1.0
description:
  - Runs C(pg_dump -Fc) for one database through an exec prefix (for example
    C(kubectl exec -i ... --) into the PostgreSQL pod) and streams the archive to a file on
    the host running the module (the Ansible controller in the db_backup role).
  - The archive is written under a temporary dot-name ending in C(.partial), verified with
    C(pg_restore --list) (run through the same prefix, so it is the server's own version),
    then the C(.sha256) file and the JSON manifest are written and everything is renamed
    into place, the manifest last.
  - On any failure, or on SIGTERM/SIGINT/SIGHUP, the temporary files are removed and the
    child process is killed; files of earlier backups are never opened for writing.
  - The manifest records database, owner, size, sha256, PostgreSQL server version, pg_dump
    version, time, and the list of files that belong to the backup (used by retention).
author:
  - parametric_portal maintainers (@parametric-portal)
extends_documentation_fragment:
  - parametric_portal.infra.db_backup
options:
  database:
    description: Database to dump.
    type: str
    required: true
  dest:
    description: Directory for the backup files; created with mode 0700 when missing.
    type: path
    required: true
  create_levels:
    description:
      - How many trailing directory levels of O(dest) to create, with mode 0700, when missing (the
        db_backup role uses 3, C(<backup_dir>/<environment>/<cluster>)). Parents above them must exist.
      - Only directories this module creates get mode 0700. Existing ones are left exactly as they are, so
        a shared C(db_backup_dir) such as C(/tmp) keeps its mode and sticky bit. The files themselves are
        always written with mode 0600.
    type: int
    default: 1
  stamp:
    description: UTC time stamp C(YYYYmmddTHHMMSSZ) used in the file names.
    type: str
    required: true
  owner:
    description: Owner role of the database, recorded in the manifest for restores.
    type: str
  environment:
    description: Environment name recorded in the manifest.
    type: str
    default: ''
  cluster:
    description: Cluster name recorded in the manifest.
    type: str
    default: ''
  server_version:
    description:
      - PostgreSQL server version for the manifest when the caller already knows it
        (saves one round trip); empty = ask the server with C(SHOW server_version).
    type: str
    default: ''
attributes:
  check_mode:
    support: full
    description: Nothing runs; the planned file names are returned.
  diff_mode:
    support: none
    description: A new backup has no meaningful diff.
"""

EXAMPLES = r"""
- name: Dump appdb from the CloudNativePG primary pod
  parametric_portal.infra.db_backup_dump:
    exec_prefix: [kubectl, exec, -i, -n, parametric-portal, api-db-1, -c, postgres, --]
    database: appdb
    dest: /srv/backups/prod/api-db
    stamp: 20260101T000000Z
"""

RETURN = r"""
dump:
  description: Path of the verified archive.
  returned: success
  type: str
manifest:
  description: Path of the manifest.
  returned: success
  type: str
created_directories:
  description: Directories this run created (mode 0700), outermost first.
  returned: success and not check mode
  type: list
  elements: str
size:
  description: Archive size in bytes.
  returned: success and not check mode
  type: int
sha256:
  description: Archive sha256.
  returned: success and not check mode
  type: str
server_version:
  description: PostgreSQL server version (C(SHOW server_version)).
  returned: success and not check mode
  type: str
toc_entries:
  description: Number of entries C(pg_restore --list) reported.
  returned: success and not check mode
  type: int
seconds:
  description: Wall time of dump and verification.
  returned: success and not check mode
  type: float
"""

import datetime
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.parametric_portal.infra.plugins.module_utils import _db_exec as dbx
from ansible_collections.parametric_portal.infra.plugins.module_utils import _dump_retention as ret


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def run_dump(p, runner, check_mode):
    """Do the work; return the module result dict. Raises on failure (after cleanup)."""
    base = ret.base_name(p["database"], p["stamp"])
    dest = p["dest"]
    final = {
        "dump": os.path.join(dest, base + ".dump"),
        "sha": os.path.join(dest, base + ".dump.sha256"),
        "manifest": os.path.join(dest, base + ret.MANIFEST_SUFFIX),
    }
    for path in final.values():
        if os.path.exists(path):
            raise FileExistsError("%s already exists; refusing to overwrite an earlier backup" % path)
    result = {"changed": True, "dump": final["dump"], "manifest": final["manifest"]}
    if check_mode:
        return result
    result["created_directories"] = ret.ensure_directories(dest, p["create_levels"])
    tmp = dict((k, os.path.join(dest, "." + os.path.basename(v) + ret.PARTIAL_SUFFIX)) for k, v in final.items())
    conn = dbx.conn_args(p["user"], p["host"], p["port"])
    started = time.time()
    try:
        version = p["server_version"] or runner.run(dbx.psql_command("SHOW server_version", p["database"], ["-w"] + conn)).strip()
        tool = runner.run(["pg_dump", "--version"]).strip()
        fd = os.open(tmp["dump"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            size, digest = runner.stream_out(["pg_dump", "-w", "-Fc"] + conn + ["-d", p["database"]], handle)
            handle.flush()
            os.fsync(handle.fileno())
        listing = runner.stream_in(["pg_restore", "--list"], tmp["dump"])
        toc = [line for line in listing.splitlines() if line.strip() and not line.startswith(";")]
        if not toc:
            raise dbx.DbExecError("pg_restore --list found no entries in the archive of %s" % p["database"])
        created = datetime.datetime.fromtimestamp(started, datetime.timezone.utc)
        manifest = {
            "format": ret.MANIFEST_FORMAT,
            "database": p["database"],
            "owner": p["owner"],
            "environment": p["environment"],
            "cluster": p["cluster"],
            "stamp": p["stamp"],
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "server_version": version,
            "tool_version": tool,
            "dump": {"file": base + ".dump", "size": size, "sha256": digest, "format": "custom"},
            "verified": {"command": "pg_restore --list", "toc_entries": len(toc)},
            "files": [base + ".dump", base + ".dump.sha256"],
            "seconds": round(time.time() - started, 3),
        }
        ret.validate_manifest(manifest, os.path.basename(final["manifest"]))
        for key, text in (("sha", "%s  %s\n" % (digest, base + ".dump")), ("manifest", json.dumps(manifest, indent=2, sort_keys=True) + "\n")):
            fd = os.open(tmp[key], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        for key in ("dump", "sha", "manifest"):
            dbx.atomic_rename(tmp[key], final[key])
        _fsync_dir(dest)
    finally:
        # Nothing may stop the removal of the partial files once it starts (dbx.ignore_signals: the same
        # SIGTERM arrives twice on an interrupted ansible-playbook run).
        dbx.ignore_signals()
        runner.kill_child()
        for path in tmp.values():
            if os.path.exists(path):
                os.unlink(path)
    result.update(size=size, sha256=digest, server_version=version, tool_version=tool,
                  toc_entries=len(toc), seconds=manifest["seconds"])
    return result


def main():
    module = AnsibleModule(
        argument_spec=dbx.argument_spec(
            database=dict(type="str", required=True),
            dest=dict(type="path", required=True),
            stamp=dict(type="str", required=True),
            owner=dict(type="str"),
            environment=dict(type="str", default=""),
            cluster=dict(type="str", default=""),
            server_version=dict(type="str", default=""),
            create_levels=dict(type="int", default=1),
        ),
        supports_check_mode=True,
    )
    runner = dbx.Runner(module.params["exec_prefix"], module.params["password"])
    dbx.raise_on_signals()
    try:
        result = run_dump(module.params, runner, module.check_mode)
    except dbx.DbExecError as exc:
        module.fail_json(msg="backup of database %s failed, no file kept: %s" % (module.params["database"], exc), error_kind=exc.kind)
    except (dbx.Interrupted, OSError, ValueError) as exc:
        module.fail_json(msg="backup of database %s failed, no file kept: %s" % (module.params["database"], exc), error_kind="local")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
