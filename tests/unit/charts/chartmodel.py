"""What rendering the real charts taught us, as data the unit tests evaluate without Helm.

For every chart the collection configures, the pods it deploys with OUR values (components), and for
each the values paths its templates read for the pod securityContext, each container's
securityContext, resources and image, and the replica count. This was read from the charts' templates
at the pinned versions and checked against `helm template` output (every rendered pod template
matches this model: same component set, same securityContext/resources/image as predicted from the
merged values). Chart code is not in this repository; the charts' declared defaults
(values.yaml) are read from PP_SHARED_DIR/charts, and merged with our values the way Helm does.

A component is deployed only when its `when` values path is true (None: always). Hooks run as
Jobs/Pods around installs and upgrades (Helm hooks, which Argo CD maps to sync hooks); they are
checked like every pod but are not part of the steady-state resource budget.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

Path = str  # dotted values path, e.g. "controller.resources"


# --------------------------------------------------------------------------------------------
# Helm's value semantics
# --------------------------------------------------------------------------------------------
def merge(base: Any, override: Any) -> Any:
    """Helm's coalescing of two values layers: maps merge recursively, anything else replaces, and a
    null in the override deletes the key."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = copy.deepcopy(base)
        for key, value in override.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def get(values: Any, path: Optional[Path], default: Any = None) -> Any:
    if path is None:
        return default
    node = values
    for key in path.split("."):
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return default
    return node


def _all(values: Any, paths: Union[Path, Tuple[Path, ...], None]) -> bool:
    paths = (paths,) if isinstance(paths, str) else (paths or ())
    for path in paths:
        if "==" in path:
            path, expected = path.split("==", 1)
            if str(get(values, path)) != expected:
                return False
        elif not get(values, path):
            return False
    return True


def has(values: Any, path: Path) -> bool:
    sentinel = object()
    return get(values, path, sentinel) is not sentinel


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Image:
    """How a template builds the image reference, and which values paths name its version."""
    fmt: str                       # e.g. "{registry}/{repository}:{tag}"
    fields: Dict[str, Any]         # placeholder -> values path, or a tuple of paths (first non-empty wins)
    version_paths: Tuple[Path, ...]  # the paths that must be set in OUR values for a pin
    defaults: Dict[str, str] = field(default_factory=dict)  # template fallbacks (e.g. appVersion)

    def render(self, values: dict) -> str:
        parts = {}
        for name, paths in self.fields.items():
            value = None
            for path in (paths,) if isinstance(paths, str) else paths:
                value = get(values, path)
                if value not in (None, ""):
                    break
            if value in (None, ""):
                value = self.defaults.get(name, "")
            parts[name] = str(value)
        text = self.fmt.format(**parts)
        return text[1:] if text.startswith("/") else text


@dataclass(frozen=True)
class Container:
    name: str
    resources: Path
    image: Image
    sc: Optional[Path] = None             # values path of the container securityContext
    sc_drop: Tuple[str, ...] = ()         # keys the template omits (e.g. "enabled")
    sc_when: Union[Path, Tuple[Path, ...], None] = None  # the securityContext is rendered only if these are true
    init: bool = False


