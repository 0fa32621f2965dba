# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers of host inputs and host state: networks (CIDRs), SSH public keys, sysctl drift.

PRIVATE to parametric_portal.infra: not a public API. The site_inputs filters (preflight and the
hardening role's input checks and kernel drift check) and the GitOps generator (Grafana's allow-list)
use it. Pure functions: they return messages or values, never raise on bad input.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import struct
from typing import Any, Dict, Iterable, List, Optional, Tuple

# OpenSSH public key types and, for the fixed-size ones, the length of the key blob's last field.
SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
ED25519_KEY_BYTES = 32
MIN_RSA_BITS = 2048
EXAMPLE_KEY_MARK = "ExampleOnlyReplace"  # the shipped inventories' placeholder key


def network_error(value: Any, allow_any: bool = True) -> Optional[str]:
    """Why ``value`` is not an IPv4/IPv6 address or network (no host bits set); None when it is.

    ``allow_any=False`` also refuses a prefix length of 0 (0.0.0.0/0, ::/0: the whole Internet).
    """
    if not isinstance(value, str) or not value.strip():
        return "not an address or network: %r" % (value,)
    try:
        network = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as exc:
        return "%s is not an address or network with no host bits set (%s)" % (value, exc)
    if not allow_any and network.prefixlen == 0:
        return "%s allows the whole Internet" % value
    return None


def network_errors(named: Dict[str, Any], allow_any: bool = True) -> List[str]:
    """``name: message`` for every bad entry of the lists in ``named`` (a scalar counts as a one-item list)."""
    out = []
    for name, values in named.items():
        for value in values if isinstance(values, (list, tuple)) else [values]:
            error = network_error(value, allow_any)
            if error:
                out.append("%s: %s" % (name, error))
    return out


def _ssh_string(blob: bytes, offset: int) -> Tuple[bytes, int]:
    if offset + 4 > len(blob):
        raise ValueError("truncated key blob")
    (length,) = struct.unpack(">I", blob[offset:offset + 4])
    end = offset + 4 + length
    if end > len(blob):
        raise ValueError("truncated key blob")
    return blob[offset + 4:end], end


def _key_blob_error(key_type: str, blob: bytes) -> Optional[str]:
    try:
        embedded, offset = _ssh_string(blob, 0)
        if embedded.decode("ascii", "replace") != key_type:
            return "the key data is a %s key, not %s" % (embedded.decode("ascii", "replace"), key_type)
        if key_type == "ssh-ed25519":
            key, offset = _ssh_string(blob, offset)
            if len(key) != ED25519_KEY_BYTES:
                return "an Ed25519 key has %d bytes, this one %d" % (ED25519_KEY_BYTES, len(key))
        elif key_type == "ssh-rsa":
            _exponent, offset = _ssh_string(blob, offset)
            modulus, offset = _ssh_string(blob, offset)
            bits = int.from_bytes(modulus, "big").bit_length()
            if bits < MIN_RSA_BITS:
                return "an RSA key of %d bits is too short (at least %d)" % (bits, MIN_RSA_BITS)
    except ValueError as exc:
        return str(exc)
    return None


def ssh_public_key_error(line: Any) -> Optional[str]:
    """Why ``line`` is not one OpenSSH public key line (``<type> <base64> [comment]``); None when it is."""
    if not isinstance(line, str):
        return "not a string"
    fields = line.split()
    if len(fields) < 2:
        return "expected '<type> <base64> [comment]'"
    if fields[0] not in SSH_KEY_TYPES:
        return "unknown key type %r (known: %s)" % (fields[0], ", ".join(SSH_KEY_TYPES))
    if EXAMPLE_KEY_MARK in fields[1]:
        return "the inventory's example key; put your own public key here"
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        return "the key data is not base64"
    return _key_blob_error(fields[0], blob)


def ssh_public_key_errors(keys: Any) -> List[str]:
    """One message per bad key (``<first 60 characters>: reason``); a non-list is one bad entry."""
    items = keys if isinstance(keys, (list, tuple)) else [keys]
    out = []
    for key in items:
        error = ssh_public_key_error(key)
        if error:
            out.append("%s: %s" % (str(key)[:60], error))
    return out


def parse_sysctl_output(lines: Iterable[Any]) -> Dict[str, str]:
    """``key = value`` lines of ``sysctl`` as a mapping (other lines are skipped)."""
    live = {}
    for line in lines:
        key, sep, value = str(line).partition(" = ")
        if sep:
            live[key.strip()] = value.strip()
    return live


def _normal(value: Any) -> str:
    # sysctl prints multi-value keys with tabs (net.ipv4.ip_local_port_range = 32768\t60999).
    return " ".join(str(value).split())


def sysctl_drift(wanted: Dict[str, Any], lines: Iterable[Any]) -> List[str]:
    """Keys of ``wanted`` whose live value (from ``sysctl KEY...`` output lines) differs, sorted.

    Keys the kernel does not report (``sysctl -e`` skips unknown keys) are not drift.
    """
    live = parse_sysctl_output(lines)
    return sorted(key for key, value in wanted.items() if key in live and _normal(live[key]) != _normal(value))
