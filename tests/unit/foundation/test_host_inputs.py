"""The host-input parsers behind the network_errors, ssh_public_key_errors and sysctl_drift filters.

Keys are generated here with `cryptography` and serialised by it in OpenSSH format (the same bytes
ssh-keygen writes), so the parser is checked against real key blobs, not strings shaped like them.
"""
from __future__ import annotations

import base64

import pytest
from ansible.errors import AnsibleFilterError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ansible_collections.parametric_portal.infra.plugins.filter import site_inputs
from ansible_collections.parametric_portal.infra.plugins.module_utils import _host_inputs as h

FILTERS = site_inputs.FilterModule().filters()


def openssh(private_key, comment="ops@example"):
    raw = private_key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return raw.decode() + " " + comment


@pytest.fixture(scope="module")
def keys():
    return {
        "ed25519": openssh(ed25519.Ed25519PrivateKey.generate()),
        "rsa4096": openssh(rsa.generate_private_key(public_exponent=65537, key_size=4096)),
        "rsa1024": openssh(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        "ecdsa256": openssh(ec.generate_private_key(ec.SECP256R1())),
    }


@pytest.mark.parametrize("value", ["203.0.113.0/24", "192.0.2.10", "0.0.0.0/0", "2001:db8::/32", "::1", " 10.0.0.0/8"])
def test_networks_that_pass(value):
    assert h.network_error(value) is None


@pytest.mark.parametrize("value, reason", [
    ("203.0.113.0/33", "does not appear to be an IPv4 or IPv6 network"),
    ("203.0.113.7/24", "has host bits set"),
    ("2001:db8::1/32", "has host bits set"),
    ("256.1.1.1", "does not appear"),
    ("example.com", "does not appear"),
    ("", "not an address or network"),
    (24, "not an address or network"),
    (None, "not an address or network"),
])
def test_networks_that_fail_say_why(value, reason):
    assert reason in h.network_error(value)


def test_the_whole_internet_only_when_allowed():
    assert h.network_errors({"g": ["0.0.0.0/0", "::/0", "198.51.100.0/24"]}, allow_any=False) == [
        "g: 0.0.0.0/0 allows the whole Internet", "g: ::/0 allows the whole Internet"]
    assert h.network_errors({"g": ["0.0.0.0/0"]}) == []


def test_network_errors_name_the_variable_and_accept_a_scalar():
    errors = FILTERS["network_errors"]({"hardening_k3s_api_allowed_cidrs": ["203.0.113.7/24"], "one": "192.0.2.1"})
    assert len(errors) == 1 and errors[0].startswith("hardening_k3s_api_allowed_cidrs: 203.0.113.7/24 ")
    with pytest.raises(AnsibleFilterError, match="expects a mapping"):
        FILTERS["network_errors"](["203.0.113.0/24"])


def test_real_keys_pass(keys):
    assert FILTERS["ssh_public_key_errors"]([keys["ed25519"], keys["rsa4096"], keys["ecdsa256"]]) == []
    assert h.ssh_public_key_error(keys["ed25519"].rsplit(" ", 1)[0]) is None  # the comment is optional


def test_bad_keys_say_why(keys):
    ed_type, ed_blob, _comment = keys["ed25519"].split()
    blob = base64.b64decode(ed_blob)
    cases = {
        keys["rsa1024"]: "RSA key of 1024 bits is too short",
        "ssh-rsa " + ed_blob: "the key data is a ssh-ed25519 key, not ssh-rsa",
        "%s %s" % (ed_type, base64.b64encode(blob[:-5]).decode()): "truncated key blob",
        "%s %s" % (ed_type, base64.b64encode(blob[:15] + b"\x00\x00\x00\x10" + b"x" * 16).decode()): "has 32 bytes, this one 16",
        "ssh-ed25519 not*base64 x@y": "not base64",
        "ssh-dss AAAAB3NzaC1kc3M= old": "unknown key type 'ssh-dss'",
        "ssh-ed25519": "expected '<type> <base64> [comment]'",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleOnlyReplaceWithYourOwnPublicKey00000 ops@example": "example key",
    }
    for line, reason in cases.items():
        assert reason in (h.ssh_public_key_error(line) or ""), line
    assert h.ssh_public_key_error(["not", "a", "string"]) == "not a string"


def test_key_errors_quote_the_start_of_each_bad_key(keys):
    errors = FILTERS["ssh_public_key_errors"]([keys["ed25519"], "ssh-ed25519 not*base64 x@y"])
    assert errors == ["ssh-ed25519 not*base64 x@y: the key data is not base64"]
    assert FILTERS["ssh_public_key_errors"]("ssh-ed25519 not*base64") == ["ssh-ed25519 not*base64: the key data is not base64"]


def test_sysctl_drift_reads_sysctl_output():
    output = ["net.ipv4.ip_forward = 0", "net.ipv4.ip_local_port_range = 32768\t60999", "kernel.kptr_restrict = 2",
              "sysctl: cannot stat /proc/sys/x/y: No such file or directory"]
    wanted = {"net.ipv4.ip_forward": 1, "net.ipv4.ip_local_port_range": "32768 60999", "kernel.kptr_restrict": "2",
              "x.y": 1}
    assert FILTERS["sysctl_drift"](output, wanted) == ["net.ipv4.ip_forward"]
    assert FILTERS["sysctl_drift"]("\n".join(output), {"kernel.kptr_restrict": 1}) == ["kernel.kptr_restrict"]
    assert FILTERS["sysctl_drift"]([], wanted) == []
    with pytest.raises(AnsibleFilterError, match="expects a mapping"):
        FILTERS["sysctl_drift"](output, ["net.ipv4.ip_forward"])
