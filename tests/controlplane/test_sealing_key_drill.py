"""The cluster-rebuild drill, for real: sealing_key_backup.yml reads the real controller's key Secrets from
the API server; sealing_key_restore.yml writes them into a FRESH control plane (its own new etcd), where
another real controller already made a key of its own; after the restart the SealedSecrets sealed for
the old cluster unseal in the new one. The restore applies server-side, so no private key is copied
into the kubectl.kubernetes.io/last-applied-configuration annotation (issue 14 item 6), and a copy left
by an earlier client-side restore is removed.

No kubelet runs here: the playbook's handler patches the controller Deployment's pod template (checked
below), and the test then restarts the controller process itself, which is what that rollout does to
the pod in K3s.
"""
from __future__ import annotations

import base64
import json
import secrets

import pytest
import yaml

import cp_harness
from cp_api import Api, load_docs
from platform_play import REPO, run_playbook

PASSPHRASE = "cp-drill-" + secrets.token_urlsafe(24)
FINGERPRINT_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
NS = "cp-drill"
PLAINTEXT = {"password": b"drill-password-\xc3\xa4", "blob": secrets.token_bytes(48)}
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def key_secrets(api):
    return api.list("v1", "Secret", "kube-system", label_selector="sealedsecrets.bitnami.com/sealed-secrets-key")


def assert_no_private_key_in_annotations(api, key_pems):
    for obj in api.list("v1", "Secret", "kube-system"):
        annotations = obj["metadata"].get("annotations") or {}
        for name, value in annotations.items():
            assert "PRIVATE KEY" not in value, (obj["metadata"]["name"], name)
            for pem in key_pems:
                assert base64.b64encode(pem).decode()[:64] not in value, (obj["metadata"]["name"], name)
        assert LAST_APPLIED not in annotations, obj["metadata"]["name"]


@pytest.fixture(scope="module")
def drill_sealed(sealed_secrets, control_plane, cp_api, ansible_env, tmp_path_factory):
    """SealedSecrets sealed by seal_secret for the first cluster (all three scopes)."""
    tmp = tmp_path_factory.mktemp("drill-seal")
    tasks = []
    for name, scope in (("drill-strict", "strict"), ("drill-nswide", "namespace-wide"), ("drill-cluster", "cluster-wide")):
        tasks.append({"parametric_portal.infra.seal_secret": {
            "name": name, "namespace": NS, "scope": scope, "dest": str(tmp / (name + ".yaml")),
            "kubeconfig": str(control_plane.kubeconfig_path), "fingerprint_key": FINGERPRINT_KEY,
            "data": {k: base64.b64encode(v).decode() for k, v in PLAINTEXT.items()}}})
    play = tmp / "seal.yml"
    play.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]))
    result = run_playbook(play, ansible_env, "-i", "localhost,", cwd=tmp)
    assert result.returncode == 0, result.stdout[-4000:]
    return {name: load_docs(tmp / (name + ".yaml"))[0] for name in ("drill-strict", "drill-nswide", "drill-cluster")}


