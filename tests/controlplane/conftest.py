"""Fixtures for tests against a real Kubernetes v1.32.11 control plane (see cp_harness.py for what is
real and what is not). The binaries come from scripts/build-go-tools.sh (run by the bootstrap);
missing binaries fail the tests with the command to build them, they never skip.

    control_plane      session: etcd + kube-apiserver + kube-controller-manager, CRDs of ../shared/crds
    cp_api             session: Api helper on it (server-side apply, status updates, discovery)
    sealed_secrets     session: the real sealed-secrets controller running against it
    fresh_control_plane  function: factory for another, independent control plane (new etcd)
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cp_harness  # noqa: E402
import platform_play  # noqa: E402
from cp_api import Api, crd_files, load_docs  # noqa: E402

_RUNNING = []


def _stop_all() -> None:  # safety net for an interrupted session; fixtures stop their own first
    for item in reversed(_RUNNING):
        item.stop()


atexit.register(_stop_all)


@pytest.fixture(scope="session")
def cp_tools():
    paths = cp_harness.tool_paths()
    missing = cp_harness.missing_tools(paths)
    if missing:
        pytest.fail("Go-built tools missing (%s): build them with `bash scripts/build-go-tools.sh` "
                    "(make test's bootstrap does)" % ", ".join(missing))
    return paths


@pytest.fixture(scope="session")
def cp_workdir_factory(tmp_path_factory):
    def make(name: str) -> Path:
        return tmp_path_factory.mktemp(name)
    return make


def start_control_plane(workdir: Path, tools, **kwargs) -> cp_harness.ControlPlane:
    cp = cp_harness.ControlPlane(workdir, tools, **kwargs)
    _RUNNING.append(cp)
    cp.start()
    return cp


def install_crds(api: Api, crds_dir: Path, projects=None) -> list:
    names = []
    for path in crd_files(crds_dir, projects):
        for crd in load_docs(path):
            status, body, _warnings = api.apply(crd)
            assert status in (200, 201), "%s: %s %s" % (path.name, status, body)
            names.append(crd["metadata"]["name"])
    for name in names:
        api.wait_for(lambda: any(c["type"] == "Established" and c["status"] == "True"
                                 for c in ((api.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name) or {})
                                           .get("status") or {}).get("conditions") or []),
                     timeout=60, what="CRD %s Established" % name)
    api.refresh()
    return names


@pytest.fixture(scope="session")
def control_plane(cp_tools, cp_workdir_factory, crds_dir):
    cp = start_control_plane(cp_workdir_factory("controlplane"), cp_tools)
    cp.crd_names = install_crds(Api(cp), crds_dir)
    yield cp
    cp.stop()


@pytest.fixture(scope="session")
def cp_api(control_plane) -> Api:
    return Api(control_plane)


@pytest.fixture(scope="session")
def sealed_secrets(control_plane, cp_api, cp_tools, cp_workdir_factory):
    ctl = cp_harness.SealedSecretsController(control_plane, cp_tools["PP_SEALED_SECRETS_CONTROLLER_BIN"],
                                             cp_workdir_factory("sealed-secrets"))
    _RUNNING.append(ctl)
    ctl.setup_objects(cp_api)
    ctl.start()
    yield ctl
    ctl.stop()


@pytest.fixture
def fresh_control_plane(cp_tools, cp_workdir_factory, crds_dir):
    """Factory: start another control plane with its own etcd; all are stopped after the test."""
    started = []

    def make(name: str = "fresh", crd_projects=None, **kwargs) -> cp_harness.ControlPlane:
        """crd_projects: the ../shared/crds projects to install (None: all, []: none)."""
        cp = start_control_plane(cp_workdir_factory(name), cp_tools, **kwargs)
        started.append(cp)
        if crd_projects != []:
            cp.crd_names = install_crds(Api(cp), crds_dir, crd_projects)
        return cp

    yield make
    for cp in reversed(started):
        cp.stop()


@pytest.fixture(scope="session")
def platform_manifests(tmp_path_factory, ansible_env):
    """{file name: objects} the platform roles write into the manifests directory (rendered once)."""
    from cp_collection import manifests_objects, render_platform

    return manifests_objects(render_platform(tmp_path_factory.mktemp("platform"), ansible_env))


@pytest.fixture(scope="session")
def kubeseal_bin(cp_tools) -> str:
    return cp_tools["PP_KUBESEAL_BIN"]


@pytest.fixture(scope="session")
def kustomize_bin(cp_tools) -> str:
    return cp_tools["PP_KUSTOMIZE_BIN"]


@pytest.fixture(scope="session")
def ansible_env(crds_dir, tmp_path_factory):
    """Environment for ansible-playbook runs against the collection in this working tree."""
    home = tmp_path_factory.mktemp("ansible-home")
    return platform_play.ansible_env(ANSIBLE_HOME=str(home),
                                     PATH="%s:%s" % (Path(sys.executable).parent, os.environ.get("PATH", "")),
                                     PP_SHARED_DIR=str(crds_dir.parent))


def which(name: str) -> str:
    found = shutil.which(name)
    assert found, "%s not on PATH" % name
    return found
