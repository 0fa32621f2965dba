"""Every shipped playbook works from the built and installed collection, with inputs from the inventory.

The collection is built with `ansible-galaxy collection build` (the tarball holds no inventories and no
infrastructure/) and installed offline into a temporary collections path. A temporary repository holds a
copy of the inventories and of the tree; the playbooks run by their FQCN
(`ansible-playbook parametric_portal.infra.<name> -i <copy>/inventories/<env>`), never from this checkout:

* every playbook passes --syntax-check;
* the controller-only GitOps playbooks run for real: gitops_render finds no drift in the copied tree, new_app
  adds an app to the copy's apps model and renders it, k8s_build / k8s_validate build and validate the copy,
  k8s_diff stops clearly without a cluster. Each writes only inside the copy (the inventory's infra_repo_dir).

A static guard completes it: no playbook or role reads a path relative to the playbook or names an
inventory folder, so host playbooks take their inputs from the inventory as well.
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
PLAYBOOKS = sorted(p.stem for p in (REPO / "playbooks").glob("*.yml"))
NEW_APP = {"name": "docs", "kind": "spa", "domain": "docs.parametric-portal.com", "port": 8081,
           "image": "ghcr.io/parametric-portal/docs", "rate_limit": "web"}


def _tool(name):
    return shutil.which(name, path=str(VENV_BIN)) or name


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("installed")
    dist = tmp / "dist"
    subprocess.run([_tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", str(dist), str(REPO)],
                   check=True, capture_output=True, text=True)
    tarball = next(dist.glob("parametric_portal-infra-*.tar.gz"))
    subprocess.run([_tool("ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force",
                    "-p", str(tmp / "collections"), str(tarball)], check=True, capture_output=True, text=True)
    assert not (tmp / "collections/ansible_collections/parametric_portal/infra/inventories").exists()
    return tmp / "collections"


@pytest.fixture()
def repo(tmp_path):
    root = tmp_path / "my-gitops-repo"
    shutil.copytree(REPO / "inventories", root / "inventories", symlinks=True)
    shutil.copytree(REPO / "infrastructure", root / "infrastructure")
    return root


def run(installed, name, inventory, *args):
    env = dict(os.environ, PATH=str(VENV_BIN) + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               KUBECONFIG=str(inventory) + "/no-such-kubeconfig")
    cmd = [_tool("ansible-playbook"), "parametric_portal.infra.%s" % name, "-i", str(inventory), *args]
    # cwd is neither this checkout nor the copy: nothing may depend on the working directory.
    proc = subprocess.run(cmd, cwd=str(installed), env=env, capture_output=True, text=True, check=False, timeout=600)
    recap = re.search(r"localhost\s+: ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", proc.stdout)
    return proc, (int(recap.group(1)), int(recap.group(2))) if recap else (None, None)


@pytest.mark.parametrize("name", PLAYBOOKS)
def test_every_playbook_parses_from_the_installed_collection(installed, repo, name):
    proc = run(installed, name, repo / "inventories" / "prod", "--syntax-check")[0]
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_gitops_playbooks_run_from_the_installed_collection(installed, repo, crds_dir):
    prod = repo / "inventories" / "prod"
    proc, (changed, failed) = run(installed, "gitops_render", prod, "--check", "--diff")
    assert (changed, failed) == (0, 0), proc.stdout[-3000:]
    assert "%s/infrastructure: created 0, updated 0, removed 0" % repo in proc.stdout  # the copy's tree, from the inventory

    proc, (changed, failed) = run(installed, "new_app", prod, "-e", json.dumps({"new_app": NEW_APP}))
    assert failed == 0 and changed == 2, proc.stdout[-3000:]
    assert yaml.safe_load((repo / "inventories/prod/group_vars/all/apps.yml").read_text())["infra_apps"][-1] == NEW_APP
    assert (repo / "infrastructure/apps/docs/deployment.yaml").is_file()
    assert not (REPO / "infrastructure/apps/docs").exists()

    proc, (changed, failed) = run(installed, "k8s_validate", prod, "-e", "k8s_validate_shared_dir=%s" % crds_dir.parent)
    assert failed == 0, proc.stdout[-3000:]
    assert "name: docs-https" in (repo / "build" / "prod.yaml").read_text()

    proc, (changed, failed) = run(installed, "k8s_diff", repo / "inventories" / "dev")
    assert failed == 1 and "k8s:diff needs a reachable cluster" in proc.stdout, proc.stdout[-3000:]
    assert (repo / "build" / "dev.yaml").is_file()


FORBIDDEN = [
    (re.compile(r"playbook_dir"), "a path relative to the playbook (inside the installed collection)"),
    (re.compile(r"inventories/(dev|prod)/"), "a path into this repository's inventories"),
    (re.compile(r"role_path\s*~\s*['\"]/\.\./\.\."), "a path outside the collection's roles"),
]


def _yaml_without_comments(path):
    return "\n".join(line.split(" #")[0] for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))


def test_no_playbook_or_role_reads_paths_of_the_checkout():
    found = []
    for path in sorted(list((REPO / "playbooks").glob("*.yml")) + list((REPO / "roles").glob("*/*/*.yml"))):
        text = _yaml_without_comments(path)
        for pattern, what in FORBIDDEN:
            if pattern.search(text):
                found.append("%s: %s" % (path.relative_to(REPO), what))
    assert found == []