@pytest.fixture(scope="module")
def backup_file(sealed_secrets, control_plane, ansible_env, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("drill-backup")
    result = run_playbook(REPO / "playbooks" / "sealing_key_backup.yml", ansible_env, "-i", "localhost,",
                          "-e", "sealing_key_backup_kubeconfig=%s" % control_plane.kubeconfig_path,
                          "-e", "sealing_key_backup_dir=%s" % (tmp / "keys"), "-e", "infra_environment=cpdrill",
                          "-e", json.dumps({"sealing_key_backup_passphrase": PASSPHRASE}))
    assert result.returncode == 0, result.stdout[-4000:]
    assert "SYNTHETIC DATA" not in result.stdout  # the live read ran, not the synthetic-data seam
    (path,) = list((tmp / "keys").glob("sealed-secrets-keys-cpdrill-*.yaml.vault"))
    return path


def restore(ansible_env, cp, path, *extra):
    return run_playbook(REPO / "playbooks" / "sealing_key_restore.yml", ansible_env, "-i", "localhost,",
                        "-e", "sealing_key_restore_kubeconfig=%s" % cp.kubeconfig_path,
                        "-e", "sealing_key_restore_file=%s" % path, "-e", "restore_confirm=yes",
                        "-e", json.dumps({"sealing_key_backup_passphrase": PASSPHRASE}), *extra)


def test_backup_holds_the_live_controller_keys(backup_file, cp_api, ansible_env, tmp_path):
    from ansible.parsing.vault import VaultLib, VaultSecret

    plain = VaultLib([("sealing-keys", VaultSecret(PASSPHRASE.encode()))]).decrypt(backup_file.read_bytes())
    backed = yaml.safe_load(plain)
    live = key_secrets(cp_api)
    assert sorted(i["metadata"]["name"] for i in backed["items"]) == sorted(s["metadata"]["name"] for s in live)
    assert {i["metadata"]["name"]: i["data"]["tls.key"] for i in backed["items"]} == \
        {s["metadata"]["name"]: s["data"]["tls.key"] for s in live}


def test_restore_into_a_fresh_control_plane_unseals_the_old_sealed_secrets(
        backup_file, drill_sealed, cp_api, cp_tools, fresh_control_plane, ansible_env, tmp_path):
    old_keys = [base64.b64decode(s["data"]["tls.key"]) for s in key_secrets(cp_api)]
    fresh = fresh_control_plane("drill-fresh", crd_projects=["sealed-secrets"])
    assert fresh.etcd_url != cp_api.cp.etcd_url
    api = Api(fresh)
    assert key_secrets(api) == []
    # The controller of the new cluster starts first and makes its own (new) key.
    ctl = cp_harness.SealedSecretsController(fresh, cp_tools["PP_SEALED_SECRETS_CONTROLLER_BIN"], tmp_path / "ctl")
    ctl.setup_objects(api)
    try:
        ctl.start()
        new_keys = key_secrets(api)
        assert len(new_keys) == 1
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        for doc in drill_sealed.values():
            assert api.apply(doc)[0] in (200, 201)
        # Before the restore the new controller cannot open the old SealedSecrets.
        api.wait_for(lambda: [c for c in (api.get("bitnami.com/v1alpha1", "SealedSecret", "drill-strict", NS) or {})
                              .get("status", {}).get("conditions", []) if c.get("status") == "False"],
                     timeout=90, what="the new controller to fail on the old SealedSecret")
        assert api.get("v1", "Secret", "drill-strict", NS) is None

        result = restore(ansible_env, fresh, backup_file)
        assert result.returncode == 0, result.stdout[-4000:]
        assert "RUNNING HANDLER [Restart the sealed-secrets controller]" in result.stdout
        restored = key_secrets(api)
        assert len(restored) == 2  # the new key and the restored old one
        assert_no_private_key_in_annotations(api, old_keys)
        for obj in restored:
            managers = {m["manager"] for m in obj["metadata"].get("managedFields", [])}
            if base64.b64decode(obj["data"]["tls.key"]) in old_keys:
                assert "parametric-portal-sealing-key-restore" in managers, managers
        deployment = api.get("apps/v1", "Deployment", "sealed-secrets-controller", "kube-system")
        assert "infra.parametric-portal.com/sealing-keys-restored-at" in deployment["spec"]["template"]["metadata"]["annotations"]

        ctl.restart()  # what the rollout does to the pod (no kubelet here)
        for name, doc in drill_sealed.items():
            # Touch each SealedSecret so the controller retries at once instead of after its back-off.
            doc = dict(doc, metadata=dict(doc["metadata"], annotations=dict(doc["metadata"].get("annotations") or {},
                                                                            **{"cp-test/retry": "1"})))
            assert api.apply(doc)[0] in (200, 201)
            secret = api.wait_for(lambda: api.get("v1", "Secret", name, NS), timeout=120, what="Secret %s in the fresh cluster" % name)
            assert {k: base64.b64decode(v) for k, v in secret["data"].items()} == PLAINTEXT, name
    finally:
        ctl.stop()


def test_restore_removes_a_private_key_left_by_an_earlier_client_side_apply(backup_file, cp_api, fresh_control_plane, ansible_env):
    """A Secret restored by the earlier (client-side apply) playbook carries tls.key in last-applied-configuration;
    running the fixed restore removes that copy."""
    fresh = fresh_control_plane("drill-old-restore", crd_projects=[])
    api = Api(fresh)
    api.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "sealed-secrets-controller", "namespace": "kube-system"},
               "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "ss"}},
                        "template": {"metadata": {"labels": {"app": "ss"}}, "spec": {"containers": [{"name": "c", "image": "example.invalid/c:1"}]}}}})
    (live,) = key_secrets(cp_api)[:1]
    old = {"apiVersion": "v1", "kind": "Secret", "type": live["type"], "data": live["data"],
           "metadata": {"name": live["metadata"]["name"], "namespace": "kube-system", "labels": live["metadata"]["labels"]}}
    old["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(old)}  # exactly what client-side apply stores
    status, body, _warnings = api.create(old)
    assert status == 201, body
    assert "PRIVATE KEY" in base64.b64decode(json.loads(api.get("v1", "Secret", old["metadata"]["name"], "kube-system")
                                                        ["metadata"]["annotations"][LAST_APPLIED])["data"]["tls.key"]).decode()
    result = restore(ansible_env, fresh, backup_file)
    assert result.returncode == 0, result.stdout[-4000:]
    assert_no_private_key_in_annotations(api, [base64.b64decode(live["data"]["tls.key"])])
