"""Every public default of the k3s and traefik roles is described in meta/argument_specs.yml."""
from __future__ import annotations

import pytest
import yaml

from pathlib import Path

ROLES = Path(__file__).resolve().parents[3] / "roles"


@pytest.mark.parametrize("role", ["k3s", "traefik"])
def test_argument_specs_cover_defaults(role):
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    options = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert sorted(set(defaults) - set(options)) == []
    for name, spec in options.items():
        assert spec.get("description"), name
        assert name.startswith((role + "_", "infra_")), name
