"""Issue 14 item 24: sshd serves an Ed25519 and a 4096-bit RSA host key, nothing else.

The distributions generate a 3072-bit RSA key (and an ECDSA one); the role replaces the RSA key once
(the old pair is kept aside, not served) and sshd_config lists only the two HostKeys.
"""
from __future__ import annotations

import subprocess

import pytest
from conftest import CONTAINERS, container_ip


def test_host_key_files_ed25519_and_rsa_4096_only(host):
    """The files sshd loads; the old 3072-bit RSA key was replaced once (kept aside), not on every run."""
    effective = host.check_output("sshd -T -C user=ppadmin,host=verify,addr=127.0.0.1")
    hostkeys = sorted(line.split(" ", 1)[1] for line in effective.splitlines() if line.startswith("hostkey "))
    assert hostkeys == ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"]
    bits = host.check_output("ssh-keygen -l -f /etc/ssh/ssh_host_rsa_key.pub").split()[0]
    assert bits == "4096"
    assert "ED25519" in host.check_output("ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key.pub")
    key = host.file("/etc/ssh/ssh_host_rsa_key")
    assert (key.user, key.mode) == ("root", 0o600)
    kept = host.check_output("ls /etc/ssh | grep -c '^ssh_host_rsa_key.replaced-by-hardening-' || true")
    assert kept == "1", "the old RSA key must be kept aside exactly once (replaced once, idempotently)"
    old_bits = host.check_output("ssh-keygen -l -f /etc/ssh/$(ls /etc/ssh | grep '^ssh_host_rsa_key.pub.replaced-by-hardening-')").split()[0]
    assert int(old_bits) < 4096


@pytest.mark.parametrize("name", CONTAINERS)
def test_sshd_offers_only_ed25519_and_rsa_4096(name, tmp_path):
    """What a client sees (ssh-keyscan from this machine): one Ed25519 and one 4096-bit RSA host key."""
    scan = subprocess.run(["ssh-keyscan", "-p", "2222", "-T", "10", "-t", "rsa,ecdsa,ed25519", container_ip(name)],
                          capture_output=True, text=True, timeout=60, check=False).stdout
    types = sorted(line.split()[1] for line in scan.splitlines() if line and not line.startswith("#"))
    assert types == ["ssh-ed25519", "ssh-rsa"], scan
    keys = tmp_path / "keys"
    keys.write_text(scan)
    listed = subprocess.run(["ssh-keygen", "-l", "-f", str(keys)], capture_output=True, text=True, check=True).stdout
    sizes = {line.split()[-1]: int(line.split()[0]) for line in listed.splitlines()}
    assert sizes == {"(ED25519)": 256, "(RSA)": 4096}, sizes
