"""Fixtures for the platform bootstrap tests.

`render_platform` runs the real roles (playbooks/platform.yml's roles) with ansible-playbook against
localhost (tests/platform_play.py), writing into a temporary "manifests directory" instead of K3s's,
with the live readiness waits off (no cluster exists here). The collection is imported from the
working tree through the symlink tests/conftest.py maintains.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Dict

import pytest

from platform_play import ansible_env, run_platform_roles

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "platform"

ROLES = ["sealed_secrets", "argocd", "cnpg", "kyverno", "monitoring"]

# Inventory-like inputs (test values; real secrets come from vault).
BASE_VARS: Dict[str, Any] = {
    "platform_wait_for_ready": False,
    "infra_environment": "dev",
    "infra_domain": "example.test",
    "infra_env": {"namespace": "parametric-portal-dev", "postgres": {"instances": 1, "storage": "5Gi"}},
    "cnpg_app_password": "unit-test-app-password-0123456789",
    "cnpg_s3_access_key_id": "UNITTESTACCESSKEY",
    "cnpg_s3_secret_access_key": "unit-test-secret-access-key-0123",
    "cnpg_s3_destination_path": "s3://unit-test-backups/dev/api-db",
    "argocd_repo_password": "unit-test-repo-token-0123456789",
    "monitoring_grafana_admin_password": "unit-test-grafana-password-0123",
}


def run_roles(tmp: Path, overrides: Dict[str, Any] | None = None, roles=None, drop=(), extra_args=()) -> subprocess.CompletedProcess:
    """Run the roles against localhost with every manifests dir pointed at tmp/manifests."""
    return run_platform_roles(tmp, ansible_env(), BASE_VARS, ROLES, overrides, roles=roles, drop=drop, extra_args=extra_args,
                              timeout=600)


@pytest.fixture(scope="session")
def render_platform(tmp_path_factory):
    """Render the default platform (private repo, backups on, 1 instance); returns the manifests dir."""
    tmp = tmp_path_factory.mktemp("platform-default")
    result = run_roles(tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp / "manifests", result.stdout + result.stderr  # warnings (e.g. checks NOT run) go to stderr


@pytest.fixture(scope="session")
def render_variant(tmp_path_factory):
    """Public repository, backups off, 3 instances on a custom StorageClass."""
    tmp = tmp_path_factory.mktemp("platform-variant")
    result = run_roles(tmp, {
        "argocd_repo_password": "",
        "cnpg_backup_enabled": False,
        "cnpg_s3_access_key_id": "",
        "cnpg_s3_secret_access_key": "",
        "infra_env": {"namespace": "parametric-portal", "postgres": {"instances": 3, "storage": "20Gi"}},
        "cnpg_storage_class": "local-path",
    }, roles=["argocd", "cnpg"])
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp / "manifests"


@pytest.fixture(scope="session")
def platform_run_roles():
    """run_roles(tmp, overrides, roles, drop) for tests that need their own run."""
    return run_roles


@pytest.fixture(scope="session")
def platform_base_vars() -> Dict[str, Any]:
    return dict(BASE_VARS)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
