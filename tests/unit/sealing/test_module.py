"""plugins/modules/seal_secret.py driven in-process (AnsibleModule with patched exit/fail, the
module's own no_log masking applied to every result, as in a real run)."""
from __future__ import annotations

import base64
import http.server
import json
import os
import stat
import threading

import pytest
import yaml

from ansible_collections.parametric_portal.infra.plugins.module_utils import _sealing as s

PLAIN = {"DB_PASSWORD": "pl41n-text-passw0rd", "API_TOKEN": "tok-9f8e7d6c5b4a"}
FKEY = "fingerprint-key-from-vault"


def base_args(kp, dest=None, **extra):
    args = dict(cert=kp.cert_pem.decode(), name="api-db", namespace="parametric-portal-dev",
                string_data=dict(PLAIN), fingerprint_key=FKEY)
    if dest:
        args["dest"] = str(dest)
    args.update(extra)
    return args


def assert_no_plaintext(*blobs):
    text = "\n".join(b if isinstance(b, str) else json.dumps(b) for b in blobs)
    for value in list(PLAIN.values()) + ["bin-\u00e9-value", "c2VjcmV0LWJ5dGVz", "secret-bytes", FKEY]:
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text


def unseal_file(kp, path):
    obj = yaml.safe_load(open(path).read())
    meta = obj["metadata"]
    scope = s.scope_from_annotations(meta.get("annotations"))
    label = s.encryption_label(scope, meta.get("namespace"), meta["name"])
    return {k: s.hybrid_decrypt([kp.key], base64.b64decode(v), label) for k, v in obj["spec"]["encryptedData"].items()}


def test_writes_file_and_round_trips(run_module, kp, tmp_path):
    dest = tmp_path / "sealed.yaml"
    ok, res, _warn = run_module(base_args(kp, dest, data={"BIN": base64.b64encode(b"\x00\xffbin").decode()}))
    assert ok, res
    assert res["changed"] is True
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o644
    assert unseal_file(kp, dest) == {"DB_PASSWORD": PLAIN["DB_PASSWORD"].encode(), "API_TOKEN": PLAIN["API_TOKEN"].encode(),
                                     "BIN": b"\x00\xffbin"}
    assert res["sealed_secret"] == yaml.safe_load(dest.read_text())
    assert sorted(res["keys"]["added"]) == ["API_TOKEN", "BIN", "DB_PASSWORD"]
    assert_no_plaintext(res, dest.read_text())


def test_idempotent_byte_identical(run_module, kp2048, tmp_path):
    dest = tmp_path / "sealed.yaml"
    assert run_module(base_args(kp2048, dest))[1]["changed"] is True
    before = dest.read_bytes()
    mtime = os.stat(dest).st_mtime_ns
    ok, res, warnings = run_module(base_args(kp2048, dest))
    assert ok and res["changed"] is False and not warnings
    assert dest.read_bytes() == before and os.stat(dest).st_mtime_ns == mtime
    assert sorted(res["keys"]["unchanged"]) == ["API_TOKEN", "DB_PASSWORD"]


def test_merge_keeps_and_reseals_only_changed(run_module, kp2048, tmp_path):
    dest = tmp_path / "sealed.yaml"
    run_module(base_args(kp2048, dest))
    first = yaml.safe_load(dest.read_text())["spec"]["encryptedData"]
    ok, res, _warn = run_module(base_args(kp2048, dest, string_data={"DB_PASSWORD": "new-pass", "EXTRA": "e"}))
    assert ok and res["changed"] is True
    assert res["keys"] == {"added": ["EXTRA"], "changed": ["DB_PASSWORD"], "unchanged": [], "kept": ["API_TOKEN"],
                           "removed": []}
    second = yaml.safe_load(dest.read_text())["spec"]["encryptedData"]
    assert second["API_TOKEN"] == first["API_TOKEN"]  # untouched ciphertext
    assert second["DB_PASSWORD"] != first["DB_PASSWORD"]
    assert unseal_file(kp2048, dest) == {"DB_PASSWORD": b"new-pass", "API_TOKEN": PLAIN["API_TOKEN"].encode(), "EXTRA": b"e"}
    # removing a key
    ok, res, _warn = run_module(base_args(kp2048, dest, string_data=None, remove_keys=["EXTRA"]))
    assert ok and res["changed"] and res["keys"]["removed"] == ["EXTRA"]
    assert set(unseal_file(kp2048, dest)) == {"DB_PASSWORD", "API_TOKEN"}
    fps = json.loads(yaml.safe_load(dest.read_text())["metadata"]["annotations"][s.FINGERPRINT_ANNOTATION])
    assert set(fps) == {"DB_PASSWORD", "API_TOKEN"}


