"""The real sealed-secrets controller v0.28.0 (the app of chart 2.17.1, built from Go modules) and the real
kubeseal v0.28.0, against the real API server, with the collection's seal_secret module.

The controller runs as a host process with in-cluster configuration (see cp_harness.SealedSecretsController):
it creates its own key Secret, serves its certificate, watches SealedSecrets and writes Secrets. The API
server's service proxy reaches it through the chart's Service because the test gives a stand-in Pod
object the host's address as its status (no kubelet runs here to report a real pod).
"""
from __future__ import annotations

import base64
import json
import secrets
import subprocess

import pytest
import yaml

from ansible_collections.parametric_portal.infra.plugins.module_utils import _sealing
from cp_api import load_docs
from platform_play import run_playbook

NS = "cp-sealing"
OTHER_NS = "cp-sealing-other"
FINGERPRINT_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
BINARY = secrets.token_bytes(96) + b"\x00\xff\x00"
UTF8 = "Grüße – ключ – 鍵 🔑\nzweite Zeile"

# name -> scope, and what the Secret must finally hold (bytes)
EXPECTED = {
    "ss-strict": ("strict", {"text": b"plain text value", "binary": BINARY, "empty": b"", "utf8": UTF8.encode(),
                             "merged-later": b"added by a second seal_secret run"}),
    "ss-nswide": ("namespace-wide", {"text": b"resealed value", "binary": BINARY, "empty": b"", "utf8": UTF8.encode()}),
    "ss-cluster": ("cluster-wide", {"text": b"cluster-wide text", "binary": BINARY, "empty": b"", "utf8": UTF8.encode()}),
}


def seal_task(name, scope, dest, kubeconfig, string_data=None, data=None):
    args = {"name": name, "namespace": NS, "scope": scope, "dest": str(dest), "kubeconfig": str(kubeconfig),
            "fingerprint_key": FINGERPRINT_KEY}
    if string_data is not None:
        args["string_data"] = string_data
    if data is not None:
        args["data"] = data
    return {"name": "seal %s" % name, "parametric_portal.infra.seal_secret": args, "register": "r_" + name.replace("-", "_")}


@pytest.fixture(scope="module")
def sealed_files(sealed_secrets, control_plane, cp_api, ansible_env, tmp_path_factory):
    """seal_secret run by ansible-playbook, certificate fetched through the API server's service proxy."""
    tmp = tmp_path_factory.mktemp("sealing")
    out = tmp / "out"
    out.mkdir()
    kc = control_plane.kubeconfig_path
    tasks = []
    for name, (scope, _values) in EXPECTED.items():
        first_text = "old value before reseal" if name == "ss-nswide" else {"ss-strict": "plain text value", "ss-cluster": "cluster-wide text"}[name]
        tasks.append(seal_task(name, scope, out / (name + ".yaml"), kc, string_data={"text": first_text, "utf8": UTF8},
                               data={"binary": base64.b64encode(BINARY).decode(), "empty": ""}))
    # A merge: a later run adds an item, the others are kept.
    tasks.append(seal_task("ss-strict", "strict", out / "ss-strict.yaml", kc, string_data={"merged-later": "added by a second seal_secret run"}))
    # A resealed item: the same key with a new plaintext.
    tasks.append(seal_task("ss-nswide", "namespace-wide", out / "ss-nswide.yaml", kc, string_data={"text": "resealed value"}))
    tasks.append({"name": "report", "ansible.builtin.copy": {
        "dest": str(tmp / "results.json"), "mode": "0600",
        "content": "{{ {'first': r_ss_strict, 'nswide': r_ss_nswide} | to_json }}"}})
    play = tmp / "seal.yml"
    play.write_text(yaml.safe_dump([{"name": "seal", "hosts": "localhost", "connection": "local", "gather_facts": False,
                                     "tasks": tasks}], sort_keys=False))
    result = run_playbook(play, ansible_env, "-i", "localhost,", cwd=tmp)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    results = json.loads((tmp / "results.json").read_text())
    assert results["nswide"]["keys"]["changed"] == ["text"], results["nswide"]["keys"]
    assert results["first"]["keys"]["added"] == ["merged-later"], results["first"]["keys"]
    for ns in (NS, OTHER_NS):
        cp_api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    return {"dir": out, "results": results, "cert_fingerprint": results["first"]["cert_fingerprint_sha256"]}


def controller_private_keys(cp_api):
    keys = cp_api.list("v1", "Secret", "kube-system", label_selector="sealedsecrets.bitnami.com/sealed-secrets-key")
    assert keys, "the controller made no key Secret"
    return [base64.b64decode(k["data"]["tls.key"]) for k in keys]


def sealed(files, name):
    (doc,) = load_docs(files["dir"] / (name + ".yaml"))
    return doc


def wait_secret(cp_api, name, namespace, timeout=90):
    return cp_api.wait_for(lambda: cp_api.get("v1", "Secret", name, namespace), timeout=timeout,
                           what="Secret %s/%s from the controller" % (namespace, name))


def wait_unseal_failure(cp_api, name, namespace, timeout=90):
    def failed():
        obj = cp_api.get("bitnami.com/v1alpha1", "SealedSecret", name, namespace) or {}
        return [c for c in obj.get("status", {}).get("conditions", []) if c.get("type") == "Synced" and c.get("status") == "False"]
    return cp_api.wait_for(failed, timeout=timeout, what="SealedSecret %s/%s reported as not unsealed" % (namespace, name))


