"""Test keys and certificates for the sealing tests (shared by unit and integration tests)."""
from __future__ import annotations

import datetime
import functools
import hashlib
import math
import random
import subprocess

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


def _openssl(args, data):
    return subprocess.run(["openssl"] + args, input=data, capture_output=True, check=True, timeout=60).stdout


def openssl_fingerprint(cert_pem: bytes) -> str:
    """SHA-256 fingerprint of the certificate as `openssl x509 -fingerprint -sha256` prints it, as
    lowercase hex without colons (an independent implementation to compare ours with)."""
    out = _openssl(["x509", "-noout", "-fingerprint", "-sha256"], cert_pem).decode().strip()
    label, _sep, value = out.partition("=")
    assert label.lower() == "sha256 fingerprint", out
    return value.replace(":", "").lower()


def openssl_public_key_sha256(cert_pem: bytes) -> str:
    """sha256 of the DER SubjectPublicKeyInfo, from `openssl x509 -pubkey | openssl pkey -pubin -outform DER`."""
    pub = _openssl(["x509", "-noout", "-pubkey"], cert_pem)
    return hashlib.sha256(_openssl(["pkey", "-pubin", "-outform", "DER"], pub)).hexdigest()


def openssl_text(cert_pem: bytes) -> str:
    return _openssl(["x509", "-noout", "-text", "-nameopt", "RFC2253"], cert_pem).decode()


def _is_probable_prime(n: int, rng) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _round in range(40):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _square in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _fixed_prime(rng, bits: int, e: int) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (3 << (bits - 2)) | 1  # top two bits set: n has exactly 2*bits bits
        if math.gcd(candidate - 1, e) == 1 and _is_probable_prime(candidate, rng):
            return candidate


@functools.lru_cache(maxsize=None)
def fixed_key(seed: int = 20261127, bits: int = 2048):
    """The same RSA private key on every run (primes from a seeded PRNG): for vectors that depend on
    the key, so a test does not search with a different random key each time. Test use only."""
    rng = random.Random(seed)
    e = 65537
    p = _fixed_prime(rng, bits // 2, e)
    q = _fixed_prime(rng, bits // 2, e)
    while q == p:
        q = _fixed_prime(rng, bits // 2, e)
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(p=p, q=q, d=d, dmp1=d % (p - 1), dmq1=d % (q - 1), iqmp=pow(q, -1, p),
                                    public_numbers=rsa.RSAPublicNumbers(e, p * q))
    return numbers.private_key()