def test_other_fingerprint_key_reseals(run_module, kp2048, tmp_path):
    dest = tmp_path / "sealed.yaml"
    run_module(base_args(kp2048, dest))
    ok, res, _warn = run_module(base_args(kp2048, dest, fingerprint_key="rotated"))
    assert ok and res["changed"] and sorted(res["keys"]["changed"]) == ["API_TOKEN", "DB_PASSWORD"]


def test_without_fingerprint_key_always_reseals(run_module, kp2048, tmp_path):
    dest = tmp_path / "sealed.yaml"
    args = base_args(kp2048, dest)
    del args["fingerprint_key"]
    assert run_module(args)[1]["changed"] is True
    ok, res, warnings = run_module(args)
    assert ok and res["changed"] is True and any("fingerprint_key" in w for w in warnings)
    assert s.FINGERPRINT_ANNOTATION not in (yaml.safe_load(dest.read_text())["metadata"].get("annotations") or {})


def test_check_mode_writes_nothing(run_module, kp2048, tmp_path):
    dest = tmp_path / "sealed.yaml"
    ok, res, _warn = run_module(base_args(kp2048, dest), check=True)
    assert ok and res["changed"] is True and not dest.exists()
    run_module(base_args(kp2048, dest))
    before = dest.read_bytes()
    ok, res, _warn = run_module(base_args(kp2048, dest, string_data={"DB_PASSWORD": "changed"}), check=True)
    assert ok and res["changed"] is True and dest.read_bytes() == before
    ok, res, _warn = run_module(base_args(kp2048, dest), check=True)
    assert ok and res["changed"] is False


def test_diff_has_keys_not_secrets(run_module, kp2048, tmp_path):
    dest = tmp_path / "sealed.yaml"
    run_module(base_args(kp2048, dest))
    args = base_args(kp2048, dest, string_data={"DB_PASSWORD": "other-secret-value", "NEW": "n3w-value"},
                     remove_keys=["API_TOKEN"])
    ok, res, _warn = run_module(args, diff=True)
    assert ok
    diff = res["diff"]
    assert "DB_PASSWORD (changed)" in diff["after"] and "NEW (added)" in diff["after"]
    assert "removed: API_TOKEN" in diff["after"] and "API_TOKEN" in diff["before"]
    text = json.dumps(diff)
    assert "other-secret-value" not in text and "n3w-value" not in text
    assert "hmac-sha256" not in text
    for value in yaml.safe_load(dest.read_text())["spec"]["encryptedData"].values():
        assert value[:40] not in text


def test_scopes_written_top_level_and_template(run_module, kp2048, tmp_path):
    for scope, ann in (("namespace-wide", s.ANNOTATION_NAMESPACE_WIDE), ("cluster-wide", s.ANNOTATION_CLUSTER_WIDE)):
        dest = tmp_path / ("%s.yaml" % scope)
        ok, res, _warn = run_module(base_args(kp2048, dest, scope=scope))
        assert ok, res
        obj = yaml.safe_load(dest.read_text())
        assert obj["metadata"]["annotations"][ann] == "true"
        assert obj["spec"]["template"]["metadata"]["annotations"][ann] == "true"
        assert set(unseal_file(kp2048, dest)) == set(PLAIN)
        # a file of another scope is not silently merged into
        other = "strict"
        ok, res, _warn = run_module(base_args(kp2048, dest, scope=other))
        assert not ok and "different scope" in res["msg"]


def test_secret_manifest_input(run_module, kp2048, tmp_path):
    dest = tmp_path / "sealed.yaml"
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
              "metadata": {"name": "basic", "namespace": "ns1", "uid": "abc", "ownerReferences": [{"kind": "Foo"}],
                           "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\": \"leak\"}",
                                           s.ANNOTATION_CLUSTER_WIDE: "true"}},
              "data": {"password": "c2VjcmV0LWJ5dGVz"}}
    ok, res, _warn = run_module(dict(cert=kp2048.cert_pem.decode(), secret=secret, fingerprint_key=FKEY, dest=str(dest)))
    assert ok, res
    obj = yaml.safe_load(dest.read_text())
    tmeta = obj["spec"]["template"]["metadata"]
    assert "ownerReferences" not in tmeta and "uid" not in tmeta
    assert "kubectl.kubernetes.io/last-applied-configuration" not in tmeta["annotations"]
    assert obj["metadata"]["annotations"][s.ANNOTATION_CLUSTER_WIDE] == "true"
    assert obj["spec"]["template"]["type"] == "kubernetes.io/basic-auth"
    assert unseal_file(kp2048, dest) == {"password": b"secret-bytes"}
    assert "leak" not in dest.read_text()
    assert_no_plaintext(res, dest.read_text())


