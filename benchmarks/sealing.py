"""Sealing throughput: 1,000 values in ONE seal_secret call with a 4096-bit key, beside the raw
RSA-OAEP + AES-GCM rate of `cryptography` measured in the same run.

  python benchmarks/sealing.py [--values 1000] [--rounds 5]

Prints values/s for
  raw      one OAEP encryption of a fresh 32-byte key + one AES-256-GCM seal per value (nothing else)
  core     the module's core path: input validation, cert parsing (once), sealing, keyed fingerprints,
           SealedSecret assembly and YAML output (C dumper)
  module   the whole module main() in-process (argument parsing, Ansible's no_log masking of the
           result, file write), for information
and the core/raw ratio (target >= 0.8; the issue asks for at least 0.5): best of --rounds for each, and
the median of the per-round ratios (raw and core timed back to back, so load bursts hit both alike).
"""
from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINK_ROOT = REPO / "build" / "pytest-collections"
LINK = LINK_ROOT / "ansible_collections" / "parametric_portal" / "infra"
if not LINK.is_symlink():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to(REPO, target_is_directory=True)
sys.path.insert(0, str(LINK_ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from ansible_collections.parametric_portal.infra.plugins.module_utils import _sealing  # noqa: E402


def make_cert():
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    name = x509.Name([])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650)).sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM)


def best(fn, rounds):
    times = []
    for _round in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--values", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--skip-module", action="store_true")
    args = ap.parse_args()
    n = args.values
    key, cert_pem = make_cert()
    values = {"KEY_%04d" % i: os.urandom(24).hex() for i in range(n)}
    plaintexts = [v.encode() for v in values.values()]

    pub = key.public_key()
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=b"ns/name")
    nonce = b"\x00" * 12

    def raw():
        for p in plaintexts:
            k = os.urandom(32)
            pub.encrypt(k, oaep)
            AESGCM(k).encrypt(nonce, p, None)

    def core():
        cert = _sealing.load_certificate(cert_pem)
        req = _sealing.build_request(name="name", namespace="ns", string_data=values)
        res = _sealing.seal(cert, req, fingerprint_key="bench-key")
        _sealing.dump_yaml(res.object)

    tmp = tempfile.mkdtemp(prefix="seal-bench-")

    def module():
        from ansible.module_utils import basic
        from ansible.module_utils.testing import patch_module_args
        from ansible_collections.parametric_portal.infra.plugins.modules import seal_secret

        dest = os.path.join(tmp, "sealed-%d.yaml" % time.perf_counter_ns())
        out = {}

        def exit_json(self, **kw):
            out["r"] = json.dumps(basic.remove_values(kw, self.no_log_values))
            raise SystemExit(0)

        orig = basic.AnsibleModule.exit_json
        basic.AnsibleModule.exit_json = exit_json
        try:
            with patch_module_args(dict(cert=cert_pem.decode(), name="name", namespace="ns", string_data=values,
                                        fingerprint_key="bench-key", dest=dest)):
                try:
                    seal_secret.main()
                except SystemExit:
                    pass
        finally:
            basic.AnsibleModule.exit_json = orig
        assert '"changed": true' in out["r"]

    raw()  # warm-up
    core()
    # Interleaved rounds, best of each: the machine is shared, so load hits both sides alike.
    t_raw = t_core = float("inf")
    pairs, cpu_pairs = [], []
    for _round in range(args.rounds):
        cpu0 = time.process_time()
        r = best(raw, 1)
        cpu1 = time.process_time()
        c = best(core, 1)
        cpu2 = time.process_time()
        pairs.append(r / c)
        cpu_pairs.append((cpu1 - cpu0) / (cpu2 - cpu1))
        t_raw, t_core = min(t_raw, r), min(t_core, c)
    print("values per call : %d (RSA-4096, cryptography %s, yaml C dumper: %s)" % (
        n, __import__("cryptography").__version__, _sealing._YAML_DUMPER.__name__))
    print("raw OAEP+GCM    : %8.0f values/s  (%.3f s)" % (n / t_raw, t_raw))
    print("core path       : %8.0f values/s  (%.3f s)" % (n / t_core, t_core))
    print("ratio core/raw  : %.2f  (best of each; target >= 0.8, issue minimum 0.5)" % (t_raw / t_core))
    print("  per round     : %s; median %.2f (each round times raw, then core, back to back)"
          % (" ".join("%.2f" % p for p in pairs), statistics.median(pairs)))
    print("  CPU time      : %s; median %.2f (this process's CPU seconds: what a busy machine distorts least)"
          % (" ".join("%.2f" % p for p in cpu_pairs), statistics.median(cpu_pairs)))
    if not args.skip_module:
        t_mod = best(module, max(1, args.rounds // 2))
        print("whole module    : %8.0f values/s  (%.3f s, includes argument parsing, no_log masking, file write)"
              % (n / t_mod, t_mod))
        print("ratio module/raw: %.2f" % (t_raw / t_mod))
    # sanity: the core output decrypts
    cert = _sealing.load_certificate(cert_pem)
    one = _sealing.seal(cert, _sealing.build_request(name="name", namespace="ns", string_data={"k": "v"})).object
    assert _sealing.hybrid_decrypt([key], base64.b64decode(one["spec"]["encryptedData"]["k"]), b"ns/name") == b"v"


if __name__ == "__main__":
    main()
