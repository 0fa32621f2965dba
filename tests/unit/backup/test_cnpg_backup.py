"""Unit tests for the cnpg backup method (plugins/module_utils/_cnpg_backup.py).

The inputs are the representative API objects in tests/fixtures/backup/representative/
(constructed, not recorded: see its README). Both the fixtures and the Backup manifest this
code builds are validated against the upstream CloudNativePG 1.28.0 CRD schemas.
"""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from ansible_collections.parametric_portal.infra.plugins.module_utils import _cnpg_backup as cnpg

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "backup" / "representative"


def load(name):
    return json.loads((FIXTURES / name).read_text())


@functools.lru_cache(maxsize=None)
def crd_schema(crds_dir, plural):
    doc = yaml.safe_load((crds_dir / "cloudnative-pg" / "v1.28.0" / ("postgresql.cnpg.io_%s.yaml" % plural)).read_text())
    version = next(v for v in doc["spec"]["versions"] if v["name"] == "v1")
    return version["schema"]["openAPIV3Schema"]


def validate(crds_dir, plural, obj):
    schema = crd_schema(crds_dir, plural)
    jsonschema.Draft7Validator(schema).validate(obj)
    # Object-level fields the schema leaves open are still checked by name.
    assert set(obj) <= set(schema["properties"]), set(obj) - set(schema["properties"])


