"""Real SSH logins from this machine to each container's podman network address."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

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
    """Only PermitRootLogin stops root here: root holds the admin key (prepare.yml) and is in AllowUsers
    (molecule.yml), so the login must fail and sshd must log that it refused ROOT, not anything else."""
    key_blob = Path(str(admin_key) + ".pub").read_text().split()[1]
    setup = subprocess.run(["podman", "exec", name, "sh", "-c",
                            f"grep -c {key_blob} /root/.ssh/authorized_keys; sshd -T -C user=root,host=x,addr=127.0.0.1 "
                            "| grep -E '^(allowusers|permitrootlogin) '; date +%s"],
                           capture_output=True, text=True, timeout=60, check=True).stdout.split("\n")
    assert setup[0] == "1", "setup: root must hold the admin key"
    assert "allowusers root" in setup and "permitrootlogin no" in setup, setup
    since = setup[-2]
    r = subprocess.run(["ssh", *SSH_OPTS, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", str(admin_key),
                        f"root@{container_ip(name)}", "true"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode != 0, "root logged in with its key"
    log = ""
    for unused in range(20):  # the journal entry can trail the refused connection a little
        log = subprocess.run(["podman", "exec", name, "journalctl", "-u", "ssh", "--since", f"@{since}", "-o", "cat"],
                             capture_output=True, text=True, timeout=60, check=False).stdout
        if "ROOT LOGIN REFUSED" in log:
            break
        time.sleep(0.5)
    assert "ROOT LOGIN REFUSED FROM" in log, log
