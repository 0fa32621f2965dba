"""Fixtures for the sealing tests: RSA keys and self-signed certificates made like the controller's
(generated once per session; 4096-bit generation is the slow part), plus in-process module driving."""
from __future__ import annotations

import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ansible.module_utils import basic
from module_runner import call_main, patch_exits
from sealing_keys import Keypair, keypair, make_cert


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


# ---- in-process module driving (tests/module_runner.py) -----------------------------------------

@pytest.fixture
def run_module(monkeypatch):
    """run_module(args, check=False, diff=False) -> (ok: bool, result dict, warnings list)."""
    from ansible_collections.parametric_portal.infra.plugins.modules import seal_secret

    warnings = []
    patch_exits(monkeypatch)
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))

    def runner(args, check=False, diff=False):
        del warnings[:]
        ok, result = call_main(seal_secret.main, args, check, diff)
        return ok, result, list(warnings)

    return runner
