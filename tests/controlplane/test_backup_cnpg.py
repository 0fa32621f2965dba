"""backup_db.yml with the cnpg method against the real API server: the db_backup role reads the Cluster the
cnpg role renders, creates a real postgresql.cnpg.io/v1 Backup (validated by the upstream CRD, CEL
included), waits for it and reports it.

No CloudNativePG operator runs here: THE TEST sets the Cluster's status (a primary, WAL archiving
working) and moves each Backup's status to completed or failed itself, through the status subresource,
as the operator would. One case sets nothing and proves the timeout path and its message.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cp_api import Api
from cp_collection import PLATFORM_VARS, REPO

# The namespace the cnpg role renders the Cluster into (infra_env.namespace of the test inventory values).
NS = PLATFORM_VARS["infra_env"]["namespace"]


@pytest.fixture(scope="module")
def cnpg_cluster(cp_api, platform_manifests):
    docs = platform_manifests["cnpg-cluster.yaml"]
    if cp_api.get("v1", "Namespace", NS) is None:
        assert cp_api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})[0] in (200, 201)
    for obj in docs:
        status, body, _warnings = cp_api.apply(copy.deepcopy(obj))
        assert status in (200, 201), (obj["kind"], body)
    cluster = next(o for o in docs if o["kind"] == "Cluster")
    name = cluster["metadata"]["name"]
    # What the operator would report for a healthy one-instance cluster (set by this test).
    cp_api.patch_status("postgresql.cnpg.io/v1", "Cluster", name, NS, {
        "phase": "Cluster in healthy state", "instances": 1, "readyInstances": 1,
        "currentPrimary": name + "-1", "targetPrimary": name + "-1",
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "ClusterIsReady", "message": "Cluster is Ready",
             "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "ContinuousArchiving", "status": "True", "reason": "ContinuousArchivingSuccess",
             "message": "Continuous archiving is working", "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
    return cp_api.get("postgresql.cnpg.io/v1", "Cluster", name, NS)


def run_backup(control_plane, ansible_env, name, timeout=60):
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), str(REPO / "playbooks" / "backup_db.yml"), "-i", "localhost,",
            "-e", json.dumps({"db_backup_method": "cnpg", "db_backup_kubeconfig": str(control_plane.kubeconfig_path),
                              "db_backup_namespace": NS, "db_backup_cluster": "api-db", "db_backup_cnpg_backup_name": name,
                              "db_backup_cnpg_timeout": timeout, "db_backup_cnpg_poll_interval": 1,
                              "infra_environment": "prod"})]
    return subprocess.Popen(argv, cwd=str(REPO), env=ansible_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def set_backup_status_when_created(api: Api, name: str, status: dict, result: dict):
    """Wait for the playbook's Backup, then set its status as the operator would."""
    def work():
        try:
            backup = api.wait_for(lambda: api.get("postgresql.cnpg.io/v1", "Backup", name, NS), timeout=120,
                                  what="the Backup the playbook creates")
            result["created"] = backup
            time.sleep(2)  # let the playbook poll it once in phase "" first
            result["patched"] = api.patch_status("postgresql.cnpg.io/v1", "Backup", name, NS, status)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            result["error"] = repr(exc)
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_backup_completed(control_plane, cp_api, cnpg_cluster, ansible_env):
    name = "cp-ondemand-completed"
    result = {}
    proc = run_backup(control_plane, ansible_env, name)
    thread = set_backup_status_when_created(cp_api, name, {
        "phase": "completed", "method": "barmanObjectStore", "online": True, "backupId": "20260101T000000",
        "startedAt": "2026-01-01T00:00:00Z", "stoppedAt": "2026-01-01T00:01:30Z",
        "beginWal": "000000010000000000000002", "endWal": "000000010000000000000003",
        "destinationPath": "s3://controlplane-test-backups/dev/api-db"}, result)
    out, _stderr = proc.communicate(timeout=600)
    thread.join(10)
    assert "error" not in result, result
    assert proc.returncode == 0, out[-4000:]
    created = result["created"]
    assert created["spec"]["cluster"]["name"] == "api-db"
    assert created["spec"]["method"] == "barmanObjectStore"
    assert created["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "parametric_portal.infra.db_backup"
    assert '"phase": "completed"' in out and '"duration_seconds": 90' in out, out[-3000:]
    assert '"backup_id": "20260101T000000"' in out


def test_backup_failed_reports_the_operator_error(control_plane, cp_api, cnpg_cluster, ansible_env):
    name = "cp-ondemand-failed"
    result = {}
    proc = run_backup(control_plane, ansible_env, name)
    thread = set_backup_status_when_created(cp_api, name, {
        "phase": "failed", "method": "barmanObjectStore",
        "error": "can't upload: NoCredentialProviders: no valid providers in chain (set by the test)"}, result)
    out, _stderr = proc.communicate(timeout=600)
    thread.join(10)
    assert "error" not in result, result
    assert proc.returncode != 0, out[-4000:]
    assert "CloudNativePG Backup %s/%s ended in phase failed" % (NS, name) in out, out[-4000:]
    assert "NoCredentialProviders: no valid providers in chain (set by the test)" in out


def test_backup_timeout_says_so(control_plane, cp_api, cnpg_cluster, ansible_env):
    """Nobody moves this Backup: after db_backup_cnpg_timeout the play stops and says what to check."""
    name = "cp-ondemand-timeout"
    proc = run_backup(control_plane, ansible_env, name, timeout=2)
    out, _stderr = proc.communicate(timeout=600)
    assert proc.returncode != 0, out[-4000:]
    assert "CloudNativePG Backup %s/%s" % (NS, name) in out and "did not complete within 2 s" in out, out[-4000:]
    assert "kubectl get backup -n %s %s" % (NS, name) in out
    assert cp_api.get("postgresql.cnpg.io/v1", "Backup", name, NS) is not None  # it was really created


def test_backup_spec_is_immutable_on_the_server(cp_api, cnpg_cluster):
    """The Backup CRD's CEL rule (oldSelf == self on spec) runs for real: a created Backup cannot be retargeted."""
    name = "cp-ondemand-completed"
    backup = cp_api.get("postgresql.cnpg.io/v1", "Backup", name, NS)
    assert backup is not None
    changed = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Backup", "metadata": {"name": name, "namespace": NS},
               "spec": dict(backup["spec"], cluster={"name": "another-cluster"})}
    status, body, _warnings = cp_api.apply(changed, dry_run=True)
    assert status == 422, (status, body)
    assert "immutable" in body["message"].lower() or "oldSelf" in body["message"], body["message"]
