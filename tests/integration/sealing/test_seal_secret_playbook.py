"""playbooks/seal_secret.yml end to end: real ansible-playbook against localhost with the dev
inventory, a generated controller key/certificate, and a temporary GitOps tree; the result is
unsealed with the controller's algorithm and built with the real `kubectl kustomize`.

Secret values reach the playbook only from files (a values file, private or ansible-vault encrypted,
or one file per key) or from prompts answered on a real pseudo-terminal; never from the command line."""
from __future__ import annotations

import base64
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import termios
import time
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


def _env():
    env = dict(os.environ)
    env["PATH"] = "%s:%s" % (VENV_BIN, env.get("PATH", ""))
    env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / "build" / "pytest-collections")
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def _cmd(args, tree, cert):
    return ["ansible-playbook", "-i", "inventories/dev", "playbooks/seal_secret.yml",
            "-e", "@inventories/dev/group_vars/all/vault.yml.example",
            "-e", "seal_secret_gitops_root=%s" % tree, "-e", "seal_secret_cert=%s" % cert, *args]


def ansible_playbook(*args, tree, cert):
    return subprocess.run(_cmd(args, tree, cert), cwd=REPO, env=_env(), capture_output=True, text=True, check=False,
                          timeout=300)


def values_file(directory, values, name="values.yml", mode=0o600):
    path = Path(directory) / name
    path.write_text(yaml.safe_dump(values))
    path.chmod(mode)
    return str(path)


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
    args = ("-e", "app=api", "-e", "secret_name=db",
            "-e", "values_file=%s" % values_file(env["tree"].parent, {"DB_PASSWORD": SECRET_VALUE}),
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
    proc = ansible_playbook("-e", "app=icons", "-e", "secret_name=cdn",
                            "-e", "values_file=%s" % values_file(env["tree"].parent, {"TOKEN": "t0ken-value-x"}, "cdn.yml"),
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
                            "-e", "values_file=%s" % values_file(env["tree"].parent, {"K": SECRET_VALUE}, "print.yml"),
                            tree=env["tree"], cert=env["cert"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert SECRET_VALUE not in out and base64.b64encode(SECRET_VALUE.encode()).decode() not in out
    assert "EXAMPLE-change-me-fingerprint-key" not in out
    assert SECRET_VALUE not in (env["tree"] / "overlays" / "dev" / "secrets" / "api-print.yaml").read_text()


V = '{"files": {"K": "/etc/hostname"}}'  # something valid to seal, for the cases that test one other input


@pytest.mark.parametrize("args,needle", [
    (("-e", "app=api", "-e", "secret_name=db", "-e", '{"values": {"K": "pl41n-on-the-command-line"}}'),
     "-e values / -e '{\"values\": ...}' is no longer accepted: a value given on the command line stays in the shell history"),
    (("-e", "app=nope", "-e", "secret_name=db", "-e", V), "-e app=<api|icons> is required: an app of the inventory's infra_apps (got nope)"),
    (("-e", "secret_name=db", "-e", V), "-e app=<api|icons> is required: an app of the inventory's infra_apps (got nothing)"),
    (("-e", "app=api", "-e", "secret_name=Bad_Name", "-e", V), "-e secret_name=<name> is required: a DNS label such as db"),
    (("-e", "app=api", "-e", "secret_name=db", "-e", "scope=global", "-e", V),
     "-e scope must be strict (the default), namespace-wide or cluster-wide (got global)"),
    (("-e", "app=api", "-e", "secret_name=db"), "Nothing to seal: give -e prompt=KEY[,KEY...], -e values_file=<file>"),
    (("-e", "app=api", "-e", "secret_name=db", "-e", "prompt=GOOD,bad/key"), "not accepted: ['bad/key']"),
    (("-e", "app=api", "-e", "secret_name=db", "-e", "prompt=K", "-e", V), "repeated: [K ]"),
    (("-e", "app=api", "-e", "secret_name=db", "-e", "prompt=K", "-e", "sealing_fingerprint_key=short"),
     "Run with an inventory (-i inventories/<env>) that defines infra_environment, infra_env.namespace and sealing_fingerprint_key"),
])
def test_bad_input_fails_before_changes_with_its_own_message(env, args, needle):
    before = sorted(p.name for p in (env["tree"] / "overlays" / "dev").rglob("*"))
    proc = ansible_playbook(*args, tree=env["tree"], cert=env["cert"])
    assert proc.returncode != 0 and needle in proc.stdout, proc.stdout[-3000:]
    assert "Nothing was changed." in proc.stdout
    assert recap(proc)["changed"] == 0
    assert sorted(p.name for p in (env["tree"] / "overlays" / "dev").rglob("*")) == before
    assert "pl41n-on-the-command-line" not in proc.stdout + proc.stderr


def test_values_file_must_be_private_or_vault_encrypted(env, tmp_path):
    tree, kp = env["tree"], env["kp"]
    readable = values_file(tmp_path, {"API_KEY": SECRET_VALUE}, mode=0o644)
    proc = ansible_playbook("-e", "app=api", "-e", "secret_name=vaulted", "-e", "values_file=%s" % readable, tree=tree, cert=env["cert"])
    assert proc.returncode != 0
    assert "must be a file that is ansible-vault encrypted" in proc.stdout and "mode now 0644" in proc.stdout
    assert SECRET_VALUE not in proc.stdout + proc.stderr
    # The same file, vault-encrypted, may be world-readable: it is decrypted in memory.
    passfile = tmp_path / "vault-pass"
    passfile.write_text("values-vault-passphrase\n")
    subprocess.run([str(VENV_BIN / "ansible-vault"), "encrypt", "--vault-password-file", str(passfile), readable],
                   check=True, capture_output=True, env=_env(), timeout=120)
    assert Path(readable).read_text().startswith("$ANSIBLE_VAULT")
    proc = ansible_playbook("-e", "app=api", "-e", "secret_name=vaulted", "-e", "values_file=%s" % readable,
                            "--vault-password-file", str(passfile), tree=tree, cert=env["cert"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    _obj, items = unseal(kp, tree / "overlays" / "dev" / "secrets" / "api-vaulted.yaml")
    assert items == {"API_KEY": SECRET_VALUE.encode()}
    assert SECRET_VALUE not in proc.stdout + proc.stderr


def _run_on_a_terminal(cmd, answers, timeout=300):
    """Run cmd with a pseudo-terminal as its terminal (what an operator's shell gives it) and type the
    next answer whenever a new 'Value of ...:' prompt has appeared. Returns (exit code, all output)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes ansible-playbook
        os.chdir(str(REPO))
        os.execvpe(cmd[0], cmd, _env())
    output, answered, deadline = b"", 0, time.time() + timeout
    while time.time() < deadline:
        ready, _w, _x = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if answered < len(answers) and output.count(b"Value of") > answered and output.rstrip().endswith(b":"):
            # Type only once Ansible has switched the terminal's echo off for this prompt, as a person would
            # see it waiting; typed earlier, the line discipline would echo it and Ansible would flush it.
            while termios.tcgetattr(fd)[3] & termios.ECHO and time.time() < deadline:
                time.sleep(0.05)
            os.write(fd, answers[answered].encode() + b"\r")
            answered += 1
    else:
        os.kill(pid, 9)
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode("utf-8", "replace")


def test_prompted_values_are_sealed_and_never_echoed(env):
    tree, kp = env["tree"], env["kp"]
    typed = ["typed-Pa55word-one", "typed-T0ken-two"]
    code, out = _run_on_a_terminal(_cmd(("-e", "app=api", "-e", "secret_name=prompted", "-e", "prompt=DB_PASSWORD,API_TOKEN"),
                                        tree, env["cert"]), typed)
    assert code == 0, out[-3000:]
    assert out.count("Value of") == 2 and "Value of DB_PASSWORD for the SealedSecret api-prompted" in out
    assert "(output is hidden)" in out
    for value in typed:
        assert value not in out  # the terminal did not echo it and nothing printed it
    _obj, items = unseal(kp, tree / "overlays" / "dev" / "secrets" / "api-prompted.yaml")
    assert items == {"DB_PASSWORD": typed[0].encode(), "API_TOKEN": typed[1].encode()}


def test_prompt_without_a_terminal_fails_clearly(env):
    before = sorted(p.name for p in (env["tree"] / "overlays" / "dev").rglob("*"))
    proc = ansible_playbook("-e", "app=api", "-e", "secret_name=noterm", "-e", "prompt=DB_PASSWORD", tree=env["tree"], cert=env["cert"])
    assert proc.returncode != 0
    assert "No value was entered for ['DB_PASSWORD']: -e prompt needs an interactive terminal" in proc.stdout, proc.stdout[-3000:]
    assert sorted(p.name for p in (env["tree"] / "overlays" / "dev").rglob("*")) == before


def test_mise_task_as_documented(env, tmp_path):
    """`mise run seal-secret -- ...` (README, docs/sealing.md) with the real mise: values on the command line
    are refused through the task too; a values file works."""
    mise = REPO / ".tools" / "node_modules" / ".bin" / "mise"
    assert mise.exists(), "mise not installed: run scripts/bootstrap-host.sh"
    menv = dict(_env(), PP_ENV="dev", MISE_TRUSTED_CONFIG_PATHS=str(REPO / "mise.toml"), MISE_YES="1", NO_COLOR="1",
                MISE_DATA_DIR=str(tmp_path / "mise-data"), MISE_STATE_DIR=str(tmp_path / "mise-state"),
                MISE_CACHE_DIR=str(tmp_path / "mise-cache"))
    common = ["-e", "@inventories/dev/group_vars/all/vault.yml.example", "-e", "seal_secret_gitops_root=%s" % env["tree"],
              "-e", "seal_secret_cert=%s" % env["cert"], "-e", "app=api", "-e", "secret_name=mise"]
    proc = subprocess.run([str(mise), "run", "seal-secret", "--", *common, "-e", '{"values": {"K": "pl41n-via-mise"}}'],
                          cwd=REPO, env=menv, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0 and "is no longer accepted" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
    relative = os.path.relpath(values_file(tmp_path, {"K": "from-a-file-via-mise"}), REPO)  # relative to where mise runs
    proc = subprocess.run([str(mise), "run", "seal-secret", "--", *common, "-e", "values_file=%s" % relative],
                          cwd=REPO, env=menv, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    _obj, items = unseal(env["kp"], env["tree"] / "overlays" / "dev" / "secrets" / "api-mise.yaml")
    assert items == {"K": b"from-a-file-via-mise"}
