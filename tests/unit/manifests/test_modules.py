"""gitops_render and k8s_validate run as Ansible runs them: a subprocess with an args file."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .helpers import REPO, apps, environments, platform

COLL_ROOT = REPO / "build" / "pytest-collections"


def run_module(name, args, tmp_path, check=False, diff=False):
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    path = tmp_path / f"{name}-args.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=str(COLL_ROOT))
    proc = subprocess.run([sys.executable, "-m", f"ansible_collections.parametric_portal.infra.plugins.modules.{name}",
                           str(path)], capture_output=True, text=True, env=env, check=False)
    return json.loads(proc.stdout)


@pytest.fixture()
def render_args(tmp_path):
    return {"apps": apps(), "environments": environments(), "platform": platform(), "dest": str(tmp_path / "infra")}


def test_gitops_render_check_diff_then_write_then_unchanged(tmp_path, render_args):
    checked = run_module("gitops_render", render_args, tmp_path, check=True, diff=True)
    assert checked["changed"] is True and not (tmp_path / "infra").exists()
    assert len(checked["diff"]) == len(checked["created"]) == len(checked["files"]) + 2  # + 2 secrets kustomizations
    written = run_module("gitops_render", render_args, tmp_path)
    assert written["changed"] is True and written["created"] == checked["created"]
    again = run_module("gitops_render", render_args, tmp_path, check=True)
    assert again["changed"] is False and again["unchanged"] == len(again["files"])


def test_gitops_render_bad_input_fails_before_writing(tmp_path, render_args):
    render_args["apps"][1]["port"] = 99999
    result = run_module("gitops_render", render_args, tmp_path)
    assert result["failed"] is True
    assert "infra_apps[1] (icons).port: 99999 is out of range" in result["msg"]
    assert not (tmp_path / "infra").exists()


def test_k8s_validate_reports_and_fails(tmp_path, crds_dir):
    good = tmp_path / "good.yaml"
    good.write_text("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\ndata: {k: v}\n")
    ok = run_module("k8s_validate", {"paths": [str(good)]}, tmp_path)
    assert ok.get("failed") is not True and ok["objects"] == 1 and ok["core_schemas"] == "v1.32.0-local-strict"
    bad = tmp_path / "bad.yaml"
    bad.write_text("---\napiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: m, namespace: n}\n"
                   "spec: {rateLimit: {average: 1, brust: 2}}\n---\napiVersion: example.com/v1\nkind: Thing\n"
                   "metadata: {name: t}\n")
    failed = run_module("k8s_validate", {"paths": [str(tmp_path)], "crd_dirs": [str(crds_dir / "traefik" / "v3.3.5")]}, tmp_path)
    assert failed["failed"] is True
    assert [(f["obj"], f["path"]) for f in failed["findings"]] == [("Middleware/n/m", "spec.rateLimit.brust"), ("Thing/t", "")]
    assert f"{bad}: Middleware/n/m: spec.rateLimit.brust: unknown field 'brust'" in failed["report"]
    assert "2 finding(s)" in failed["msg"]


def test_k8s_validate_cluster_source_without_cluster_fails_plainly(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    result = run_module("k8s_validate", {"paths": [str(good)], "crd_source": "cluster",
                                         "kubeconfig": str(tmp_path / "missing-kubeconfig")}, tmp_path)
    assert result["failed"] is True and "cannot read CRDs from the cluster" in result["msg"]
