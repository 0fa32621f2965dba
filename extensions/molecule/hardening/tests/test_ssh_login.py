"""Real SSH logins from this machine to each container's podman network address."""
from __future__ import annotations

import subprocess

import pytest
from conftest import CONTAINERS, container_ip

SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
            "-o", "LogLevel=ERROR", "-p", "2222"]


@pytest.mark.parametrize("name", CONTAINERS)
def test_admin_key_login_and_sudo_succeed(name, admin_key):
    r = subprocess.run(["ssh", *SSH_OPTS, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", str(admin_key),
                        f"ppadmin@{container_ip(name)}", "sudo", "-n", "id", "-u"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0"


@pytest.mark.parametrize("name", CONTAINERS)
def test_password_login_fails(name):
    # pptest has this password (prepare.yml) and is in AllowUsers: only PasswordAuthentication no stops it.
    r = subprocess.run(["sshpass", "-p", "pptest-Passw0rd!", "ssh", *SSH_OPTS, "-o", "PubkeyAuthentication=no",
                        "-o", "PreferredAuthentications=password,keyboard-interactive",
                        f"pptest@{container_ip(name)}", "true"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode != 0
    assert "Permission denied (publickey)" in r.stderr


@pytest.mark.parametrize("name", CONTAINERS)
def test_root_key_login_refused(name, admin_key):
    r = subprocess.run(["ssh", *SSH_OPTS, "-o", "BatchMode=yes", "-i", str(admin_key), f"root@{container_ip(name)}", "true"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode != 0
