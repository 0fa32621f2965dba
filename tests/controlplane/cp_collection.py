"""What the collection produces, built the way the collection builds it: the platform roles run by
ansible-playbook into a temporary manifests directory (tests/platform_play.py), and the GitOps tree
built by kustomize v5.5 (the Go-built binary)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

from cp_api import load_docs, load_text_docs
from platform_play import REPO, run_platform_roles
TREE = REPO / "infrastructure"

# Every role that writes into K3s' manifests directory.
PLATFORM_ROLES = ["traefik", "sealed_secrets", "argocd", "cnpg", "kyverno", "monitoring"]

# Inventory-like test values (real secrets come from the vault).
PLATFORM_VARS: Dict[str, Any] = {
    "platform_wait_for_ready": False,
    "infra_environment": "dev",
    "infra_domain": "example.test",
    "infra_env": {"namespace": "parametric-portal-dev", "postgres": {"instances": 1, "storage": "5Gi"}},
    "cnpg_app_password": "controlplane-test-app-password-0123456789",
    "cnpg_s3_access_key_id": "CONTROLPLANETESTKEY",
    "cnpg_s3_secret_access_key": "controlplane-test-secret-access-key-0123",
    "cnpg_s3_destination_path": "s3://controlplane-test-backups/dev/api-db",
    "argocd_repo_password": "controlplane-test-repo-token-0123456789",
    "monitoring_grafana_admin_password": "controlplane-test-grafana-password-0123",
    "infra_acme_email": "ops@example.test",
}


def render_platform(tmp: Path, env: Dict[str, str], overrides: Optional[Dict[str, Any]] = None,
                    roles: Optional[List[str]] = None) -> Path:
    result = run_platform_roles(tmp, env, PLATFORM_VARS, PLATFORM_ROLES, overrides, roles=roles)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return tmp / "manifests"


def manifests_objects(manifests: Path) -> Dict[str, List[Dict[str, Any]]]:
    return {p.name: load_docs(p) for p in sorted(manifests.iterdir()) if p.suffix in (".yaml", ".yml")}


def kustomize_build(kustomize: str, path: Path) -> List[Dict[str, Any]]:
    proc = subprocess.run([kustomize, "build", str(path)], capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, "kustomize build %s: %s" % (path, proc.stderr)
    return load_text_docs(proc.stdout)


def argocd_objects() -> Dict[str, List[Dict[str, Any]]]:
    return {p.name: load_docs(p) for p in sorted((TREE / "argocd").glob("*.yaml"))}


POD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def pod_templates(objects: List[Dict[str, Any]]):
    """(owner description, namespace, pod template) for every workload object."""
    for obj in objects:
        path = POD_TEMPLATE_PATHS.get(obj.get("kind"))
        if not path:
            continue
        template = obj
        for key in path:
            template = template[key]
        yield "%s/%s" % (obj["kind"], obj["metadata"]["name"]), obj["metadata"].get("namespace"), template


def env_with_path(env: Dict[str, str], *dirs: str) -> Dict[str, str]:
    return dict(env, PATH=os.pathsep.join(list(dirs) + [env.get("PATH", "")]))