@dataclass(frozen=True)
class Component:
    pod: str                               # "<Kind>/<name>" as rendered (release names of the collection)
    containers: Tuple[Container, ...]
    pod_sc: Union[Path, Tuple[Path, ...], None] = None  # first non-empty of these paths
    pod_sc_base: Optional[Path] = None     # merged under pod_sc (Mimir: rbac.podSecurityContext)
    pod_sc_drop: Tuple[str, ...] = ()
    pod_sc_when: Union[Path, Tuple[Path, ...], None] = None
    replicas: Union[Path, int] = 1
    when: Union[Path, Tuple[Path, ...], None] = None  # all must be true
    hook: Optional[str] = None             # helm.sh/hook value for hook Jobs/Pods
    chart: str = ""                        # LGTM: the subchart alias whose values the paths refer to
    never: str = ""                        # why our values must keep this component off (it cannot be made
    #                                        restricted through values, or is not needed); tests assert it is off

    def enabled(self, values: dict) -> bool:
        return _all(values, self.when)

    def replica_count(self, values: dict) -> int:
        if isinstance(self.replicas, int):
            return self.replicas
        value = get(values, self.replicas)
        return 1 if value is None else int(value)

    def pod_security_context(self, values: dict) -> dict:
        if not _all(values, self.pod_sc_when):
            return {}
        paths = (self.pod_sc,) if isinstance(self.pod_sc, str) else (self.pod_sc or ())
        found: dict = {}
        for path in paths:
            value = get(values, path)
            if value:
                found = value
                break
        if self.pod_sc_base:
            found = merge(get(values, self.pod_sc_base) or {}, found)
        return {k: v for k, v in found.items() if k not in self.pod_sc_drop}

    def pod_spec(self, values: dict) -> dict:
        """The pod spec this component renders to, as far as securityContext/resources/image go."""
        spec: Dict[str, Any] = {"securityContext": self.pod_security_context(values)}
        for container in self.containers:
            sc = {}
            if container.sc and _all(values, container.sc_when):
                sc = {k: v for k, v in (get(values, container.sc) or {}).items() if k not in container.sc_drop}
            rendered = {"name": container.name, "image": container.image.render(values),
                        "securityContext": sc, "resources": get(values, container.resources) or {}}
            spec.setdefault("initContainers" if container.init else "containers", []).append(rendered)
        return spec


def _img(fmt: str, defaults: Optional[Dict[str, str]] = None, version: Sequence[str] = ("tag",), **fields: Any) -> Image:
    paths: List[str] = []
    for name in version:
        paths.extend((fields[name],) if isinstance(fields[name], str) else fields[name])
    return Image(fmt, dict(fields), tuple(paths), dict(defaults or {}))


# ---------------------------------------------------------------- Traefik (K3s-bundled chart)
TRAEFIK_IMAGE = _img("{repository}:{tag}", repository="image.repository", tag="image.tag")
TRAEFIK = (
    Component("Deployment/traefik", replicas="deployment.replicas", pod_sc="podSecurityContext",
              containers=(Container("traefik", "resources", TRAEFIK_IMAGE, sc="securityContext"),)),
)

# ---------------------------------------------------------------- Argo CD 7.8.28


def _argo(component: str) -> Image:
    """Every Argo CD component (named for readability) takes the global image."""
    del component
    return _img("{repository}:{tag}", repository="global.image.repository", tag="global.image.tag")


ARGOCD = (
    Component("StatefulSet/argocd-application-controller", replicas="controller.replicas",
              pod_sc="global.securityContext",
              containers=(Container("application-controller", "controller.resources", _argo("controller"),
                                    sc="controller.containerSecurityContext"),)),
    Component("Deployment/argocd-repo-server", replicas="repoServer.replicas", pod_sc="global.securityContext",
              containers=(Container("copyutil", "repoServer.resources", _argo("repoServer"),
                                    sc="repoServer.containerSecurityContext", init=True),
                          Container("repo-server", "repoServer.resources", _argo("repoServer"),
                                    sc="repoServer.containerSecurityContext"))),
    Component("Deployment/argocd-server", replicas="server.replicas", pod_sc="global.securityContext",
              containers=(Container("server", "server.resources", _argo("server"),
                                    sc="server.containerSecurityContext"),)),
    Component("Deployment/argocd-applicationset-controller", replicas="applicationSet.replicas",
              pod_sc="global.securityContext",
              containers=(Container("applicationset-controller", "applicationSet.resources", _argo("applicationSet"),
                                    sc="applicationSet.containerSecurityContext"),)),
    Component("Deployment/argocd-redis", pod_sc="redis.securityContext", when="redis.enabled",
              containers=(Container("redis", "redis.resources",
                                    _img("{repository}:{tag}", repository="redis.image.repository", tag="redis.image.tag"),
                                    sc="redis.containerSecurityContext"),)),
    Component("Job/argocd-redis-secret-init", pod_sc="redisSecretInit.securityContext", hook="pre-install,pre-upgrade",
              when="redisSecretInit.enabled",
              containers=(Container("secret-init", "redisSecretInit.resources", _argo("redisSecretInit"),
                                    sc="redisSecretInit.containerSecurityContext"),)),
)

