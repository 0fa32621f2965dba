"""Issue 14 item 12: password ageing must never lock the key-only admin out.

The admin's password is locked ("!"), it logs in with a key only. If its account gets a maximum
password age (login.defs PASS_MAX_DAYS 60 when the account is created after login.defs was
written, or a CIS tool running `chage -M` on every account), PAM one day considers that locked
password expired: sshd then demands a password change and sudo refuses - the admin is locked out.

The test ages the admin's password past a 60-day maximum, shows that this really locks it out
(ssh + sudo fail), runs the role's admin concern, and proves the admin is back: no maximum age.
"""
from __future__ import annotations

import json
import os
import re
import subprocess

from conftest import REPO_ROOT, container_ip

TARGET = "pp-hardening-ubuntu2404"
ADMIN = "ppadmin"
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-p", "2222"]


def _podman(*cmd: str) -> str:
    return subprocess.run(["podman", "exec", TARGET, *cmd], check=True, capture_output=True, text=True).stdout


def _admin_sudo(admin_key) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", *SSH_OPTS, "-i", str(admin_key), f"{ADMIN}@{container_ip(TARGET)}", "sudo", "-n", "true"],
                          capture_output=True, text=True, timeout=60, check=False)


def test_aged_password_does_not_lock_the_admin_out(admin_key):
    assert _admin_sudo(admin_key).returncode == 0, "precondition: the converged admin can log in and sudo"
    _podman("chage", "-d", "2000-01-01", "-M", "60", ADMIN)
    aged = _admin_sudo(admin_key)
    assert aged.returncode != 0, "precondition: an expired password must lock the admin out (else this test proves nothing)"

    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_PIPELINING="true",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    run = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-l", TARGET,
                          "--tags", "admin", "-e", json.dumps({"hardening_ssh_login_probe": False}),
                          str(REPO_ROOT / "playbooks" / "hardening.yml")],
                         capture_output=True, text=True, timeout=900, env=env, cwd=REPO_ROOT, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]

    ageing = _podman("chage", "-l", ADMIN)
    assert re.search(r"(?m)^Maximum number of days between password change\s*: -1$", ageing), ageing
    assert re.search(r"(?m)^Password expires\s*: never$", ageing), ageing
    fixed = _admin_sudo(admin_key)
    assert fixed.returncode == 0, f"admin still locked out after the role ran: {fixed.stderr}"
