"""Shared pytest setup for the whole repository.

Makes `ansible_collections.parametric_portal.infra` importable straight from this working tree
(a symlink under build/), so unit tests exercise the code being edited, not an installed copy,
and exposes the paths tests need as fixtures.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
_COLL_ROOT = REPO_ROOT / "build" / "pytest-collections"
# Creates or re-creates (atomically) build/pytest-collections/.../infra -> this checkout, also when
# the link points at another tree (a copied checkout that carries the other tree's build/).
_LINK_SCRIPT = REPO_ROOT / "scripts" / "link-collection.sh"


def _ensure_collection_link() -> None:
    subprocess.run(["bash", str(_LINK_SCRIPT)], check=True, stdout=subprocess.DEVNULL, timeout=60)
    if str(_COLL_ROOT) not in sys.path:
        sys.path.insert(0, str(_COLL_ROOT))
    # ansible's collection loader also honours this for `ansible.*` imports.
    os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(_COLL_ROOT))


_ensure_collection_link()

# kustomize v5.5 (linked there by scripts/bootstrap-host.sh), for the playbooks that build overlays.
_TOOLS_BIN = REPO_ROOT / ".tools" / "bin"
if _TOOLS_BIN.is_dir() and str(_TOOLS_BIN) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = str(_TOOLS_BIN) + os.pathsep + os.environ.get("PATH", "")


def shared_dir() -> Path:
    """The read-only shared/ folder beside the repository (CRD schemas live there)."""
    return Path(os.environ.get("PP_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def crds_dir() -> Path:
    path = shared_dir() / "crds"
    if not path.is_dir():
        pytest.fail(f"upstream CRD schemas not found at {path}; set PP_SHARED_DIR to the shared/ folder")
    return path
