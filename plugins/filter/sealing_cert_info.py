# -*- coding: utf-8 -*-
# Copyright (c) parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: sealing_cert_info
short_description: Facts about a sealed-secrets controller certificate
version_added: 0.1.0
description:
  - Parses the first certificate of a PEM text (for example the controller's C(cert.pem) or the C(tls.crt) of a
    sealing-key Secret) and returns public facts about it (fingerprints, key size and validity).
  - Deterministic; it does not compare with the current time (use RV(_value.not_after)). Sealing itself is
    the module M(parametric_portal.infra.seal_secret), never a filter.
author:
  - parametric_portal maintainers (@parametric-portal)
requirements:
  - cryptography
options:
  _input:
    description: PEM text holding at least one certificate.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Show which key seals
  ansible.builtin.debug:
    msg: "{{ lookup('ansible.builtin.file', 'sealed-secrets.pem') | parametric_portal.infra.sealing_cert_info }}"

- name: Fail when the sealing certificate has expired (ISO timestamps compare as text)
  ansible.builtin.assert:
    that:
      - (cert_pem | parametric_portal.infra.sealing_cert_info).not_after > now(utc=true, fmt='%Y-%m-%dT%H:%M:%SZ')
"""

RETURN = r"""
_value:
  description: Certificate facts.
  type: dict
  contains:
    fingerprint_sha256:
      description: SHA-256 of the DER certificate (hex).
      type: str
    public_key_sha256:
      description: SHA-256 of the DER SubjectPublicKeyInfo (hex); equal for a certificate and its renewal with the same key.
      type: str
    key_type:
      description: Always C(RSA) (anything else is an error).
      type: str
    key_size:
      description: RSA modulus size in bits.
      type: int
    not_before:
      description: Start of validity in UTC, as C(YYYY-MM-DDTHH:MM:SSZ).
      type: str
    not_after:
      description: End of validity in UTC, as C(YYYY-MM-DDTHH:MM:SSZ).
      type: str
    subject:
      description: Subject (RFC 4514).
      type: str
    issuer:
      description: Issuer (RFC 4514).
      type: str
    serial_number:
      description: Serial number (hex).
      type: str
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.parametric_portal.infra.plugins.module_utils import _sealing


def sealing_cert_info(pem):
    if not _sealing.HAS_CRYPTOGRAPHY:
        raise AnsibleFilterError("sealing_cert_info needs the Python library cryptography")
    if not isinstance(pem, (str, bytes)):
        raise AnsibleFilterError("sealing_cert_info expects PEM text, got %s" % type(pem).__name__)
    try:
        return _sealing.load_certificate(pem, check_expiry=False).facts()
    except _sealing.SealingError as exc:
        raise AnsibleFilterError("sealing_cert_info: %s" % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {"sealing_cert_info": sealing_cert_info}
