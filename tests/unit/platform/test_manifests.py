"""What the platform roles write into K3s's manifests directory, rendered by the real roles.

Every object is validated against the upstream CRD schemas (helm-controller, Argo CD, CloudNativePG;
strict: unknown fields are errors) and the Kubernetes 1.32 core schemas, and every chart's
valuesContent is checked against the Pod Security Standards restricted profile: the pod and
container securityContext our values set for each component must pass restricted_violations() on
their own (Helm merges them over the chart defaults, so what we set is the floor), and resources
must be set. Nothing here runs a cluster.
"""
from __future__ import annotations

import stat

import pytest
import yaml

from ansible_collections.parametric_portal.infra.plugins.module_utils._k8s_schema import SchemaValidator, load_yaml_documents
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.pss import restricted_violations

EXPECTED_FILES = {
    "sealed-secrets.yaml",
    "argocd.yaml",
    "argocd-bootstrap.yaml",
    "argocd-repository.yaml",
    "cnpg-operator.yaml",
    "cnpg-cluster.yaml",
    "monitoring-grafana-admin.yaml",
    "monitoring-minio.yaml",
}
SECRET_KEYS = ("cnpg_app_password", "cnpg_s3_secret_access_key", "argocd_repo_password", "monitoring_grafana_admin_password")


@pytest.fixture(scope="module")
def validator(crds_dir):
    dirs = [crds_dir / "helm-controller", crds_dir / "argo-cd", crds_dir / "cloudnative-pg"]
    return SchemaValidator(crd_dirs=[str(d) for d in dirs], k8s_version="1.32", strict=True)


def docs(directory, name):
    return load_yaml_documents(str(directory / name))


def helm_values(directory, name):
    (chart,) = docs(directory, name)
    assert chart["kind"] == "HelmChart"
    return yaml.safe_load(chart["spec"]["valuesContent"])


def assert_restricted(component, pod_sc, container_sc, resources):
    """A pod built only from what our values set must be PSS restricted, with resources."""
    clean = {k: v for k, v in (container_sc or {}).items() if k != "enabled"}
    pod = {
        "securityContext": {k: v for k, v in (pod_sc or {}).items() if k != "enabled"},
        "containers": [{"name": component, "image": "example.invalid/%s:test" % component, "securityContext": clean}],
    }
    assert restricted_violations(pod) == [], component
    # The four keys the brief names, explicitly on the container (not only inherited from the pod).
    assert clean.get("allowPrivilegeEscalation") is False, component
    assert clean.get("capabilities", {}).get("drop") == ["ALL"], component
    assert (clean.get("seccompProfile") or pod["securityContext"].get("seccompProfile")) == {"type": "RuntimeDefault"}, component
    assert clean.get("runAsNonRoot") is True or pod["securityContext"].get("runAsNonRoot") is True, component
    for key in ("requests", "limits"):
        assert set(resources[key]) == {"cpu", "memory"}, "%s resources.%s" % (component, key)


def test_exactly_these_files_root_only(render_platform):
    manifests, unused = render_platform
    assert {p.name for p in manifests.iterdir()} == EXPECTED_FILES
    for path in manifests.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_every_object_matches_upstream_schemas(render_platform, validator):
    manifests, unused = render_platform
    findings, count = [], 0
    for path in sorted(manifests.iterdir()):
        objects = docs(manifests, path.name)
        count += len(objects)
        findings += validator.validate_documents(objects, source=path.name)
    # 10 objects plus the bootstrap of a one-environment cluster: 4 AppProjects, the root Application,
    # the environment's Namespace and Application
    assert count == 17
    assert not findings, "\n".join(str(f) for f in findings)


def test_the_validator_rejects_unknown_fields(render_platform, validator):
    """Proof that the schema check above can fail: a misspelt field in our Cluster is caught."""
    manifests, unused = render_platform
    cluster = [d for d in docs(manifests, "cnpg-cluster.yaml") if d["kind"] == "Cluster"][0]
    cluster["spec"]["enableSuperUserAccess"] = False
    assert any("enableSuperUserAccess" in str(f) for f in validator.validate(cluster))


def test_no_secret_reaches_the_ansible_output(render_platform, platform_base_vars):
    unused, stdout = render_platform
    for key in SECRET_KEYS:
        assert platform_base_vars[key] not in stdout, key


def test_live_checks_say_they_were_skipped(render_platform):
    unused, stdout = render_platform
    # one platform_status call per readiness check: sealed_secrets 1, argocd 2, cnpg 2, kyverno 1, monitoring 1
    assert stdout.count("were NOT checked against a cluster (live is false)") == 7


def test_sealed_secrets_values(render_platform):
    manifests, unused = render_platform
    (chart,) = docs(manifests, "sealed-secrets.yaml")
    assert chart["spec"]["version"] == "2.17.1" and chart["spec"]["repo"] == "https://bitnami-labs.github.io/sealed-secrets"
    assert chart["spec"]["targetNamespace"] == "kube-system" and chart["spec"]["createNamespace"] is False
    values = helm_values(manifests, "sealed-secrets.yaml")
    assert values["fullnameOverride"] == "sealed-secrets-controller"
    assert values["keyrenewperiod"] == "720h"
    assert values["podSecurityContext"]["enabled"] is True and values["containerSecurityContext"]["enabled"] is True
    assert_restricted("sealed-secrets", values["podSecurityContext"], values["containerSecurityContext"], values["resources"])