# ---------------------------------------------------------------- Sealed Secrets 2.17.1
SEALED_SECRETS = (
    Component("Deployment/sealed-secrets-controller", pod_sc="podSecurityContext", pod_sc_drop=("enabled",),
              pod_sc_when="podSecurityContext.enabled",
              containers=(Container("controller", "resources",
                                    _img("{registry}/{repository}:{tag}", registry="image.registry",
                                         repository="image.repository", tag="image.tag"),
                                    sc="containerSecurityContext", sc_drop=("enabled",),
                                    sc_when="containerSecurityContext.enabled"),)),
)

# ---------------------------------------------------------------- CloudNativePG chart 0.27.0
CNPG = (
    Component("Deployment/cnpg-controller-manager", replicas="replicaCount", pod_sc="podSecurityContext",
              containers=(Container("manager", "resources",
                                    _img("{repository}:{tag}", {"tag": "1.28.0"}, repository="image.repository",
                                         tag="image.tag"),
                                    sc="containerSecurityContext"),)),
)

# ---------------------------------------------------------------- Kyverno chart 3.6.1


def _kyv(registry: Path, repository: Path, tag: Path) -> Image:
    image = registry.rsplit(".", 1)[0]
    return _img("{registry}/{repository}:{tag}", {"tag": "v1.16.1"},
                registry=(registry, "global.image.registry", image + ".defaultRegistry"), repository=repository, tag=tag)


KYVERNO = (
    Component("Deployment/kyverno-admission-controller", replicas="admissionController.replicas",
              pod_sc="admissionController.podSecurityContext",
              containers=(
                  Container("kyverno-pre", "admissionController.initContainer.resources",
                            _kyv("admissionController.initContainer.image.registry",
                                 "admissionController.initContainer.image.repository",
                                 "admissionController.initContainer.image.tag"),
                            sc="admissionController.initContainer.securityContext", init=True),
                  Container("kyverno", "admissionController.container.resources",
                            _kyv("admissionController.container.image.registry",
                                 "admissionController.container.image.repository",
                                 "admissionController.container.image.tag"),
                            sc="admissionController.container.securityContext"))),
) + tuple(
    Component("Deployment/kyverno-%s-controller" % name, replicas="%sController.replicas" % name,
              pod_sc="%sController.podSecurityContext" % name, when="%sController.enabled" % name,
              containers=(Container("controller", "%sController.resources" % name,
                                    _kyv("%sController.image.registry" % name, "%sController.image.repository" % name,
                                         "%sController.image.tag" % name),
                                    sc="%sController.securityContext" % name),))
    for name in ("background", "cleanup", "reports")
) + (
    Component("Job/kyverno-migrate-resources", pod_sc="crds.migration.podSecurityContext", hook="post-upgrade",
              when="crds.migration.enabled",
              containers=(Container("kubectl", "crds.migration.podResources",
                                    _kyv("crds.migration.image.registry", "crds.migration.image.repository",
                                         "crds.migration.image.tag"),
                                    sc="crds.migration.securityContext"),)),
) + tuple(
    Component("Job/kyverno-%s" % job, pod_sc="webhooksCleanup.podSecurityContext", hook="pre-delete",
              when="webhooksCleanup.enabled",
              containers=(Container("kubectl", "webhooksCleanup.resources",
                                    _kyv("webhooksCleanup.image.registry", "webhooksCleanup.image.repository",
                                         "webhooksCleanup.image.tag"),
                                    sc="webhooksCleanup.securityContext"),))
    for job in ("rm-mutatingwhconfig", "rm-validatingwhconfig", "scale-to-zero")
) + tuple(
    Component("Pod/kyverno-%s" % test, hook="test",
              containers=(Container("test", "test.resources",
                                    _img("{registry}/{repository}:{tag}", registry="test.image.registry",
                                         repository="test.image.repository", tag="test.image.tag"),
                                    sc="test.securityContext"),))
    for test in ("admission-controller-metrics", "cleanup-controller-liveness", "cleanup-controller-metrics",
                 "cleanup-controller-readiness", "reports-controller-metrics")
)

