"""Drive the db_backup_* / cnpg_backup_info modules in-process (kubernetes.core's AnsibleExitJson
pattern, shared with tests/unit/sealing/conftest.py in tests/module_runner.py), with the module's own
no_log masking applied."""
from __future__ import annotations

import importlib

import pytest

from module_runner import call_main, patch_exits


@pytest.fixture
def run_module(monkeypatch):
    """run_module(name, args, check=False, diff=False) -> (ok: bool, result dict)."""
    patch_exits(monkeypatch)

    def runner(name, args, check=False, diff=False):
        module = importlib.import_module("ansible_collections.parametric_portal.infra.plugins.modules." + name)
        return call_main(module.main, args, check, diff)

    return runner
