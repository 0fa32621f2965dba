"""Shared pytest setup for the whole repository.

Makes `ansible_collections.parametric_portal.infra` importable straight from this working tree
(a symlink under build/), so unit tests exercise the code being edited, not an installed copy,
and exposes the paths tests need as fixtures.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
_COLL_ROOT = REPO_ROOT / "build" / "pytest-collections"
_LINK = _COLL_ROOT / "ansible_collections" / "parametric_portal" / "infra"


def _ensure_collection_link() -> None:
    if not _LINK.is_symlink():
        _LINK.parent.mkdir(parents=True, exist_ok=True)
        try:
            _LINK.symlink_to(REPO_ROOT, target_is_directory=True)
        except FileExistsError:  # another worker created it
            pass
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