# ---------------------------------------------------------------- LGTM distributed 3.0.1
# Subcharts (alias -> directory under lgtm-distributed-3.0.1/charts, parent alias). Mimir 5.8.0 and the
# MinIO chart it bundles are not in shared/charts (their repository was too large to obtain there):
# for them our values must name every setting the tests check (no chart default is assumed).
LGTM_SUBCHARTS = {
    "grafana": ("grafana", None),
    "loki": ("loki-distributed", None),
    "tempo": ("tempo-distributed", None),
    "mimir": ("mimir-distributed", None),
    "minio": ("mimir-distributed/charts/minio", "mimir"),
}
LGTM_WITHOUT_SHARED_DEFAULTS = ("mimir", "minio")


def lgtm_subchart_values(alias: str, defaults_of: Callable[[str], dict], umbrella_defaults: dict, ours: dict) -> dict:
    """Values a subchart sees: its defaults < the umbrella's section < ours, plus the parent's globals."""
    def section(doc: dict, key: str) -> dict:
        return (doc or {}).get(key) or {}

    parent = LGTM_SUBCHARTS[alias][1]
    if parent is None:
        layers = [defaults_of(alias), section(umbrella_defaults, alias), section(ours, alias)]
        globals_ = merge(section(umbrella_defaults, "global"), section(ours, "global"))
    else:
        parent_defaults = defaults_of(parent)
        layers = [defaults_of(alias), section(parent_defaults, alias), section(section(umbrella_defaults, parent), alias),
                  section(section(ours, parent), alias)]
        globals_ = merge(section(umbrella_defaults, "global"), section(ours, "global"))
    out: dict = {}
    for layer in layers:
        out = merge(out, layer)
    if globals_:
        out["global"] = merge(out.get("global") or {}, globals_)
    return out


def lgtm_effective_values(defaults_of: Callable[[str], dict], ours: dict) -> Callable[["Component"], dict]:
    umbrella = defaults_of("lgtm")
    cache = {alias: lgtm_subchart_values(alias, defaults_of, umbrella, ours) for alias in LGTM_SUBCHARTS}
    return lambda component: cache[component.chart]


def _grafana_image(prefix: str) -> Image:
    return _img("{registry}/{repository}:{tag}", {"tag": "12.2.1"}, registry=("global.imageRegistry", prefix + ".registry"),
                repository=prefix + ".repository", tag=prefix + ".tag")


GRAFANA = (
    Component("Deployment/lgtm-grafana", chart="grafana", replicas="replicas", pod_sc="securityContext",
              containers=(Container("grafana-sc-dashboard", "sidecar.resources", _grafana_image("sidecar.image"),
                                    sc="sidecar.securityContext"),
                          Container("grafana", "resources", _grafana_image("image"), sc="containerSecurityContext"))),
    Component("Pod/lgtm-grafana-test", chart="grafana", hook="test", when="testFramework.enabled",
              pod_sc="testFramework.securityContext",
              containers=(Container("lgtm-test", "testFramework.resources", _grafana_image("testFramework.image"),
                                    sc="testFramework.containerSecurityContext"),)),
)


def _loki_image(component: str) -> Image:
    return _img("{registry}/{repository}:{tag}", {"tag": "2.9.13"},
                registry=("global.image.registry", component + ".image.registry", "loki.image.registry"),
                repository=(component + ".image.repository", "loki.image.repository"),
                tag=(component + ".image.tag", "loki.image.tag"))


