# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kill the whole ansible-playbook run right after a named task finished (interrupted-run tests)."""
from __future__ import annotations

import os
import signal

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: kill_after_task
type: aggregate
short_description: SIGKILL the run's process group right after a named task finished on a host
description:
  - Test infrastructure of the Molecule scenarios, not part of the collection. A test enables it
    for one run (C(ANSIBLE_CALLBACKS_ENABLED)) and names the task in E(PP_KILL_AFTER_TASK), either
    as printed in the task banner (C(<role> ":" <name>)) or as the bare task name.
  - When that task reports ok or changed on any host, the callback prints one line and sends
    SIGKILL to ansible-playbook's process group, so the run stops at exactly that point (no
    handler, no later task) as a kill -9 or a lost controller would stop it. The test starts the
    run in its own session so nothing else is in that group.
"""


class CallbackModule(CallbackBase):
    """SIGKILL the process group after the task named in PP_KILL_AFTER_TASK."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "kill_after_task"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._target = os.environ.get("PP_KILL_AFTER_TASK", "")

    def v2_runner_on_ok(self, result) -> None:
        if not self._target or self._target not in (result.task.get_name(), result.task.name):
            return
        self._display.display("KILLED by kill_after_task after %r on %s" % (self._target, result.host.get_name()))
        os.killpg(os.getpgrp(), signal.SIGKILL)
