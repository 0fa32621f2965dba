"""plugins/modules/seal_secret.py driven in-process (AnsibleModule with patched exit/fail, the
module's own no_log masking applied to every result, as in a real run)."""
from __future__ import annotations

import base64
import hmac
import json
import os
import stat
import tempfile

import pytest
import yaml

from ansible_collections.parametric_portal.infra.plugins.module_utils import _sealing as s
import kubernetes
from ansible_collections.kubernetes.core.plugins.module_utils.k8s import client as k8s_client_utils
from k8s_api_double import CERT_PATH, ApiServerDouble, Pki
from sealing_keys import openssl_fingerprint

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
                           "removed": [], "migrated": []}
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
    assert ok and res["cert_fingerprint_sha256"] == openssl_fingerprint(kp2048.cert_pem)
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
# kubernetes.core's client, built from the standard auth options, against an HTTPS TEST DOUBLE of the
# API server (k8s_api_double.py): real TLS with a private CA, real client-certificate and token auth.

@pytest.fixture
def api(kp2048, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # kubernetes.core's discovery cache file
    for var in [v for v in os.environ if v.startswith("K8S_AUTH_")] + ["KUBECONFIG"]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config of the machine
    # A real run is one process per module call; in-process, forget the previous test's client state
    # (the kubernetes library's default Configuration and kubernetes.core's client pool).
    monkeypatch.setattr(kubernetes.client.Configuration, "_default", None)
    monkeypatch.setattr(k8s_client_utils, "_pool", {})
    pki = Pki(tmp_path)
    with ApiServerDouble(pki, kp2048.cert_pem, token="test-token") as server:
        yield server


def fetch_args(kp, **extra):
    args = base_args(kp)
    del args["cert"]
    args.update(extra)
    return args


def test_fetch_cert_with_kubeconfig_context_and_client_certificate(run_module, kp2048, api, tmp_path):
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
    ok, res, _warn = run_module(fetch_args(kp2048, kubeconfig=kubeconfig, context="sealing-test"))
    assert ok, res
    assert res["cert_fingerprint_sha256"] == openssl_fingerprint(kp2048.cert_pem)
    fetch = [r for r in api.seen if r["path"].endswith("/cert.pem")]
    assert fetch == [{"path": CERT_PATH.format(ns="kube-system", name="sealed-secrets-controller"),
                      "cn": "sealing-test-user", "authorization": None, "accept": "application/x-pem-file, */*"}]
    # Without the context option the kubeconfig's current-context (a decoy that does not resolve) is used.
    ok, res, _warn = run_module(fetch_args(kp2048, kubeconfig=kubeconfig))
    assert not ok and "cannot fetch the certificate from controller kube-system/sealed-secrets-controller" in res["msg"]
    assert "decoy.invalid" in res["msg"]


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
def test_fetch_cert_verifies_the_api_servers_certificate(run_module, kp2048, api, tmp_path):
    (tmp_path / "other").mkdir()
    other_ca = Pki(tmp_path / "other")
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig", ca_pem=other_ca.ca_pem, other_context=False)
    ok, res, _warn = run_module(fetch_args(kp2048, kubeconfig=kubeconfig))
    assert not ok and "CERTIFICATE_VERIFY_FAILED" in res["msg"], res["msg"]
    assert not [r for r in api.seen if r["path"].endswith("/cert.pem")]
    # validate_certs=false (kubernetes.core's option) skips the check, as documented there.
    ok, res, _warn = run_module(fetch_args(kp2048, kubeconfig=kubeconfig, validate_certs=False))
    assert ok, res


def test_fetch_cert_with_host_token_and_ca_file(run_module, kp2048, api):
    ok, res, _warn = run_module(fetch_args(kp2048, host=api.url, api_key="test-token", ca_cert=api.pki.ca_file))
    assert ok, res
    fetch = [r for r in api.seen if r["path"].endswith("/cert.pem")]
    assert [(r["authorization"], r["cn"]) for r in fetch] == [("Bearer test-token", None)]
    ok, res, _warn = run_module(fetch_args(kp2048, host=api.url, api_key="wrong-token", ca_cert=api.pki.ca_file))
    assert not ok and "HTTP 401" in res["msg"] and "wrong-token" not in json.dumps(res)


def test_fetch_cert_from_k8s_auth_environment(run_module, kp2048, api, tmp_path, monkeypatch):
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", api.kubeconfig(tmp_path / "kubeconfig"))
    monkeypatch.setenv("K8S_AUTH_CONTEXT", "sealing-test")
    ok, res, _warn = run_module(fetch_args(kp2048))
    assert ok, res
    assert [r["cn"] for r in api.seen if r["path"].endswith("/cert.pem")] == ["sealing-test-user"]


def test_fetch_cert_names_the_controller_it_looked_for(run_module, kp2048, api, tmp_path):
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig", other_context=False)
    ok, res, _warn = run_module(fetch_args(kp2048, kubeconfig=kubeconfig, controller_name="wrong",
                                           controller_namespace="sealed-secrets"))
    assert not ok
    assert res["msg"] == ("cannot fetch the certificate from controller sealed-secrets/wrong: GET %s%s: HTTP 404 Not Found"
                          % (api.url, CERT_PATH.format(ns="sealed-secrets", name="wrong")))
    assert api.seen[-1]["path"] == CERT_PATH.format(ns="sealed-secrets", name="wrong")


# ---- fingerprints bind name and scope; old-format fingerprints are never trusted ----------------

def fingerprints_of(path):
    return json.loads(yaml.safe_load(path.read_text())["metadata"]["annotations"][s.FINGERPRINT_ANNOTATION])


@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_same_value_in_two_sealed_secrets_gives_unrelated_fingerprints(run_module, kp2048, tmp_path, scope):
    """Password reuse across SealedSecrets must not show in git: same key, same value, other name."""
    for name in ("api-db", "api-cache"):
        ok, res, _warn = run_module(base_args(kp2048, tmp_path / (name + ".yaml"), name=name, scope=scope,
                                              string_data={"PASSWORD": "reused-password"}))
        assert ok, res
    first, second = (fingerprints_of(tmp_path / n)["PASSWORD"] for n in ("api-db.yaml", "api-cache.yaml"))
    assert first.startswith("hmac-sha256-v2:") and first != second


def v1_fingerprint(key, label, item_key, plaintext):
    """The format written before v2 (bound to the OAEP label only), computed independently here."""
    msg = (b"parametric_portal.infra sealing fingerprint v1\x00" + len(label).to_bytes(4, "big") + label
           + len(item_key).to_bytes(4, "big") + item_key.encode() + plaintext)
    return "hmac-sha256:" + base64.b64encode(hmac.new(key.encode(), msg, "sha256").digest()).decode()


def test_old_format_fingerprints_are_resealed_not_trusted(run_module, kp2048, tmp_path):
    dest = tmp_path / "sealed.yaml"
    args = base_args(kp2048, dest, scope="namespace-wide")
    assert run_module(args)[0]
    # The file as the previous version wrote it: v1 fingerprints that MATCH the current plaintext.
    obj = yaml.safe_load(dest.read_text())
    label = b"parametric-portal-dev"
    obj["metadata"]["annotations"][s.FINGERPRINT_ANNOTATION] = json.dumps(
        {k: v1_fingerprint(FKEY, label, k, v.encode()) for k, v in PLAIN.items()}, sort_keys=True, separators=(",", ":"))
    dest.write_text(s.dump_yaml(obj))
    old_cipher = obj["spec"]["encryptedData"]

    ok, res, warnings = run_module(args)
    assert ok and res["changed"] is True, res
    assert sorted(res["keys"]["migrated"]) == sorted(res["keys"]["changed"]) == sorted(PLAIN)
    assert res["keys"]["unchanged"] == []
    assert any("old format" in w and "API_TOKEN, DB_PASSWORD" in w for w in warnings), warnings
    new = yaml.safe_load(dest.read_text())
    assert all(v.startswith("hmac-sha256-v2:") for v in fingerprints_of(dest).values())
    assert all(new["spec"]["encryptedData"][k] != old_cipher[k] for k in PLAIN)
    assert unseal_file(kp2048, dest) == {k: v.encode() for k, v in PLAIN.items()}
    # Once migrated, the same input is unchanged again.
    ok, res, warnings = run_module(args)
    assert ok and res["changed"] is False and res["keys"]["migrated"] == [] and not warnings


# ---- wrong-typed inputs and malformed existing files: clear errors, no traceback, nothing written ----

def _secret(**changes):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "basic", "namespace": "ns1"},
              "stringData": {"password": "s3cret-value-xyz"}}
    for path, value in changes.items():
        target = secret
        parts = path.split("__")
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = value
    return secret


