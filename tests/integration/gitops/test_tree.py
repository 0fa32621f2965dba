"""The committed GitOps tree: no drift, real kubectl kustomize builds, strict schema validation,
the spec's resource tables, restricted pod templates.

Real tools only: kubectl (with its built-in Kustomize) from PATH, the Kubernetes 1.32 schemas of
kubernetes-validate and the upstream CRD files of the shared folder (PP_SHARED_DIR).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.parametric_portal.infra.plugins.module_utils import _k8s_schema as ks
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import plan as gp
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import pss as gs
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import tree as gt

import gitops_inputs as helpers

REPO = Path(__file__).resolve().parents[3]
TREE = REPO / "infrastructure"


def _inputs():
    return helpers.apps(), helpers.environments(), helpers.platform()


def kustomize(path: Path) -> list:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl not on PATH (it ships in the venv: export PATH=.venv/bin:$PATH)")
    proc = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return ks.load_yaml_documents(proc.stdout)


@pytest.fixture(scope="module")
def builds():
    return {env: kustomize(TREE / "overlays" / env) for env in ("dev", "prod")}


@pytest.fixture(scope="module")
def validator(crds_dir):
    # every upstream CRD set; Traefik v3.3.5 (spec pin) and v3.5.1 (K3s bundle) must both accept the objects
    return ks.SchemaValidator(crd_dirs=[str(crds_dir)], k8s_version="1.32", strict=True)


def _index(docs):
    return {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in docs}


# ---- no drift ---------------------------------------------------------------------------
def test_committed_tree_equals_generator_output():
    apps, envs, platform = _inputs()
    rendered = gt.render_tree(apps, envs, platform)
    committed = {}
    for path in TREE.rglob("*"):
        rel = path.relative_to(TREE).as_posix()
        if path.is_file() and not rel.startswith(("overlays/dev/secrets/", "overlays/prod/secrets/")):
            committed[rel] = path.read_text()
    assert sorted(committed) == sorted(rendered), "files differ: run playbooks/gitops_render.yml"
    drift = [rel for rel in rendered if committed[rel] != rendered[rel]]
    assert drift == [], "drift in %s: run playbooks/gitops_render.yml" % drift
    for env in envs:  # the secrets folder exists and is a kustomization (its contents belong to sealing)
        assert (TREE / "overlays" / env / "secrets" / "kustomization.yaml").is_file()


def test_topology_matches_the_spec():
    expected = {
        "base": {"kustomization.yaml", "namespace.yaml", "tlsoption.yaml", "networkpolicy.yaml",
                 "poddisruptionbudget.yaml", "shared-middleware.yaml"},
        "apps/api": {"deployment.yaml", "service.yaml", "ingressroute.yaml", "middleware.yaml", "kustomization.yaml"},
        "apps/icons": {"deployment.yaml", "service.yaml", "ingressroute.yaml", "middleware.yaml", "kustomization.yaml"},
        "overlays/dev": {"kustomization.yaml"},
        "argocd": {"kyverno.yaml", "kyverno-policies.yaml", "monitoring.yaml", "monitoring-resources.yaml"},
    }
    for folder, files in expected.items():
        assert files <= {p.name for p in (TREE / folder).iterdir() if p.is_file()}, folder
    assert {"kustomization.yaml", "hpa-api.yaml", "tlsstore.yaml"} <= {p.name for p in (TREE / "overlays/prod").iterdir()}
    assert len(list((TREE / "platform/kyverno/policies").glob("*.yaml"))) == 5
    assert list((TREE / "platform/kyverno/exceptions").glob("*.yaml"))
    mon = {p.name for p in (TREE / "platform/monitoring").iterdir()}
    assert {"ingressroute.yaml", "podmonitor-argocd.yaml"} <= mon and any(n.startswith("dashboard-") for n in mon)


# ---- builds and validation ---------------------------------------------------------------
def test_both_overlays_build(builds):
    assert len(builds["dev"]) >= 10 and len(builds["prod"]) > len(builds["dev"])


def test_every_object_validates_strictly(builds, validator):
    findings = []
    for env, docs in builds.items():
        findings += validator.validate_documents(docs, f"overlays/{env}")
    for folder in ("platform/kyverno", "platform/monitoring"):
        findings += validator.validate_documents(kustomize(TREE / folder), folder)
    for path in sorted((TREE / "argocd").glob("*.yaml")):
        findings += validator.validate_documents(ks.load_yaml_documents(str(path)), str(path))
    assert findings == [], ks.format_report(findings)


def test_validation_would_catch_a_typo(builds, validator):
    deployment = next(d for d in builds["prod"] if d["kind"] == "Deployment")
    deployment = yaml.safe_load(yaml.safe_dump(deployment))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    assert [f.path for f in validator.validate(deployment)] == ["spec.template.spec.containers[0].readinessprobe"]


def test_every_pod_template_is_restricted(builds):
    workloads = [d for docs in builds.values() for d in docs if gs.pod_templates(d)]
    assert len(workloads) == 4
    assert gs.workload_restricted_violations(workloads) == []
    for wl in workloads:
        spec = wl["spec"]["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert set(container["resources"]) == {"requests", "limits"}
            assert container["livenessProbe"] and container["readinessProbe"]
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


# ---- the spec's resource tables -----------------------------------------------------------
BASE = [
    ("TLSOption", "ns", "default"),
    ("NetworkPolicy", "ns", "default-deny-all"), ("NetworkPolicy", "ns", "allow-traefik-ingress"),
    ("NetworkPolicy", "ns", "allow-api-egress"), ("NetworkPolicy", "ns", "allow-icons-egress"),
    ("NetworkPolicy", "ns", "allow-cnpg-operator"), ("PodDisruptionBudget", "ns", "api-pdb"),
    ("PodDisruptionBudget", "ns", "icons-pdb"), ("PodDisruptionBudget", "ns", "postgres-pdb"),
    ("Middleware", "ns", "rate-limit-api"), ("Middleware", "ns", "rate-limit-web"),
    ("Middleware", "ns", "redirect-to-https"), ("Middleware", "ns", "compress"), ("IngressRoute", "ns", "http-redirect"),
]
APPS = [
    ("Deployment", "ns", "api"), ("Service", "ns", "api"), ("IngressRoute", "ns", "api-https"),
    ("Middleware", "ns", "api-security-headers"), ("Middleware", "ns", "api-middleware-chain"),
    ("Deployment", "ns", "icons"), ("Service", "ns", "icons"), ("IngressRoute", "ns", "icons-https"),
    ("Middleware", "ns", "icons-security-headers"), ("Middleware", "ns", "icons-www-redirect"),
    ("Middleware", "ns", "icons-middleware-chain"),
]
PROD = [("HorizontalPodAutoscaler", "ns", "api"), ("HorizontalPodAutoscaler", "ns", "icons"), ("TLSStore", "ns", "default")]


def _key(kind, ns, name, namespace):
    return (kind, namespace if ns == "ns" else None, name)


def test_prod_has_every_spec_resource_with_numbers(builds):
    ns = "parametric-portal"
    idx = _index(builds["prod"])
    for kind, scope, name in BASE + APPS + PROD:
        assert _key(kind, scope, name, ns) in idx, (kind, name)
    tls = idx[("TLSOption", ns, "default")]["spec"]
    assert (tls["minVersion"], tls["maxVersion"], tls["sniStrict"]) == ("VersionTLS12", "VersionTLS13", True)
    assert idx[("Middleware", ns, "rate-limit-api")]["spec"]["rateLimit"] == {"average": 100, "burst": 200, "period": "1s"}
    assert idx[("Middleware", ns, "rate-limit-web")]["spec"]["rateLimit"] == {"average": 50, "burst": 100, "period": "1s"}
    for pdb in ("api-pdb", "icons-pdb", "postgres-pdb"):
        assert idx[("PodDisruptionBudget", ns, pdb)]["spec"]["minAvailable"] == 1
    hpa_api = idx[("HorizontalPodAutoscaler", ns, "api")]["spec"]
    hpa_icons = idx[("HorizontalPodAutoscaler", ns, "icons")]["spec"]
    assert (hpa_api["minReplicas"], hpa_api["maxReplicas"]) == (2, 10)
    assert (hpa_icons["minReplicas"], hpa_icons["maxReplicas"]) == (2, 6)
    assert {m_["resource"]["name"] for m_ in hpa_api["metrics"]} == {"cpu", "memory"}
    api = idx[("Deployment", ns, "api")]["spec"]["template"]["spec"]["containers"][0]
    icons = idx[("Deployment", ns, "icons")]["spec"]["template"]["spec"]["containers"][0]
    assert api["resources"]["limits"] == {"memory": "1Gi", "cpu": "1000m"}
    assert api["ports"][0]["containerPort"] == 4000 and icons["ports"][0]["containerPort"] == 8080
    assert {"name": "LOG_LEVEL", "value": "INFO"} in api["env"]
    assert re.match(r"^ghcr\.io/parametric-portal/api:sha-[0-9a-f]{7}$", api["image"])
    assert re.match(r"^ghcr\.io/parametric-portal/icons:sha-[0-9a-f]{7}$", icons["image"])
    route = idx[("IngressRoute", ns, "api-https")]["spec"]
    assert route["routes"][0]["match"] == "Host(`api.parametric-portal.com`)" and route["tls"]["certResolver"]
    icons_route = idx[("IngressRoute", ns, "icons-https")]["spec"]["routes"][0]["match"]
    assert "Host(`parametric-portal.com`)" in icons_route
    csp = idx[("Middleware", ns, "icons-security-headers")]["spec"]["headers"]["contentSecurityPolicy"]
    assert "connect-src 'self' https://api.parametric-portal.com" in csp
    chain = [x["name"] for x in idx[("Middleware", ns, "api-middleware-chain")]["spec"]["chain"]["middlewares"]]
    assert "rate-limit-api" in chain and "api-security-headers" in chain
    assert "replicas" not in idx[("Deployment", ns, "api")]["spec"]  # HPA-managed
    # base/namespace.yaml is the spec's; the overlays drop it because each cluster's bootstrap creates its
    # environments' namespaces (the apps' Argo CD project may not create cluster-scoped objects).
    assert not [d for d in builds["prod"] if d["kind"] == "Namespace"]
    (namespace,) = [d for d in kustomize(TREE / "base") if d["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_dev_environment_column(builds):
    ns = "parametric-portal-dev"
    idx = _index(builds["dev"])
    assert all(d["metadata"].get("namespace") == ns for d in builds["dev"])  # nothing cluster-scoped
    assert not [d for d in builds["dev"] if d["kind"] in ("IngressRoute", "Middleware", "TLSOption", "TLSStore",
                                                          "HorizontalPodAutoscaler")]
    for name in ("api", "icons"):
        dep = idx[("Deployment", ns, name)]
        container = dep["spec"]["template"]["spec"]["containers"][0]
        assert dep["spec"]["replicas"] == 1
        assert container["image"].endswith(":dev")
        assert {"name": "LOG_LEVEL", "value": "DEBUG"} in container["env"]
    assert idx[("Deployment", ns, "api")]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {
        "memory": "512Mi", "cpu": "500m"}
    for kind, scope, name in BASE[1:9]:  # network policies and PDBs exist in dev too
        assert (kind, ns, name) in idx


def test_platform_and_argocd(validator):
    policies = kustomize(TREE / "platform/kyverno")
    cps = [d for d in policies if d["kind"] == "ClusterPolicy"]
    assert {d["metadata"]["name"] for d in cps} == {
        "disallow-privilege-escalation", "disallow-capabilities-strict", "require-run-as-nonroot",
        "restrict-seccomp-strict", "restrict-volume-types"}
    assert all(d["apiVersion"] == "kyverno.io/v1" for d in cps)
    assert all(r["validate"]["failureAction"] == "Enforce" for d in cps for r in d["spec"]["rules"])
    exceptions = [d for d in policies if d["kind"] == "PolicyException"]
    assert exceptions and all(d["apiVersion"] == "kyverno.io/v2" and d["metadata"]["namespace"] == "kyverno"
                              and d["metadata"]["annotations"]["parametric-portal.com/reason"] for d in exceptions)
    for exc in exceptions:
        assert all(r["resources"]["names"] for r in exc["spec"]["match"]["any"])  # named components only
    monitoring = _index(kustomize(TREE / "platform/monitoring"))
    grafana = monitoring[("IngressRoute", "monitoring", "grafana")]["spec"]
    assert grafana["routes"][0]["match"] == "Host(`grafana.parametric-portal.com`)" and grafana["tls"]["certResolver"]
    assert ("PodMonitor", "monitoring", "argocd") in monitoring
    assert [k for k in monitoring if k[0] == "ConfigMap" and monitoring[k]["metadata"]["labels"]["grafana_dashboard"] == "1"]
    argo = {}
    for path in (TREE / "argocd").glob("*.yaml"):
        for doc in ks.load_yaml_documents(str(path)):
            argo[path.name] = doc
    assert all(doc["kind"] == "Application" and doc["spec"]["project"] == "parametric-portal-platform"
               for doc in argo.values())  # no ApplicationSet, nothing in the unrestricted default project
    assert argo["kyverno.yaml"]["spec"]["source"]["targetRevision"] == "3.6.1"
    assert argo["kyverno.yaml"]["spec"]["source"]["helm"]["valuesObject"]["features"]["policyExceptions"] == {
        "enabled": True, "namespace": "kyverno"}
    assert argo["monitoring.yaml"]["spec"]["source"]["chart"] == "lgtm-distributed"
    assert argo["monitoring.yaml"]["spec"]["source"]["targetRevision"] == "3.0.1"
    assert argo["kyverno-policies.yaml"]["spec"]["source"]["path"] == "infrastructure/platform/kyverno"
    assert argo["monitoring-resources.yaml"]["spec"]["source"]["path"] == "infrastructure/platform/monitoring"
    for doc in list(argo.values()):
        policy = doc["spec"]["template"]["spec"]["syncPolicy"] if doc["kind"] == "ApplicationSet" else doc["spec"]["syncPolicy"]
        assert policy["automated"] == {"prune": True, "selfHeal": True}


# ---- adding an app -----------------------------------------------------------------------
def test_a_new_app_builds_and_validates(tmp_path, validator):
    apps, envs, platform = _inputs()
    apps.append({"name": "docs", "kind": "spa", "domain": "docs.parametric-portal.com", "port": 8081,
                 "image": "ghcr.io/parametric-portal/docs", "rate_limit": "web"})
    dest = tmp_path / "infrastructure"
    gp.apply_plan(str(dest), gp.plan_tree(str(dest), gt.render_tree(apps, envs, platform), envs))
    docs = kustomize(dest / "overlays" / "prod")
    idx = _index(docs)
    assert ("IngressRoute", "parametric-portal", "docs-https") in idx
    assert ("HorizontalPodAutoscaler", "parametric-portal", "docs") in idx
    assert validator.validate_documents(docs, "new-app") == []
    assert gs.workload_restricted_violations(docs) == []
