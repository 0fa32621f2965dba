"""Readiness evaluation (plugins/module_utils/_readiness.py) against stored API responses.

The responses in tests/fixtures/platform/representative/ are representative, not recorded from a
live cluster (see the README there); test_fixtures_match_upstream_schemas proves they are valid
objects of the upstream API types.
"""
from __future__ import annotations

import json

import pytest

from ansible_collections.parametric_portal.infra.plugins.module_utils import _readiness as r
from ansible_collections.parametric_portal.infra.plugins.module_utils._k8s_schema import SchemaValidator


def load(fixtures_dir, name):
    paths = list(fixtures_dir.glob("*/%s" % name))
    assert len(paths) == 1, name
    return json.loads(paths[0].read_text())


def all_fixture_files(fixtures_dir):
    return sorted(p for p in fixtures_dir.glob("*/*.json"))


def test_fixtures_match_upstream_schemas(fixtures_dir, crds_dir):
    validator = SchemaValidator(crd_dirs=[str(crds_dir / "argo-cd"), str(crds_dir / "cloudnative-pg"), str(crds_dir / "helm-controller")],
                                k8s_version="1.32", strict=True)
    files = all_fixture_files(fixtures_dir)
    assert len(files) >= 12
    findings = []
    for path in files:
        findings += validator.validate(json.loads(path.read_text()), source=path.name)
    assert not findings, "\n".join(str(f) for f in findings)


def test_helmchart_complete_job_is_ready(fixtures_dir):
    job = load(fixtures_dir, "job-helm-install-argocd-complete.json")
    chart = load(fixtures_dir, "helmchart-argocd-job-created.json")
    report = r.evaluate("HelmChart", ["argocd"], [chart], [job])
    assert report["ready"] and report["done"] and not report["failed"]
    assert report["components"][0]["message"] == "install Job of HelmChart argocd: helm-install-argocd completed"


def test_helmchart_running_job_is_pending(fixtures_dir):
    job = load(fixtures_dir, "job-helm-install-cnpg-running.json")
    report = r.evaluate("HelmChart", ["cnpg"], [], [job])
    assert not report["ready"] and not report["done"]
    assert "still running (active 1, failed attempts 2)" in report["msg"]


def test_helmchart_failed_job_is_terminal(fixtures_dir):
    job = load(fixtures_dir, "job-helm-install-sealed-secrets-failed.json")
    report = r.evaluate("HelmChart", ["sealed-secrets"], [], [job])
    assert report["failed"] and report["done"] and not report["ready"]
    msg = report["pending"][0]
    assert "BackoffLimitExceeded" in msg and "kubectl -n kube-system logs job/helm-install-sealed-secrets" in msg


def test_helmchart_failed_condition_wins_over_jobs(fixtures_dir):
    chart = load(fixtures_dir, "helmchart-argocd-failed-abort.json")
    report = r.evaluate("HelmChart", ["argocd"], [chart], [])
    assert report["failed"]
    assert "failurePolicy is abort" in report["msg"]


def test_helmchart_not_applied_yet():
    report = r.evaluate("HelmChart", ["argocd"], [], [])
    assert not report["done"]
    assert "K3s has not applied the manifest" in report["msg"]


def test_helmchart_job_of_another_chart_does_not_count(fixtures_dir):
    job = load(fixtures_dir, "job-helm-install-argocd-complete.json")
    report = r.evaluate("HelmChart", ["argocd", "cnpg"], [], [job])
    assert [c["state"] for c in report["components"]] == ["ready", "pending"]
    assert report["msg"].startswith("1 of 2 HelmChart not ready")


def test_application_synced_healthy(fixtures_dir):
    report = r.evaluate("Application", ["platform"], [load(fixtures_dir, "application-platform-synced-healthy.json")])
    assert report["ready"]
    assert report["msg"] == "Application ready: platform"


def test_application_progressing_is_pending(fixtures_dir):
    report = r.evaluate("Application", ["kyverno"], [load(fixtures_dir, "application-kyverno-outofsync-progressing.json")])
    assert not report["done"]
    assert "sync OutOfSync; health Progressing" in report["msg"]


def test_application_sync_failure_is_explained_but_waited_on(fixtures_dir):
    report = r.evaluate("Application", ["monitoring"], [load(fixtures_dir, "application-monitoring-sync-failed.json")])
    assert not report["done"]  # automated sync retries: keep waiting within the bound
    msg = report["msg"]
    assert "health Degraded" in msg and "exceeded its progress deadline" in msg
    assert "last sync Failed" in msg and "SyncError" in msg


def test_application_invalid_spec_is_terminal(fixtures_dir):
    report = r.evaluate("Application", ["kyverno-policies"], [load(fixtures_dir, "application-kyverno-policies-invalid-spec.json")])
    assert report["failed"] and report["done"]
    assert "app path does not exist" in report["msg"]


def test_application_missing():
    report = r.evaluate("Application", ["platform"], [])
    assert report["pending"] == ["Application platform does not exist yet"]


def test_several_applications_all_must_be_ready(fixtures_dir):
    apps = [load(fixtures_dir, "application-platform-synced-healthy.json"),
            load(fixtures_dir, "application-kyverno-outofsync-progressing.json")]
    report = r.evaluate("Application", ["platform", "kyverno"], apps)
    assert [c["ready"] for c in report["components"]] == [True, False]
    assert not report["ready"]


def test_cnpg_cluster_healthy(fixtures_dir):
    report = r.evaluate("Cluster", ["api-db"], [load(fixtures_dir, "cluster-api-db-healthy.json")])
    assert report["ready"]
    assert "1/1 instances ready, WAL archiving works" in report["components"][0]["message"]


def test_cnpg_cluster_setting_up(fixtures_dir):
    report = r.evaluate("Cluster", ["api-db"], [load(fixtures_dir, "cluster-api-db-setting-up.json")])
    assert not report["done"]
    assert "phase 'Setting up primary' (Creating primary instance api-db-1-initdb), 0/1 instances ready" in report["msg"]


def test_cnpg_archiving_failure_blocks_readiness_only_when_required(fixtures_dir):
    cluster = load(fixtures_dir, "cluster-api-db-archiving-failing.json")
    strict = r.evaluate("Cluster", ["api-db"], [cluster])
    assert not strict["ready"] and "WAL archiving fails" in strict["msg"] and "exit status 2" in strict["msg"]
    assert r.evaluate("Cluster", ["api-db"], [cluster], require_wal_archiving=False)["ready"]


def test_cnpg_needs_all_instances(fixtures_dir):
    cluster = load(fixtures_dir, "cluster-api-db-healthy.json")
    cluster["spec"]["instances"] = 2
    assert not r.evaluate("Cluster", ["api-db"], [cluster])["ready"]


def test_job_kind(fixtures_dir):
    job = load(fixtures_dir, "job-helm-install-argocd-complete.json")
    assert r.evaluate("Job", ["helm-install-argocd"], [job])["ready"]


@pytest.mark.parametrize("kind,names,match", [("Pod", ["x"], "kind must be one of"), ("Job", [], "at least one")])
def test_bad_input(kind, names, match):
    with pytest.raises(ValueError, match=match):
        r.evaluate(kind, names, [])
