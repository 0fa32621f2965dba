"""Every object the collection produces, applied for real (server-side apply, strict field validation)
to the Kubernetes v1.32.11 API server, after the upstream CRDs of ../shared/crds: the platform roles'
manifests-directory files, both overlays built by kustomize v5.5, infrastructure/platform and
infrastructure/argocd. The server runs the CRDs' structural schemas and CEL rules and the PodSecurity
admission (restricted) that the k3s role configures.

Not here: no controller acts on these objects (no helm-controller, Argo CD, Traefik, CloudNativePG or
Kyverno runs) and no pod runs; PodSecurity is checked at admission, where it is enforced.
Namespaces that the collection does not itself define (the HelmCharts' targetNamespace, created in K3s
by the helm-controller without labels) are created here without labels, as the helm-controller would.
"""
from __future__ import annotations

import copy

import pytest

from cp_api import sort_for_apply
import gitops_inputs
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.argocd import bootstrap_objects
from cp_collection import TREE, argocd_objects, kustomize_build, pod_templates

OVERLAYS = ("dev", "prod")


@pytest.fixture(scope="module")
def built(kustomize_bin):
    # The environments' Namespaces come from each cluster's Argo CD bootstrap (the argocd role, built by
    # the argocd_bootstrap filter), not from the overlays: applied first, as on a cluster.
    bootstrap = bootstrap_objects(gitops_inputs.bootstrap_settings(list(OVERLAYS)))
    namespaces = {d["metadata"]["name"]: d for d in bootstrap if d["kind"] == "Namespace"}
    tables = gitops_inputs.environments()
    out = {"overlays/%s" % env: [namespaces[tables[env]["namespace"]]] + kustomize_build(kustomize_bin, TREE / "overlays" / env)
           for env in OVERLAYS}
    for folder in sorted(p for p in (TREE / "platform").iterdir() if (p / "kustomization.yaml").is_file()):
        out["platform/%s" % folder.name] = kustomize_build(kustomize_bin, folder)
    for name, docs in argocd_objects().items():
        out["argocd/%s" % name] = docs
    return out


def ensure_namespace(api, name, labels=None):
    if api.get("v1", "Namespace", name) is None:
        status, body, _warnings = api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, **({"labels": labels} if labels else {})}})
        assert status in (200, 201), body


def apply_all(api, source, objects):
    """Apply in order (namespaces first); return [(source, kind/name, status, message, warnings)] of failures and warnings."""
    problems, warned = [], []
    for obj in sort_for_apply(objects):
        ns = obj["metadata"].get("namespace")
        res = api.resource(obj["apiVersion"], obj["kind"])
        if res.namespaced and ns:
            ensure_namespace(api, ns)
        status, body, warnings = api.apply(copy.deepcopy(obj))
        ident = "%s %s/%s" % (obj["kind"], ns or "-", obj["metadata"]["name"])
        if status not in (200, 201):
            problems.append("%s: %s -> HTTP %s %s" % (source, ident, status, body.get("message") if isinstance(body, dict) else body))
        if warnings:
            warned.append("%s: %s -> %s" % (source, ident, warnings))
    return problems, warned


def test_crds_are_installed_and_established(control_plane, cp_api):
    assert len(control_plane.crd_names) >= 40
    for name in ("sealedsecrets.bitnami.com", "helmcharts.helm.cattle.io", "helmchartconfigs.helm.cattle.io",
                 "applications.argoproj.io", "clusters.postgresql.cnpg.io", "backups.postgresql.cnpg.io",
                 "ingressroutes.traefik.io", "middlewares.traefik.io", "clusterpolicies.kyverno.io", "podmonitors.monitoring.coreos.com"):
        assert name in control_plane.crd_names, name


def test_platform_manifests_apply_server_side(cp_api, platform_manifests):
    """The files the platform roles write into /var/lib/rancher/k3s/server/manifests, as K3s would apply them."""
    assert "sealed-secrets.yaml" in platform_manifests and "traefik-config.yaml" in platform_manifests
    problems, warned = [], []
    for name, docs in platform_manifests.items():
        p, w = apply_all(cp_api, name, docs)
        problems += p
        warned += w
    assert not problems, "\n".join(problems)
    assert not warned, "\n".join(warned)
    for name, docs in platform_manifests.items():
        for obj in docs:
            assert cp_api.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace")), (name, obj["metadata"])


def test_gitops_tree_applies_server_side(cp_api, built):
    """Both overlays (their labelled Namespaces first), infrastructure/platform and infrastructure/argocd."""
    problems, warned = [], []
    for source, docs in built.items():
        assert docs, source
        p, w = apply_all(cp_api, source, docs)
        problems += p
        warned += w
    assert not problems, "\n".join(problems)
    assert not warned, "\n".join(warned)