LOKI = tuple(
    Component("%s/lgtm-loki-%s" % (kind, name), chart="loki", replicas=section + ".replicas",
              pod_sc="loki.podSecurityContext", when=when,
              containers=(Container(container, section + ".resources", _loki_image(section),
                                    sc="loki.containerSecurityContext"),))
    for kind, name, section, container, when in (
        ("StatefulSet", "ingester", "ingester", "ingester", None),
        ("Deployment", "distributor", "distributor", "distributor", None),
        ("StatefulSet", "querier", "querier", "querier", None),
        ("Deployment", "query-frontend", "queryFrontend", "query-frontend", None),
        ("Deployment", "query-scheduler", "queryScheduler", "query-scheduler", "queryScheduler.enabled"),
        ("StatefulSet", "compactor", "compactor", "compactor", "compactor.enabled"),
        ("StatefulSet", "ruler", "ruler", "ruler", "ruler.enabled"),
        ("StatefulSet", "index-gateway", "indexGateway", "index-gateway", "indexGateway.enabled"),
    )
) + (
    Component("Deployment/lgtm-loki-gateway", chart="loki", replicas="gateway.replicas", when="gateway.enabled",
              pod_sc="gateway.podSecurityContext",
              containers=(Container("nginx", "gateway.resources",
                                    _img("{registry}/{repository}:{tag}",
                                         registry=("global.image.registry", "gateway.image.registry"),
                                         repository="gateway.image.repository", tag="gateway.image.tag"),
                                    sc="gateway.containerSecurityContext"),)),
)


def _tempo_image(component: str, default_tag: str = "2.9.0") -> Image:
    return _img("{registry}/{repository}:{tag}", {"tag": default_tag},
                registry=("global.image.registry", component + ".image.registry", "tempo.image.registry"),
                repository=(component + ".image.repository", "tempo.image.repository"),
                tag=(component + ".image.tag", "tempo.image.tag"))


TEMPO = tuple(
    Component("%s/lgtm-tempo-%s" % (kind, name), chart="tempo", replicas=section + ".replicas",
              pod_sc="tempo.podSecurityContext", when=when,
              containers=(Container(container, section + ".resources", _tempo_image(section),
                                    sc="tempo.securityContext"),))
    for kind, name, section, container, when in (
        ("StatefulSet", "ingester", "ingester", "ingester", None),
        ("Deployment", "distributor", "distributor", "distributor", None),
        ("Deployment", "querier", "querier", "querier", None),
        ("Deployment", "query-frontend", "queryFrontend", "query-frontend", None),
        ("Deployment", "compactor", "compactor", "compactor", None),
        ("Deployment", "metrics-generator", "metricsGenerator", "metrics-generator", "metricsGenerator.enabled"),
    )
) + (
    Component("StatefulSet/lgtm-tempo-memcached", chart="tempo", replicas="memcached.replicas", when="memcached.enabled",
              pod_sc="tempo.podSecurityContext",
              containers=(Container("memcached", "memcached.resources",
                                    _img("{registry}/{repository}:{tag}",
                                         registry=("global.image.registry", "memcached.image.registry",
                                                   "tempo.image.registry"),
                                         repository="memcached.image.repository", tag="memcached.image.tag"),
                                    sc="tempo.securityContext"),)),
)


def _mimir_image(component: str) -> Image:
    return _img("{repository}:{tag}", repository=(component + ".image.repository", "image.repository"),
                tag=(component + ".image.tag", "image.tag"))


