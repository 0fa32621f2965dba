"""The K3s TEST DOUBLE answers only what the role calls, and says it is a double."""
from __future__ import annotations

import subprocess
from pathlib import Path

DOUBLES = Path(__file__).resolve().parents[2] / "doubles"


def _build(tmp_path, version, *flags):
    subprocess.run(["bash", str(DOUBLES / "make-artifacts.sh"), str(tmp_path), version, *flags], check=True, capture_output=True)
    return tmp_path


def test_artifacts_in_release_format(tmp_path):
    art = _build(tmp_path, "v1.32.11+k3s1")
    out = subprocess.run([str(art / "k3s"), "--version"], check=True, capture_output=True, text=True).stdout
    assert out.splitlines()[0] == "k3s version v1.32.11+k3s1 (test-double)"
    import hashlib

    digest = hashlib.sha256((art / "k3s").read_bytes()).hexdigest()
    assert (art / "sha256sum-amd64.txt").read_text() == f"{digest}  k3s\n"


def test_corrupt_checksum_differs(tmp_path):
    art = _build(tmp_path, "v1.32.11+k3s1", "--corrupt-sha")
    import hashlib

    digest = hashlib.sha256((art / "k3s").read_bytes()).hexdigest()
    listed = (art / "sha256sum-amd64.txt").read_text().split()[0]
    assert len(listed) == 64 and listed != digest


def test_unexpected_invocation_fails_loudly(tmp_path):
    art = _build(tmp_path, "v1.32.11+k3s1")
    result = subprocess.run([str(art / "k3s"), "etcd-snapshot", "save"], capture_output=True, text=True, check=False)
    assert result.returncode == 64
    assert "TEST DOUBLE" in result.stderr
