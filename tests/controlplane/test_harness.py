"""The control plane itself: the version built, the k3s role's files and arguments in force on the real
API server, the negative start with a broken admission file, and that no process is left behind.

No kubelet, scheduler or container runtime runs here: no pod ever runs. Everything below is about what
the API server and controller-manager do with the configuration the k3s role renders."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cp_harness
from cp_api import Api

HERE = Path(__file__).resolve().parent


def cmdline(pid: int) -> list:
    return Path("/proc/%d/cmdline" % pid).read_bytes().decode().split("\0")[:-1]


def test_version_is_the_one_built(control_plane):
    status, body = control_plane.get("/version")
    assert status == 200
    assert body["gitVersion"] == "v1.32.11"
    assert (body["major"], body["minor"]) == ("1", "32")
    assert body["gitCommit"] == "2195eae9e91f2e72114365d9bb9c670d0c08de12"
    assert body["gitTreeState"] == "clean"


def test_apiserver_runs_with_the_k3s_role_arguments(control_plane):
    """Every kube-apiserver-arg the role renders is on the real server's command line, pointing at the
    files rendered from the role's templates."""
    rendered = control_plane.rendered
    apiserver = next(p for p in control_plane.procs if p.name == "kube-apiserver")
    argv = cmdline(apiserver.pid)
    for entry in rendered["config"]["kube-apiserver-arg"]:
        assert "--" + entry in argv, entry
    assert "--admission-control-config-file=%s" % rendered["psa.yaml"] in argv
    assert "--audit-policy-file=%s" % rendered["audit.yaml"] in argv
    assert rendered["config"]["secrets-encryption"] is True
    assert "--encryption-provider-config=%s" % control_plane.encryption_config_path in argv
    manager = next(p for p in control_plane.procs if p.name == "kube-controller-manager")
    for entry in rendered["config"]["kube-controller-manager-arg"]:
        assert "--" + entry in cmdline(manager.pid), entry


def test_admission_plugins_of_the_role_are_loaded(control_plane):
    """The server logs the admission chain it built: EventRateLimit (configured by psa.yaml) and
    PodSecurity are in it."""
    apiserver = next(p for p in control_plane.procs if p.name == "kube-apiserver")
    log = apiserver.log.read_text(errors="replace")
    validating = [line for line in log.splitlines() if "validating admission controller(s) successfully" in line]
    assert validating, "no admission chain in the API server log"
    assert "EventRateLimit" in validating[-1] and "PodSecurity" in validating[-1], validating[-1]


def test_secrets_are_encrypted_in_etcd(control_plane, cp_api):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cp-encryption-probe", "namespace": "default"},
              "stringData": {"probe": "plaintext-that-must-not-be-in-etcd"}}
    status, body, _warnings = cp_api.apply(secret)
    assert status in (200, 201), body
    raw = control_plane.etcd_raw("/registry/secrets/default/cp-encryption-probe")
    assert raw is not None
    assert raw.startswith(b"k8s:enc:aescbc:v1:aescbckey:"), raw[:40]
    assert b"plaintext-that-must-not-be-in-etcd" not in raw
    # A ConfigMap is not in the encryption configuration: stored as is (the negative control).
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cp-encryption-control", "namespace": "default"},
          "data": {"probe": "visible"}}
    assert cp_api.apply(cm)[0] in (200, 201)
    assert b"visible" in control_plane.etcd_raw("/registry/configmaps/default/cp-encryption-control")


def test_audit_log_follows_the_role_policy(control_plane, cp_api):
    """audit.yaml: Secrets at Metadata (no bodies in the log), health endpoints not logged."""
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cp-audit-probe", "namespace": "default"},
              "stringData": {"token": "audit-must-not-see-this"}}
    assert cp_api.apply(secret)[0] in (200, 201)
    control_plane.get("/readyz")

    def events():
        text = control_plane.audit_log.read_text() if control_plane.audit_log.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    Api(control_plane).wait_for(lambda: any(e.get("objectRef", {}).get("name") == "cp-audit-probe" for e in events()),
                                timeout=30, what="the audit event of the probe Secret")
    text = control_plane.audit_log.read_text()
    assert "audit-must-not-see-this" not in text
    probe = [e for e in events() if e.get("objectRef", {}).get("name") == "cp-audit-probe"]
    assert {e["level"] for e in probe} == {"Metadata"}
    assert not any("requestObject" in e or "responseObject" in e for e in probe)
    assert not any(e.get("requestURI", "").startswith("/readyz") for e in events())


def test_broken_admission_file_fails_the_start_with_a_clear_message(cp_tools, tmp_path):
    """Negative: an admission configuration the server cannot accept (a PodSecurity level that does not
    exist) stops the API server at start, and the harness reports the server's own message."""
    cp = cp_harness.ControlPlane(tmp_path / "broken", cp_tools, controller_manager=False, start_timeout=120,
                                 mutate_files=lambda rendered: rendered["psa.yaml"].write_text(
                                     rendered["psa.yaml"].read_text().replace("enforce: restricted", "enforce: restrictive")))
    started = time.monotonic()
    with pytest.raises(cp_harness.ControlPlaneError) as failure:
        cp.start()
    message = str(failure.value)
    first = message.splitlines()[0]
    assert first.startswith("kube-apiserver exited with code 1"), message
    assert 'failed to initialize admission plugin "PodSecurity"' in first, first
    assert "enforce: must be one of privileged, baseline, restricted" in first, first
    assert time.monotonic() - started < 120
    for pid in cp.pids():
        assert not Path("/proc/%d" % pid).exists() or _zombie(pid), "process %d left behind" % pid
    assert cp_harness.processes_mentioning(str(tmp_path / "broken")) == []


def _zombie(pid: int) -> bool:
    try:
        return Path("/proc/%d/stat" % pid).read_text().split(")")[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_no_process_left_behind_when_the_test_process_is_interrupted_or_killed(cp_tools, tmp_path, how):
    """A test process that is interrupted (KeyboardInterrupt) stops its control plane; one that is killed
    outright takes it along (PR_SET_PDEATHSIG). Either way nothing keeps running."""
    env = dict(os.environ, PP_CP_TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, str(HERE / "cp_harness.py")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=str(HERE))
    first = proc.stdout.readline()
    assert first.startswith("KUBECONFIG="), first + proc.stdout.read()
    workdir = str(Path(first.split("=", 1)[1].strip()).parent)
    children = cp_harness.processes_mentioning(workdir)
    assert len(children) >= 3, children  # etcd, kube-apiserver, kube-controller-manager
    proc.send_signal(getattr(signal, how))
    proc.wait(60)
    deadline = time.monotonic() + 30
    while cp_harness.processes_mentioning(workdir) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert cp_harness.processes_mentioning(workdir) == []
