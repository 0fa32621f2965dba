"""playbooks/seal_secret.yml end to end: real ansible-playbook against localhost with the dev
inventory, a generated controller key/certificate, and a temporary GitOps tree; the result is
unsealed with the controller's algorithm and built with the real `kubectl kustomize`."""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "unit" / "sealing"))
from sealing_keys import keypair  # noqa: E402  (session-cached test keys)

from ansible_collections.parametric_portal.infra.plugins.module_utils import _sealing as s  # noqa: E402

SECRET_VALUE = "integration-Pl41ntext-VALUE"
FILE_BYTES = b"\x00\x01binary-file-content\xff"
VENV_BIN = REPO / ".venv" / "bin"


def ansible_playbook(*args, tree, cert):
    env = dict(os.environ)
    env["PATH"] = "%s:%s" % (VENV_BIN, env.get("PATH", ""))
    env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / "build" / "pytest-collections")
    env["ANSIBLE_NOCOLOR"] = "1"
    cmd = ["ansible-playbook", "-i", "inventories/dev", "playbooks/seal_secret.yml",
           "-e", "@inventories/dev/group_vars/all/vault.yml.example",
           "-e", "seal_secret_gitops_root=%s" % tree, "-e", "seal_secret_cert=%s" % cert, *args]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=300)
    return proc


def recap(proc):
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


def unseal(kp, path):
    obj = yaml.safe_load(Path(path).read_text())
    meta = obj["metadata"]
    label = s.encryption_label(s.scope_from_annotations(meta.get("annotations")), meta.get("namespace"), meta["name"])
    return obj, {k: s.hybrid_decrypt([kp.key], base64.b64decode(v), label) for k, v in obj["spec"]["encryptedData"].items()}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seal-playbook")
    tree = tmp / "infrastructure"
    if (REPO / "infrastructure" / "overlays").is_dir():
        shutil.copytree(REPO / "infrastructure", tree)
    (tree / "overlays" / "dev").mkdir(parents=True, exist_ok=True)
    kp = keypair(4096)
    cert = tmp / "sealed-secrets.pem"
    cert.write_bytes(kp.cert_pem)
    blob = tmp / "blob.bin"
    blob.write_bytes(FILE_BYTES)
    return dict(tree=tree, kp=kp, cert=cert, blob=blob)


def test_seal_idempotent_and_kustomize(env):
    tree, kp = env["tree"], env["kp"]
    secrets = tree / "overlays" / "dev" / "secrets"
    shutil.rmtree(secrets, ignore_errors=True)
    args = ("-e", "app=api", "-e", "secret_name=db", "-e", json.dumps({"values": {"DB_PASSWORD": SECRET_VALUE}}),
            "-e", json.dumps({"files": {"blob.bin": str(env["blob"])}}))

    # check mode on a fresh tree: reports changes, writes nothing
    proc = ansible_playbook("--check", "--diff", *args, tree=tree, cert=env["cert"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (secrets / "api-db.yaml").exists()

    proc = ansible_playbook(*args, tree=tree, cert=env["cert"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert recap(proc)["changed"] >= 2
    sealed = secrets / "api-db.yaml"
    obj, items = unseal(kp, sealed)
    assert items == {"DB_PASSWORD": SECRET_VALUE.encode(), "blob.bin": FILE_BYTES}
    assert obj["metadata"]["namespace"] == "parametric-portal-dev" and obj["metadata"]["name"] == "api-db"
    assert oct(sealed.stat().st_mode & 0o777) == "0o644"
    kust = yaml.safe_load((secrets / "kustomization.yaml").read_text())
    assert kust["resources"] == ["api-db.yaml"]
    first = sealed.read_bytes()

    # second run: nothing changes, file byte-identical
    proc = ansible_playbook(*args, tree=tree, cert=env["cert"])
    assert proc.returncode == 0 and recap(proc)["changed"] == 0, proc.stdout
    assert sealed.read_bytes() == first
    # check + diff on the converged tree: still nothing
    proc = ansible_playbook("--check", "--diff", *args, tree=tree, cert=env["cert"])
    assert proc.returncode == 0 and recap(proc)["changed"] == 0, proc.stdout

    # a second secret for another app: kustomization stays sorted and unique
    proc = ansible_playbook("-e", "app=icons", "-e", "secret_name=cdn", "-e", json.dumps({"values": {"TOKEN": "t0ken-value-x"}}),
                            tree=tree, cert=env["cert"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert yaml.safe_load((secrets / "kustomization.yaml").read_text())["resources"] == ["api-db.yaml", "icons-cdn.yaml"]

    # the real kustomize builds the folder
    built = subprocess.run([str(VENV_BIN / "kubectl"), "kustomize", str(secrets)], capture_output=True, text=True, check=False, timeout=120)
    assert built.returncode == 0, built.stderr
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    assert sorted(d["metadata"]["name"] for d in docs) == ["api-db", "icons-cdn"]
    assert all(d["kind"] == "SealedSecret" for d in docs)


def test_plaintext_never_printed(env):
    proc = ansible_playbook("-v", "--diff", "-e", "app=api", "-e", "secret_name=print",
                            "-e", json.dumps({"values": {"K": SECRET_VALUE}}), tree=env["tree"], cert=env["cert"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert SECRET_VALUE not in out and base64.b64encode(SECRET_VALUE.encode()).decode() not in out
    assert "EXAMPLE-change-me-fingerprint-key" not in out
    assert SECRET_VALUE not in (env["tree"] / "overlays" / "dev" / "secrets" / "api-print.yaml").read_text()


@pytest.mark.parametrize("args,needle", [
    (("-e", "app=nope", "-e", "secret_name=db", "-e", '{"values": {"K": "v"}}'), "Expected -e app="),
    (("-e", "app=api", "-e", "secret_name=Bad_Name", "-e", '{"values": {"K": "v"}}'), "Expected -e app="),
    (("-e", "app=api", "-e", "secret_name=db"), "Expected -e app="),
    (("-e", "app=api", "-e", "secret_name=db", "-e", "scope=global", "-e", '{"values": {"K": "v"}}'), "Expected -e app="),
])
def test_bad_input_fails_before_changes(env, args, needle):
    before = sorted(p.name for p in (env["tree"] / "overlays" / "dev").rglob("*"))
    proc = ansible_playbook(*args, tree=env["tree"], cert=env["cert"])
    assert proc.returncode != 0 and needle in proc.stdout, proc.stdout
    assert sorted(p.name for p in (env["tree"] / "overlays" / "dev").rglob("*")) == before
