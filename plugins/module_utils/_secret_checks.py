# -*- coding: utf-8 -*-
# Copyright: parametric_portal.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private core: refuse example and weak secrets before anything changes (used by preflight).

Owns the rules per secret variable of the site and the list of the example values shipped in the
inventories' vault.yml.example files. Messages name the variable and the expected form, never the
value.
"""

from __future__ import annotations

import base64
import binascii
import re

# The values of inventories/*/group_vars/all/vault.yml.example (a unit test keeps this in sync):
# a copied example vault must never reach a host.
EXAMPLE_VALUES = frozenset((
    "EXAMPLE-not-a-real-key",
    "EXAMPLE-not-a-real-secret",
    "EXAMPLE-change-me",
    "EXAMPLE-change-me-fingerprint-key",
    "EXAMPLE-change-me-backup-passphrase",
))
# Markers of a placeholder anywhere in a value (case-insensitive).
_PLACEHOLDER = re.compile(r"example|change-?me|replace-?me|placeholder", re.IGNORECASE)

MIN_LENGTH = 16  # characters, for passwords, tokens and keys given as text
MIN_DISTINCT = 8  # distinct characters: refuses "aaaa...", "abababab..." and similar
KEY_MIN_BYTES = 32  # random bytes behind the fingerprint key
KEY_MIN_DISTINCT_BYTES = 16  # 32 random bytes have ~30 distinct values; all-zero keys have 1

_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+$")

# Secret variables of the site and their kind. The vault holds them as vault_<name>.
SECRET_KINDS = {
    "cnpg_s3_access_key_id": "text",
    "cnpg_s3_secret_access_key": "text",
    "cnpg_app_password": "text",
    "argocd_repo_password": "text",
    "monitoring_grafana_admin_password": "text",
    "sealing_key_backup_passphrase": "text",
    "sealing_fingerprint_key": "random_key",
}


def _decoded_key(value):
    """The bytes a hex or base64 (standard or URL-safe) key encodes, or None if it is neither."""
    if _HEX.match(value):
        return binascii.unhexlify(value)
    for pattern, decode in ((_BASE64, base64.b64decode), (_BASE64URL, base64.urlsafe_b64decode)):
        if pattern.match(value) and len(value) % 4 == 0:
            try:
                return decode(value)
            except (binascii.Error, ValueError):
                return None
    return None


def _text_error(name, value):
    if len(value) < MIN_LENGTH:
        return "%s is too short (%d characters): use at least %d random characters" % (name, len(value), MIN_LENGTH)
    if len(set(value)) < MIN_DISTINCT:
        return "%s is weak (only %d distinct characters): use at least %d random characters" % (
            name, len(set(value)), MIN_LENGTH)
    return None


def _key_error(name, value):
    raw = _decoded_key(value)
    how = "e.g. `openssl rand -base64 32`"
    if raw is None:
        return ("%s must be at least %d random bytes, base64- or hex-encoded (%s); a passphrase is not accepted"
                % (name, KEY_MIN_BYTES, how))
    if len(raw) < KEY_MIN_BYTES:
        return "%s encodes only %d bytes: it must be at least %d random bytes (%s)" % (name, len(raw), KEY_MIN_BYTES, how)
    if len(set(raw)) < KEY_MIN_DISTINCT_BYTES:
        return "%s is not random (%d distinct byte values in %d bytes): generate it (%s)" % (
            name, len(set(raw)), len(raw), how)
    return None


def secret_error(name, value):
    """The problem with one secret variable, naming it (never showing the value); None if acceptable."""
    if not isinstance(value, str) or not value:
        return "%s must be a non-empty string (from vault_%s in the inventory's vault.yml)" % (name, name)
    if value in EXAMPLE_VALUES or _PLACEHOLDER.search(value):
        return ("%s is an example or placeholder value (as in vault.yml.example): put a real secret in vault_%s"
                % (name, name))
    if SECRET_KINDS.get(name) == "random_key":
        return _key_error(name, value)
    return _text_error(name, value)


def secret_errors(values):
    """Errors for every given secret variable ({name: value}; None = not set, skipped), sorted by name."""
    errors = []
    for name in sorted(values):
        if values[name] is None:
            continue
        error = secret_error(name, values[name])
        if error:
            errors.append(error)
    return errors
