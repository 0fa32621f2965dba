"""plugins/filter/sealing_cert_info.py"""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.parametric_portal.infra.plugins.filter.sealing_cert_info import FilterModule
from sealing_keys import openssl_fingerprint, openssl_public_key_sha256


def test_facts(kp4096, expired_cert_pem):
    f = FilterModule().filters()["sealing_cert_info"]
    facts = f(kp4096.cert_pem.decode())
    assert facts["key_size"] == 4096 and facts["key_type"] == "RSA"
    assert facts["fingerprint_sha256"] == openssl_fingerprint(kp4096.cert_pem)
    assert facts["public_key_sha256"] == openssl_public_key_sha256(kp4096.cert_pem)
    assert f(kp4096.cert_pem.decode()) == facts  # deterministic
    # expiry is reported, not enforced (the module enforces it)
    assert f(expired_cert_pem.decode())["not_after"] < facts["not_after"]


def test_errors(ec_cert_pem):
    f = FilterModule().filters()["sealing_cert_info"]
    with pytest.raises(AnsibleFilterError, match="RSA"):
        f(ec_cert_pem.decode())
    with pytest.raises(AnsibleFilterError, match="PEM text"):
        f(42)
