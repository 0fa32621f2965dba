"""Preflight refuses example and weak secrets, naming the variable and never the value (issue 14 item 3).

The rules (plugins/module_utils/_secret_checks.py) are checked directly; the preflight task that
applies them to the inventory is run by the site scenario's bad-input table.
"""
from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import yaml

from ansible_collections.parametric_portal.infra.plugins.filter.secret_checks import secret_input_errors
from ansible_collections.parametric_portal.infra.plugins.module_utils import _secret_checks as checks

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted(REPO.glob("inventories/*/group_vars/all/vault.yml.example"))
STRONG = "q7V-k2Lm9xZr4TpW8sNb"  # 20 characters, 20 distinct
KEY = base64.b64encode(bytes(range(7, 39))).decode()  # 32 bytes, all distinct


def _example_values():
    values = {}
    for path in EXAMPLES:
        for name, value in yaml.safe_load(path.read_text()).items():
            values[name[len("vault_"):]] = value
    return values


def test_every_example_value_is_listed_and_refused_naming_the_variable():
    assert EXAMPLES, "no vault.yml.example found"
    examples = _example_values()
    assert set(examples) == set(checks.SECRET_KINDS), "vault.yml.example and the checked secrets differ"
    for path in EXAMPLES:
        for value in yaml.safe_load(path.read_text()).values():
            assert value in checks.EXAMPLE_VALUES, f"{path}: {value!r} is not in EXAMPLE_VALUES"
    errors = secret_input_errors(examples)
    assert len(errors) == len(examples)
    for name, error in zip(sorted(examples), errors):
        assert error.startswith(f"{name} is an example or placeholder value"), error
        assert f"vault_{name}" in error
        assert examples[name] not in error, "the message shows the value"


@pytest.mark.parametrize("value", ["EXAMPLE-change-me", "my-example-password-1234", "ChangeMe-0123456789abc",
                                   "replace-me-0123456789", "PLACEHOLDER-0123456789abcd"])
def test_placeholders_are_refused(value):
    assert checks.secret_error("cnpg_app_password", value).startswith("cnpg_app_password is an example")


@pytest.mark.parametrize("value, expected", [
    ("short-pass", "cnpg_app_password is too short (10 characters): use at least 16 random characters"),
    ("aaaaaaaaaaaaaaaaaaaaaaaa", "cnpg_app_password is weak (only 1 distinct characters)"),
    ("abcabcabcabcabcabcabc", "cnpg_app_password is weak (only 3 distinct characters)"),
    ("", "cnpg_app_password must be a non-empty string"),
    (12345678901234567890, "cnpg_app_password must be a non-empty string"),
])
def test_weak_text_secrets_are_refused(value, expected):
    error = checks.secret_error("cnpg_app_password", value)
    assert error.startswith(expected), error
    assert str(value) not in error or value == ""


@pytest.mark.parametrize("value, expected", [
    ("molecule-test-fingerprint-key-that-is-long", "a passphrase is not accepted"),
    (base64.b64encode(os.urandom(16)).decode(), "encodes only 16 bytes"),
    ("00" * 32, "is not random (1 distinct byte values in 32 bytes)"),
    (base64.b64encode(bytes(32)).decode(), "is not random (1 distinct byte values in 32 bytes)"),
])
def test_weak_fingerprint_keys_are_refused(value, expected):
    error = checks.secret_error("sealing_fingerprint_key", value)
    assert error.startswith("sealing_fingerprint_key") and expected in error, error
    assert "openssl rand -base64 32" in error
    assert value not in error


@pytest.mark.parametrize("key", [KEY, base64.b64encode(os.urandom(48)).decode(), os.urandom(32).hex(),
                                 base64.urlsafe_b64encode(os.urandom(32)).decode()])
def test_random_fingerprint_keys_are_accepted(key):
    assert checks.secret_error("sealing_fingerprint_key", key) is None


def test_strong_values_pass_and_unset_ones_are_skipped():
    values = {name: (KEY if kind == "random_key" else STRONG) for name, kind in checks.SECRET_KINDS.items()}
    assert secret_input_errors(values) == []
    assert secret_input_errors({"cnpg_app_password": None}) == []
