"""The manifest filter plugin (plugins/filter/manifests.py: k8s_yaml) and its sidecar documentation."""
from __future__ import annotations

from pathlib import Path

import yaml

from ansible_collections.parametric_portal.infra.plugins.filter.manifests import FilterModule

FILTERS = FilterModule().filters()
FILTER_DIR = Path(__file__).resolve().parents[3] / "plugins" / "filter"


def test_every_filter_has_sidecar_docs():
    for name in FILTERS:
        doc = yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text())
        assert doc["DOCUMENTATION"]["name"] == name
        assert "_input" in doc["DOCUMENTATION"]["options"]
        assert "_value" in doc["RETURN"]
        assert f"parametric_portal.infra.{name}" in doc["EXAMPLES"]


def test_k8s_yaml_is_stable_and_accepts_str_subclasses():
    class TaggedStr(str):  # Ansible hands filters str subclasses
        pass

    doc = {TaggedStr("kind"): TaggedStr("Namespace"), "apiVersion": "v1", "metadata": {"name": TaggedStr("x")}}
    text = FILTERS["k8s_yaml"](doc)
    assert text == "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n"
    assert FILTERS["k8s_yaml"]([doc, doc]).count("---\n") == 2
