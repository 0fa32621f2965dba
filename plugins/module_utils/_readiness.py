# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness evaluation of the platform bootstrap, from objects read off the Kubernetes API.

PRIVATE to the parametric_portal.infra collection: this module is not a public API and may
change at any time without notice. The platform_status module (the one readiness path of the
platform roles, with its bounded wait) and the platform_readiness filter are thin wrappers around
evaluate() and wait(); verify.yml's Argo CD rows use application_status() too, so one evaluator
decides an Application's health everywhere.

The evaluators are pure: they take the dicts the Kubernetes API returns (``resources``) and never
talk to a cluster, so they are unit tested against hand-written API objects stored as JSON.
wait() polls a reader function it is given (the module passes one that reads the API).

What "ready" means, per kind:

* HelmChart (helm.cattle.io/v1, K3s helm-controller): the install Job the controller creates
  (``status.jobName``, by convention ``helm-install-<name>`` in the HelmChart's namespace) has
  the condition ``Complete=True``. The Job condition ``Failed=True`` (e.g. BackoffLimitExceeded)
  or the HelmChart condition ``Failed=True`` (failurePolicy abort) is terminal: "failed".
* Application (argoproj.io/v1alpha1): ``status.sync.status == Synced`` and
  ``status.health.status == Healthy``. An ``InvalidSpecError`` condition is terminal; sync errors
  and a Degraded health are reported but waited on (automated sync retries).
* Cluster (postgresql.cnpg.io/v1): ``status.phase == "Cluster in healthy state"`` and
  ``status.readyInstances`` equals ``spec.instances``; with ``require_wal_archiving`` the condition
  ``ContinuousArchiving`` must not be False (WAL archiving to the object store works).
* Job (batch/v1): the Job itself, as for HelmChart.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

READY = "ready"
PENDING = "pending"
FAILED = "failed"

KINDS = ("HelmChart", "Application", "Cluster", "Job")
API_VERSIONS = {"HelmChart": "helm.cattle.io/v1", "Application": "argoproj.io/v1alpha1",
                "Cluster": "postgresql.cnpg.io/v1", "Job": "batch/v1"}

CNPG_HEALTHY_PHASE = "Cluster in healthy state"


def _d(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _conditions(obj: Any) -> Dict[str, dict]:
    """status.conditions as a dict keyed by type (the last entry of a type wins)."""
    out = {}
    for cond in _d(obj).get("status", {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type"):
            out[str(cond["type"])] = cond
    return out


def _is_true(cond: Optional[dict]) -> bool:
    return bool(cond) and str(cond.get("status", "")).lower() == "true"


def _is_false(cond: Optional[dict]) -> bool:
    return bool(cond) and str(cond.get("status", "")).lower() == "false"


def _reason(cond: dict) -> str:
    parts = [str(cond[k]) for k in ("reason", "message") if cond.get(k)]
    return ": ".join(parts) if parts else "no reason given"


def _component(kind: str, name: str, state: str, message: str) -> dict:
    return {"kind": kind, "name": name, "state": state, "ready": state == READY, "message": message}


def _index(resources: Optional[Iterable[Any]]) -> Dict[str, dict]:
    out = {}
    for obj in resources or []:
        name = _d(_d(obj).get("metadata")).get("name")
        if name:
            out[str(name)] = obj
    return out


def job_status(job: Optional[dict], name: str, what: str = "Job") -> dict:
    """State of a batch/v1 Job (name is the Job's name)."""
    if not job:
        return _component("Job", name, PENDING, "%s %s does not exist yet" % (what, name))
    conds = _conditions(job)
    status = _d(job.get("status"))
    if _is_true(conds.get("Complete")) or (status.get("succeeded") or 0) > 0 and not _is_true(conds.get("Failed")):
        return _component("Job", name, READY, "%s %s completed" % (what, name))
    if _is_true(conds.get("Failed")):
        return _component("Job", name, FAILED, "%s %s failed (%s); read its log: kubectl -n %s logs job/%s" % (
            what, name, _reason(conds["Failed"]), _d(job.get("metadata")).get("namespace", "kube-system"), name))
    return _component("Job", name, PENDING, "%s %s still running (active %s, failed attempts %s)" % (
        what, name, status.get("active") or 0, status.get("failed") or 0))


def helmchart_status(helmchart: Optional[dict], job: Optional[dict], name: str) -> dict:
    """State of a K3s HelmChart from the HelmChart object (may be None) and its install Job."""
    job_name = _d(_d(helmchart).get("status")).get("jobName") or "helm-install-%s" % name
    if _is_true(_conditions(helmchart).get("Failed")):
        return _component("HelmChart", name, FAILED, "HelmChart %s failed: %s" % (
            name, _reason(_conditions(helmchart)["Failed"])))
    if helmchart is None and job is None:
        return _component("HelmChart", name, PENDING,
                          "HelmChart %s and its install Job %s do not exist yet (K3s has not applied the manifest)" % (name, job_name))
    result = job_status(job, job_name, what="install Job of HelmChart %s:" % name)
    return _component("HelmChart", name, result["state"], result["message"])


def application_status(app: Optional[dict], name: str) -> dict:
    """State of an Argo CD Application."""
    if not app:
        return _component("Application", name, PENDING, "Application %s does not exist yet" % name)
    status = _d(app.get("status"))
    sync = _d(status.get("sync")).get("status") or "Unknown"
    health = _d(status.get("health")).get("status") or "Unknown"
    conds = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    if any(c.get("type") == "InvalidSpecError" for c in conds):
        msg = "; ".join(str(c.get("message", "")) for c in conds if c.get("type") == "InvalidSpecError")
        return _component("Application", name, FAILED, "Application %s has an invalid spec: %s" % (name, msg))
    if sync == "Synced" and health == "Healthy":
        return _component("Application", name, READY, "Application %s is Synced and Healthy" % name)
    details = ["sync %s" % sync, "health %s" % health]
    health_msg = _d(status.get("health")).get("message")
    if health_msg:
        details.append("health message: %s" % health_msg)
    op = _d(status.get("operationState"))
    if op.get("phase") in ("Failed", "Error"):
        details.append("last sync %s: %s" % (op["phase"], op.get("message", "")))
    for cond in conds:
        if str(cond.get("type", "")).endswith("Error") or str(cond.get("type", "")).endswith("Warning"):
            details.append("%s: %s" % (cond.get("type"), cond.get("message", "")))
    return _component("Application", name, PENDING, "Application %s is not ready (%s)" % (name, "; ".join(details)))


def cnpg_cluster_status(cluster: Optional[dict], name: str, require_wal_archiving: bool = True) -> dict:
    """State of a CloudNativePG Cluster."""
    if not cluster:
        return _component("Cluster", name, PENDING, "CNPG Cluster %s does not exist yet" % name)
    status = _d(cluster.get("status"))
    phase = status.get("phase") or "no phase reported yet"
    wanted = _d(cluster.get("spec")).get("instances") or 1
    ready_instances = status.get("readyInstances") or 0
    conds = _conditions(cluster)
    if phase != CNPG_HEALTHY_PHASE or ready_instances < wanted:
        reason = status.get("phaseReason")
        return _component("Cluster", name, PENDING, "CNPG Cluster %s: phase %r%s, %s/%s instances ready" % (
            name, phase, " (%s)" % reason if reason else "", ready_instances, wanted))
    archiving = conds.get("ContinuousArchiving")
    if require_wal_archiving and _is_false(archiving):
        return _component("Cluster", name, PENDING, "CNPG Cluster %s is healthy but WAL archiving fails: %s" % (
            name, _reason(archiving)))
    return _component("Cluster", name, READY, "CNPG Cluster %s is healthy (%s/%s instances ready%s)" % (
        name, ready_instances, wanted, ", WAL archiving works" if _is_true(archiving) else ""))


def evaluate(kind: str, names: Iterable[str], resources: Optional[Iterable[Any]] = None,
             jobs: Optional[Iterable[Any]] = None, require_wal_archiving: bool = True) -> dict:
    """Readiness report for the named objects of one kind.

    :param kind: one of KINDS.
    :param names: object names that must be ready (an empty list is an error: nothing to check).
    :param resources: objects of that kind (k8s_info ``resources``); for HelmChart optional.
    :param jobs: for HelmChart, the install Jobs (k8s_info ``resources`` of kind Job).
    :returns: dict with ``ready`` (all ready), ``failed`` (any terminal failure), ``done``
              (ready or failed: stop waiting), ``components`` (one entry per name, in order),
              ``pending`` (messages of components not ready) and ``msg`` (one line summary).
    """
    if kind not in KINDS:
        raise ValueError("kind must be one of %s, got %r" % (", ".join(KINDS), kind))
    names = [str(n) for n in names or []]
    if not names:
        raise ValueError("names must list at least one %s to check" % kind)
    objects = _index(resources)
    job_objects = _index(jobs)
    components = []
    for name in names:
        if kind == "HelmChart":
            chart = objects.get(name)
            job_name = _d(_d(chart).get("status")).get("jobName") or "helm-install-%s" % name
            components.append(helmchart_status(chart, job_objects.get(job_name), name))
        elif kind == "Application":
            components.append(application_status(objects.get(name), name))
        elif kind == "Cluster":
            components.append(cnpg_cluster_status(objects.get(name), name, require_wal_archiving))
        else:
            components.append(job_status(objects.get(name), name))
    not_ready = [c for c in components if not c["ready"]]
    failed = any(c["state"] == FAILED for c in components)
    ready = not not_ready
    if ready:
        msg = "%s ready: %s" % (kind, ", ".join(names))
    else:
        msg = "%d of %d %s not ready: %s" % (len(not_ready), len(components), kind, " | ".join(c["message"] for c in not_ready))
    return {
        "kind": kind,
        "ready": ready,
        "failed": failed,
        "done": ready or failed,
        "components": components,
        "pending": [c["message"] for c in not_ready],
        "msg": msg,
    }


Reader = Callable[[], Tuple[List[dict], List[dict]]]


def wait(read: Reader, kind: str, names: Iterable[str], timeout: float, sleep: float,
         require_wal_archiving: bool = True, clock: Callable[[], float] = time.monotonic,
         pause: Callable[[float], None] = time.sleep) -> dict:
    """Poll ``read()`` -> (resources, jobs) until the report is done (ready or failed) or ``timeout`` passed.

    A read that raises (API not reachable yet, CRD not installed yet) counts as a pending poll; its
    message is kept. Returns the last report plus ``polls``, ``waited`` (seconds) and ``timed_out``.
    """
    names = list(names)
    start = clock()
    polls = 0
    while True:
        polls += 1
        try:
            resources, jobs = read()
            report = evaluate(kind, names, resources, jobs, require_wal_archiving)
        except (OSError, RuntimeError, LookupError) as exc:  # what the API client raises while it cannot read
            report = _unreadable(kind, names, exc)
        waited = clock() - start
        if report["done"] or waited >= timeout:
            return dict(report, polls=polls, waited=round(waited, 1), timed_out=not report["done"])
        pause(max(0.0, min(sleep, timeout - waited)))


def _unreadable(kind: str, names: List[str], exc: Exception) -> dict:
    message = "%s %s could not be read yet: %s" % (kind, ", ".join(names), exc)
    components = [_component(kind, name, PENDING, message) for name in names]
    return {"kind": kind, "ready": False, "failed": False, "done": False, "components": components,
            "pending": [message], "msg": message}
