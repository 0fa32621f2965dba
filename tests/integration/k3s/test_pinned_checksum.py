"""The K3s binary is installed only when it matches a COMMITTED sha256, not only the release's own
checksum file (issue 14 item 11).

Runs the k3s role's install.yml on localhost against artifact directories built from the TEST
DOUBLE (tests/doubles/make-artifacts.sh). Every case must be refused before anything is staged; the
binary paths are redirected into the test's temporary directory (extra vars win over role vars), so
even a broken role could not touch this machine's /usr/local/bin.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
PLAY = Path(__file__).with_name("install_play.yml")


def _artifacts(target: Path, version: str, *flags: str) -> Path:
    subprocess.run(["bash", str(REPO / "tests" / "doubles" / "make-artifacts.sh"), str(target), version, *flags],
                   check=True, capture_output=True, timeout=60)
    return target


def _install(tmp_path: Path, artifacts: Path, **extra) -> subprocess.CompletedProcess:
    variables = {"k3s_artifact_dir": str(artifacts), "__k3s_bin": str(tmp_path / "bin" / "k3s"),
                 "__k3s_staged_bin": str(tmp_path / "bin" / ".k3s.staged"), **extra}
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(REPO / "build" / "pytest-collections"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0"}
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), str(PLAY), "-e", json.dumps(variables)]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)


def _nothing_staged(tmp_path: Path) -> bool:
    return not (tmp_path / "bin" / "k3s").exists() and not (tmp_path / "bin" / ".k3s.staged").exists()


def test_a_release_without_a_committed_sha256_is_refused(tmp_path):
    """v1.32.11+k3s1 (the default version) has no committed value: the release's file alone is not enough."""
    result = _install(tmp_path, _artifacts(tmp_path / "art", "v1.32.11+k3s1"))
    out = " ".join(result.stdout.split())
    assert result.returncode != 0, out[-3000:]
    assert "K3s v1.32.11+k3s1 (amd64) has no committed sha256" in out, out[-3000:]
    assert "Set k3s_binary_sha256 to the sha256 of 'k3s' of v1.32.11+k3s1" in out
    assert _nothing_staged(tmp_path)


def test_the_committed_table_decides_even_when_binary_and_file_agree(tmp_path):
    """v1.32.11+k3s3 is committed: a binary whose release file matches it but is not the published one
    (here the test double) is refused, naming both values."""
    committed = yaml.safe_load((REPO / "roles" / "k3s" / "defaults" / "main.yml").read_text())["k3s_release_sha256"]
    art = _artifacts(tmp_path / "art", "v1.32.11+k3s3")
    own = (art / "sha256sum-amd64.txt").read_text().split()[0]
    result = _install(tmp_path, art, k3s_version="v1.32.11+k3s3")
    out = " ".join(result.stdout.split())
    assert result.returncode != 0, out[-3000:]
    assert (f"Checksum mismatch for k3s v1.32.11+k3s3: sha256sum-amd64.txt says {own}, but the committed sha256 is "
            f"{committed['v1.32.11+k3s3']['amd64']}") in out, out[-3000:]
    assert _nothing_staged(tmp_path)


def test_the_operators_pin_wins_and_a_tampered_release_is_refused(tmp_path):
    """The operator pinned the published binary; the artifact directory holds another binary with a
    matching checksum file (a replaced release): refused."""
    pinned = (_artifacts(tmp_path / "published", "v1.32.11+k3s1") / "sha256sum-amd64.txt").read_text().split()[0]
    tampered = _artifacts(tmp_path / "tampered", "v1.32.11+k3s1-tampered")
    result = _install(tmp_path, tampered, k3s_binary_sha256=pinned)
    out = " ".join(result.stdout.split())
    assert result.returncode != 0, out[-3000:]
    assert f"but the committed sha256 is {pinned}" in out and "was left untouched" in out, out[-3000:]
    assert _nothing_staged(tmp_path)


def test_a_malformed_pin_is_refused_naming_the_variable(tmp_path):
    result = _install(tmp_path, _artifacts(tmp_path / "art", "v1.32.11+k3s1"), k3s_binary_sha256="NOT-A-SHA")
    out = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "k3s_binary_sha256 is not a sha256" in out, out[-3000:]
    assert _nothing_staged(tmp_path)
