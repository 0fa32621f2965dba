"""The platform_status module and the platform_readiness filter: thin wrappers over _readiness."""
from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError
from ansible.module_utils.testing import patch_module_args

from ansible_collections.parametric_portal.infra.plugins.filter.platform_readiness import FilterModule
from ansible_collections.parametric_portal.infra.plugins.modules import platform_status


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            platform_status.main()
    return exc.value.code, json.loads(capsys.readouterr().out)


def fixture(fixtures_dir, name):
    return json.loads((fixtures_dir / "representative" / name).read_text())


def test_module_ready(capsys, fixtures_dir):
    rc, out = run_module(capsys, {"kind": "HelmChart", "names": ["argocd"],
                                  "jobs": [fixture(fixtures_dir, "job-helm-install-argocd-complete.json")]})
    assert rc == 0 and out["ready"] is True and out["changed"] is False


def test_module_fails_with_the_reason(capsys, fixtures_dir):
    rc, out = run_module(capsys, {"kind": "Cluster", "names": ["api-db"],
                                  "resources": [fixture(fixtures_dir, "cluster-api-db-setting-up.json")]})
    assert rc == 1 and out["failed"] is True
    assert "Setting up primary" in out["msg"] and out["pending"] and out["components"][0]["state"] == "pending"


def test_module_can_report_without_failing(capsys, fixtures_dir):
    rc, out = run_module(capsys, {"kind": "Cluster", "names": ["api-db"], "fail_when_not_ready": False,
                                  "resources": [fixture(fixtures_dir, "cluster-api-db-archiving-failing.json")]})
    assert rc == 0 and out["ready"] is False and "WAL archiving fails" in out["msg"]


def test_module_rejects_empty_names(capsys):
    rc, out = run_module(capsys, {"kind": "Application", "names": []})
    assert rc == 1 and "at least one" in out["msg"]


def test_filter_reads_jobs_for_helmcharts(fixtures_dir):
    f = FilterModule().filters()["platform_readiness"]
    assert f([fixture(fixtures_dir, "job-helm-install-argocd-complete.json")], "HelmChart", ["argocd"])["done"]
    assert not f(None, "Application", ["platform"])["done"]
    with pytest.raises(AnsibleFilterError, match="must be a list"):
        f({"not": "a list"}, "Application", ["platform"])
    with pytest.raises(AnsibleFilterError, match="kind must be one of"):
        f([], "Pod", ["x"])
