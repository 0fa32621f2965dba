"""traefik role: the rendered HelmChartConfig validated against the upstream helm-controller CRD
(v0.16.17, read from PP_SHARED_DIR/crds, strict: unknown fields rejected) and its valuesContent checked."""
from __future__ import annotations

import copy

import jsonschema
import pytest
import yaml

CRD = "helm-controller/v0.16.17/helm.cattle.io_helmchartconfigs.yaml"


def _strict(schema):
    """Reject unknown fields wherever the CRD lists properties (as the API server's strict decoding does)."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


@pytest.fixture(scope="module")
def schema(crds_dir):
    crd = yaml.safe_load((crds_dir / CRD).read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return _strict(version["schema"]["openAPIV3Schema"])


def _render(render_template, **extra):
    variables = {"infra_acme_email": "ops@example.com", **extra}
    return yaml.safe_load(render_template("traefik", "traefik-config.yaml.j2", variables))


def test_helmchartconfig_matches_the_crd_strictly(render_template, schema):
    doc = _render(render_template)
    jsonschema.validate(doc, schema)
    assert doc["apiVersion"] == "helm.cattle.io/v1"
    assert doc["kind"] == "HelmChartConfig"
    assert doc["metadata"] == {"name": "traefik", "namespace": "kube-system"}


def test_strict_schema_rejects_unknown_fields(render_template, schema):
    doc = _render(render_template)
    doc["spec"]["valuesContnet"] = "typo"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_values_content(render_template):
    values = yaml.safe_load(_render(render_template)["spec"]["valuesContent"])
    # No image override by default: Traefik runs the image K3s bundles (tests/unit/charts/test_traefik.py).
    assert "image" not in values
    web, websecure = values["ports"]["web"], values["ports"]["websecure"]
    assert (web["port"], web["exposedPort"]) == (8000, 80)
    assert (websecure["port"], websecure["exposedPort"]) == (8443, 443)
    assert web["redirections"]["entryPoint"] == {"to": "websecure", "scheme": "https", "permanent": True}
    assert websecure["tls"] == {"enabled": True, "certResolver": "letsencrypt"}
    acme = values["certificatesResolvers"]["letsencrypt"]["acme"]
    assert acme["email"] == "ops@example.com"
    assert acme["tlsChallenge"] is True
    assert acme["storage"] == "/data/acme.json"
    assert "staging" in acme["caServer"]
    assert values["persistence"]["enabled"] is True
    assert values["persistence"]["path"] == "/data"
    assert values["ingressRoute"]["dashboard"]["enabled"] is False
    assert values["logs"]["access"]["enabled"] is True
    assert values["metrics"]["prometheus"]["entryPoint"] == "metrics"
    assert values["service"]["spec"]["externalTrafficPolicy"] == "Local"
    pod = values["podSecurityContext"]
    assert pod["fsGroup"] == 65532
    assert pod["fsGroupChangePolicy"] == "OnRootMismatch"
    assert pod["runAsNonRoot"] is True
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    container = values["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["capabilities"]["drop"] == ["ALL"]


def test_production_ca_when_not_staging(render_template):
    values = yaml.safe_load(_render(render_template, traefik_acme_staging=False)["spec"]["valuesContent"])
    ca = values["certificatesResolvers"]["letsencrypt"]["acme"]["caServer"]
    assert ca == "https://acme-v02.api.letsencrypt.org/directory"