def test_controller_created_its_key_and_serves_the_certificate(sealed_secrets, cp_api, sealed_files):
    keys = cp_api.list("v1", "Secret", "kube-system", label_selector="sealedsecrets.bitnami.com/sealed-secrets-key")
    assert len(keys) == 1 and keys[0]["type"] == "kubernetes.io/tls"
    served = _sealing.load_certificate(sealed_secrets.cert_pem())
    stored = _sealing.load_certificate(base64.b64decode(keys[0]["data"]["tls.crt"]))
    assert served.fingerprint_sha256 == stored.fingerprint_sha256
    # seal_secret fetched the same certificate through /api/v1/namespaces/kube-system/services/http:...:http/proxy
    assert sealed_files["cert_fingerprint"] == served.fingerprint_sha256


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_controller_unseals_what_seal_secret_sealed(cp_api, sealed_files, name):
    scope, expected = EXPECTED[name]
    doc = sealed(sealed_files, name)
    assert set(doc["spec"]["encryptedData"]) == set(expected)
    status, body, _warnings = cp_api.apply(doc)
    assert status in (200, 201), body
    secret = wait_secret(cp_api, name, NS)
    got = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    assert got == expected
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "SealedSecret"


def _apply_renamed(cp_api, sealed_files, name, rename, namespace):
    """Apply the SealedSecret `name` under another name and/or namespace (its template follows)."""
    doc = sealed(sealed_files, name)
    doc["metadata"]["name"] = rename
    doc["metadata"]["namespace"] = namespace
    for key in ("name", "namespace"):
        doc["spec"]["template"]["metadata"].pop(key, None)
    status, body, _warnings = cp_api.apply(doc)
    assert status in (200, 201), body


@pytest.mark.parametrize("rename,namespace", [("ss-strict-renamed", NS), ("ss-strict", OTHER_NS)], ids=["renamed", "moved"])
def test_strict_scope_renamed_or_moved_does_not_unseal(cp_api, sealed_files, rename, namespace):
    _apply_renamed(cp_api, sealed_files, "ss-strict", rename, namespace)
    conditions = wait_unseal_failure(cp_api, rename, namespace)
    assert "no key could decrypt secret" in conditions[0]["message"], conditions
    assert cp_api.get("v1", "Secret", rename, namespace) is None


@pytest.mark.parametrize("name,rename,namespace", [("ss-nswide", "ss-nswide-renamed", NS), ("ss-cluster", "ss-cluster-moved", OTHER_NS)],
                         ids=["namespace-wide-renamed", "cluster-wide-moved"])
def test_wider_scopes_unseal_where_their_scope_allows(cp_api, sealed_files, name, rename, namespace):
    """Positive control for the negative test above: the same change is allowed by the wider scopes."""
    _apply_renamed(cp_api, sealed_files, name, rename, namespace)
    secret = wait_secret(cp_api, rename, namespace)
    assert {k: base64.b64decode(v) for k, v in secret["data"].items()} == EXPECTED[name][1]


def test_kubeseal_recovery_unseal_opens_seal_secret_output(kubeseal_bin, control_plane, cp_api, sealed_files, tmp_path):
    """The real kubeseal, offline, with the controller's private key: what seal_secret sealed opens."""
    keyfile = tmp_path / "keys.pem"
    keyfile.write_bytes(b"".join(controller_private_keys(cp_api)))
    keyfile.chmod(0o600)
    for name, (scope, expected) in EXPECTED.items():
        proc = subprocess.run([kubeseal_bin, "--recovery-unseal", "--recovery-private-key", str(keyfile), "-o", "json",
                               "--kubeconfig", str(control_plane.kubeconfig_path)],
                              input=(sealed_files["dir"] / (name + ".yaml")).read_text(), capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        secret = json.loads(proc.stdout)
        # kubeseal prints an empty item as null (Go's nil []byte); the controller writes "" for it.
        assert {k: base64.b64decode(v or "") for k, v in secret["data"].items()} == expected, name


@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_collection_decrypt_opens_kubeseal_output(kubeseal_bin, sealed_secrets, control_plane, cp_api, tmp_path, scope):
    """The real kubeseal --cert seals; the collection's decrypt helper (the controller's algorithm, used by
    backup verification) opens it with the controller's key; the controller agrees."""
    cert = tmp_path / "cert.pem"
    cert.write_bytes(sealed_secrets.cert_pem())
    name = "kubeseal-" + scope
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS},
              "data": {"bin": base64.b64encode(BINARY).decode(), "text": base64.b64encode(UTF8.encode()).decode()}}
    proc = subprocess.run([kubeseal_bin, "--cert", str(cert), "--scope", scope, "-o", "yaml"], input=json.dumps(secret),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = yaml.safe_load(proc.stdout)
    keys = _sealing.load_private_keys(controller_private_keys(cp_api))
    label = _sealing.encryption_label(scope, NS, name)
    opened = {k: _sealing.hybrid_decrypt(keys, base64.b64decode(v), label) for k, v in doc["spec"]["encryptedData"].items()}
    assert opened == {"bin": BINARY, "text": UTF8.encode()}
    status, body, _warnings = cp_api.apply(doc)
    assert status in (200, 201), body
    live = wait_secret(cp_api, name, NS)
    assert base64.b64decode(live["data"]["bin"]) == BINARY


def test_kubeseal_fetch_cert_matches_the_controller(kubeseal_bin, sealed_secrets, control_plane):
    """kubeseal --fetch-cert goes the same way as seal_secret (service proxy) and gets the same certificate."""
    proc = subprocess.run([kubeseal_bin, "--fetch-cert", "--kubeconfig", str(control_plane.kubeconfig_path),
                           "--controller-name", "sealed-secrets-controller", "--controller-namespace", "kube-system"],
                          capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert _sealing.load_certificate(proc.stdout).fingerprint_sha256 == _sealing.load_certificate(sealed_secrets.cert_pem()).fingerprint_sha256