def test_overlay_namespaces_carry_the_restricted_labels(cp_api, built):
    for env in OVERLAYS:
        namespaces = [o for o in built["overlays/%s" % env] if o["kind"] == "Namespace"]
        assert namespaces, env
        for ns in namespaces:
            live = cp_api.get("v1", "Namespace", ns["metadata"]["name"])
            assert live["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_pod_security_admits_every_pod_template(cp_api, built, platform_manifests):
    """A Pod made from each workload's template, created (server dry-run) in its namespace: PodSecurity
    enforce runs at admission for dry-runs too, so this is the decision K3s would take."""
    objects = [o for docs in built.values() for o in docs]
    templates = list(pod_templates(objects))
    assert len(templates) >= 4, templates  # api and icons in dev and prod at least
    rejected = []
    for owner, namespace, template in templates:
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "psa-probe-" + owner.split("/")[1], "namespace": namespace,
                            "labels": template.get("metadata", {}).get("labels", {})},
               "spec": copy.deepcopy(template["spec"])}
        status, body, warnings = cp_api.create(pod, dry_run=True)
        if status != 201 or warnings:
            rejected.append("%s in %s: HTTP %s %s %s" % (owner, namespace, status, body.get("message") if isinstance(body, dict) else body, warnings))
    assert not rejected, "\n".join(rejected)


def test_pod_security_rejects_a_non_compliant_pod(cp_api, built):
    """Negative control: the same namespaces refuse a pod that breaks the restricted profile."""
    namespace = next(o for o in built["overlays/prod"] if o["kind"] == "Namespace")["metadata"]["name"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "psa-negative", "namespace": namespace},
           "spec": {"containers": [{"name": "c", "image": "example.invalid/x:1", "securityContext": {"privileged": True}}]}}
    status, body, _warnings = cp_api.create(pod, dry_run=True)
    assert status == 403, (status, body)
    assert 'violates PodSecurity "restricted:latest"' in body["message"], body["message"]
    assert "privileged" in body["message"]


def test_unlabelled_namespace_gets_restricted_from_the_admission_defaults(cp_api):
    """The k3s role's psa.yaml sets restricted as the default level: a namespace without labels (like
    the ones the helm-controller creates) enforces it too; kube-system is exempt."""
    ensure_namespace(cp_api, "cp-psa-unlabelled")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "psa-default", "namespace": "cp-psa-unlabelled"},
           "spec": {"containers": [{"name": "c", "image": "example.invalid/x:1"}]}}
    status, body, _warnings = cp_api.create(pod, dry_run=True)
    assert status == 403 and "restricted:latest" in body["message"], (status, body)
    pod["metadata"]["namespace"] = "kube-system"
    status, body, _warnings = cp_api.create(pod, dry_run=True)
    assert status == 201, (status, body)


def test_crd_cel_rules_run_on_the_server(cp_api, platform_manifests):
    """CEL (x-kubernetes-validations) is checked by the server only: the CloudNativePG Cluster the cnpg
    role renders, given both imageName and imageCatalogRef, is refused by the CRD's rule."""
    cluster = next(o for o in platform_manifests["cnpg-cluster.yaml"] if o["kind"] == "Cluster")
    broken = copy.deepcopy(cluster)
    broken["spec"]["imageName"] = "ghcr.io/cloudnative-pg/postgresql:17"
    broken["spec"]["imageCatalogRef"] = {"apiGroup": "postgresql.cnpg.io", "kind": "ImageCatalog", "name": "x", "major": 17}
    status, body, _warnings = cp_api.apply(broken, dry_run=True)
    assert status == 422, (status, body)
    assert "imageName" in body["message"] and "imageCatalogRef" in body["message"], body["message"]


def test_strict_field_validation_reports_unknown_fields(cp_api, built):
    """Negative control for the apply tests above: an unknown field is an error that names its path.
    Seen on v1.32.11: server-side apply refuses it with HTTP 500 'failed to create typed patch object
    ... field not declared in schema'; a create with fieldValidation=Strict with HTTP 400 'strict decoding
    error: unknown field'."""
    deployment = copy.deepcopy(next(o for o in built["overlays/prod"] if o["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["resourcez"] = {}
    status, body, _warnings = cp_api.apply(deployment, dry_run=True)
    assert status == 500, (status, body)
    assert '.spec.template.spec.containers[name="api"].resourcez: field not declared in schema' in body["message"], body["message"]
    deployment["metadata"]["name"] = "strict-probe"
    status, body, _warnings = cp_api.create(deployment, dry_run=True)
    assert status == 400, (status, body.get("message"))
    assert 'strict decoding error: unknown field "spec.template.spec.containers[0].resourcez"' in body["message"], body["message"]
