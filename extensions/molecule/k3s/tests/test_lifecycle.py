"""Lifecycle behaviours, driven with the real playbooks against pp-k3s-server2 (runs after
test_default.py; leaves that host reset, so it must stay the last test of the scenario).

ansible-playbook runs from the repository root with Molecule's inventory of the scenario (SSH as
the initial sudo user, like an operator; Molecule's ansible.cfg from the environment).
The K3s binary is the TEST DOUBLE built by tests/doubles/make-artifacts.sh; no cluster exists, so
the readiness wait and the drain are switched off and the playbooks say so.
"""
from __future__ import annotations

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
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_DIFF_ALWAYS": "0"}
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


def test_reset_without_confirmation_changes_nothing():
    before, pid = binary_sha(), main_pid()
    result = playbook("reset.yml")
    assert result.returncode != 0
    assert "Refusing to reset K3s on pp-k3s-server2" in result.stdout
    assert "-e reset_confirm=pp-k3s-server2" in result.stdout
    wrong = playbook("reset.yml", "-e", "reset_confirm=pp-k3s-server1")
    assert wrong.returncode != 0
    assert binary_sha() == before and main_pid() == pid
    assert HOST.file("/var/lib/rancher/k3s/server/psa.yaml").exists


def test_reset_removes_k3s_and_keeps_ssh_and_backups():
    HOST.check_output("install -d -m 0700 /var/lib/rancher/k3s/server/db/snapshots && "
                      "echo 'placeholder snapshot written by the test' > /var/lib/rancher/k3s/server/db/snapshots/etcd-snapshot-test")
    token = HOST.check_output("cat /etc/rancher/k3s/cluster-token")
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
    assert HOST.file(f"{backup}/snapshots/etcd-snapshot-test").exists
    assert HOST.file(f"{backup}/cluster-token").content_string == token + "\n"
    assert HOST.file(f"{backup}/cluster-token").mode == 0o600
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
