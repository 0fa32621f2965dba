"""The GitOps playbooks run for real (ansible-playbook, kubectl kustomize, offline validation) on a
temporary copy of the inventories and the tree, plus a check-mode render of the repository itself."""
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
COLLECTIONS = REPO / "build" / "pytest-collections"  # symlink to this working tree (tests/conftest.py)
NEW_APP = {"name": "docs", "kind": "spa", "domain": "docs.parametric-portal.com", "port": 8081,
           "image": "ghcr.io/parametric-portal/docs", "rate_limit": "web",
           "connect_src": ["https://api.parametric-portal.com"]}


def play(playbook, *args, inventory="inventories/prod", check=False):
    venv_bin = str(Path(sys.executable).parent)  # ansible-playbook and kubectl live next to the test's python
    cmd = [shutil.which("ansible-playbook", path=venv_bin) or "ansible-playbook", str(REPO / "playbooks" / playbook),
           "-i", inventory]
    if check:
        cmd += ["--check", "--diff"]
    env = dict(os.environ, PATH=venv_bin + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", KUBECONFIG=str(REPO / "build" / "no-such-kubeconfig"))
    proc = subprocess.run(cmd + list(args), cwd=REPO, capture_output=True, text=True, env=env, check=False)
    recap = re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", proc.stdout)
    return proc, (int(recap.group(2)), int(recap.group(3))) if recap else (None, None)


@pytest.fixture()
def copy(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(REPO / "inventories", root / "inventories", symlinks=True)
    shutil.copytree(REPO / "infrastructure", root / "infrastructure")
    return root


@pytest.mark.parametrize("inventory", ["inventories/dev", "inventories/prod"])
def test_render_playbook_in_check_mode_finds_no_drift(inventory):
    """Either inventory renders exactly the committed tree: the tree is one tree for every cluster."""
    proc, (changed, failed) = play("gitops_render.yml", inventory=inventory, check=True)
    assert failed == 0, proc.stdout[-3000:]
    assert changed == 0, "the committed tree differs from the render:\n" + proc.stdout[-3000:]
    assert "created 0, updated 0, removed 0" in proc.stdout


def test_new_app_scaffold_is_idempotent_and_builds(copy, crds_dir):
    inv = str(copy / "inventories" / "prod")
    extra = ["-e", json.dumps({"new_app": NEW_APP})]  # the inventory's infra_repo_dir points into the copy
    proc, (changed, failed) = play("new_app.yml", *extra, inventory=inv)
    assert failed == 0 and changed == 2, proc.stdout[-3000:]
    apps = yaml.safe_load((copy / "inventories/prod/group_vars/all/apps.yml").read_text())["infra_apps"]
    assert apps[-1] == NEW_APP
    dev = yaml.safe_load((copy / "inventories/dev/group_vars/all/apps.yml").read_text())["infra_apps"]
    assert dev[-1] == NEW_APP  # the dev inventory links to the same apps model: the link was followed
    assert (copy / "infrastructure/apps/docs/ingressroute.yaml").is_file()
    proc, (changed, failed) = play("new_app.yml", *extra, inventory=inv)
    assert (changed, failed) == (0, 0), proc.stdout[-3000:]
    # build + offline validation of the grown tree through the real playbooks
    proc, (changed, failed) = play("k8s_validate.yml", "-e", f"k8s_validate_shared_dir={crds_dir.parent}", inventory=inv)
    assert failed == 0, proc.stdout[-4000:]
    assert re.search(r"k8s_validate: \d+ object\(s\) in \d+ file\(s\) valid \(v1\.32\.0-local-strict\)", proc.stdout)
    assert "Server-side dry-run SKIPPED" in proc.stdout
    built = (copy / "build" / "prod.yaml").read_text()
    assert "name: docs-https" in built


def test_new_app_rejects_bad_input_before_writing(copy):
    inv = str(copy / "inventories" / "prod")
    before = (copy / "inventories/prod/group_vars/all/apps.yml").read_text()
    bad = dict(NEW_APP, port=70000)
    proc, (_changed, failed) = play("new_app.yml", "-e", json.dumps({"new_app": bad}), inventory=inv)
    assert failed == 1
    assert "infra_apps[2] (docs).port: 70000 is out of range" in proc.stdout
    assert (copy / "inventories/prod/group_vars/all/apps.yml").read_text() == before
    dup = dict(NEW_APP, name="api")
    proc, (_changed, failed) = play("new_app.yml", "-e", json.dumps({"new_app": dup}), inventory=inv)
    assert failed == 1 and "new_app.name: an app named 'api' already exists" in proc.stdout


def test_k8s_diff_fails_clearly_without_a_cluster(copy):
    proc, (_changed, failed) = play("k8s_diff.yml", inventory=str(copy / "inventories" / "dev"))
    assert failed == 1
    assert "k8s:diff needs a reachable cluster" in proc.stdout and "Nothing was compared" in proc.stdout
    assert (copy / "build" / "dev.yaml").is_file()  # the build itself ran


def test_the_repository_of_the_child_applications_comes_from_the_inventory(copy):
    """A fork names its repository in its inventory; the tree's Applications must follow it (issue 14 item 10)."""
    main = copy / "inventories/prod/group_vars/all/main.yml"
    fork = "https://git.example.test/fork/infra.git"
    text = main.read_text().replace("argocd_repo_url: https://github.com/parametric-portal/infra.git", "argocd_repo_url: " + fork)
    main.write_text(text.replace("argocd_repo_revision: main", "argocd_repo_revision: release-1"))
    proc, (changed, failed) = play("gitops_render.yml", inventory=str(copy / "inventories" / "prod"))
    assert (changed, failed) == (1, 0), proc.stdout[-3000:]
    for path in (copy / "infrastructure/argocd").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            sources = [doc["spec"]["source"]] if "source" in doc.get("spec", {}) else []
            for source in sources:
                if "path" in source:  # git sources of the tree (charts come from their Helm repositories)
                    assert (source["repoURL"], source["targetRevision"]) == (fork, "release-1"), path.name