ARGOCD_COMPONENTS = {"controller": None, "server": None, "repoServer": None, "applicationSet": None,
                     "redis": "securityContext", "redisSecretInit": "securityContext"}


def test_argocd_values(render_platform):
    manifests, unused = render_platform
    (chart,) = docs(manifests, "argocd.yaml")
    assert (chart["spec"]["chart"], chart["spec"]["version"], chart["spec"]["targetNamespace"]) == ("argo-cd", "7.8.28", "argocd")
    values = helm_values(manifests, "argocd.yaml")
    assert values["dex"]["enabled"] is False and values["notifications"]["enabled"] is False
    assert values["server"]["ingress"]["enabled"] is False and values["server"]["service"]["type"] == "ClusterIP"
    for component, pod_key in ARGOCD_COMPONENTS.items():
        pod_sc = values[component][pod_key] if pod_key else values["global"]["securityContext"]
        assert_restricted(component, pod_sc, values[component]["containerSecurityContext"], values[component]["resources"])
    assert values["redis"]["securityContext"]["runAsUser"] == 999


def test_cnpg_operator_values(render_platform):
    manifests, unused = render_platform
    (chart,) = docs(manifests, "cnpg-operator.yaml")
    assert (chart["spec"]["chart"], chart["spec"]["version"], chart["spec"]["targetNamespace"]) == ("cloudnative-pg", "0.27.0", "cnpg-system")
    values = helm_values(manifests, "cnpg-operator.yaml")
    assert values["image"]["tag"] == "1.28.0@sha256:0869f9b996923aaf3eb761abe032b10ef482eaaef32fc6c604605a7223c13c1b"
    assert_restricted("cnpg-operator", values["podSecurityContext"], values["containerSecurityContext"], values["resources"])


def test_every_helmchart_aborts_instead_of_reinstalling(render_platform):
    manifests, unused = render_platform
    for name in ("sealed-secrets.yaml", "argocd.yaml", "cnpg-operator.yaml"):
        (chart,) = docs(manifests, name)
        assert chart["spec"]["failurePolicy"] == "abort", name


def test_root_application_and_repository(render_platform, platform_base_vars):
    manifests, unused = render_platform
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs(manifests, "argocd-bootstrap.yaml")}
    app = objects[("Application", "platform")]
    assert app["spec"]["source"]["path"] == "infrastructure/argocd"
    assert app["spec"]["project"] == "parametric-portal-bootstrap"
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    (secret,) = docs(manifests, "argocd-repository.yaml")
    assert secret["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "repository"
    assert secret["stringData"]["url"] == app["spec"]["source"]["repoURL"]
    assert secret["stringData"]["password"] == platform_base_vars["argocd_repo_password"]


def test_cnpg_cluster(render_platform):
    manifests, unused = render_platform
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs(manifests, "cnpg-cluster.yaml")}
    assert set(objects) == {("Secret", "api-db-app"), ("Secret", "api-db-s3"), ("Cluster", "api-db"), ("ScheduledBackup", "api-db-daily")}
    assert {d["metadata"]["namespace"] for d in objects.values()} == {"parametric-portal-dev"}
    spec = objects[("Cluster", "api-db")]["spec"]
    # PostgreSQL 17.7, system flavour (Barman Cloud), pinned by the digest CloudNativePG's image catalog publishes.
    assert spec["imageName"] == ("ghcr.io/cloudnative-pg/postgresql:17.7-202602090816-system-bookworm"
                                 "@sha256:a50e0db0f9ffed23fd6d6c5570eebb2a0e4201a0835b90a25da983c276ee1078")
    assert spec["instances"] == 1 and spec["enablePDB"] is False and spec["enableSuperuserAccess"] is False
    assert spec["bootstrap"]["initdb"] == {"database": "api", "owner": "api", "secret": {"name": "api-db-app"}}
    assert objects[("Secret", "api-db-app")]["type"] == "kubernetes.io/basic-auth"
    backup = spec["backup"]
    assert backup["retentionPolicy"] == "30d"
    creds = backup["barmanObjectStore"]["s3Credentials"]
    s3 = objects[("Secret", "api-db-s3")]["stringData"]
    assert creds["accessKeyId"]["key"] in s3 and creds["secretAccessKey"]["key"] in s3
    assert {creds["accessKeyId"]["name"], creds["secretAccessKey"]["name"]} == {"api-db-s3"}
    scheduled = objects[("ScheduledBackup", "api-db-daily")]["spec"]
    assert scheduled["schedule"] == "0 0 3 * * *" and scheduled["method"] == "barmanObjectStore"
    assert scheduled["cluster"] == {"name": "api-db"} and scheduled["immediate"] is True


