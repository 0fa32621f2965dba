"""Verify the platform bootstrap manifests written into K3s's manifests directory.

The container stands in for the first K3s server; nothing here claims a cluster ran. The objects'
schemas and the charts' security settings are checked in depth by tests/unit/platform; this test
proves what landed on the host: exactly these files, root-owned 0600, with the pinned versions and
the inventory's values.
"""
import yaml

MANIFESTS = "/var/lib/rancher/k3s/server/manifests"
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


def _docs(host, name):
    return [d for d in yaml.safe_load_all(host.file("%s/%s" % (MANIFESTS, name)).content_string) if d]


def _by_kind(docs):
    out = {}
    for doc in docs:
        out.setdefault(doc["kind"], []).append(doc)
    return out


def test_exactly_the_expected_files(host):
    listing = host.check_output("ls -1A %s" % MANIFESTS).split()
    assert set(listing) == EXPECTED_FILES


def test_files_are_root_only(host):
    for name in EXPECTED_FILES:
        f = host.file("%s/%s" % (MANIFESTS, name))
        assert f.user == "root" and f.group == "root", name
        assert f.mode == 0o600, "%s has mode %o" % (name, f.mode)


def test_helmcharts_are_pinned(host):
    expected = {
        "sealed-secrets.yaml": ("sealed-secrets", "sealed-secrets", "2.17.1", "https://bitnami-labs.github.io/sealed-secrets", "kube-system"),
        "argocd.yaml": ("argocd", "argo-cd", "7.8.28", "https://argoproj.github.io/argo-helm", "argocd"),
        "cnpg-operator.yaml": ("cnpg", "cloudnative-pg", "0.27.0", "https://cloudnative-pg.github.io/charts", "cnpg-system"),
    }
    for name, (release, chart, version, repo, target) in expected.items():
        (doc,) = _docs(host, name)
        assert doc["apiVersion"] == "helm.cattle.io/v1" and doc["kind"] == "HelmChart"
        assert doc["metadata"] == {"name": release, "namespace": "kube-system"}
        spec = doc["spec"]
        assert (spec["chart"], spec["version"], spec["repo"], spec["targetNamespace"]) == (chart, version, repo, target)
        assert spec["failurePolicy"] == "abort"


def test_sealed_secrets_values(host):
    (doc,) = _docs(host, "sealed-secrets.yaml")
    values = yaml.safe_load(doc["spec"]["valuesContent"])
    assert values["fullnameOverride"] == "sealed-secrets-controller"
    assert values["keyrenewperiod"] == "720h"
    assert values["containerSecurityContext"]["allowPrivilegeEscalation"] is False
    assert values["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_cnpg_operator_runs_the_pinned_version(host):
    (doc,) = _docs(host, "cnpg-operator.yaml")
    # 1.28.0, pulled by the digest of CloudNativePG's OLM bundle for that release
    assert yaml.safe_load(doc["spec"]["valuesContent"])["image"]["tag"] == (
        "1.28.0@sha256:0869f9b996923aaf3eb761abe032b10ef482eaaef32fc6c604605a7223c13c1b")


def test_root_application(host):
    docs = _docs(host, "argocd-bootstrap.yaml")
    apps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Application"}
    # the root Application and the one environment of this dev cluster (infra_environment: dev)
    assert sorted(apps) == ["parametric-portal-dev", "platform"]
    app = apps["platform"]
    assert app["metadata"]["namespace"] == "argocd" and app["spec"]["project"] == "parametric-portal-bootstrap"
    assert sorted(d["metadata"]["name"] for d in docs if d["kind"] == "AppProject") == [
        "default", "parametric-portal-apps", "parametric-portal-bootstrap", "parametric-portal-platform"]
    assert app["spec"]["source"] == {
        "repoURL": "https://github.com/parametric-portal/infra.git",
        "targetRevision": "main",
        "path": "infrastructure/argocd",
    }
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "finalizers" not in app["metadata"]


def test_repository_secret(host):
    (secret,) = _docs(host, "argocd-repository.yaml")
    assert secret["metadata"]["labels"] == {"argocd.argoproj.io/secret-type": "repository"}
    assert secret["metadata"]["namespace"] == "argocd"
    assert secret["stringData"] == {
        "type": "git",
        "url": "https://github.com/parametric-portal/infra.git",
        "username": "git",
        "password": "molecule-repo-token-0123456789",
    }


def test_cnpg_cluster_backups_and_credentials(host):
    kinds = _by_kind(_docs(host, "cnpg-cluster.yaml"))
    assert sorted(kinds) == ["Cluster", "ScheduledBackup", "Secret"]
    (cluster,) = kinds["Cluster"]
    spec = cluster["spec"]
    assert cluster["metadata"] == {"name": "api-db", "namespace": "parametric-portal-dev"}
    assert spec["instances"] == 1 and spec["storage"] == {"size": "5Gi"}
    assert spec["imageName"].startswith("ghcr.io/cloudnative-pg/postgresql:17.")
    assert spec["enableSuperuserAccess"] is False
    assert spec["enablePDB"] is False  # one instance: a PDB would block node drains
    assert spec["backup"]["retentionPolicy"] == "30d"
    assert spec["backup"]["barmanObjectStore"]["destinationPath"] == "s3://molecule-backups/dev/api-db"
    (scheduled,) = kinds["ScheduledBackup"]
    assert len(scheduled["spec"]["schedule"].split()) == 6
    assert scheduled["spec"]["cluster"] == {"name": "api-db"}
    secrets = {s["metadata"]["name"]: s for s in kinds["Secret"]}
    assert secrets["api-db-app"]["stringData"] == {"username": "api", "password": "molecule-app-password-0123456789"}
    assert secrets["api-db-s3"]["stringData"] == {
        "ACCESS_KEY_ID": "MOLECULEACCESSKEY",
        "ACCESS_SECRET_KEY": "molecule-secret-access-key-0123456789",
    }


def test_minio_credentials_are_generated_once(host):
    """No vault password in the scenario: a random 40-character password, kept across the idempotence run."""
    (secret,) = _docs(host, "monitoring-minio.yaml")
    assert secret["metadata"] == {"name": "monitoring-minio", "namespace": "monitoring"}
    data = secret["stringData"]
    assert data["rootUser"] == "lgtm-minio"
    assert len(data["rootPassword"]) == 40 and data["rootPassword"].isalnum()
    assert data["rootPassword"] not in ("supersecret", "console123")


def test_grafana_admin_secret(host):
    (secret,) = _docs(host, "monitoring-grafana-admin.yaml")
    assert secret["metadata"] == {"name": "grafana-admin", "namespace": "monitoring"}
    assert secret["stringData"] == {"admin-user": "admin", "admin-password": "molecule-grafana-password-0123"}
