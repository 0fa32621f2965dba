# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fail Molecule's ``check`` step when check mode on the converged hosts reports a change."""
from __future__ import annotations

import os
import sys

from ansible import context
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: check_mode_changes
type: aggregate
short_description: Fail the scenario's check-mode converge when it reports changes
description:
  - Molecule's C(check) step runs the scenario's converge playbook with C(--check) against the
    converged hosts, and Molecule itself does not fail when tasks report changes there.
  - This callback makes exactly that run exit with code 2 after the play recap, naming the tasks
    that reported a change. It acts only when check mode is on AND the playbook is the scenario's
    converge playbook (C(converge.yml) in E(MOLECULE_SCENARIO_DIRECTORY)); every other run, for
    example a test that runs C(--check) on a fresh host on purpose, is left alone.
  - Test infrastructure of the Molecule scenarios; not part of the collection.
requirements:
  - enabled in C(callbacks_enabled) (extensions/molecule/config.yml does)
"""

EXIT_CHANGED = 2  # ansible-playbook's code for "a host failed"


def _converge_playbook() -> str:
    scenario = os.environ.get("MOLECULE_SCENARIO_DIRECTORY", "")
    return os.path.realpath(os.path.join(scenario, "converge.yml")) if scenario else ""


class CallbackModule(CallbackBase):
    """Record changed tasks in a check-mode converge and fail the run at the end if any."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "check_mode_changes"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._active = False
        self._changed: list[str] = []

    def v2_playbook_on_start(self, playbook) -> None:
        converge = _converge_playbook()
        self._active = bool(
            converge
            and context.CLIARGS.get("check")
            and os.path.realpath(playbook._file_name) == converge  # pylint: disable=protected-access
        )

    def v2_runner_on_ok(self, result) -> None:
        if self._active and result.is_changed():
            self._changed.append("%s: %s" % (result.host.get_name(), result.task.get_name()))

    def v2_playbook_on_stats(self, stats) -> None:
        if not self._active:
            return
        changed = {host: stats.summarize(host)["changed"] for host in sorted(stats.processed)}
        changed = {host: count for host, count in changed.items() if count}
        if not changed:
            self._display.display("check mode on the converged hosts: no changes")
            return
        tasks = "\n".join("  - " + line for line in self._changed) or "  (no task names recorded)"
        self._display.error(
            "check mode on the converged hosts reported changes (%s); a converged host must be "
            "left alone by a re-run. Tasks:\n%s"
            % (", ".join("%s changed=%d" % item for item in changed.items()), tasks)
        )
        sys.exit(EXIT_CHANGED)
