"""Fixtures for the sealing tests: RSA keys and self-signed certificates made like the controller's
(generated once per session; 4096-bit generation is the slow part), plus in-process module driving."""
from __future__ import annotations

import datetime
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
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
