"""The platform_status module (the one readiness path of the platform roles) over _readiness.

Objects are the hand-written fixtures of tests/fixtures/platform; the bounded wait is driven with a
reader, a clock and a pause the test controls (no cluster and no sleeping here). Reading a real API
server is the seam api_reader(), exercised against the real kube-apiserver by tests/controlplane.
"""
from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.parametric_portal.infra.plugins.module_utils import _readiness
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
    assert rc == 0 and out["ready"] is True and out["changed"] is False and out["checked"] is True and out["polls"] == 0


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


def test_module_says_when_nothing_was_checked(capsys):
    rc, out = run_module(capsys, {"kind": "Application", "names": ["platform"], "live": False, "wait": True})
    assert rc == 0 and out["checked"] is False and out["ready"] is False
    assert out["msg"] == "Application platform were NOT checked against a cluster (live is false)."
    rc, out = run_module(capsys, {"kind": "Application", "names": ["platform"], "_ansible_check_mode": True})
    assert rc == 0 and out["checked"] is False and "check mode" in out["msg"]


def test_module_needs_a_namespace_to_read_applications(capsys):
    rc, out = run_module(capsys, {"kind": "Application", "names": ["platform"]})
    assert rc == 1 and ("namespace is required" in out["msg"] or "kubernetes" in out["msg"])


class Clock:
    def __init__(self):
        self.now = 0.0
        self.pauses = []

    def time(self):
        return self.now

    def pause(self, seconds):
        self.pauses.append(seconds)
        self.now += seconds


def test_wait_polls_until_ready(fixtures_dir):
    states = [[fixture(fixtures_dir, "application-kyverno-outofsync-progressing.json")]] * 2 + [
        [dict(fixture(fixtures_dir, "application-platform-synced-healthy.json"), metadata={"name": "kyverno"})]]
    clock = Clock()
    reads = iter(states)
    report = _readiness.wait(lambda: (next(reads), []), "Application", ["kyverno"], timeout=60, sleep=10,
                             clock=clock.time, pause=clock.pause)
    assert report["ready"] is True and report["polls"] == 3 and clock.pauses == [10, 10] and report["timed_out"] is False


def test_wait_is_bounded_and_keeps_the_last_reason(fixtures_dir):
    clock = Clock()
    pending = [fixture(fixtures_dir, "application-kyverno-outofsync-progressing.json")]
    report = _readiness.wait(lambda: (pending, []), "Application", ["kyverno"], timeout=25, sleep=10,
                             clock=clock.time, pause=clock.pause)
    assert report["ready"] is False and report["timed_out"] is True and report["waited"] == 25
    assert clock.pauses == [10, 10, 5] and "sync OutOfSync" in report["msg"]


def test_wait_stops_at_a_terminal_failure(fixtures_dir):
    clock = Clock()
    invalid = [fixture(fixtures_dir, "application-kyverno-policies-invalid-spec.json")]
    report = _readiness.wait(lambda: (invalid, []), "Application", ["kyverno-policies"], timeout=600, sleep=10,
                             clock=clock.time, pause=clock.pause)
    assert report["failed"] is True and report["polls"] == 1 and clock.pauses == []


def test_wait_counts_an_unreadable_api_as_pending(fixtures_dir):
    clock = Clock()
    reads = iter([RuntimeError("connection refused"), ([], [fixture(fixtures_dir, "job-helm-install-argocd-complete.json")])])

    def read():
        value = next(reads)
        if isinstance(value, Exception):
            raise value
        return value

    report = _readiness.wait(read, "HelmChart", ["argocd"], timeout=60, sleep=5, clock=clock.time, pause=clock.pause)
    assert report["ready"] is True and report["polls"] == 2
    clock = Clock()

    def unreachable():
        raise OSError("no route")

    report = _readiness.wait(unreachable, "HelmChart", ["argocd"], timeout=9, sleep=5, clock=clock.time, pause=clock.pause)
    assert report["timed_out"] is True and "could not be read yet: no route" in report["msg"]
