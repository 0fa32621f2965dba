"""Unit tests of the private offline validator (plugins/module_utils/_k8s_schema.py).

Real inputs only: the Kubernetes 1.32 schemas shipped by kubernetes-validate and the upstream CRD
files of the shared folder (PP_SHARED_DIR).
"""
from __future__ import annotations

import copy

import pytest

from ansible_collections.parametric_portal.infra.plugins.module_utils import _k8s_schema as ks


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "api", "namespace": "parametric-portal"},
    "spec": {
        "selector": {"matchLabels": {"app": "api"}},
        "template": {
            "metadata": {"labels": {"app": "api"}},
            "spec": {"containers": [{"name": "api", "image": "ghcr.io/x/api:dev", "ports": [{"containerPort": 4000}]}]},
        },
    },
}
MIDDLEWARE = {
    "apiVersion": "traefik.io/v1alpha1",
    "kind": "Middleware",
    "metadata": {"name": "rate-limit-api", "namespace": "parametric-portal"},
    "spec": {"rateLimit": {"average": 100, "burst": 200}},
}


@pytest.fixture(scope="module")
def validator(crds_dir):
    return ks.SchemaValidator(crd_dirs=[str(crds_dir / "traefik" / "v3.3.5"), str(crds_dir / "kyverno")])


def test_132_schemas_are_shipped_and_used(validator):
    assert "1.32" in ks.available_versions()
    assert validator.core_schema_label == "v1.32.0-local-strict"


def test_valid_core_object_has_no_findings(validator):
    assert validator.validate(DEPLOYMENT, "d.yaml") == []


def test_unknown_core_field_is_rejected_with_path(validator):
    bad = copy.deepcopy(DEPLOYMENT)
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    bad["spec"]["replicas"] = "two"
    findings = validator.validate(bad, "d.yaml")
    assert ks.Finding("d.yaml", "Deployment/parametric-portal/api",
                      "spec.template.spec.containers[0].imagePullPolicyy", "unknown field 'imagePullPolicyy'") in findings
    assert any(f.path == "spec.replicas" and "integer" in f.message for f in findings)
    assert len(findings) == 2


def test_non_strict_accepts_unknown_fields(crds_dir):
    bad = copy.deepcopy(DEPLOYMENT)
    bad["spec"]["bogus"] = 1
    assert ks.SchemaValidator(strict=False).validate(bad) == []
    assert ks.SchemaValidator(strict=True).validate(bad)[0].path == "spec.bogus"


def test_crd_object_valid_and_unknown_fields(validator):
    assert validator.validate(MIDDLEWARE) == []
    bad = copy.deepcopy(MIDDLEWARE)
    bad["spec"]["rateLimit"]["averge"] = 1
    bad["metadata"]["lables"] = {}
    paths = sorted(f.path for f in validator.validate(bad))
    assert paths == ["metadata.lables", "spec.rateLimit.averge"]


def test_crd_int_or_string_and_types(validator):
    ok = copy.deepcopy(MIDDLEWARE)
    ok["spec"]["rateLimit"]["period"] = "1s"
    assert validator.validate(ok) == []
    bad = copy.deepcopy(MIDDLEWARE)
    bad["spec"]["rateLimit"]["average"] = "a lot"
    (finding,) = validator.validate(bad)
    assert finding.path == "spec.rateLimit.average"


