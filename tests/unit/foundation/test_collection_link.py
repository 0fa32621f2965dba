"""A copied checkout that carries another tree's build/ must import its OWN code.

tests/conftest.py, the backup scenario's test module and Molecule's dependency step all reach the
collection through build/pytest-collections/ansible_collections/parametric_portal/infra, a symlink
to the checkout. Here a checkout is copied with a build/ whose link still points at the tree it
was copied from; each entry point must re-create the link before anything imports through it.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
LINK = Path("build", "pytest-collections", "ansible_collections", "parametric_portal", "infra")
BACKUP_TESTS = Path("extensions", "molecule", "backup", "tests", "test_backup.py")


def _checkout(tmp_path: Path, name: str) -> Path:
    """The files the entry points need, plus a module that says which tree it belongs to."""
    root = tmp_path / name
    for rel in (Path("tests", "conftest.py"), Path("scripts", "link-collection.sh"), BACKUP_TESTS):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, root / rel)
    (root / "plugins" / "module_utils").mkdir(parents=True)
    (root / "plugins" / "module_utils" / "_probe_tree.py").write_text(f"TREE = {name!r}\n")
    return root.resolve()


def _copied_with_stale_link(tmp_path: Path) -> tuple[Path, Path]:
    other = _checkout(tmp_path, "other")
    copy = _checkout(tmp_path, "copy")
    (copy / LINK).parent.mkdir(parents=True)
    (copy / LINK).symlink_to(other, target_is_directory=True)  # carried over from the other tree
    return copy, other


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ANSIBLE_COLLECTIONS_PATH")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def test_conftest_relinks_a_link_into_another_tree(tmp_path):
    copy, other = _copied_with_stale_link(tmp_path)
    (copy / "tests" / "test_probe.py").write_text(
        "from ansible_collections.parametric_portal.infra.plugins.module_utils._probe_tree import TREE\n\n\n"
        "def test_imports_this_tree():\n    assert TREE == 'copy'\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_probe.py"],
                            cwd=copy, env=_clean_env(), capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert (copy / LINK).resolve() == copy
    assert (other / "plugins").is_dir(), "the other tree must be left alone"


def test_backup_scenario_module_relinks_a_link_into_another_tree(tmp_path):
    copy, unused = _copied_with_stale_link(tmp_path)
    spec = importlib.util.spec_from_file_location("pp_backup_probe", copy / BACKUP_TESTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paths = module._collections_path().split(":")  # pylint: disable=protected-access
    assert paths[0] == str(copy / "build" / "pytest-collections")
    assert (copy / LINK).resolve() == copy


def test_link_script_keeps_a_correct_link_and_creates_a_missing_one(tmp_path):
    root = _checkout(tmp_path, "fresh")
    script = root / "scripts" / "link-collection.sh"
    subprocess.run(["bash", str(script)], check=True, capture_output=True, timeout=60)
    assert (root / LINK).is_symlink() and (root / LINK).resolve() == root
    before = os.lstat(root / LINK).st_ino
    subprocess.run(["bash", str(script)], check=True, capture_output=True, timeout=60)
    assert os.lstat(root / LINK).st_ino == before, "a correct link was replaced"
