"""The manifest filter plugins (plugins/filter/manifests.py) and their sidecar documentation."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

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


def test_restricted_security_context():
    sc = FILTERS["restricted_security_context"](10001)
    assert sc["pod"]["runAsUser"] == 10001 and sc["pod"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["container"]["capabilities"] == {"drop": ["ALL"]}
    with pytest.raises(AnsibleFilterError, match="run_as_user"):
        FILTERS["restricted_security_context"](0)


def test_image_reference():
    ref = FILTERS["image_reference"]
    assert ref("ghcr.io/parametric-portal/api", "sha-0a1b2c3", "immutable") == "ghcr.io/parametric-portal/api:sha-0a1b2c3"
    assert ref("ghcr.io/parametric-portal/api", "dev") == "ghcr.io/parametric-portal/api:dev"
    with pytest.raises(AnsibleFilterError, match="sha-XXXXXXX"):
        ref("ghcr.io/parametric-portal/api", "dev", "immutable")
    with pytest.raises(AnsibleFilterError, match="policy must be one of"):
        ref("ghcr.io/parametric-portal/api", "dev", "sometimes")


def test_middleware_chain():
    chain = FILTERS["middleware_chain"]
    assert chain({"name": "icons", "www_redirect": True, "rate_limit": "web"}) == [
        "icons-www-redirect", "rate-limit-web", "icons-security-headers", "compress"]
    assert chain({"name": "api", "rate_limit": "api"}, False) == ["api-security-headers", "compress"]
    with pytest.raises(AnsibleFilterError):
        chain(["not", "an", "app"])


def test_k8s_yaml_is_stable_and_accepts_str_subclasses():
    class TaggedStr(str):  # Ansible hands filters str subclasses
        pass

    doc = {TaggedStr("kind"): TaggedStr("Namespace"), "apiVersion": "v1", "metadata": {"name": TaggedStr("x")}}
    text = FILTERS["k8s_yaml"](doc)
    assert text == "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n"
    assert FILTERS["k8s_yaml"]([doc, doc]).count("---\n") == 2


def test_pss_restricted_violations():
    check = FILTERS["pss_restricted_violations"]
    bad = {"kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    found = check(bad)
    assert any("allowPrivilegeEscalation must be false" in v for v in found)
    sc = FILTERS["restricted_security_context"](1000)
    assert check({"securityContext": sc["pod"], "containers": [{"name": "c", "securityContext": sc["container"]}]}) == []
