"""Lifecycle behaviours, driven with the real playbooks against pp-k3s-server2 (runs after
test_default.py; leaves that host reset, so it must stay the last test of the scenario).

ansible-playbook runs from the repository root with Molecule's inventory of the scenario (SSH as
the initial sudo user, like an operator; Molecule's ansible.cfg from the environment).
The K3s binary is the TEST DOUBLE built by tests/doubles/make-artifacts.sh; no cluster exists, so
the readiness wait and the drain are switched off and the playbooks say so.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import testinfra

REPO = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[4]))
INVENTORY = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
ARTIFACTS = Path(os.environ["PP_K3S_ARTIFACT_ROOT"])
NODE = "pp-k3s-server2"
HOST = testinfra.get_host(f"ansible://{NODE}?ansible_inventory={INVENTORY}", sudo=True)


def playbook(name: str, *extra: str) -> subprocess.CompletedProcess:
    # Molecule's ansible.cfg sends failed tasks to stderr (display_failed_stderr): keep them in stdout.
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_DIFF_ALWAYS": "0", "ANSIBLE_DISPLAY_FAILED_STDERR": "false"}
    cmd = ["ansible-playbook", "-i", str(INVENTORY), f"playbooks/{name}", "--limit", NODE, *extra]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)


def recap(result: subprocess.CompletedProcess) -> str:
    line = next(line for line in result.stdout.splitlines() if line.startswith(NODE) and "ok=" in line)
    return line


def artifacts(version: str, *flags: str, name: str | None = None) -> Path:
    target = ARTIFACTS / (name or version)
    subprocess.run(["bash", str(REPO / "tests/doubles/make-artifacts.sh"), str(target), version, *flags],
                   check=True, capture_output=True)
    return target


def main_pid() -> str:
    return HOST.check_output("systemctl show -p MainPID --value k3s")


def binary_sha() -> str:
    return HOST.check_output("sha256sum /usr/local/bin/k3s").split()[0]


def test_missing_kubelet_sysctl_fails_before_anything_changes():
    conf = "/etc/sysctl.d/90-kubelet.conf"
    original = HOST.file(conf).content_string
    config_before, pid = HOST.check_output("sha256sum /etc/rancher/k3s/config.yaml"), main_pid()
    HOST.check_output(f"sed -i 's/^vm.overcommit_memory=1$/vm.overcommit_memory=0/' {conf}")
    try:
        result = playbook("k3s.yml", "-e", '{"k3s_kubelet_extra_args": ["pod-max-pids=4096"]}')
    finally:
        HOST.check_output(f"printf '%s' '{original}' > {conf}")
    assert result.returncode != 0
    assert "lacks: vm.overcommit_memory=1." in result.stdout
    assert "Run parametric_portal.infra.hardening first, or provide the file." in result.stdout
    assert HOST.check_output("sha256sum /etc/rancher/k3s/config.yaml") == config_before
    assert main_pid() == pid
    assert HOST.file(conf).content_string == original


def test_checksum_mismatch_is_rejected_and_binary_untouched():
    before, pid = binary_sha(), main_pid()
    bad = artifacts("v1.32.99+k3s1", "--corrupt-sha", name="corrupt-sha")
    result = playbook("k3s.yml", "-e", f"k3s_artifact_dir={bad}")
    assert result.returncode != 0
    assert "Checksum mismatch for k3s v1.32.11+k3s1" in result.stdout
    assert "/usr/local/bin/k3s was left untouched" in result.stdout
    assert binary_sha() == before
    assert main_pid() == pid
    assert not HOST.file("/usr/local/bin/.k3s.staged").exists


IMAGES = "/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.gz"


def test_airgap_images_are_verified_then_installed_and_restart_k3s_once():
    """Issue 17 item 10: the airgap images path. make-artifacts.sh --images adds a TEST DOUBLE images
    tarball (a real gzip'd tar saying it holds no container images) and its line in the checksum file."""
    pid = main_pid()
    bad = artifacts("v1.32.11+k3s1", "--corrupt-images-sha", name="corrupt-images")
    refused = playbook("k3s.yml", "-e", f"k3s_artifact_dir={bad}")
    assert refused.returncode != 0
    assert "Checksum mismatch or missing entry for k3s-airgap-images-amd64.tar.gz" in refused.stdout
    assert "Nothing was copied." in refused.stdout
    assert not HOST.file(IMAGES).exists and main_pid() == pid

    good = artifacts("v1.32.11+k3s1", "--images", name="with-images")
    installed = playbook("k3s.yml", "-e", f"k3s_artifact_dir={good}")
    assert installed.returncode == 0, installed.stdout[-3000:]
    images = HOST.file(IMAGES)
    assert images.exists and images.mode == 0o600 and images.user == "root"
    local = hashlib.sha256((good / "k3s-airgap-images-amd64.tar.gz").read_bytes()).hexdigest()
    assert HOST.check_output(f"sha256sum {IMAGES}").split()[0] == local
    assert "RUNNING HANDLER [parametric_portal.infra.k3s : Restart k3s]" in installed.stdout
    restarted = main_pid()
    assert restarted not in ("0", pid)

    rerun = playbook("k3s.yml", "-e", f"k3s_artifact_dir={good}")
    assert rerun.returncode == 0 and " changed=0 " in recap(rerun), rerun.stdout[-3000:]
    assert main_pid() == restarted


def test_config_change_restarts_and_rerun_does_not():
    pid = main_pid()
    changed = playbook("k3s.yml", "-e", '{"k3s_kubelet_extra_args": ["pod-max-pids=4096"]}')
    assert changed.returncode == 0, changed.stdout[-3000:]
    assert "RUNNING HANDLER [parametric_portal.infra.k3s : Restart k3s]" in changed.stdout
    assert "pod-max-pids=4096" in HOST.file("/etc/rancher/k3s/config.yaml").content_string
    restarted = main_pid()
    assert restarted not in ("0", pid)

    restored = playbook("k3s.yml")
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert "pod-max-pids" not in HOST.file("/etc/rancher/k3s/config.yaml").content_string
    settled = main_pid()
    assert settled not in ("0", restarted)

    rerun = playbook("k3s.yml")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert " changed=0 " in recap(rerun)
    assert "Restart k3s" not in rerun.stdout
    assert main_pid() == settled
    assert "SKIPPED: readiness wait not performed" in rerun.stdout


def test_upgrade_replaces_the_binary():
    artifacts("v1.32.12+k3s1")
    pid = main_pid()
    result = playbook("upgrade.yml", "-e", "k3s_version=v1.32.12+k3s1")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "SKIPPED: no drain/uncordon for pp-k3s-server2 (k3s_upgrade_drain=false)" in result.stdout
    assert HOST.check_output("/usr/local/bin/k3s --version").splitlines()[0] == "k3s version v1.32.12+k3s1 (test-double)"
    assert main_pid() not in ("0", pid)
    assert HOST.file("/usr/local/bin/k3s").mode == 0o755


PG_VOLUME = "/var/lib/rancher/k3s/storage/pvc-0a1b2c3d_parametric-portal-dev_api-db-1"


def _plant_data():
    """What a single-server K3s holds: the SQLite datastore (every Secret, the Sealed Secrets keys),
    the secrets-encryption key, a local-path volume with PostgreSQL data, and an etcd snapshot."""
    HOST.check_output(
        "install -d -m 0700 /var/lib/rancher/k3s/server/db/snapshots /var/lib/rancher/k3s/server/cred && "
        "echo 'datastore planted by the test' > /var/lib/rancher/k3s/server/db/state.db && "
        "echo 'placeholder snapshot written by the test' > /var/lib/rancher/k3s/server/db/snapshots/etcd-snapshot-test && "
        "echo '{\"kind\": \"EncryptionConfiguration\"}' > /var/lib/rancher/k3s/server/cred/encryption-config.json && "
        f"install -d -m 0700 {PG_VOLUME} && echo 17 > {PG_VOLUME}/PG_VERSION")


def test_reset_without_confirmation_changes_nothing_and_says_what_it_would_do():
    _plant_data()
    before, pid = binary_sha(), main_pid()
    result = playbook("reset.yml")
    assert result.returncode != 0
    out = " ".join(result.stdout.split())
    assert "Refusing to reset K3s on pp-k3s-server2. Nothing was changed." in out
    assert "-e reset_confirm=pp-k3s-server2" in out
    assert ("It would DELETE: /usr/local/bin/k3s, /etc/systemd/system/k3s.service, /etc/rancher/k3s, "
            "/var/lib/rancher/k3s (") in out, out[-3000:]
    assert ("It would MOVE to /var/backups/k3s-reset-<UTC time>/ and keep: /var/lib/rancher/k3s/server, "
            "/var/lib/rancher/k3s/storage, /etc/rancher/k3s/cluster-token, /etc/rancher/k3s/agent-token (") in out, out[-3000:]
    wrong = playbook("reset.yml", "-e", "reset_confirm=pp-k3s-server1")
    assert wrong.returncode != 0
    assert binary_sha() == before and main_pid() == pid
    assert HOST.file("/var/lib/rancher/k3s/server/psa.yaml").exists
    assert HOST.file(f"{PG_VOLUME}/PG_VERSION").exists


def test_reset_removes_k3s_and_keeps_data_keys_volumes_and_ssh():
    """Issue 14 item 8: a single server without etcd snapshots loses neither its datastore (the
    Sealed Secrets keys are Secrets in it) nor its local-path volumes (the PostgreSQL data)."""
    _plant_data()
    token = HOST.check_output("cat /etc/rancher/k3s/cluster-token")
    agent_token = HOST.check_output("cat /etc/rancher/k3s/agent-token")
    sshd_before = HOST.check_output("sha256sum /etc/ssh/sshd_config")
    ssh_enabled = HOST.run("systemctl is-enabled ssh.socket ssh.service").stdout
    result = playbook("reset.yml", "-e", f"reset_confirm={NODE}")
    assert result.returncode == 0, result.stdout[-3000:]
    for gone in ("/usr/local/bin/k3s", "/etc/systemd/system/k3s.service", "/etc/rancher/k3s", "/var/lib/rancher/k3s"):
        assert not HOST.file(gone).exists, gone
    assert HOST.run("systemctl is-active k3s").stdout.strip() != "active"
    backups = HOST.check_output("ls -d /var/backups/k3s-reset-*").split()
    assert len(backups) == 1
    backup = backups[0]
    assert HOST.file(backup).mode == 0o700
    kept = {
        "server/db/state.db": "datastore planted by the test",
        "server/db/snapshots/etcd-snapshot-test": "placeholder snapshot written by the test",
        "server/cred/encryption-config.json": '{"kind": "EncryptionConfiguration"}',
        f"storage/{PG_VOLUME.rsplit('/', 1)[1]}/PG_VERSION": "17",
        "cluster-token": token,
        "agent-token": agent_token,
    }
    for rel, content in kept.items():
        assert HOST.file(f"{backup}/{rel}").content_string.strip() == content, rel
    assert HOST.file(f"{backup}/server/psa.yaml").exists
    assert HOST.file(f"{backup}/cluster-token").mode == 0o600
    assert f"moved to {backup}: server, storage, cluster-token, agent-token" in " ".join(result.stdout.split())
    assert HOST.check_output("sha256sum /etc/ssh/sshd_config") == sshd_before
    assert HOST.run("systemctl is-enabled ssh.socket ssh.service").stdout == ssh_enabled
    assert HOST.file("/etc/sysctl.d/90-kubelet.conf").exists


def test_check_mode_on_a_fresh_host_changes_nothing():
    # pp-k3s-server2 has just been reset: no binary, config or unit (90-kubelet.conf is still there).
    result = playbook("k3s.yml", "--check", "--diff")
    assert result.returncode == 0, result.stdout[-3000:]
    assert " changed=0 " not in recap(result)  # it reports what it would do
    for absent in ("/usr/local/bin/k3s", "/usr/local/bin/.k3s.staged", "/etc/rancher/k3s", "/etc/systemd/system/k3s.service",
                   "/var/lib/rancher/k3s"):
        assert not HOST.file(absent).exists, absent
