# -*- coding: utf-8 -*-
# Copyright (c) parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    """How the db_backup_* modules reach PostgreSQL: the exec prefix and libpq connection options.

    Matches the argument-spec piece CONNECTION_ARG_SPEC in plugins/module_utils/_db_exec.py."""

    DOCUMENTATION = r"""
options:
  exec_prefix:
    description:
      - Command prefix that reaches the PostgreSQL server's machine, as a list; the client tools
        (C(psql), C(pg_dump), C(pg_restore)) run through it, next to the server.
      - In production the db_backup role sets C(kubectl --kubeconfig K exec -i -n NS <primary pod> -c postgres --);
        the tests use C(podman exec -i -u postgres <container>). This is the only part that differs.
    type: list
    elements: str
    required: true
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
    description:
      - Password. Sent as the first line of the client's stdin to a small shell wrapper that exports it as
        E(PGPASSWORD); never on a command line.
    type: str
    default: ''
"""