@pytest.mark.parametrize("secret, message", [
    (_secret(metadata=["name", "basic"]), "secret.metadata must be a mapping (got a list)"),
    (_secret(metadata__annotations="note=x"), "secret.metadata.annotations must be a mapping (got a string)"),
    (_secret(metadata__annotations={"note": 5}), "secret.metadata.annotations.note must be a string (got a number)"),
    (_secret(metadata__labels=["app-label-value"]), "secret.metadata.labels must be a mapping (got a list)"),
    (_secret(metadata__labels={"tier": True}), "secret.metadata.labels.tier must be a string (got a boolean)"),
    (_secret(metadata__name=42), "secret.metadata.name must be a string (got a number)"),
    (_secret(metadata__namespace=["ns1"]), "secret.metadata.namespace must be a string (got a list)"),
    (_secret(data=["cGFzcw=="]), "secret.data must be a mapping (got a list)"),
    (_secret(data={"token": 12345}), "secret.data.token must be a base64 string (got a number)"),
    (_secret(stringData="password=x"), "secret.stringData must be a mapping (got a string)"),
    (_secret(stringData={"password": {"nested": "x"}}), "secret.stringData.password must be a string (got a mapping)"),
    (_secret(type=7), "secret.type must be a string (got a number)"),
    (_secret(immutable="yes"), "secret.immutable must be true or false (got a string)"),
])
def test_wrong_typed_secret_fields_fail_clearly(run_module, kp2048, tmp_path, secret, message):
    dest = tmp_path / "x.yaml"
    ok, res, _warn = run_module(dict(cert=kp2048.cert_pem.decode(), secret=secret, fingerprint_key=FKEY, dest=str(dest)))
    assert not ok and res["msg"] == message, res
    assert "exception" not in res and not dest.exists()
    assert "s3cret-value-xyz" not in json.dumps(res)


