"""`ansible-playbook playbooks/site.yml --check --diff` against a never-converged host (issue 16 item 2).

This is the first thing a careful operator runs. On a fresh container from the same image (its own
name; first boot as a cloud image does it: the initial admin with the operator's key), the whole
site playbook in check mode must finish without a failure, say what it would change - the packages
apt would install, the files it would write, the units it would start, the K3s install - and leave
the host exactly as it was: configuration, packages, apt's package lists and caches, users, units.
"""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]
INVENTORY = HERE.parent / "inventory"
NAME = "pp-site-check-fresh"
WORKDIR = Path(os.environ.get("PP_SITE_WORKDIR", REPO / "build" / "molecule-site"))
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

# Everything a run could change, including what check mode is most tempted to touch: apt's lists
# and caches (an `apt update` would rewrite them) and the set of running units.
FINGERPRINT = (
    "set -o pipefail; "
    "find /etc /usr/local/bin /usr/sbin /var/lib/rancher /var/lib/dpkg/status /root/.ssh /home /var/lib/aide "
    "-xdev \\( -type f -o -type l \\) -not -path '/etc/machine-id' -print0 2>/dev/null | sort -z | xargs -0 sha256sum 2>/dev/null | sha256sum; "
    "find /var/lib/apt /var/cache/apt -xdev -printf '%p %s %T@\\n' 2>/dev/null | sort | sha256sum; "
    "systemctl list-unit-files --no-legend --state=enabled,masked | sort | sha256sum; "
    "systemctl list-units --no-legend --state=active --plain | awk '{print $1}' | grep -v '^session-' | sort | sha256sum; "
    "getent passwd | sha256sum"
)


def _podman(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=300, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} failed: {proc.stderr}")
    return proc.stdout


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    _podman("rm", "-f", NAME, check=False)
    mask = os.environ.get("PP_SYSCTL_MASK") or subprocess.run(
        ["bash", str(REPO / "scripts" / "container-sysctl-masks.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    _podman("run", "-d", "--name", NAME, "--systemd=always", "--cap-add", "SYS_ADMIN,NET_ADMIN,SYS_RESOURCE",
            "--security-opt", "unmask=/proc/sys", "--security-opt", f"mask={mask}",
            "localhost/pp-ubuntu2404:latest", "/sbin/init")
    for unused in range(90):
        state = subprocess.run(["podman", "exec", NAME, "systemctl", "is-system-running"],
                               capture_output=True, text=True, check=False).stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    pub = (WORKDIR / "id_ed25519.pub").read_text().strip()
    _podman("exec", NAME, "bash", "-c",
            "useradd -m -s /bin/bash -G sudo deploy && install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh && "
            f"echo '{pub}' > /home/deploy/.ssh/authorized_keys && chown deploy:deploy /home/deploy/.ssh/authorized_keys && "
            "chmod 0600 /home/deploy/.ssh/authorized_keys && "
            "echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-cloud-init-users && chmod 0440 /etc/sudoers.d/90-cloud-init-users && "
            "systemctl start ssh.socket")
    ip = _podman("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", NAME).strip()
    (WORKDIR / f"{NAME}.ip").write_text(ip)
    inv = tmp_path_factory.mktemp("check-fresh-inventory")
    (inv / "hosts.yml").write_text(
        "---\nk3s_cluster:\n  vars:\n    ansible_python_interpreter: /usr/bin/python3\n  children:\n"
        f"    k3s_servers:\n      hosts:\n        {NAME}: {{}}\n    k3s_agents:\n      hosts: {{}}\n")
    (inv / "group_vars").symlink_to(INVENTORY / "group_vars", target_is_directory=True)
    yield inv
    _podman("rm", "-f", NAME, check=False)


def test_site_check_diff_on_a_never_converged_host(fresh):
    before = _podman("exec", NAME, "bash", "-c", FINGERPRINT)
    env = dict(os.environ, PP_SITE_WORKDIR=str(WORKDIR), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
               ANSIBLE_PIPELINING="true", ANSIBLE_HOST_KEY_CHECKING="false",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / "build" / "collections"))
    proc = subprocess.run(["ansible-playbook", "-i", str(fresh), str(REPO / "playbooks" / "site.yml"), "--check", "--diff"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1800, check=False)
    out = proc.stdout + proc.stderr
    (WORKDIR / "check-fresh.log").write_text(out)
    recap = {m[0]: tuple(int(x) for x in m[1:]) for m in RECAP.findall(out)}
    assert proc.returncode == 0 and NAME in recap and recap[NAME][3] == 0, (
        f"check mode failed on a fresh host (rc {proc.returncode}):\n{out[-5000:]}")
    assert recap[NAME][1] > 0, "check mode on a fresh host reported no change at all"

    # It tells the operator what would happen, not only that something would.
    plan = re.search(r"apt would install \d+ package\(s\)[^\n]*", out)
    assert plan and all(p in plan.group(0) for p in ("nftables", "fail2ban", "auditd")), "no apt plan naming the packages"
    assert re.search(r"would enable \(and start where it can run\), once installed: .*fail2ban\.service", out)
    assert re.search(r"would write, once the package or directory exists: .*/etc/fail2ban/jail\.local", out)
    assert "+++ after: /etc/ssh/sshd_config" in out or re.search(r"\+\+\+ after.*sshd_config", out), "no sshd_config diff"
    assert re.search(r"\+\+\+ after.*(nftables\.conf|60-parametric-portal-hardening\.conf)", out), "no diffs of the written files"
    assert re.search(r"would generate the .*rsa.* host key", out), "the RSA host key replacement is not announced"
    assert re.search(r"TASK \[parametric_portal\.infra\.k3s :", out), "the K3s role did not run in check mode"
    assert re.search(r"TASK \[parametric_portal\.infra\.(argocd|sealed_secrets) :", out), "the platform roles did not run"

    after = _podman("exec", NAME, "bash", "-c", FINGERPRINT)
    assert before == after, "check mode changed the fresh host"
