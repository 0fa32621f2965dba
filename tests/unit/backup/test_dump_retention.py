"""Unit tests for the manifest catalog and retention selection (plugins/module_utils/_dump_retention.py).

Retention runs against a real directory (pytest tmp_path) holding our backups of mixed age,
incomplete backups, foreign files and manifests that are not ours.
"""
from __future__ import annotations

import datetime
import json
import os

import pytest

from ansible_collections.parametric_portal.infra.plugins.module_utils import _dump_retention as ret

NOW = datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.timezone.utc)


def stamp(days_ago, hours=0):
    return (NOW - datetime.timedelta(days=days_ago, hours=hours)).strftime(ret.STAMP_FORMAT)


def write_backup(directory, database, st, files_ok=True, extra_files=None):
    base = "%s-%s" % (database, st)
    (directory / (base + ".dump")).write_bytes(b"PGDMP" + st.encode())
    (directory / (base + ".dump.sha256")).write_text("0" * 64 + "  " + base + ".dump\n")
    manifest = {
        "format": ret.MANIFEST_FORMAT,
        "database": database,
        "stamp": st,
        "dump": {"file": base + ".dump", "size": 5, "sha256": "0" * 64},
        "files": [base + ".dump", base + ".dump.sha256"] + list(extra_files or []),
    }
    (directory / (base + ret.MANIFEST_SUFFIX)).write_text(json.dumps(manifest))
    if not files_ok:
        os.unlink(directory / (base + ".dump"))
    return base


def test_stamp_and_names():
    assert ret.parse_stamp("20261127T120000Z") == NOW
    with pytest.raises(ret.ManifestError):
        ret.parse_stamp("2026-11-27")
    assert ret.base_name("appdb", "20261127T120000Z") == "appdb-20261127T120000Z"
    for bad in ("", "1db", "a b", "x" * 64, "db;drop", "../etc"):
        with pytest.raises(ret.ManifestError):
            ret.base_name(bad, "20261127T120000Z")


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda m: m.update(format="other/v1"), "format"),
        (lambda m: m["files"].append("../../etc/passwd"), "base name"),
        (lambda m: m["files"].append("/etc/passwd"), "base name"),
        (lambda m: m["files"].append("notes.txt"), "base name"),
        (lambda m: m["files"].append("otherdb-20261127T120000Z.dump"), "base name"),
        (lambda m: m["dump"].update(sha256="xyz"), "sha256"),
        (lambda m: m["dump"].update(size=-1), "size"),
        (lambda m: m.update(files=[]), "files"),
        (lambda m: m["dump"].update(file="appdb-20261127T120000Z.other"), "dump.file"),
    ],
)
def test_validate_manifest_rejects(mutate, reason):
    base = "appdb-20261127T120000Z"
    manifest = {"format": ret.MANIFEST_FORMAT, "database": "appdb", "stamp": "20261127T120000Z",
                "dump": {"file": base + ".dump", "size": 1, "sha256": "a" * 64},
                "files": [base + ".dump", base + ".dump.sha256"]}
    ret.validate_manifest(manifest, base + ret.MANIFEST_SUFFIX)
    mutate(manifest)
    with pytest.raises(ret.ManifestError, match=reason):
        ret.validate_manifest(manifest)


def test_manifest_name_must_match_content():
    base = "appdb-20261127T120000Z"
    manifest = {"format": ret.MANIFEST_FORMAT, "database": "appdb", "stamp": "20261127T120000Z",
                "dump": {"file": base + ".dump", "size": 1, "sha256": "a" * 64}, "files": [base + ".dump"]}
    with pytest.raises(ret.ManifestError, match="does not match"):
        ret.validate_manifest(manifest, "shopdb-20261127T120000Z" + ret.MANIFEST_SUFFIX)


def _names(items):
    return sorted(b["manifest"].split(".")[0] for b in items)