def test_unknown_kind_and_version_are_findings_not_passes(validator):
    (f1,) = validator.validate({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert "no schema for apiVersion example.com/v1 kind Widget" in f1.message
    (f2,) = validator.validate({"apiVersion": "traefik.io/v9", "kind": "Middleware", "metadata": {"name": "m"}})
    assert "has no version v9" in f2.message
    assert validator.validate({"apiVersion": "v1", "metadata": {"name": "x"}})[0].path == "kind"


def test_name_required(validator):
    (finding,) = validator.validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    assert finding.path == "metadata.name"


def test_crd_objects_from_cluster_are_used(crds_dir):
    (crd,) = ks.load_yaml_documents(str(crds_dir / "sealed-secrets" / "v0.28.0" / "bitnami.com_sealedsecrets.yaml"))
    validator = ks.SchemaValidator(crd_objects=[crd])
    sealed = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "s", "namespace": "n"},
              "spec": {"encryptedData": {"k": "AgB="}, "template": {"metadata": {"name": "s"}}}}
    assert validator.validate(sealed) == []
    sealed["spec"]["encrypteddata"] = {}
    assert [f.path for f in validator.validate(sealed)] == ["spec.encrypteddata"]


def test_duplicate_crds_must_all_pass(crds_dir):
    validator = ks.SchemaValidator(crd_dirs=[str(crds_dir / "traefik")])  # v3.3.5 and v3.5.1
    bad = copy.deepcopy(MIDDLEWARE)
    bad["spec"]["rateLimit"]["nope"] = 1
    (finding,) = validator.validate(bad)
    assert finding.message == "unknown field 'nope'"  # reported by both: no schema suffix


def test_validate_documents_and_lists(validator):
    text = "---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n  data: {a: 1}\n---\n"
    findings = validator.validate_documents(ks.load_yaml_documents(text), "x.yaml")
    assert [(f.obj, f.path) for f in findings] == [("ConfigMap/a", "data.a")]
    assert "x.yaml: ConfigMap/a: data.a:" in ks.format_report(findings)


def test_load_yaml_rejects_non_mapping(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("---\n- 1\n")
    with pytest.raises(ValueError):
        ks.load_yaml_documents(str(path))


def test_bad_version_and_dir():
    with pytest.raises(ks.SchemaError):
        ks.SchemaValidator(k8s_version="1.99")
    with pytest.raises(ks.SchemaError):
        ks.SchemaValidator(crd_dirs=["/nonexistent/crds"])


def test_crd_conversion_nullable_and_preserve():
    node = {"type": "object", "properties": {"a": {"type": "string", "nullable": True},
                                             "b": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                                   "properties": {"c": {"type": "string"}}},
                                             "d": {"x-kubernetes-int-or-string": True,
                                                   "anyOf": [{"type": "integer"}, {"type": "string"}]}}}
    out = ks.crd_schema_to_jsonschema(node, strict=True)
    assert out["additionalProperties"] is False
    assert out["properties"]["a"]["type"] == ["string", "null"]
    assert "additionalProperties" not in out["properties"]["b"]
    assert out["properties"]["d"] == {"type": ["integer", "string"]}
    assert not any(k.startswith("x-kubernetes") for k in out["properties"]["b"])


def test_crd_json_cache_is_keyed_by_content(tmp_path, crds_dir):
    src = crds_dir / "traefik" / "v3.3.5" / "traefik.io_middlewares.yaml"
    crd_dir = tmp_path / "crds"
    crd_dir.mkdir()
    (crd_dir / "mw.yaml").write_bytes(src.read_bytes())
    cache = tmp_path / "cache"
    validator = ks.SchemaValidator(crd_dirs=[str(crd_dir)], cache_dir=str(cache))
    assert validator.validate(MIDDLEWARE) == []
    (entry,) = list(cache.iterdir())
    entry.write_text("not json")  # a corrupt cache entry is ignored, never trusted
    ks._FILE_CRD_CACHE.clear()
    assert ks.SchemaValidator(crd_dirs=[str(crd_dir)], cache_dir=str(cache)).validate(MIDDLEWARE) == []
    ks._FILE_CRD_CACHE.clear()
    assert ks.SchemaValidator(crd_dirs=[str(crd_dir)], cache_dir=None).validate(MIDDLEWARE) == []


def test_load_yaml_missing_file_is_an_error(tmp_path):
    with pytest.raises(ks.SchemaError, match="does not exist"):
        ks.load_yaml_documents(str(tmp_path / "missing.yaml"))
