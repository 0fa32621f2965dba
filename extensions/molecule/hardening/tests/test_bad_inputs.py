"""Bad inventories are rejected by argument_specs or preflight before anything changes.

Each case runs the real playbook (parametric_portal.infra.hardening) against the converged
Ubuntu container with one bad variable, asserts a non-zero exit, a message naming the variable,
and an unchanged host fingerprint (checksums of /etc/ssh, the admin's and root's ~/.ssh including
authorized_keys, /etc/sysctl.d, nftables, systemd drop-ins, sudoers, passwd/shadow plus the live
nft ruleset).
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import REPO_ROOT

TARGET = "pp-hardening-ubuntu2404"
# /home/*/.ssh and /root/.ssh: the key cases below target authorized_keys itself.
FINGERPRINT = ("find /etc/ssh /etc/sysctl.d /etc/sudoers.d /etc/nftables.conf /etc/nftables.d /etc/passwd /etc/shadow "
               "/etc/login.defs /etc/fstab /etc/systemd/system /root/.ssh /home/*/.ssh -type f -exec sha256sum {} + | sort; "
               "nft list ruleset | sha256sum; "
               "stat -c '%n %a %U' /etc/ssh/sshd_config /etc/shadow /home/*/.ssh /home/*/.ssh/authorized_keys")


def fingerprint() -> str:
    return subprocess.run(["podman", "exec", TARGET, "sh", "-c", FINGERPRINT],
                          check=True, capture_output=True, text=True).stdout


def run_playbook(extra: dict, *args: str) -> subprocess.CompletedProcess:
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    cmd = ["ansible-playbook", "-i", inventory, "-l", TARGET, "-e", json.dumps(extra), *args,
           str(REPO_ROOT / "playbooks" / "hardening.yml")]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_PIPELINING="true",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=REPO_ROOT, check=False)


CASES = {
    "no keys": ({"hardening_admin_authorized_keys": []}, "hardening_admin_authorized_keys"),
    "malformed key": ({"hardening_admin_authorized_keys": ["ssh-ed25519 not*base64 x@y"]}, "hardening_admin_authorized_keys"),
    "port out of range": ({"hardening_ssh_port": 70000}, "hardening_ssh_port"),
    "port not a number": ({"hardening_ssh_port": "twenty-two"}, "hardening_ssh_port"),
    "invalid CIDR": ({"hardening_k3s_api_allowed_cidrs": ["203.0.113.0/33"]}, "hardening_k3s_api_allowed_cidrs"),
    "host bits set": ({"hardening_k3s_api_allowed_cidrs": ["203.0.113.7/24"]}, "hardening_k3s_api_allowed_cidrs"),
    "bad acme email": ({"infra_acme_email": "not-an-email"}, "infra_acme_email"),
    "impossible vCPU threshold": ({"preflight_min_vcpus": 4096}, "preflight_min_vcpus"),
    "prod opens 6443 to the world": ({"infra_environment": "prod", "hardening_k3s_api_allowed_cidrs": ["0.0.0.0/0"]},
                                     "hardening_k3s_api_world_allowed"),
    "prod lists 6443 as public": ({"infra_environment": "prod", "hardening_firewall_allowed_tcp": [80, 443, 6443]},
                                  "hardening_k3s_api_world_allowed"),
    "kubelet port public": ({"hardening_firewall_allowed_tcp": [80, 443, 10250]}, "hardening_firewall_allowed_tcp"),
    "flannel port public": ({"hardening_firewall_allowed_udp": [8472]}, "hardening_firewall_allowed_udp"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_rejected_before_any_change(case):
    extra, variable = CASES[case]
    before = fingerprint()
    r = run_playbook(extra)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out[-3000:]
    assert variable in out, out[-3000:]
    assert "changed=0" in out, out[-3000:]
    assert fingerprint() == before


def test_default_thresholds_match_this_machine():
    """With the role defaults (2 vCPU, 7680 MiB, 90 GB free) preflight fails exactly when the container is below."""
    probe = subprocess.run(["podman", "exec", TARGET, "sh", "-c",
                            "nproc; awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo; df -P -B1 / | awk 'NR==2 {print $4}'"],
                           check=True, capture_output=True, text=True).stdout.split()
    vcpus, mem_mib, free_gb = int(probe[0]), int(probe[1]), int(probe[2]) / 1e9
    below = [v for v, bad in (("preflight_min_vcpus", vcpus < 2), ("preflight_min_memory_mib", mem_mib < 7680),
                              ("preflight_min_disk_gb", free_gb < 90)) if bad]
    before = fingerprint()
    r = run_playbook({"preflight_min_vcpus": 2, "preflight_min_memory_mib": 7680, "preflight_min_disk_gb": 90},
                     "--tags", "preflight")
    out = r.stdout + r.stderr
    if below:
        assert r.returncode != 0, out[-3000:]
        assert below[0] in out, out[-3000:]
    else:
        assert r.returncode == 0, out[-3000:]
    assert fingerprint() == before
