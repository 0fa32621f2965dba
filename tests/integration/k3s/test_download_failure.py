"""Without k3s_artifact_dir and without a reachable release, the k3s role stops at the checksum
download with a message naming what is missing and how to provide it (scripts/demo.sh relies on it).

The release base URL points at a closed local port, so this never downloads anything, whatever the
machine's network; it runs only the role's install.yml on localhost and fails before any change.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PLAY = Path(__file__).with_name("install_play.yml")


def test_missing_release_names_k3s_artifact_dir(tmp_path):
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / "build" / "pytest-collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    }
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), str(PLAY),
           "-e", "k3s_release_base_url=https://127.0.0.1:9", "-e", "k3s_download_timeout=5"]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode != 0
    out = result.stdout
    assert "Could not download https://127.0.0.1:9/v1.32.11%2Bk3s1/sha256sum-amd64.txt" in out
    assert "Missing: the K3s v1.32.11+k3s1 release artifacts." in out
    assert "set k3s_artifact_dir to it" in out
    assert "rescued=1" in out and "changed=0" in out
