"""Fixtures for the sealing tests: RSA keys and self-signed certificates made like the controller's
(generated once per session; 4096-bit generation is the slow part), plus in-process module driving."""
from __future__ import annotations

import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


def make_cert(key, days_valid=3650, not_before=None):
    """A self-signed certificate like the controller's (10 years by default, IsCA)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = not_before or now - datetime.timedelta(minutes=5)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sealing tests")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(days=days_valid))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


class Keypair:
    def __init__(self, bits):
        self.bits = bits
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        self.cert_pem = make_cert(self.key)
        self.key_pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )


_KEYS: dict[int, Keypair] = {}


def keypair(bits: int) -> Keypair:
    if bits not in _KEYS:
        _KEYS[bits] = Keypair(bits)
    return _KEYS[bits]


@pytest.fixture(scope="session")
def kp2048():
    return keypair(2048)


@pytest.fixture(scope="session")
def kp4096():
    return keypair(4096)


@pytest.fixture(scope="session", params=[2048, 4096], ids=["rsa2048", "rsa4096"])
def kp(request):
    return keypair(request.param)


@pytest.fixture(scope="session")
def other_kp():
    """A second controller key (a different cluster, or a rotated key)."""
    return Keypair(2048)


@pytest.fixture(scope="session")
def expired_cert_pem(kp2048):
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=400)
    return make_cert(kp2048.key, days_valid=30, not_before=past)


@pytest.fixture(scope="session")
def ec_cert_pem():
    key = ec.generate_private_key(ec.SECP256R1())
    return make_cert(key)


# ---- in-process module driving (kubernetes.core's AnsibleExitJson pattern) ----------------------

class AnsibleExitJson(Exception):
    def __init__(self, kwargs):
        super().__init__(kwargs)
        self.result = kwargs


class AnsibleFailJson(Exception):
    def __init__(self, kwargs):
        super().__init__(kwargs)
        self.result = kwargs


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    # Serialise through the module's own no_log masking, like a real run does.
    raise AnsibleExitJson(json.loads(json.dumps(basic.remove_values(kwargs, self.no_log_values))))


def _fail_json(self, msg, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise AnsibleFailJson(json.loads(json.dumps(basic.remove_values(kwargs, self.no_log_values))))


@pytest.fixture
def run_module(monkeypatch):
    """run_module(args, check=False, diff=False) -> (ok: bool, result dict, warnings list)."""
    from ansible_collections.parametric_portal.infra.plugins.modules import seal_secret

    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))

    def runner(args, check=False, diff=False):
        args = dict(args)
        args["_ansible_check_mode"] = check
        args["_ansible_diff"] = diff
        del warnings[:]
        with patch_module_args(args):
            try:
                seal_secret.main()
            except AnsibleExitJson as exc:
                return True, exc.result, list(warnings)
            except AnsibleFailJson as exc:
                return False, exc.result, list(warnings)
        raise AssertionError("module returned without exit_json/fail_json")

    return runner
