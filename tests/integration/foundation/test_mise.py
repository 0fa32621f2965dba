"""The spec's mise tasks, exercised with the real `mise` binary (npm package @jdxcode/mise).

scripts/bootstrap-host.sh installs it into .tools/; the test fails (does not skip) when it is
missing, because the README promises these tasks.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

SPEC_TASKS = {
    "setup-k3s": "playbooks/k3s.yml",
    "seal-secret": "playbooks/seal_secret.yml",
    "backup-db": "playbooks/backup_db.yml",
    "k8s:build": "playbooks/k8s_build.yml",
    "k8s:validate": "playbooks/k8s_validate.yml",
    "k8s:diff": "playbooks/k8s_diff.yml",
}


@pytest.fixture(scope="module")
def mise(repo_root: Path) -> list[str]:
    exe = repo_root / ".tools" / "node_modules" / ".bin" / "mise"
    if not exe.exists():
        found = shutil.which("mise")
        if not found:
            pytest.fail("mise binary not found: run scripts/bootstrap-host.sh (npm install @jdxcode/mise)")
        exe = Path(found)
    return [str(exe)]


def _env(repo_root: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MISE_TRUSTED_CONFIG_PATHS=str(repo_root / "mise.toml"),
        MISE_DATA_DIR=str(tmp_path / "mise-data"),
        MISE_STATE_DIR=str(tmp_path / "mise-state"),
        MISE_CACHE_DIR=str(tmp_path / "mise-cache"),
        MISE_YES="1",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


def test_mise_lists_the_spec_tasks(mise, repo_root, tmp_path):
    out = subprocess.run(
        [*mise, "tasks", "ls", "--no-header"], cwd=repo_root, env=_env(repo_root, tmp_path),
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    listed = {line.split()[0] for line in out.splitlines() if line.strip()}
    for task in [*SPEC_TASKS, "test", "lint"]:
        assert task in listed, f"mise task {task!r} missing; mise listed {sorted(listed)}"


@pytest.mark.parametrize("task,playbook", sorted(SPEC_TASKS.items()))
def test_each_task_calls_its_playbook(mise, repo_root, tmp_path, task, playbook):
    info = subprocess.run(
        [*mise, "tasks", "info", task, "--json"], cwd=repo_root, env=_env(repo_root, tmp_path),
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    assert playbook in info, f"mise task {task} does not run {playbook}: {info}"
    assert (repo_root / playbook).is_file(), f"{playbook} (run by mise task {task}) does not exist"


def test_mise_run_k8s_build_writes_the_prod_build(mise, repo_root, tmp_path):
    out_file = repo_root / "build" / "prod.yaml"
    if out_file.exists():
        out_file.unlink()
    proc = subprocess.run(
        [*mise, "run", "k8s:build"], cwd=repo_root,
        env=_env(repo_root, tmp_path, PP_ENV="prod", PATH=f"{repo_root / '.venv' / 'bin'}:{os.environ['PATH']}"),
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert out_file.is_file(), "mise run k8s:build did not write build/prod.yaml"
    docs = [d for d in yaml.safe_load_all(out_file.read_text()) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Deployment", "api") in kinds and ("Deployment", "icons") in kinds
    assert ("HorizontalPodAutoscaler", "api") in kinds, "prod build must carry the api HPA"
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] == "Deployment"}
    assert namespaces == {"parametric-portal"}
