"""Controller-side helpers for the hardening scenario (real SSH from this machine, real playbook runs)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

CONTAINERS = ("pp-hardening-ubuntu2404", "pp-hardening-debian12", "pp-hardening-debian13")
SCENARIO_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = SCENARIO_DIR.parents[2]


def container_ip(name: str) -> str:
    out = subprocess.run(["podman", "inspect", name], check=True, capture_output=True, text=True).stdout
    return json.loads(out)[0]["NetworkSettings"]["IPAddress"]


@pytest.fixture(scope="session")
def ephemeral_dir() -> Path:
    path = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    if not path:
        pytest.fail("MOLECULE_EPHEMERAL_DIRECTORY is not set: run these tests through `molecule verify -s hardening`")
    return Path(path)


@pytest.fixture(scope="session")
def admin_key(ephemeral_dir: Path) -> Path:
    key = ephemeral_dir / "admin_ed25519"
    assert key.is_file(), f"{key} missing: prepare.yml generates it"
    return key
