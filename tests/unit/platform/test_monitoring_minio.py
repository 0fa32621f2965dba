"""The in-cluster MinIO's root credentials (monitoring role): never the chart's published default.

The LGTM values reference the Secret monitoring-minio; the role writes it for K3s. Without a vault
password it generates one once and keeps it (re-runs change nothing); a vault password is written
and wins. Runs the real role against localhost (no cluster).
"""
from __future__ import annotations

import yaml


def _secret(tmp_path):
    (doc,) = [d for d in yaml.safe_load_all((tmp_path / "manifests" / "monitoring-minio.yaml").read_text()) if d]
    return doc


def test_generated_once_and_kept(tmp_path, platform_run_roles):
    first = platform_run_roles(tmp_path, roles=["monitoring"])
    assert first.returncode == 0, first.stdout + first.stderr
    secret = _secret(tmp_path)
    assert secret["metadata"] == {"name": "monitoring-minio", "namespace": "monitoring"}
    password = secret["stringData"]["rootPassword"]
    assert len(password) == 40 and password.isalnum()
    assert secret["stringData"]["rootUser"] == "lgtm-minio"
    again = platform_run_roles(tmp_path, roles=["monitoring"])
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout
    assert _secret(tmp_path)["stringData"]["rootPassword"] == password
    assert password not in first.stdout + again.stdout


def test_a_vault_password_is_written_and_wins(tmp_path, platform_run_roles):
    assert platform_run_roles(tmp_path, roles=["monitoring"]).returncode == 0
    vault = "VaultMinioPassword0123456789abcdef"
    result = platform_run_roles(tmp_path, {"monitoring_minio_root_password": vault}, roles=["monitoring"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert _secret(tmp_path)["stringData"]["rootPassword"] == vault
    assert vault not in result.stdout
