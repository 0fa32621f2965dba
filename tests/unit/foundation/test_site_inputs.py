"""Unit tests for the site input filters used by preflight (plugins/filter/site_inputs.py)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.parametric_portal.infra.plugins.filter import site_inputs

REPO = Path(__file__).resolve().parents[3]


def _inventory(env: str) -> tuple[list, dict]:
    base = REPO / "inventories" / env / "group_vars" / "all"
    model = yaml.safe_load((base / "apps.yml").read_text())
    return model["infra_apps"], model["infra_environments"][env]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_shipped_inventories_are_valid(env):
    apps, table = _inventory(env)
    assert site_inputs.site_input_errors(apps, env, table) == []


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda a, t: a.append(copy.deepcopy(a[0])), "infra_apps[2] (api).name"),
        (lambda a, t: a[0].update(port=70000), "infra_apps[0] (api).port"),
        (lambda a, t: a[0].update(domain="Bad_Domain!"), "infra_apps[0] (api).domain"),
        (lambda a, t: t.update(image_tag="latest"), "infra_env.image_tag"),
        (lambda a, t: t["apps"]["api"]["hpa"].update(min=11), "infra_env.apps.api.hpa.min"),
        (lambda a, t: t["apps"]["api"].update(replicas=0), "infra_env.apps.api.replicas"),
        (lambda a, t: t.update(log_level="LOUD"), "infra_env.log_level"),
    ],
)
def test_bad_input_names_the_field(mutate, field):
    apps, table = _inventory("prod")
    mutate(apps, table)
    errors = site_inputs.site_input_errors(apps, "prod", table)
    assert len(errors) == 1 and errors[0].startswith(field), errors


def test_missing_model_is_an_error_not_a_crash():
    assert site_inputs.site_input_errors(None, "dev", None)[0].startswith("infra_apps")


def test_inventory_argument_spec_drops_required_and_default_at_every_level():
    data = {"argument_specs": {"main": {"options": {
        "a": {"type": "str", "required": True, "default": "{{ x }}"},
        "b": {"type": "dict", "required": True, "options": {"c": {"type": "int", "required": True}}},
    }}}}
    relaxed = site_inputs.inventory_argument_spec(data)
    assert relaxed == {"a": {"type": "str"}, "b": {"type": "dict", "options": {"c": {"type": "int"}}}}
    assert data["argument_specs"]["main"]["options"]["a"]["required"] is True  # input untouched


def test_inventory_argument_spec_rejects_other_input():
    with pytest.raises(AnsibleFilterError):
        site_inputs.inventory_argument_spec({"options": {}})
    with pytest.raises(AnsibleFilterError, match="no entry point 'x'"):
        site_inputs.inventory_argument_spec({"argument_specs": {"main": {}}}, "x")
