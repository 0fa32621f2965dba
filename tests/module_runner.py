"""Drive a collection module's main() in-process (kubernetes.core's AnsibleExitJson pattern), with the
module's own no_log masking applied to what it returns, as a real run does.

Shared by the conftest.py files of tests/unit (on sys.path through tests/conftest.py, like
gitops_inputs.py)."""
from __future__ import annotations

import json

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class AnsibleExitJson(Exception):
    def __init__(self, kwargs):
        super().__init__(kwargs)
        self.result = kwargs


class AnsibleFailJson(Exception):
    def __init__(self, kwargs):
        super().__init__(kwargs)
        self.result = kwargs


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    # Serialise through the module's own no_log masking, like a real run does.
    raise AnsibleExitJson(json.loads(json.dumps(basic.remove_values(kwargs, self.no_log_values))))


def _fail_json(self, msg, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise AnsibleFailJson(json.loads(json.dumps(basic.remove_values(kwargs, self.no_log_values))))


def patch_exits(monkeypatch) -> None:
    """Make exit_json/fail_json raise (with the masked result) instead of printing and exiting."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)


def call_main(main, args, check=False, diff=False):
    """main() with these module arguments -> (ok: bool, result dict); needs patch_exits first."""
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    with patch_module_args(args):
        try:
            main()
        except AnsibleExitJson as exc:
            return True, exc.result
        except AnsibleFailJson as exc:
            return False, exc.result
    raise AssertionError("module returned without exit_json/fail_json")
