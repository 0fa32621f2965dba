# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private core of the ``cnpg`` backup method (not a public API).

Pure functions over CloudNativePG ``postgresql.cnpg.io/v1`` objects as returned by the
Kubernetes API (for example by kubernetes.core.k8s_info): choose the backup method a Cluster
supports, build the on-demand Backup manifest, and evaluate a Backup's status. No API access
happens here; the db_backup role reads and creates the objects with kubernetes.core.
"""
from __future__ import annotations

import datetime
import re

API_VERSION = "postgresql.cnpg.io/v1"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
METHODS = ("barmanObjectStore", "volumeSnapshot", "plugin")
# Backup phases as set by the operator (api/v1 backup_types.go).
RUNNING_PHASES = ("", "pending", "started", "running", "finalizing")
COMPLETED_PHASES = ("completed",)
# walArchivingFailing: the operator found WAL archiving broken and does not take the backup
# until it works again; we treat it as a failure that needs an operator, not something to wait out.
FAILED_PHASES = ("failed", "walArchivingFailing")
TERMINAL_PHASES = COMPLETED_PHASES + FAILED_PHASES
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGTPE]i?|[kmM]|)$")
_UNITS = {"": 1, "k": 10 ** 3, "K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18,
          "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}


class CnpgError(ValueError):
    """A Cluster or Backup that cannot be used as asked; the message says why."""


def _get(obj, *path, default=None):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def _barman_plugin(cluster):
    for plugin in _get(cluster, "spec", "plugins", default=[]) or []:
        if plugin.get("name") == BARMAN_PLUGIN and plugin.get("enabled", True) is not False:
            return plugin
    return None


def available_methods(cluster):
    """Backup methods the Cluster is configured for, in order of preference."""
    methods = []
    if _barman_plugin(cluster):
        methods.append("plugin")
    if _get(cluster, "spec", "backup", "barmanObjectStore"):
        methods.append("barmanObjectStore")
    if _get(cluster, "spec", "backup", "volumeSnapshot"):
        methods.append("volumeSnapshot")
    return methods


def choose_method(cluster, requested="auto"):
    """The method to use; raises CnpgError when the Cluster has no matching backup configuration."""
    name = _get(cluster, "metadata", "name", default="?")
    methods = available_methods(cluster)
    if requested == "auto":
        if not methods:
            raise CnpgError(
                "Cluster %s has no backup configuration (no barman-cloud plugin in spec.plugins, no "
                "spec.backup.barmanObjectStore, no spec.backup.volumeSnapshot): an on-demand Backup would fail. "
                "Configure backups in the cnpg role or use db_backup_method=dump." % name
            )
        return methods[0]
    if requested not in METHODS:
        raise CnpgError("backup method %r is not one of auto, %s" % (requested, ", ".join(METHODS)))
    if requested not in methods:
        raise CnpgError("Cluster %s is not configured for backup method %s (configured: %s)"
                        % (name, requested, ", ".join(methods) or "none"))
    return requested


def retention(cluster, object_store=None):
    """Where retention is enforced and the policy, as CloudNativePG (or its plugin) applies it."""
    plugin = _barman_plugin(cluster)
    if plugin:
        store = _get(plugin, "parameters", "barmanObjectName")
        policy = _get(object_store, "spec", "retentionPolicy") if object_store else None
        return {
            "managed_by": "barman-cloud plugin ObjectStore %s" % store if store else "barman-cloud plugin",
            "object_store": store,
            "policy": policy,
            "note": None if policy else "retention is set on the ObjectStore resource (spec.retentionPolicy); not read or not set",
        }
    policy = _get(cluster, "spec", "backup", "retentionPolicy")
    if _get(cluster, "spec", "backup", "barmanObjectStore"):
        return {"managed_by": "Cluster spec.backup (barmanObjectStore)", "object_store": None, "policy": policy,
                "note": None if policy else "no retentionPolicy set: backups are kept forever"}
    if _get(cluster, "spec", "backup", "volumeSnapshot"):
        return {"managed_by": "none (volume snapshots)", "object_store": None, "policy": None,
                "note": "CloudNativePG applies no retention to volume snapshots; delete old Backup objects yourself"}
    return {"managed_by": "none", "object_store": None, "policy": None, "note": "no backup configuration"}


def cluster_summary(cluster, object_store=None):
    if _get(cluster, "kind") != "Cluster" or _get(cluster, "apiVersion") != API_VERSION:
        raise CnpgError("object is not a %s Cluster (kind=%r, apiVersion=%r)"
                        % (API_VERSION, _get(cluster, "kind"), _get(cluster, "apiVersion")))
    status = _get(cluster, "status", default={}) or {}
    return {
        "name": _get(cluster, "metadata", "name"),
        "namespace": _get(cluster, "metadata", "namespace"),
        "phase": status.get("phase"),
        "current_primary": status.get("currentPrimary"),
        "target_primary": status.get("targetPrimary"),
        "instances": _get(cluster, "spec", "instances"),
        "ready_instances": status.get("readyInstances"),
        "methods": available_methods(cluster),
        "retention": retention(cluster, object_store),
        "last_successful_backup": status.get("lastSuccessfulBackup"),
        "last_failed_backup": status.get("lastFailedBackup"),
        "first_recoverability_point": status.get("firstRecoverabilityPoint"),
    }


def current_primary(cluster):
    """Pod name of the current primary, or CnpgError when the status has none (yet)."""
    summary = cluster_summary(cluster)
    primary = summary["current_primary"]
    if not primary:
        raise CnpgError("Cluster %s has no status.currentPrimary (phase: %s); is it running?"
                        % (summary["name"], summary["phase"] or "unknown"))
    if primary != summary["target_primary"] and summary["target_primary"]:
        raise CnpgError("Cluster %s is switching primary (%s -> %s); try again when it is done"
                        % (summary["name"], primary, summary["target_primary"]))
    return primary


def backup_name(cluster_name, stamp):
    """``<cluster>-ondemand-<stamp lower-case>``, a valid Kubernetes name (<= 63 chars)."""
    name = "%s-ondemand-%s" % (cluster_name, stamp.lower())
    if len(name) > 63 or not _NAME_RE.match(name):
        raise CnpgError("generated Backup name %r is not a valid name; set db_backup_cnpg_backup_name" % name)
    return name


def build_backup(cluster_name, namespace, name, method, target=None, online=None, labels=None):
    """The on-demand Backup manifest (validated against the upstream CRD in the unit tests)."""
    if not _NAME_RE.match(name or "") or len(name) > 63:
        raise CnpgError("Backup name %r is not a valid Kubernetes name" % name)
    if method not in METHODS:
        raise CnpgError("backup method %r is not one of %s" % (method, ", ".join(METHODS)))
    spec = {"cluster": {"name": cluster_name}, "method": method}
    if method == "plugin":
        spec["pluginConfiguration"] = {"name": BARMAN_PLUGIN}
    if target:
        if target not in ("primary", "prefer-standby"):
            raise CnpgError("target %r is not primary or prefer-standby" % target)
        spec["target"] = target
    if online is not None:
        spec["online"] = bool(online)
    metadata = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": API_VERSION, "kind": "Backup", "metadata": metadata, "spec": spec}


def parse_time(text):
    if not text:
        return None
    return datetime.datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")


def parse_quantity(text):
    """Kubernetes resource quantity (e.g. ``10Gi``) to bytes, None when absent or odd."""
    match = _QUANTITY_RE.match(str(text or "").strip())
    if not match:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def backup_summary(backup, volume_snapshots=None):
    """Evaluate a Backup object: state (running/completed/failed), times, size, error."""
    if _get(backup, "kind") != "Backup" or _get(backup, "apiVersion") != API_VERSION:
        raise CnpgError("object is not a %s Backup" % API_VERSION)
    status = _get(backup, "status", default={}) or {}
    phase = status.get("phase") or ""
    if phase in COMPLETED_PHASES:
        state = "completed"
    elif phase in FAILED_PHASES:
        state = "failed"
    else:
        state = "running"  # includes unknown future phases: keep waiting, bounded by the caller
    started, stopped = parse_time(status.get("startedAt")), parse_time(status.get("stoppedAt"))
    size, size_note = None, "CloudNativePG does not report the size of object-store backups in the Backup status"
    elements = _get(status, "snapshotBackupStatus", "elements", default=[]) or []
    if elements:
        wanted = set(e.get("name") for e in elements)
        sizes = [parse_quantity(_get(s, "status", "restoreSize")) for s in (volume_snapshots or [])
                 if _get(s, "metadata", "name") in wanted]
        if sizes and len(sizes) == len(wanted) and None not in sizes:
            size, size_note = sum(sizes), "sum of the VolumeSnapshots' status.restoreSize"
        else:
            size_note = "size is the restoreSize of VolumeSnapshots %s (not read)" % ", ".join(sorted(wanted))
    return {
        "name": _get(backup, "metadata", "name"),
        "namespace": _get(backup, "metadata", "namespace"),
        "cluster": _get(backup, "spec", "cluster", "name"),
        "phase": phase,
        "state": state,
        "method": status.get("method") or _get(backup, "spec", "method"),
        "online": status.get("online"),
        "backup_id": status.get("backupId"),
        "started_at": status.get("startedAt"),
        "stopped_at": status.get("stoppedAt"),
        "duration_seconds": int((stopped - started).total_seconds()) if started and stopped else None,
        "begin_lsn": status.get("beginLSN"),
        "end_lsn": status.get("endLSN"),
        "begin_wal": status.get("beginWal"),
        "end_wal": status.get("endWal"),
        "destination_path": status.get("destinationPath"),
        "instance": status.get("instanceID", {}).get("podName") if isinstance(status.get("instanceID"), dict) else None,
        "snapshots": sorted(e.get("name") for e in elements),
        "size_bytes": size,
        "size_note": size_note,
        "error": status.get("error"),
    }


def failure_message(summary):
    if summary["phase"] == "walArchivingFailing":
        why = "WAL archiving is not working on the cluster; fix archiving (see the Cluster's ContinuousArchiving condition)"
    else:
        why = summary["error"] or "no error message in status.error"
    return "CloudNativePG Backup %s/%s ended in phase %s: %s" % (summary["namespace"], summary["name"], summary["phase"], why)
