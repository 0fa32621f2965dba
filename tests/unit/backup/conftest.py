"""Drive the db_backup_* / cnpg_backup_info modules in-process (kubernetes.core's AnsibleExitJson
pattern, as tests/unit/sealing/conftest.py does), with the module's own no_log masking applied."""
from __future__ import annotations

import importlib
import json

import pytest

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
    raise AnsibleExitJson(json.loads(json.dumps(basic.remove_values(kwargs, self.no_log_values))))


def _fail_json(self, msg, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise AnsibleFailJson(json.loads(json.dumps(basic.remove_values(kwargs, self.no_log_values))))


@pytest.fixture
def run_module(monkeypatch):
    """run_module(name, args, check=False, diff=False) -> (ok: bool, result dict)."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)

    def runner(name, args, check=False, diff=False):
        module = importlib.import_module("ansible_collections.parametric_portal.infra.plugins.modules." + name)
        args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
        with patch_module_args(args):
            try:
                module.main()
            except AnsibleExitJson as exc:
                return True, exc.result
            except AnsibleFailJson as exc:
                return False, exc.result
        raise AssertionError("module returned without exit_json/fail_json")

    return runner