def test_raw(run_module, kp4096):
    args = dict(cert=kp4096.cert_pem.decode(), raw=True, scope="namespace-wide", namespace="ns1",
                string_data={"v": "bin-\u00e9-value"})
    ok, res, _warn = run_module(args)
    assert ok, res
    assert res["value"].startswith("Ag") and "\n" not in res["value"]
    assert s.hybrid_decrypt([kp4096.key], base64.b64decode(res["value"]), b"ns1") == "bin-\u00e9-value".encode()
    assert_no_plaintext(res)
    ok, res, _warn = run_module(dict(cert=kp4096.cert_pem.decode(), raw=True, namespace="ns1", name="x", string_data={"a": "1", "b": "2"}))
    assert not ok and "exactly one item" in res["msg"]


def test_cert_from_file(run_module, kp2048, tmp_path):
    path = tmp_path / "cert.pem"
    path.write_bytes(kp2048.cert_pem)
    ok, res, _warn = run_module(base_args(kp2048, cert=str(path)))
    assert ok and res["cert_fingerprint_sha256"] == s.load_certificate(kp2048.cert_pem).fingerprint_sha256
    ok, res, _warn = run_module(base_args(kp2048, cert=str(tmp_path / "missing.pem")))
    assert not ok and "no such file" in res["msg"]


@pytest.mark.parametrize("extra,match", [
    (dict(data={"GOOD": "YQ==", "BROKEN": "%%%not-base64"}), r"data\.BROKEN is not valid base64"),
    (dict(name=None), "strict needs a name"),
    (dict(namespace=None), "strict needs a namespace"),
    (dict(scope="everywhere"), "scope"),
    (dict(string_data={"bad key": "some-value"}), "not a valid Secret key"),
    (dict(string_data=None), "nothing to seal"),
])
def test_bad_inputs(run_module, kp2048, tmp_path, extra, match):
    ok, res, _warn = run_module(base_args(kp2048, tmp_path / "x.yaml", **extra))
    assert not ok
    assert pytest.importorskip("re").search(match, res["msg"]), res["msg"]
    assert not (tmp_path / "x.yaml").exists()
    assert_no_plaintext(res)


def test_bad_certificates(run_module, kp2048, expired_cert_pem, ec_cert_pem, tmp_path):
    from cryptography.hazmat.primitives import serialization

    pub = kp2048.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for pem, match in ((expired_cert_pem, "expired at"), (ec_cert_pem, "needs an RSA key"), (pub, "bare public key")):
        ok, res, _warn = run_module(base_args(kp2048, tmp_path / "x.yaml", cert=pem.decode()))
        assert not ok and match in res["msg"], res["msg"]
        assert_no_plaintext(res)
    assert not (tmp_path / "x.yaml").exists()


def test_refuses_non_sealedsecret_dest(run_module, kp2048, tmp_path):
    dest = tmp_path / "x.yaml"
    dest.write_text("apiVersion: v1\nkind: ConfigMap\n")
    ok, res, _warn = run_module(base_args(kp2048, dest))
    assert not ok and "not a bitnami.com/v1alpha1 SealedSecret" in res["msg"]
    assert dest.read_text() == "apiVersion: v1\nkind: ConfigMap\n"


def test_mode_is_repaired(run_module, kp2048, tmp_path):
    dest = tmp_path / "sealed.yaml"
    run_module(base_args(kp2048, dest))
    os.chmod(dest, 0o600)
    ok, res, _warn = run_module(base_args(kp2048, dest))
    assert ok and res["changed"] and stat.S_IMODE(os.stat(dest).st_mode) == 0o644


# ---- certificate fetch through the API server's service proxy ---------------------------------

class _ApiServerDouble(http.server.BaseHTTPRequestHandler):
    """TEST DOUBLE of the Kubernetes API server's service proxy (no cluster exists here): answers the
    one path kubeseal --fetch-cert uses with the test certificate, and records the request."""

    cert = b""
    seen = []

    def do_GET(self):  # noqa: N802
        type(self).seen.append((self.path, self.headers.get("Authorization"), self.headers.get("Accept")))
        if self.path == "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy/v1/cert.pem":
            self.send_response(200)
            self.send_header("Content-Type", "application/x-pem-file")
            self.end_headers()
            self.wfile.write(type(self).cert)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def api_server_double(kp2048):
    _ApiServerDouble.cert = kp2048.cert_pem
    _ApiServerDouble.seen = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _ApiServerDouble)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


def test_fetch_cert_through_service_proxy(run_module, kp2048, api_server_double):
    args = base_args(kp2048, host=api_server_double, api_key="test-token")
    del args["cert"]
    ok, res, _warn = run_module(args)
    assert ok, res
    path, auth, accept = _ApiServerDouble.seen[-1]
    assert auth == "Bearer test-token" and accept == "application/x-pem-file, */*"
    assert res["cert_fingerprint_sha256"] == s.load_certificate(kp2048.cert_pem).fingerprint_sha256
    args["controller_name"] = "wrong"
    ok, res, _warn = run_module(args)
    assert not ok and "cannot fetch the certificate from controller kube-system/wrong" in res["msg"]
