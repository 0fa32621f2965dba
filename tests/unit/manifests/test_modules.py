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


def test_k8s_validate_cluster_crds_glue_with_api_double(monkeypatch, crds_dir):
    """crd_source=cluster: the CRD list the API server would return (test double built from the upstream
    CRD file, the same object shape) feeds the validator. No cluster runs here."""
    from types import SimpleNamespace

    kubernetes = pytest.importorskip("kubernetes")
    from ansible_collections.parametric_portal.infra.plugins.modules import k8s_validate as mod
    from ansible_collections.parametric_portal.infra.plugins.module_utils import _k8s_schema as ks

    (crd,) = ks.load_yaml_documents(str(crds_dir / "sealed-secrets" / "v0.28.0" / "bitnami.com_sealedsecrets.yaml"))

    class ApiextensionsDouble:
        api_client = kubernetes.client.ApiClient()

        def list_custom_resource_definition(self):
            return SimpleNamespace(items=[crd])

    calls = []
    monkeypatch.setattr(mod.k8s_config, "load_kube_config", lambda config_file, context: calls.append((config_file, context)))
    monkeypatch.setattr(mod.k8s_client, "ApiextensionsV1Api", ApiextensionsDouble)
    objects = mod.cluster_crds("/path/kubeconfig", "ctx")
    assert calls == [("/path/kubeconfig", "ctx")]
    validator = ks.SchemaValidator(crd_objects=objects, cache_dir=None)
    sealed = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "s", "namespace": "n"},
              "spec": {"encryptedData": {"k": "AgB="}, "tmplate": {}}}
    assert [(f.path, f.message) for f in validator.validate(sealed)] == [("spec.tmplate", "unknown field 'tmplate'")]
