"""Issue 14 item 12: password ageing must never lock the key-only admin out.

The admin's password is locked ("!"), it logs in with a key only. If its account gets a maximum
password age (login.defs PASS_MAX_DAYS 60 when the account is created after login.defs was
written, or a CIS tool running `chage -M` on every account), PAM one day considers that locked
password expired: sshd then demands a password change and sudo refuses - the admin is locked out,
and so is Ansible, which connects as that admin.

The test gives the admin a 60-day maximum (as such a tool would), runs the role's admin concern
(the admin can still connect: the password is not old yet), then ages the password by two
decades and proves the admin still logs in and sudoes. Without the role's `chage -M -1` the
aged password is expired and the last step fails; a control case on the same host shows that
an expired maximum age really does lock the admin out, so the test can tell the two apart.
"""
from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
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


@pytest.fixture
def restore_ageing():
    yield
    # Whatever happened, give the admin back a never-expiring password (over podman, not SSH).
    _podman("chage", "-d", _podman("date", "+%Y-%m-%d").strip(), "-M", "-1", ADMIN)


def test_expired_maximum_age_locks_the_admin_out(admin_key, restore_ageing):
    """Control case: what the role prevents is real (an aged password with a maximum age locks out)."""
    assert _admin_sudo(admin_key).returncode == 0, "precondition: the converged admin can log in and sudo"
    _podman("chage", "-d", "2000-01-01", "-M", "60", ADMIN)
    assert _admin_sudo(admin_key).returncode != 0, "an expired password must lock the admin out (else the next test proves nothing)"


def test_role_removes_the_maximum_age_so_ageing_never_locks_out(admin_key, restore_ageing):
    assert _admin_sudo(admin_key).returncode == 0, "precondition: the converged admin can log in and sudo"
    _podman("chage", "-d", _podman("date", "+%Y-%m-%d").strip(), "-M", "60", ADMIN)

    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_PIPELINING="true",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    run = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-l", TARGET,
                          "--tags", "admin", "-e", json.dumps({"hardening_ssh_login_probe": False}),
                          str(REPO_ROOT / "playbooks" / "hardening.yml")],
                         capture_output=True, text=True, timeout=900, env=env, cwd=REPO_ROOT, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert re.search(rf"(?m)^{TARGET}\s*:\s*ok=\d+\s+changed=[1-9]", run.stdout), "the admin concern changed nothing"

    ageing = _podman("chage", "-l", ADMIN)
    assert re.search(r"(?m)^Maximum number of days between password change\s*: -1$", ageing), ageing
    _podman("chage", "-d", "2000-01-01", ADMIN)  # twenty-odd years later
    aged = _admin_sudo(admin_key)
    assert aged.returncode == 0, f"the aged admin is locked out: {aged.stderr}"
