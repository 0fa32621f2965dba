#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: db_backup_query
short_description: Run one SQL statement with psql through an exec prefix
version_added: 0.1.0
description:
  - Runs C(psql -X -A -t -v ON_ERROR_STOP=1 -c SQL) through an exec prefix (for example
    C(kubectl exec -i ... --) into the PostgreSQL pod, or C(podman exec -i) in tests) and
    returns the rows. The password, if any, is sent on stdin, never on a command line.
  - Used by the db_backup role for probes (read-only) and for the few statements it needs
    during restores (CREATE/ALTER/DROP DATABASE of databases it names).
  - Fails with C(error_kind=auth) when the server rejected the credentials, so callers can
    print a clear message.
author:
  - parametric_portal maintainers (@parametric-portal)
extends_documentation_fragment:
  - parametric_portal.infra.db_backup
options:
  sql:
    description: One SQL statement (or several separated by semicolons, run by one psql C(-c)).
    type: str
    required: true
  database:
    description: Database to connect to.
    type: str
    default: postgres
  read_only:
    description:
      - C(true) for queries that change nothing; they run in check mode and report no change.
      - C(false) for statements that change something; they report a change and are skipped in check mode.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Read-only queries run; others are skipped and reported as changed.
  diff_mode:
    support: none
    description: SQL statements have no diff.
"""

EXAMPLES = r"""
- name: List application databases
  parametric_portal.infra.db_backup_query:
    exec_prefix: [podman, exec, -i, -u, postgres, pp-backup-pg17]
    sql: SELECT datname FROM pg_database WHERE NOT datistemplate
  register: dbs
"""

RETURN = r"""
rows:
  description: Result rows, each a list of column strings.
  returned: success and the statement ran
  type: list
  elements: list
stdout:
  description: Raw psql output.
  returned: success and the statement ran
  type: str
error_kind:
  description: On failure, C(auth), C(connect) or C(command).
  returned: failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.parametric_portal.infra.plugins.module_utils import _db_exec as dbx


def main():
    module = AnsibleModule(
        argument_spec=dbx.argument_spec(
            sql=dict(type="str", required=True),
            database=dict(type="str", default="postgres"),
            read_only=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode and not p["read_only"]:
        module.exit_json(changed=True, skipped_reason="check mode: statement not run")
    runner, conn = dbx.runner_and_conn(p)
    try:
        out = runner.run(dbx.psql_command(p["sql"], p["database"], conn))
    except dbx.DbExecError as exc:
        module.fail_json(msg=str(exc), error_kind=exc.kind, rc=exc.rc, stderr=exc.stderr)
    except OSError as exc:
        module.fail_json(msg="cannot run the exec prefix %s: %s" % (p["exec_prefix"][0], exc), error_kind="local")
    module.exit_json(changed=not p["read_only"], rows=dbx.parse_rows(out), stdout=out)


if __name__ == "__main__":
    main()
