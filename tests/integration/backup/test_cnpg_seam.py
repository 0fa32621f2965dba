"""playbooks/backup_db.yml with the cnpg method, run by the real ansible-playbook on localhost.

No Kubernetes API server exists here yet (engineer "cp" is building a real kube-apiserver harness under
tests/controlplane; the same playbook runs against it there without any seam). Until then the role's test
seams carry hand-written objects (tests/fixtures/backup/representative, see its README):
db_backup_seam_cluster replaces the k8s_info read of the Cluster, db_backup_seam_backup and
db_backup_seam_volume_snapshots replace creating the Backup and polling it. NOT run here: the
kubernetes.core k8s create and k8s_info calls. Run for real: every task of the role around them (plan,
method choice, manifest, evaluation, the completed/failed/timeout decisions and the report), and the
play must say that the seam was used.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "backup" / "representative"
NAME = "api-db-ondemand-20261127t140000z"  # the fixtures' Backup name


def load(name):
    return json.loads((FIXTURES / name).read_text())


def run_backup(tmp_path, cluster, backup=None, snapshots=None, args=()):
    variables = {"db_backup_method": "cnpg", "db_backup_cluster": "api-db", "db_backup_namespace": "parametric-portal",
                 "db_backup_cnpg_backup_name": NAME, "db_backup_dir": str(tmp_path), "db_backup_seam_cluster": load(cluster)}
    if backup:
        variables["db_backup_seam_backup"] = load(backup)
    if snapshots:
        variables["db_backup_seam_volume_snapshots"] = load(snapshots)
    playbook = Path(sys.executable).with_name("ansible-playbook")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "pytest-collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    proc = subprocess.run([str(playbook), "-i", "localhost,", "playbooks/backup_db.yml", "-e", json.dumps(variables)] + list(args),
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc, proc.stdout + proc.stderr


def recap(out):
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", out)
    assert match, out[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


def test_completed_plugin_backup_is_reported(tmp_path):
    proc, out = run_backup(tmp_path, "cluster-plugin-barman-cloud.json", "backup-plugin-completed.json")
    assert proc.returncode == 0, out[-4000:]
    assert "SEAM: db_backup_seam_cluster is set" in out and "SEAM: db_backup_seam_backup is set, so NO Backup was created" in out
    assert "Create the Backup" in out and "skipping" in out.split("Create the Backup")[1].split("TASK")[0]
    assert '"name": "%s"' % NAME in out and '"phase": "completed"' in out and '"method": "plugin"' in out
    assert '"duration_seconds": "75"' in out or '"duration_seconds": 75' in out
    assert "ObjectStore api-db-store" in out  # retention is the plugin's ObjectStore's
    assert recap(out)["failed"] == 0
    assert not any(tmp_path.iterdir()), "the cnpg method writes nothing on the controller"


def test_volume_snapshot_backup_reports_the_size(tmp_path):
    proc, out = run_backup(tmp_path, "cluster-volume-snapshot.json", "backup-volume-snapshot-completed.json",
                           snapshots="volumesnapshots.json")
    assert proc.returncode == 0, out[-4000:]
    assert '"size_bytes": "%d"' % (21 * 2 ** 30) in out or '"size_bytes": %d' % (21 * 2 ** 30) in out, out[-3000:]
    assert "sum of the VolumeSnapshots' status.restoreSize" in out


@pytest.mark.parametrize("backup, message", [
    ("backup-barman-failed.json", "ended in phase failed: "),
    ("backup-wal-archiving-failing.json", "WAL archiving is not working on the cluster"),
    ("backup-plugin-started.json", "did not complete within 3600 s (phase: started)"),
])
def test_failed_or_unfinished_backup_fails_the_play(tmp_path, backup, message):
    cluster = "cluster-barman-object-store.json" if "barman" in backup or "wal" in backup else "cluster-plugin-barman-cloud.json"
    proc, out = run_backup(tmp_path, cluster, backup)
    assert proc.returncode != 0
    assert message in out, out[-4000:]
    assert "CloudNativePG Backup parametric-portal/%s" % NAME in out


def test_cluster_without_backup_configuration_fails_before_anything(tmp_path):
    proc, out = run_backup(tmp_path, "cluster-no-backup.json", "backup-plugin-completed.json")
    assert proc.returncode != 0
    assert "Cluster api-db has no backup configuration" in out
    assert "SEAM: db_backup_seam_backup" not in out  # stopped before the Backup step
