"""k8s_validate.yml's server-side dry-run and k8s_diff.yml against the real v1.32.11 API server, on a copy of
the inventories and the GitOps tree (built by kustomize v5.5 through k8s_build.yml).

The environment's namespace is created first, as the Argo CD bootstrap does on a cluster. The objects are
put in place with kubernetes.core.k8s apply (client-side apply, the kubectl-apply semantics Argo CD uses by
default), so k8s_diff compares against the same bookkeeping it would find on a cluster. No controller acts
on the objects (nothing runs the Deployments).
"""
from __future__ import annotations

import shutil

import pytest
import yaml

from cp_api import load_docs
from platform_play import REPO, run_playbook

ENV = "prod"


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("k8s-playbooks") / "repo"
    shutil.copytree(REPO / "inventories", root / "inventories", symlinks=True)
    shutil.copytree(REPO / "infrastructure", root / "infrastructure")
    return root


def play(name, repo, env, kubeconfig, *extra):
    run_env = dict(env, KUBECONFIG=str(kubeconfig))
    return run_playbook(REPO / "playbooks" / name, run_env, "-i", str(repo / "inventories" / ENV), *extra)


@pytest.fixture(scope="module")
def applied(repo_copy, control_plane, cp_api, ansible_env):
    """Build, create the namespaces (as the bootstrap does), apply the build like Argo CD would."""
    result = play("k8s_build.yml", repo_copy, ansible_env, control_plane.kubeconfig_path)
    assert result.returncode == 0, result.stdout[-3000:]
    build = repo_copy / "build" / ("%s.yaml" % ENV)
    docs = load_docs(build)
    for ns in sorted({d["metadata"].get("namespace") for d in docs} - {None}):
        if cp_api.get("v1", "Namespace", ns) is None:
            cp_api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {
                "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}}})
    apply_play = repo_copy / "apply.yml"
    apply_play.write_text(yaml.safe_dump([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "tasks": [{"kubernetes.core.k8s": {"kubeconfig": str(control_plane.kubeconfig_path), "src": str(build),
                                           "state": "present", "apply": True}}]}]))
    result = run_playbook(apply_play, ansible_env, "-i", "localhost,")
    assert result.returncode == 0, result.stdout[-3000:]
    return {"build": build, "docs": docs}


def test_validate_runs_the_server_side_dry_run(repo_copy, applied, control_plane, ansible_env):
    result = play("k8s_validate.yml", repo_copy, ansible_env, control_plane.kubeconfig_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "TASK [Server-side dry-run of the build]" in result.stdout
    assert "Server-side dry-run SKIPPED" not in result.stdout


def test_diff_of_an_unchanged_tree_is_empty(repo_copy, applied, control_plane, ansible_env):
    result = play("k8s_diff.yml", repo_copy, ansible_env, control_plane.kubeconfig_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "The cluster matches build/%s.yaml." % ENV in result.stdout, result.stdout[-4000:]


def test_diff_shows_a_drifted_live_object(repo_copy, applied, control_plane, cp_api, ansible_env):
    deployment = next(d for d in applied["docs"] if d["kind"] == "Deployment")
    name, ns = deployment["metadata"]["name"], deployment["metadata"]["namespace"]
    live = cp_api.get("apps/v1", "Deployment", name, ns)
    drifted_image = live["spec"]["template"]["spec"]["containers"][0]["image"] + "-drifted"
    status, body, _headers = control_plane.request(
        "PATCH", cp_api.path("apps/v1", "Deployment", name, ns),
        body={"spec": {"template": {"spec": {"containers": [{"name": live["spec"]["template"]["spec"]["containers"][0]["name"],
                                                             "image": drifted_image}]}}}},
        content_type="application/strategic-merge-patch+json")
    assert status == 200, body
    try:
        result = play("k8s_diff.yml", repo_copy, ansible_env, control_plane.kubeconfig_path)
        assert result.returncode == 0, result.stdout[-4000:]
        assert "The cluster differs from build/%s.yaml in 1 of %d objects" % (ENV, len(applied["docs"])) in result.stdout, \
            result.stdout[-4000:]
        assert "Deployment %s/%s." % (ns, name) in result.stdout, result.stdout[-4000:]
        # the diff itself is printed: the live (drifted) image against the desired one
        assert drifted_image in result.stdout, result.stdout[-4000:]
    finally:
        # Put the object back for the other tests (unchanged tree).
        control_plane.request("PATCH", cp_api.path("apps/v1", "Deployment", name, ns),
                              body={"spec": {"template": {"spec": {"containers": [{
                                  "name": live["spec"]["template"]["spec"]["containers"][0]["name"],
                                  "image": live["spec"]["template"]["spec"]["containers"][0]["image"]}]}}}},
                              content_type="application/strategic-merge-patch+json")


def test_validate_reports_an_object_only_the_server_refuses(repo_copy, applied, control_plane, ansible_env, tmp_path):
    """A label value the schemas cannot check (label syntax is validated by the API server only): the offline
    validation passes, the server-side dry-run refuses the object, and the report names it and the field."""
    broken = tmp_path / "repo"
    shutil.copytree(repo_copy / "inventories", broken / "inventories", symlinks=True)
    shutil.copytree(repo_copy / "infrastructure", broken / "infrastructure")
    path = broken / "infrastructure" / "apps" / "api" / "deployment.yaml"
    docs = load_docs(path)
    head = "".join(line for line in path.read_text().splitlines(True) if line.startswith("#"))
    docs[0]["spec"]["template"]["metadata"]["labels"]["broken-label"] = "not a valid label value!"
    path.write_text(head + yaml.safe_dump_all(docs, sort_keys=False))
    result = play("k8s_validate.yml", broken, ansible_env, control_plane.kubeconfig_path)
    out = result.stdout.replace('\\"', '"')
    assert result.returncode != 0, out[-4000:]
    assert "TASK [Report the offline validation]" in out  # offline validation passed: only the server sees it
    assert "%s: the API server refused 1 object(s) in the server-side dry-run" % (broken / "build" / ("%s.yaml" % ENV)) in out, out[-4000:]
    assert ('[Deployment parametric-portal/api: Deployment.apps "api" is invalid: spec.template.labels: '
            'Invalid value: "not a valid label value!"') in out, out[-4000:]
