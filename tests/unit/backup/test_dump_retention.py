"""Unit tests for the manifest catalog and retention selection (plugins/module_utils/_dump_retention.py).

Retention runs against a real directory (pytest tmp_path) holding our backups of mixed age,
incomplete backups, foreign files and manifests that are not ours.
"""
from __future__ import annotations

import datetime
import json
import os
import stat

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


def test_pruning_never_deletes_outside_what_manifests_of_ours_name(tmp_path, run_module):
    """The catalog module really prunes here (everything is expired, and an ordinary expired backup IS
    deleted, which proves deletion ran); a manifest naming ../outside.txt, and a listed name that is a
    symlink to a file outside, cannot make it delete anything outside its own backup files."""
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    inner = tmp_path / "b"
    inner.mkdir()
    reaching = write_backup(inner, "appdb", stamp(90))
    manifest_path = inner / (reaching + ret.MANIFEST_SUFFIX)
    data = json.loads(manifest_path.read_text())
    data["files"].append("../outside.txt")
    manifest_path.write_text(json.dumps(data))
    linked = write_backup(inner, "appdb", stamp(80), extra_files=["appdb-%s.link" % stamp(80)])
    os.symlink(str(outside), str(inner / (linked + ".link")))
    ordinary = [write_backup(inner, "appdb", stamp(d)) for d in (70, 60)]

    ok, res = run_module("db_backup_catalog", {"path": str(inner), "prune": True, "keep_last": 0, "keep_days": 1,
                                               "now": NOW.strftime(ret.STAMP_FORMAT)})
    assert ok, res
    assert [i["file"] for i in res["ignored"]] == [reaching + ret.MANIFEST_SUFFIX]
    assert "base name" in res["ignored"][0]["reason"]
    deleted = sorted(os.path.basename(p) for p in res["deleted"])
    # the older ordinary backup and the symlinked one expire (the newest complete one is always kept)
    assert deleted == sorted(files_of(ordinary[0]) + files_of(linked, ".link"))
    assert outside.read_text() == "precious"  # the link was removed, not its target
    assert sorted(os.listdir(inner)) == sorted(files_of(reaching) + files_of(ordinary[1]))


def files_of(base, *extra):
    return [base + ".dump", base + ".dump.sha256", base + ret.MANIFEST_SUFFIX] + [base + e for e in extra]


BASE = "appdb-20261127T120000Z"


def good_manifest():
    return {"format": ret.MANIFEST_FORMAT, "database": "appdb", "stamp": "20261127T120000Z", "owner": "app",
            "dump": {"file": BASE + ".dump", "size": 1, "sha256": "a" * 64}, "files": [BASE + ".dump", BASE + ".dump.sha256"]}


@pytest.mark.parametrize("mutate, reason", [
    (lambda m: m.update(database=5), "database is int, not a string"),
    (lambda m: m.update(database=True), "database is bool"),
    (lambda m: m.update(database=None), "database is NoneType"),
    (lambda m: m.update(stamp=20261127), "stamp is int"),
    (lambda m: m.update(stamp=["20261127T120000Z"]), "stamp is list"),
    (lambda m: m.update(format={"v": 1}), "format is dict"),
    (lambda m: m.update(owner=7), "owner is int"),
    (lambda m: m.update(server_version=17.2), "server_version is float"),
    (lambda m: m.update(dump=[1]), "dump entry missing"),
    (lambda m: m["dump"].update(file=[BASE + ".dump"]), "dump.file"),
    (lambda m: m["dump"].update(file={"a": 1}), "dump.file"),
    (lambda m: m["dump"].update(size=True), "dump.size"),
    (lambda m: m["dump"].update(size="1"), "dump.size"),
    (lambda m: m["dump"].update(sha256=64), "sha256"),
    (lambda m: m.update(files={"a": 1}), "files"),
    (lambda m: m["files"].append(3), "file entry 3"),
    (lambda m: m["files"].append(None), "file entry None"),
])
def test_wrong_typed_manifest_fields_are_reported_not_raised(tmp_path, run_module, mutate, reason):
    ret.validate_manifest(good_manifest(), BASE + ret.MANIFEST_SUFFIX)
    manifest = good_manifest()
    mutate(manifest)
    with pytest.raises(ret.ManifestError, match=reason):
        ret.validate_manifest(manifest, BASE + ret.MANIFEST_SUFFIX)
    (tmp_path / (BASE + ret.MANIFEST_SUFFIX)).write_text(json.dumps(manifest))
    kept = write_backup(tmp_path, "appdb", stamp(400))
    ok, res = run_module("db_backup_catalog", {"path": str(tmp_path), "prune": True, "keep_last": 1, "keep_days": 0})
    assert ok, res
    assert [(i["file"], reason in i["reason"]) for i in res["ignored"]] == [(BASE + ret.MANIFEST_SUFFIX, True)]
    assert [b["manifest"] for b in res["backups"]] == [kept + ret.MANIFEST_SUFFIX] and res["deleted"] == []


@pytest.mark.parametrize("content, reason", [
    (b"[" * 100000 + b"]" * 100000, "RecursionError"),
    (b"\xff\xfe not utf-8", "UnicodeDecodeError"),
    (b"", "JSONDecodeError"),
    (b"[1, 2]", "not a JSON object"),
])
def test_unreadable_manifests_are_reported_not_raised(tmp_path, content, reason):
    (tmp_path / (BASE + ret.MANIFEST_SUFFIX)).write_bytes(content)
    backups, ignored = ret.scan(str(tmp_path))
    assert backups == [] and len(ignored) == 1 and reason in ignored[0]["reason"], ignored


def test_select_expired_argument_checks():
    with pytest.raises(ValueError):
        ret.select_expired([], NOW, -1, 0)
    with pytest.raises(ValueError):
        ret.select_expired([], NOW.replace(tzinfo=None), 1, 1)


def test_ensure_directories_creates_0700_and_leaves_existing_ones_alone(tmp_path):
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp: world-writable with the sticky bit
    own = shared / "prod"
    own.mkdir()
    os.chmod(own, 0o750)  # made by the operator: not ours to change
    old_umask = os.umask(0o022)
    try:
        created = ret.ensure_directories(str(own / "api-db" / "daily"), 4)
    finally:
        os.umask(old_umask)
    assert created == [str(own / "api-db"), str(own / "api-db" / "daily")]
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE(own.stat().st_mode) == 0o750
    assert all(stat.S_IMODE(os.stat(d).st_mode) == 0o700 for d in created)
    assert ret.ensure_directories(str(own / "api-db" / "daily"), 4) == []
    with pytest.raises(FileNotFoundError):
        ret.ensure_directories(str(tmp_path / "missing" / "a" / "b"), 2)