def _strict(schema):
    """Copy of a CRD schema that rejects unknown properties wherever properties are listed."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def validate_strict(crds_dir, plural, obj):
    schema = _strict(copy.deepcopy(crd_schema(crds_dir, plural)))
    schema["properties"]["metadata"] = {"type": "object"}
    jsonschema.Draft7Validator(schema).validate(obj)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("cluster-*.json")))
def test_cluster_fixtures_match_upstream_schema(crds_dir, name):
    validate_strict(crds_dir, "clusters", load(name))


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("backup-*.json")))
def test_backup_fixtures_match_upstream_schema(crds_dir, name):
    validate_strict(crds_dir, "backups", load(name))


def test_strict_validation_catches_a_wrong_field(crds_dir):
    obj = load("backup-barman-completed.json")
    obj["status"]["sizeBytes"] = 1  # not an upstream field
    with pytest.raises(jsonschema.ValidationError):
        validate_strict(crds_dir, "backups", obj)


@pytest.mark.parametrize(
    "method, target, online",
    [("plugin", None, None), ("barmanObjectStore", "prefer-standby", True), ("volumeSnapshot", "primary", False)],
)
def test_built_manifest_matches_upstream_schema(crds_dir, method, target, online):
    manifest = cnpg.build_backup("api-db", "parametric-portal", "api-db-ondemand-20261127t140000z", method, target, online,
                                 {"app.kubernetes.io/managed-by": "parametric_portal.infra"})
    validate_strict(crds_dir, "backups", manifest)
    expected = {"cluster": {"name": "api-db"}, "method": method}
    if method == "plugin":
        expected["pluginConfiguration"] = {"name": "barman-cloud.cloudnative-pg.io"}  # the plugin's upstream name
    if target:
        expected["target"] = target
    if online is not None:
        expected["online"] = online
    assert manifest["spec"] == expected
    assert manifest["metadata"] == {"name": "api-db-ondemand-20261127t140000z", "namespace": "parametric-portal",
                                    "labels": {"app.kubernetes.io/managed-by": "parametric_portal.infra"}}
    schema = crd_schema(crds_dir, "backups")
    assert set(cnpg.METHODS) == set(schema["properties"]["spec"]["properties"]["method"]["enum"])


def test_build_rejects_bad_input():
    with pytest.raises(cnpg.CnpgError):
        cnpg.build_backup("api-db", "ns", "Bad_Name", "plugin")
    with pytest.raises(cnpg.CnpgError):
        cnpg.build_backup("api-db", "ns", "ok", "pg_dump")
    with pytest.raises(cnpg.CnpgError):
        cnpg.build_backup("api-db", "ns", "ok", "plugin", target="standby")
    assert cnpg.backup_name("api-db", "20261127T140000Z") == "api-db-ondemand-20261127t140000z"
    with pytest.raises(cnpg.CnpgError):
        cnpg.backup_name("x" * 50, "20261127T140000Z")


@pytest.mark.parametrize(
    "fixture, methods, chosen",
    [
        ("cluster-plugin-barman-cloud.json", ["plugin"], "plugin"),
        ("cluster-barman-object-store.json", ["barmanObjectStore"], "barmanObjectStore"),
        ("cluster-volume-snapshot.json", ["volumeSnapshot"], "volumeSnapshot"),
    ],
)
def test_method_choice(fixture, methods, chosen):
    cluster = load(fixture)
    assert cnpg.available_methods(cluster) == methods
    assert cnpg.choose_method(cluster) == chosen
    assert cnpg.choose_method(cluster, chosen) == chosen


def test_cluster_without_backup_configuration_fails_clearly():
    cluster = load("cluster-no-backup.json")
    with pytest.raises(cnpg.CnpgError, match="api-db has no backup configuration"):
        cnpg.choose_method(cluster)
    with pytest.raises(cnpg.CnpgError, match="not configured for backup method plugin"):
        cnpg.choose_method(load("cluster-volume-snapshot.json"), "plugin")


def test_retention_reporting():
    r = cnpg.retention(load("cluster-barman-object-store.json"))
    assert r["policy"] == "30d" and "barmanObjectStore" in r["managed_by"]
    r = cnpg.retention(load("cluster-plugin-barman-cloud.json"))
    assert r["policy"] is None and r["object_store"] == "api-db-store" and "ObjectStore" in r["note"]
    r = cnpg.retention(load("cluster-plugin-barman-cloud.json"), load("objectstore.json"))
    assert r["policy"] == "30d" and r["note"] is None
    r = cnpg.retention(load("cluster-volume-snapshot.json"))
    assert r["policy"] is None and "no retention" in r["note"]


def test_current_primary():
    assert cnpg.current_primary(load("cluster-plugin-barman-cloud.json")) == "api-db-1"
    with pytest.raises(cnpg.CnpgError, match="switching primary"):
        cnpg.current_primary(load("cluster-switchover.json"))
    with pytest.raises(cnpg.CnpgError, match="no status.currentPrimary.*Setting up primary"):
        cnpg.current_primary(load("cluster-setting-up.json"))
    with pytest.raises(cnpg.CnpgError, match="not a postgresql.cnpg.io/v1 Cluster"):
        cnpg.cluster_summary(load("backup-new-no-status.json"))


@pytest.mark.parametrize(
    "fixture, state",
    [
        ("backup-new-no-status.json", "running"),
        ("backup-plugin-started.json", "running"),
        ("backup-plugin-completed.json", "completed"),
        ("backup-barman-completed.json", "completed"),
        ("backup-volume-snapshot-completed.json", "completed"),
        ("backup-barman-failed.json", "failed"),
        ("backup-wal-archiving-failing.json", "failed"),
    ],
)
def test_backup_states(fixture, state):
    summary = cnpg.backup_summary(load(fixture))
    assert summary["state"] == state
    assert summary["name"] == "api-db-ondemand-20261127t140000z"
    assert (summary["phase"] in cnpg.TERMINAL_PHASES) == (state != "running")


def test_completed_backup_report():
    s = cnpg.backup_summary(load("backup-plugin-completed.json"))
    assert s["started_at"] == "2026-11-27T14:00:02Z" and s["stopped_at"] == "2026-11-27T14:01:17Z"
    assert s["duration_seconds"] == 75
    assert s["backup_id"] == "20261127T140002" and s["instance"] == "api-db-1"
    assert s["size_bytes"] is None and "does not report the size" in s["size_note"]


def test_volume_snapshot_size():
    backup = load("backup-volume-snapshot-completed.json")
    s = cnpg.backup_summary(backup)
    assert s["size_bytes"] is None and "not read" in s["size_note"]
    s = cnpg.backup_summary(backup, load("volumesnapshots.json"))
    assert s["size_bytes"] == 21 * 2 ** 30
    assert s["snapshots"] == ["api-db-ondemand-20261127t140000z", "api-db-ondemand-20261127t140000z-wal"]


def test_failure_messages():
    msg = cnpg.failure_message(cnpg.backup_summary(load("backup-barman-failed.json")))
    assert "parametric-portal/api-db-ondemand-20261127t140000z" in msg and "phase failed" in msg and "exit status 4" in msg
    msg = cnpg.failure_message(cnpg.backup_summary(load("backup-wal-archiving-failing.json")))
    assert "WAL archiving is not working" in msg


def test_quantities():
    assert cnpg.parse_quantity("1Gi") == 2 ** 30
    assert cnpg.parse_quantity("500M") == 500 * 10 ** 6
    assert cnpg.parse_quantity("12") == 12
    assert cnpg.parse_quantity("") is None and cnpg.parse_quantity("lots") is None