@pytest.mark.parametrize("extra, message", [
    (dict(labels={"tier": ["a"]}), "labels.tier must be a string"),
    (dict(annotations={"note": 1}), "annotations.note must be a string"),
    (dict(string_data={"PW": ["value-one", "value-two"]}), "string_data.PW must be a string (got a list)"),
    (dict(data={"PW": 5}), "data.PW must be a base64 string (got a number)"),
])
def test_wrong_typed_options_fail_clearly(run_module, kp2048, tmp_path, extra, message):
    ok, res, _warn = run_module(base_args(kp2048, tmp_path / "x.yaml", **extra))
    assert not ok and message in res["msg"] and "exception" not in res, res
    assert not (tmp_path / "x.yaml").exists()


SEALED = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
          "metadata": {"name": "api-db", "namespace": "parametric-portal-dev", "annotations": {}},
          "spec": {"encryptedData": {"OTHER": "AgBy" + "A" * 40},
                   "template": {"metadata": {"name": "api-db", "namespace": "parametric-portal-dev"}}}}
WHO = "the existing SealedSecret's "


def _sealed(path, value):
    obj = json.loads(json.dumps(SEALED))
    target = obj
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value
    return yaml.safe_dump(obj)


@pytest.mark.parametrize("content, message", [
    (_sealed("metadata", ["api-db"]), WHO + "metadata must be a mapping (got a list)"),
    (_sealed("metadata.annotations", ["a"]), WHO + "metadata.annotations must be a mapping (got a list)"),
    (_sealed("metadata.annotations", {s.FINGERPRINT_ANNOTATION: 5}),
     WHO + "metadata.annotations.%s must be a string (got a number)" % s.FINGERPRINT_ANNOTATION),
    (_sealed("metadata.labels", "app=api"), WHO + "metadata.labels must be a mapping (got a string)"),
    (_sealed("metadata.name", 7), WHO + "metadata.name must be a string (got a number)"),
    (_sealed("spec", "AgBy"), WHO + "spec must be a mapping (got a string)"),
    (_sealed("spec.encryptedData", ["AgBy"]), WHO + "spec.encryptedData must be a mapping (got a list)"),
    (_sealed("spec.encryptedData", {"OTHER": None}), WHO + "spec.encryptedData.OTHER must be a string (got null)"),
    (_sealed("spec.encryptedData", {"bad key": "AgBy"}), WHO + "spec.encryptedData key 'bad key' is not a valid Secret key"),
    (_sealed("spec.template", ["x"]), WHO + "spec.template must be a mapping (got a list)"),
    (_sealed("spec.template.metadata", "x"), WHO + "spec.template.metadata must be a mapping (got a string)"),
    (_sealed("spec.template.metadata.labels", {"n": 1}), WHO + "spec.template.metadata.labels.n must be a string (got a number)"),
    (_sealed("spec.template.type", ["Opaque"]), WHO + "spec.template.type must be a string (got a list)"),
    ("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: [\n", "the existing file is not valid YAML"),
    ("- apiVersion: bitnami.com/v1alpha1\n", "the existing file is not a bitnami.com/v1alpha1 SealedSecret"),
    ("---\nkind: SealedSecret\n---\nkind: SealedSecret\n", "the existing file is not valid YAML"),
])
def test_malformed_existing_file_fails_clearly_and_is_kept(run_module, kp2048, tmp_path, content, message):
    dest = tmp_path / "sealed.yaml"
    dest.write_text(content)
    ok, res, _warn = run_module(base_args(kp2048, dest))
    assert not ok and "exception" not in res, res
    assert res["msg"].startswith("dest %s: %s" % (dest, message)) and res["msg"].endswith("nothing was written"), res["msg"]
    assert dest.read_text() == content


def test_unreadable_dest_fails_clearly(run_module, kp2048, tmp_path):
    dest = tmp_path / "a-directory.yaml"
    dest.mkdir()
    ok, res, _warn = run_module(base_args(kp2048, dest))
    assert not ok and "exception" not in res
    assert res["msg"] == "dest %s cannot be read as a file: Is a directory" % dest
