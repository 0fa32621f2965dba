# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one Argo CD Application generator: the tree's argocd/ folder and the argocd role's bootstrap objects.

PRIVATE to parametric_portal.infra. application() is the only place an Argo CD Application is written:
the tree's platform Applications (argocd_objects, rendered by gitops_render) and the bootstrap objects
the argocd role hands to K3s (bootstrap_objects, through the argocd_bootstrap filter) both use it, so
sync policy, retries and labels cannot drift apart.

Bootstrap (per cluster, from its inventory): the locked ``default`` AppProject, three AppProjects
(the root Application's, the platform's and the apps'), the root Application on the tree's argocd/
folder, and for exactly the environments this cluster deploys their Namespace (PSA restricted) and
Application on overlays/<env>. The apps' project permits only the namespaced kinds the tree uses, only in
those namespaces, and nothing cluster-scoped: nothing from the app tree can create cluster-scoped RBAC,
a Namespace, or touch kube-system.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.base import namespace
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.checks import (
    NAME_RE,
    check_keys,
    check_str,
    fail,
)
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.k8s import PART_OF, PART_OF_LABELS, meta

API = "argoproj.io/v1alpha1"
IN_CLUSTER = "https://kubernetes.default.svc"
RETRY = {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}
PROJECT_ROLES = ("bootstrap", "platform", "apps")
BOOTSTRAP_KEYS = ("namespace", "repo_url", "revision", "path", "root", "projects", "platform_source_repos",
                  "platform_namespaces", "environments", "environment_tables", "apps_namespace_resources")


def sync_policy(create_namespace: bool = False, server_side: bool = False) -> dict:
    """Automated sync with prune and self-heal, PruneLast, bounded retries."""
    options = []
    if create_namespace:
        options.append("CreateNamespace=true")
    if server_side:
        options.append("ServerSideApply=true")
    options.append("PruneLast=true")
    return {"automated": {"prune": True, "selfHeal": True}, "syncOptions": options, "retry": dict(RETRY)}


def git_source(argocd: Dict[str, Any], path: str) -> dict:
    """A path of the GitOps repository at the followed revision."""
    return {"repoURL": argocd["repo_url"], "targetRevision": argocd["revision"], "path": path}


def chart_source(part: Dict[str, Any]) -> dict:
    """Helm source of a platform Application from the owning role's chart pin and values."""
    return {"repoURL": part["chart_repo_url"], "chart": part["chart"], "targetRevision": part["chart_version"],
            "helm": {"releaseName": part["release"], "valuesObject": part["chart_values"]}}


def application(name: str, argocd: Dict[str, Any], source: dict, destination: str, wave: Optional[int] = None,
                **sync: bool) -> dict:
    """An Application in Argo CD's namespace and ``argocd["project"]``, deploying ``source`` into ``destination``."""
    annotations = None if wave is None else {"argocd.argoproj.io/sync-wave": str(wave)}
    return {
        "apiVersion": API, "kind": "Application",
        "metadata": meta(name, argocd["namespace"], dict(PART_OF_LABELS), annotations),
        "spec": {"project": argocd["project"], "source": source,
                 "destination": {"server": IN_CLUSTER, "namespace": destination},
                 "syncPolicy": sync_policy(**sync)},
    }


def argocd_objects(platform: Dict[str, Any]) -> Dict[str, List[dict]]:
    """argocd/ files: Kyverno and its policies, LGTM and its resources (the platform project's Applications).

    The environments' Applications are not here: each cluster's bootstrap holds exactly its own.
    """
    argocd, kyverno, mon = platform["argocd"], platform["kyverno"], platform["monitoring"]
    return {
        "kyverno.yaml": [application("kyverno", argocd, chart_source(kyverno), kyverno["namespace"], 0,
                                     create_namespace=True, server_side=True)],
        "kyverno-policies.yaml": [application("kyverno-policies", argocd, git_source(argocd, "infrastructure/platform/kyverno"),
                                              kyverno["namespace"], 1)],
        "monitoring.yaml": [application("monitoring", argocd, chart_source(mon), mon["namespace"], 1,
                                        create_namespace=True, server_side=True)],
        "monitoring-resources.yaml": [application("monitoring-resources", argocd,
                                                  git_source(argocd, "infrastructure/platform/monitoring"), mon["namespace"], 2)],
    }


def _project(name: str, settings: Dict[str, Any], description: str, repos: List[str], namespaces: List[str],
             cluster: List[dict], namespaced: Optional[List[dict]] = None) -> dict:
    spec: Dict[str, Any] = {
        "description": description,
        "sourceRepos": list(repos),
        "destinations": [{"server": IN_CLUSTER, "namespace": ns} for ns in namespaces],
        "clusterResourceWhitelist": list(cluster),
    }
    if namespaced is not None:
        spec["namespaceResourceWhitelist"] = list(namespaced)
    return {"apiVersion": API, "kind": "AppProject", "metadata": meta(name, settings["namespace"], dict(PART_OF_LABELS)),
            "spec": spec}


def _locked_default(settings: Dict[str, Any]) -> dict:
    """Argo CD's ``default`` project, locked: no source, no destination, no resource (Argo CD docs)."""
    return {"apiVersion": API, "kind": "AppProject", "metadata": meta("default", settings["namespace"], dict(PART_OF_LABELS)),
            "spec": {"description": "Locked: every Application of this platform names its own project.",
                     "sourceRepos": [], "sourceNamespaces": [], "destinations": [], "clusterResourceWhitelist": [],
                     "namespaceResourceBlacklist": [{"group": "*", "kind": "*"}]}}


def projects(settings: Dict[str, Any]) -> List[dict]:
    """The locked default project and the bootstrap, platform and apps projects of one cluster."""
    names = settings["projects"]
    repo = [settings["repo_url"]]
    return [
        _locked_default(settings),
        _project(names["bootstrap"], settings, "The root Application: Argo CD Applications in Argo CD's namespace only.",
                 repo, [settings["namespace"]], [], [{"group": "argoproj.io", "kind": "Application"}]),
        _project(names["platform"], settings, "The platform Applications of the tree's argocd/ folder (Kyverno, LGTM).",
                 repo + list(settings["platform_source_repos"]), settings["platform_namespaces"],
                 [{"group": "*", "kind": "*"}]),
        _project(names["apps"], settings, "The apps (overlays/<env>): the tree's namespaced kinds, in this cluster's "
                 "environment namespaces only; nothing cluster-scoped.",
                 repo, sorted(settings["environments"].values()), [], settings["apps_namespace_resources"]),
    ]


def validate_bootstrap(settings: Any) -> Dict[str, Any]:
    """Checked bootstrap settings (the argocd role's variables); errors name the key."""
    if not isinstance(settings, dict):
        fail("argocd_bootstrap", "must be a mapping")
    check_keys(settings, BOOTSTRAP_KEYS, "argocd_bootstrap")
    for key in BOOTSTRAP_KEYS:
        if key not in settings:
            fail("argocd_bootstrap.%s" % key, "is required")
    for key in ("namespace", "root"):
        check_str(settings[key], "argocd_bootstrap.%s" % key, NAME_RE, "a DNS label")
    if not isinstance(settings["projects"], dict) or sorted(settings["projects"]) != sorted(PROJECT_ROLES):
        fail("argocd_bootstrap.projects", "must name the %s projects" % ", ".join(PROJECT_ROLES))
    for role, name in settings["projects"].items():
        check_str(name, "argocd_bootstrap.projects.%s" % role, NAME_RE, "a DNS label")
        if name == "default":
            fail("argocd_bootstrap.projects.%s" % role, "must not be 'default' (it is locked)")
    return dict(settings, environments=_cluster_namespaces(settings))


def _cluster_namespaces(settings: Dict[str, Any]) -> Dict[str, str]:
    """Environment name -> namespace for exactly the environments this cluster deploys."""
    names, tables = settings["environments"], settings["environment_tables"]
    if not isinstance(names, list) or not names:
        fail("argocd_bootstrap.environments", "must list the environments this cluster deploys (infra_cluster_environments)")
    if not isinstance(tables, dict):
        fail("argocd_bootstrap.environment_tables", "must map environment names to environment tables (infra_environments)")
    out = {}
    for env in names:
        if env not in tables:
            fail("argocd_bootstrap.environments", "%r has no environment table (known: %s)" % (env, ", ".join(sorted(tables))))
        ns = check_str((tables[env] or {}).get("namespace") if isinstance(tables[env], dict) else None,
                       "argocd_bootstrap.environment_tables.%s.namespace" % env, NAME_RE, "a namespace name")
        if ns.startswith("kube-") or ns == settings["namespace"] or ns in out.values():
            fail("argocd_bootstrap.environment_tables.%s.namespace" % env, "namespace %r is reserved or used twice" % ns)
        out[env] = ns
    return out


def bootstrap_objects(settings: Any) -> List[dict]:
    """Everything the argocd role writes into argocd-bootstrap.yaml for one cluster, in apply order."""
    settings = validate_bootstrap(settings)
    argocd = {"namespace": settings["namespace"], "repo_url": settings["repo_url"], "revision": settings["revision"]}
    docs = projects(settings)
    root = dict(argocd, project=settings["projects"]["bootstrap"])
    docs.append(application(settings["root"], root, git_source(argocd, settings["path"]), settings["namespace"]))
    apps = dict(argocd, project=settings["projects"]["apps"])
    for env, ns in sorted(settings["environments"].items()):
        docs.append(namespace(ns))
        docs.append(application("%s-%s" % (PART_OF, env), apps, git_source(argocd, "infrastructure/overlays/%s" % env), ns))
    return docs
