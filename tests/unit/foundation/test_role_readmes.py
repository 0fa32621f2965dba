"""Every role's README is generated from its meta/argument_specs.yml and kept in sync (scripts/role_readmes.py)."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("role_readmes", REPO / "scripts" / "role_readmes.py")
role_readmes = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(role_readmes)
ROLES = sorted(p.parent.parent.name for p in REPO.glob("roles/*/meta/argument_specs.yml"))


@pytest.mark.parametrize("role", ROLES)
def test_readme_is_in_sync_with_the_argument_specs(role):
    path = REPO / "roles" / role / "README.md"
    assert path.is_file(), "roles/%s/README.md is missing: run python scripts/role_readmes.py" % role
    assert path.read_text() == role_readmes.readme(REPO / "roles" / role), (
        "roles/%s/README.md is stale: run python scripts/role_readmes.py" % role)


@pytest.mark.parametrize("role", ROLES)
def test_every_entry_point_and_variable_is_documented(role):
    text = (REPO / "roles" / role / "README.md").read_text()
    specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    for entry, spec in specs.items():
        assert "### Entry point `%s`" % entry in text
        for option in spec.get("options") or {}:
            assert "| `%s` |" % option in text, (role, entry, option)


def test_a_changed_spec_makes_the_readme_stale(tmp_path):
    role = tmp_path / "roles" / "gitops"
    shutil.copytree(REPO / "roles" / "gitops", role)
    before = role_readmes.readme(role)
    spec_file = role / "meta" / "argument_specs.yml"
    spec_file.write_text(spec_file.read_text().replace("Namespace of base/ and apps/", "Namespace of base/"))
    after = role_readmes.readme(role)
    assert before != after and "Namespace of base/ (each overlay" in after
    readme = role / "README.md"
    readme.write_text(readme.read_text().replace("## License", "## License (hand-written text is kept)"))
    assert "hand-written text is kept" in role_readmes.readme(role)