def test_retention_mixed_old_new_and_foreign(tmp_path):
    # appdb: 10 daily backups 0..9 days old, plus three 40..42 days old.
    app = [write_backup(tmp_path, "appdb", stamp(d)) for d in list(range(10)) + [40, 41, 42]]
    # shopdb: only old backups; the newest must survive whatever the rules say.
    shop = [write_backup(tmp_path, "shopdb", stamp(d)) for d in (50, 60)]
    foreign = {
        "notes.txt": "keep me",
        "appdb-20200101T000000Z.dump": "looks like ours but no manifest names it",
        "other.manifest.json": json.dumps({"format": "someone-else/v1", "files": ["notes.txt"]}),
        "broken-20200101T000000Z.manifest.json": "{not json",
    }
    for name, text in foreign.items():
        (tmp_path / name).write_text(text)
    backups, ignored = ret.scan(str(tmp_path))
    assert sorted(i["file"] for i in ignored) == ["broken-20200101T000000Z.manifest.json", "other.manifest.json"]
    assert len(backups) == 15

    keep, expire = ret.select_expired(backups, NOW, keep_last=3, keep_days=30)
    # appdb: 0..9 days are younger than 30 days; 40..42 expire. shopdb: both are among the newest 3.
    assert _names(expire) == sorted(app[10:])
    assert _names(keep) == sorted(app[:10] + shop)

    keep, expire = ret.select_expired(backups, NOW, keep_last=1, keep_days=0)
    assert _names(keep) == sorted(app[:1] + [shop[0]])

    # Only the age rule: shopdb's backups are all too old, its newest is kept anyway.
    keep, expire = ret.select_expired(backups, NOW, keep_last=0, keep_days=5)
    assert _names(keep) == sorted(app[:5] + [shop[0]])
    assert shop[1] in _names(expire)

    keep, expire = ret.select_expired(backups, NOW, keep_last=0, keep_days=0)
    assert expire == []

    # Deletion paths are the listed files and the manifest, nothing else.
    keep, expire = ret.select_expired(backups, NOW, keep_last=1, keep_days=30)
    for backup in expire:
        for path in ret.deletion_paths(str(tmp_path), backup):
            os.unlink(path)
    left = sorted(os.listdir(tmp_path))
    for name in foreign:
        assert name in left
    assert not any(n.startswith(tuple(app[10:]) + (shop[1],)) for n in left)
    assert all(any(n.startswith(b) for n in left) for b in app[:10] + [shop[0]])


def test_newest_complete_backup_is_never_expired(tmp_path):
    good = write_backup(tmp_path, "appdb", stamp(100))
    bad = write_backup(tmp_path, "appdb", stamp(99), files_ok=False)  # newer, but its dump is missing
    backups, ignored = ret.scan(str(tmp_path))
    assert ignored == []
    assert {b["manifest"].split(".")[0]: b["complete"] for b in backups} == {good: True, bad: False}
    keep, expire = ret.select_expired(backups, NOW, keep_last=1, keep_days=1)
    assert _names(keep) == [good]
    assert _names(expire) == [bad]
    assert ret.newest(backups, "appdb")["manifest"].startswith(good)


def test_manifest_cannot_reach_outside(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    inner = tmp_path / "b"
    inner.mkdir()
    base = write_backup(inner, "appdb", stamp(90))
    manifest_path = inner / (base + ret.MANIFEST_SUFFIX)
    data = json.loads(manifest_path.read_text())
    data["files"].append("../outside.txt")
    manifest_path.write_text(json.dumps(data))
    backups, ignored = ret.scan(str(inner))
    assert backups == [] and ignored and "base name" in ignored[0]["reason"]
    assert outside.read_text() == "precious"


def test_select_expired_argument_checks():
    with pytest.raises(ValueError):
        ret.select_expired([], NOW, -1, 0)
    with pytest.raises(ValueError):
        ret.select_expired([], NOW.replace(tzinfo=None), 1, 1)
