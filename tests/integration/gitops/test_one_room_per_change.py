"""A change to a Kyverno policy, a dashboard or a chart value is a change to one file of the owning role.

Each case copies this repository, edits exactly one file under roles/, and runs the real
playbooks/gitops_render.yml of the copy (the copy is the collection, through a collections path of its
own) against the copy's inventory. The render must change exactly the tree file that the edited data
lands in, and nothing else; the edited role file is the only source file that differs.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent
IGNORE = shutil.ignore_patterns(".git", ".venv", ".tools", "build", ".pytest_cache", "__pycache__")


def edit_policy(root):
    path = root / "roles/kyverno/files/policies/restrict-volume-types.yaml"
    path.write_text(path.read_text().replace("policies.kyverno.io/severity: medium", "policies.kyverno.io/severity: high"))


def edit_dashboard(root):
    path = root / "roles/monitoring/files/dashboards/argocd.json"
    board = json.loads(path.read_text())
    board["refresh"] = "5m"
    path.write_text(json.dumps(board, indent=2, sort_keys=True) + "\n")


def edit_chart_value(root):
    path = root / "roles/kyverno/defaults/main.yml"
    text = path.read_text()
    assert "admissionController:\n    replicas: 1" in text
    path.write_text(text.replace("admissionController:\n    replicas: 1", "admissionController:\n    replicas: 2", 1))


CASES = {
    "kyverno policy": (edit_policy, ["platform/kyverno/policies/restrict-volume-types.yaml"]),
    "dashboard": (edit_dashboard, ["platform/monitoring/dashboard-argocd.yaml"]),
    "chart value": (edit_chart_value, ["argocd/kyverno.yaml"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_file_of_the_owning_role_changes_one_tree_file(tmp_path, case):
    edit, expected = CASES[case]
    root = tmp_path / "repo"
    shutil.copytree(REPO, root, ignore=IGNORE, symlinks=True)
    collections = tmp_path / "collections"
    (collections / "ansible_collections" / "parametric_portal").mkdir(parents=True)
    (collections / "ansible_collections" / "parametric_portal" / "infra").symlink_to(root)
    edit(root)
    source_changes = [str(p.relative_to(root)) for p in (root / "roles").rglob("*")
                      if p.is_file() and p.read_bytes() != (REPO / p.relative_to(root)).read_bytes()]
    assert len(source_changes) == 1 and source_changes[0].startswith("roles/")
    env = dict(os.environ, PATH=str(VENV_BIN) + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([shutil.which("ansible-playbook", path=str(VENV_BIN)) or "ansible-playbook",
                           str(root / "playbooks/gitops_render.yml"), "-i", str(root / "inventories/prod")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=600)
    assert re.search(r"localhost\s+: ok=\d+\s+changed=1\s", proc.stdout), proc.stdout[-3000:]
    changed = sorted(str(p.relative_to(root / "infrastructure")) for p in (root / "infrastructure").rglob("*.yaml")
                     if p.read_bytes() != (REPO / "infrastructure" / p.relative_to(root / "infrastructure")).read_bytes())
    assert changed == expected
    assert yaml.safe_load_all((root / "infrastructure" / expected[0]).read_text())  # still YAML