MIMIR = tuple(
    Component("%s/lgtm-mimir-%s" % (kind, name), chart="mimir", replicas=section + ".replicas",
              pod_sc=(section + ".securityContext", section + ".podSecurityContext"),
              pod_sc_base="rbac.podSecurityContext", when=when,
              containers=(Container(container, section + ".resources", _mimir_image(section),
                                    sc=section + ".containerSecurityContext"),))
    for kind, name, section, container, when in (
        ("StatefulSet", "ingester", "ingester", "ingester", None),
        ("Deployment", "distributor", "distributor", "distributor", None),
        ("Deployment", "querier", "querier", "querier", None),
        ("Deployment", "query-frontend", "query_frontend", "query-frontend", None),
        ("Deployment", "query-scheduler", "query_scheduler", "query-scheduler", "query_scheduler.enabled"),
        ("StatefulSet", "store-gateway", "store_gateway", "store-gateway", None),
        ("StatefulSet", "compactor", "compactor", "compactor", None),
        ("StatefulSet", "alertmanager", "alertmanager", "alertmanager", "alertmanager.enabled"),
        ("Deployment", "ruler", "ruler", "ruler", "ruler.enabled"),
        ("Deployment", "overrides-exporter", "overrides_exporter", "overrides-exporter", "overrides_exporter.enabled"),
    )
) + (
    Component("Deployment/lgtm-mimir-nginx", chart="mimir", replicas="nginx.replicas", when="nginx.enabled",
              pod_sc=("nginx.securityContext", "nginx.podSecurityContext"), pod_sc_base="rbac.podSecurityContext",
              containers=(Container("nginx", "nginx.resources",
                                    _img("{registry}/{repository}:{tag}", registry="nginx.image.registry",
                                         repository="nginx.image.repository", tag="nginx.image.tag"),
                                    sc="nginx.containerSecurityContext"),)),
    Component("Deployment/lgtm-rollout-operator", chart="mimir", when="rollout_operator.enabled",
              never="only needed for zone-aware replication, which a single node does not use",
              containers=(Container("rollout-operator", "rollout_operator.resources",
                                    _img("{repository}:{tag}", repository="rollout_operator.image.repository",
                                         tag="rollout_operator.image.tag")),)),
    Component("Job/lgtm-mimir-make-minio-buckets-5.4.0", chart="mimir", when=("minio.enabled", "minio.buckets"),
              never="the template renders no container securityContext and only runAsUser/runAsGroup/fsGroup on "
                    "the pod, so PSS restricted refuses it; our own Job (extraObjects) creates the buckets",
              containers=(Container("minio-mc", "minio.makeBucketJob.resources",
                                    _img("{repository}:{tag}", repository="minio.mcImage.repository",
                                         tag="minio.mcImage.tag")),)),
    Component("Job/lgtm-mimir-smoke-test", chart="mimir", hook="test",
              pod_sc=("smoke_test.securityContext", "smoke_test.podSecurityContext"), pod_sc_base="rbac.podSecurityContext",
              containers=(Container("smoke-test", "smoke_test.resources", _mimir_image("smoke_test")),)),
    # Our own bucket Job (mimir.extraObjects[0]): the charts' bucket jobs cannot be made restricted.
    Component("Job/lgtm-minio-buckets", chart="mimir", pod_sc="extraObjects.0.spec.template.spec.securityContext",
              when="extraObjects.0",
              containers=(Container("mc", "extraObjects.0.spec.template.spec.containers.0.resources",
                                    _img("{image}", image="extraObjects.0.spec.template.spec.containers.0.image",
                                         version=("image",)),
                                    sc="extraObjects.0.spec.template.spec.containers.0.securityContext"),)),
)

MINIO = (
    Component("Deployment/lgtm-minio", chart="minio", replicas=1, when="mode==standalone",
              pod_sc="securityContext", pod_sc_drop=("enabled",),
              pod_sc_when=("securityContext.enabled", "persistence.enabled"),
              containers=(Container("minio", "resources",
                                    _img("{repository}:{tag}", repository="image.repository", tag="image.tag"),
                                    sc="containerSecurityContext",
                                    sc_when=("securityContext.enabled", "persistence.enabled")),)),
)

MINIO += (
    Component("Job/lgtm-minio-post-job", chart="minio", hook="post-install,post-upgrade",
              when="buckets", never="bucket creation is our own Job; the chart's default user list holds a "
                                    "consoleAdmin user with a published password (console/console123)",
              containers=(Container("minio-make-bucket", "makeBucketJob.resources",
                                    _img("{repository}:{tag}", repository="mcImage.repository", tag="mcImage.tag")),)),
    Component("Job/lgtm-minio-post-job (users)", chart="minio", hook="post-install,post-upgrade",
              when="users", never="the chart's default user list creates console/console123 with consoleAdmin",
              containers=()),
)

LGTM = GRAFANA + LOKI + TEMPO + MIMIR + MINIO