def test_variant_public_repo_no_backups_three_instances(render_variant, validator):
    manifests = render_variant
    assert {p.name for p in manifests.iterdir()} == {"argocd.yaml", "argocd-bootstrap.yaml", "cnpg-operator.yaml", "cnpg-cluster.yaml"}
    objects = docs(manifests, "cnpg-cluster.yaml")
    assert [d["kind"] for d in objects] == ["Secret", "Cluster"]
    spec = objects[1]["spec"]
    assert "backup" not in spec
    assert spec["instances"] == 3 and spec["enablePDB"] is True
    assert spec["storage"] == {"size": "20Gi", "storageClass": "local-path"}
    assert not validator.validate_documents(objects, source="variant")


@pytest.mark.parametrize("overrides,drop,roles,expected", [
    ({"cnpg_backup_schedule": "0 3 * * *"}, (), ["cnpg"], "cnpg_backup_schedule a six-field cron"),
    ({}, ("cnpg_app_password",), ["cnpg"], "missing required arguments: cnpg_app_password"),
    ({"cnpg_app_password": "short"}, (), ["cnpg"], "cnpg_app_password (vault) must be set to a string of at least 16"),
    ({"sealed_secrets_key_renew_period": "0"}, (), ["sealed_secrets"], "sealed_secrets_key_renew_period a non-zero Go duration"),
    ({"argocd_chart_version": "v7.8.28"}, (), ["argocd"], "argocd_chart_version must look like 7.8.28"),
    ({"monitoring_minio_root_password": "short"}, (), ["monitoring"], "monitoring_minio_root_password (vault, optional) 24-128"),
])
def test_bad_input_fails_before_anything_is_written(tmp_path, platform_run_roles, overrides, drop, roles, expected):
    result = platform_run_roles(tmp_path, overrides, roles=roles, drop=drop)
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr
    assert list((tmp_path / "manifests").iterdir()) == []


def test_check_mode_on_a_fresh_server_writes_nothing(tmp_path, platform_run_roles):
    """--check --diff before the first converge: succeeds, reports the changes, writes nothing.
    With the live waits on, check mode says it does not wait (there is no cluster here)."""
    result = platform_run_roles(tmp_path, {"platform_wait_for_ready": True}, extra_args=("--check", "--diff"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed=8" in result.stdout
    assert (result.stdout + result.stderr).count("were NOT checked against a cluster (check mode writes nothing") == 7
    assert list((tmp_path / "manifests").iterdir()) == []


def test_bootstrap_deploys_exactly_the_cluster_environments(render_platform):
    """BASE_VARS is a dev-only cluster (infra_environment dev, no infra_cluster_environments): one environment."""
    manifests, unused = render_platform
    objects = docs(manifests, "argocd-bootstrap.yaml")
    apps = {d["metadata"]["name"]: d for d in objects if d["kind"] == "Application"}
    assert sorted(apps) == ["parametric-portal-dev", "platform"]
    assert apps["parametric-portal-dev"]["spec"]["source"]["path"] == "infrastructure/overlays/dev"
    assert apps["parametric-portal-dev"]["spec"]["destination"]["namespace"] == "parametric-portal-dev"
    assert [d["metadata"]["name"] for d in objects if d["kind"] == "Namespace"] == ["parametric-portal-dev"]
    projects = {d["metadata"]["name"]: d["spec"] for d in objects if d["kind"] == "AppProject"}
    assert projects["default"]["destinations"] == [] and projects["default"]["sourceRepos"] == []
    assert [d["namespace"] for d in projects["parametric-portal-apps"]["destinations"]] == ["parametric-portal-dev"]
    assert projects["parametric-portal-apps"]["clusterResourceWhitelist"] == []
    # the chart repositories come from the kyverno and monitoring roles of the same play
    assert projects["parametric-portal-platform"]["sourceRepos"][1:] == [
        "https://kyverno.github.io/kyverno/", "https://grafana.github.io/helm-charts"]
    assert [d["namespace"] for d in projects["parametric-portal-platform"]["destinations"]] == ["kyverno", "monitoring"]


def test_bootstrap_of_a_vps_hosting_both_environments(tmp_path, platform_run_roles):
    tables = {"dev": {"namespace": "parametric-portal-dev"}, "prod": {"namespace": "parametric-portal"}}
    result = platform_run_roles(tmp_path, {"infra_environments": tables, "infra_cluster_environments": ["dev", "prod"]},
                                roles=["argocd"])
    assert result.returncode == 0, result.stdout[-3000:]
    objects = docs(tmp_path / "manifests", "argocd-bootstrap.yaml")
    assert sorted(d["spec"]["source"]["path"] for d in objects if d["kind"] == "Application") == [
        "infrastructure/argocd", "infrastructure/overlays/dev", "infrastructure/overlays/prod"]
    result = platform_run_roles(tmp_path / "bad", {"infra_environments": tables, "infra_cluster_environments": ["stage"]},
                                roles=["argocd"])
    assert result.returncode != 0 and "'stage' has no environment table (known: dev, prod)" in result.stdout
