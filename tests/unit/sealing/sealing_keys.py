"""Test keys and certificates for the sealing tests (shared by unit and integration tests)."""
from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


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
