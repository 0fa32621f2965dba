# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private core of the logical-dump catalog and retention (not a public API).

Each successful dump written by the db_backup role leaves three files in
``<backup_dir>/<env>/<cluster>/``:

* ``<database>-<stamp>.dump``            pg_dump custom-format archive
* ``<database>-<stamp>.dump.sha256``     ``<hex>  <file name>`` (sha256sum format)
* ``<database>-<stamp>.manifest.json``   the manifest, written last

The manifest names every file that belongs to the backup (``files``). Retention only ever
deletes files a valid manifest of ours names, plus that manifest; anything else in the
directory (foreign files, orphans, unreadable manifests) is left alone.
"""
from __future__ import annotations

import datetime
import json
import os
import re

MANIFEST_FORMAT = "parametric_portal.infra.db_backup/v1"
MANIFEST_SUFFIX = ".manifest.json"
PARTIAL_SUFFIX = ".partial"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
STAMP_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")
# Database names the role accepts (also used for file names and quoted SQL identifiers).
DATABASE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")
_BASENAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class ManifestError(ValueError):
    """A manifest that is not ours or not well formed."""


def parse_stamp(stamp):
    """Return the aware UTC datetime of a ``YYYYmmddTHHMMSSZ`` stamp."""
    if not isinstance(stamp, str) or not STAMP_RE.match(stamp):
        raise ManifestError("stamp %r is not of the form YYYYmmddTHHMMSSZ" % (stamp,))
    return datetime.datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=datetime.timezone.utc)


def base_name(database, stamp):
    """``<database>-<stamp>``: the common prefix of a backup's files."""
    if not isinstance(database, str) or not DATABASE_RE.match(database):
        raise ManifestError("database name %r is not accepted (expected %s)" % (database, DATABASE_RE.pattern))
    parse_stamp(stamp)
    return "%s-%s" % (database, stamp)


def ensure_directories(dest, levels):
    """Create the missing ones of the last ``levels`` directories of ``dest`` with mode 0700.

    Returns the directories created, outermost first. Existing directories are never changed (a
    shared parent like /tmp keeps its mode and sticky bit); a parent above the levels must exist."""
    chain = [dest]
    for _level in range(max(levels, 1) - 1):
        chain.insert(0, os.path.dirname(chain[0]))
    created = []
    for directory in chain:
        if not os.path.isdir(directory):
            os.mkdir(directory, 0o700)
            os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
            created.append(directory)
    return created


def validate_manifest(data, manifest_name=None):
    """Check a decoded manifest; return a normalised summary dict or raise ManifestError.

    Rules: our format marker, a valid database and stamp, a dump entry with size and a
    64-hex sha256, and ``files`` made of plain base names that start with
    ``<database>-<stamp>.`` (so a manifest can never name a file outside its own backup,
    another directory, or a foreign file).
    """
    if not isinstance(data, dict):
        raise ManifestError("manifest is not a JSON object")
    for field in ("format", "database", "stamp"):
        if not isinstance(data.get(field), str):
            raise ManifestError("%s is %s, not a string" % (field, type(data.get(field)).__name__))
    for field in ("owner", "server_version", "environment", "cluster"):  # optional, used by restores and reports
        if data.get(field) is not None and not isinstance(data[field], str):
            raise ManifestError("%s is %s, not a string" % (field, type(data[field]).__name__))
    if data.get("format") != MANIFEST_FORMAT:
        raise ManifestError("format is %r, not %r" % (data.get("format"), MANIFEST_FORMAT))
    database = data.get("database")
    stamp = data.get("stamp")
    prefix = base_name(database, stamp) + "."
    created = parse_stamp(stamp)
    dump = data.get("dump")
    if not isinstance(dump, dict):
        raise ManifestError("dump entry missing")
    if not isinstance(dump.get("sha256"), str) or not re.match(r"^[0-9a-f]{64}$", dump["sha256"]):
        raise ManifestError("dump.sha256 is not 64 lowercase hex digits")
    if not isinstance(dump.get("size"), int) or isinstance(dump["size"], bool) or dump["size"] < 0:
        raise ManifestError("dump.size is not a non-negative integer")
    files = data.get("files")
    if not isinstance(files, list) or not files:
        raise ManifestError("files is not a non-empty list")
    for name in files:
        if not isinstance(name, str) or not _BASENAME_RE.match(name) or not name.startswith(prefix):
            raise ManifestError("file entry %r is not a base name of this backup (%s*)" % (name, prefix))
    if not isinstance(dump.get("file"), str) or dump["file"] not in files:
        raise ManifestError("dump.file is not listed in files")
    if manifest_name is not None and manifest_name != prefix[:-1] + MANIFEST_SUFFIX:
        raise ManifestError("manifest file name %r does not match its content (%s)" % (manifest_name, prefix[:-1] + MANIFEST_SUFFIX))
    return {
        "database": database,
        "stamp": stamp,
        "created": created,
        "files": list(files),
        "dump": dump["file"],
        "sha256": dump["sha256"],
        "size": dump["size"],
    }


def scan(directory):
    """Read every ``*.manifest.json`` in ``directory``.

    Returns ``(backups, ignored)``: backups are summaries (plus ``manifest``, ``complete``
    = every listed file exists, and ``data`` = the decoded manifest); ignored is a list of
    ``{"file", "reason"}`` for manifests that are unreadable or not ours.
    """
    backups, ignored = [], []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return backups, ignored
    for name in names:
        if not name.endswith(MANIFEST_SUFFIX) or name.startswith("."):
            continue
        path = os.path.join(directory, name)
        try:
            with open(path, "rb") as handle:
                data = json.loads(handle.read().decode("utf-8"))
            summary = validate_manifest(data, name)
        except ManifestError as exc:
            ignored.append({"file": name, "reason": str(exc)})
            continue
        except (OSError, ValueError, RecursionError) as exc:  # unreadable, not UTF-8, not JSON, nested too deep
            ignored.append({"file": name, "reason": "%s: %s" % (type(exc).__name__, exc)})
            continue
        summary["manifest"] = name
        summary["complete"] = all(os.path.isfile(os.path.join(directory, f)) for f in summary["files"])
        summary["data"] = data
        backups.append(summary)
    backups.sort(key=lambda b: (b["database"], b["created"], b["manifest"]), reverse=True)
    return backups, ignored


def select_expired(backups, now, keep_last, keep_days):
    """Split backups into (keep, expire) per database.

    A backup is kept when it is one of the newest ``keep_last`` of its database, or younger
    than ``keep_days`` days; ``0`` switches a rule off, and if both are 0 nothing expires.
    The newest *complete* backup of every database is always kept, whatever the rules say.
    Incomplete backups (a listed file is missing) count for nothing but are expired by age
    like the others, so their remaining files are cleaned up.
    """
    if keep_last < 0 or keep_days < 0:
        raise ValueError("keep_last and keep_days must be >= 0")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    keep, expire = [], []
    by_db = {}
    for backup in backups:
        by_db.setdefault(backup["database"], []).append(backup)
    for database in sorted(by_db):
        items = sorted(by_db[database], key=lambda b: (b["created"], b["manifest"]), reverse=True)
        newest_complete = next((b for b in items if b.get("complete", True)), None)
        complete_rank = 0
        for backup in items:
            reason = None
            if keep_last == 0 and keep_days == 0:
                reason = "retention disabled (keep_last=0, keep_days=0)"
            elif backup is newest_complete:
                reason = "newest complete backup of %s" % database
            elif backup.get("complete", True) and keep_last and complete_rank < keep_last:
                reason = "among newest %d" % keep_last
            elif keep_days and now - backup["created"] < datetime.timedelta(days=keep_days):
                reason = "newer than %d days" % keep_days
            if backup.get("complete", True):
                complete_rank += 1
            (keep if reason else expire).append(dict(backup, reason=reason or "expired"))
    return keep, expire


def newest(backups, database=None, complete_only=True):
    """The newest backup (of ``database`` if given), or None."""
    items = [b for b in backups if (database is None or b["database"] == database) and (b["complete"] or not complete_only)]
    if not items:
        return None
    return max(items, key=lambda b: (b["created"], b["manifest"]))


def deletion_paths(directory, backup):
    """Paths to delete for an expired backup: its listed files, then its manifest (last)."""
    paths = [os.path.join(directory, name) for name in backup["files"]]
    paths.append(os.path.join(directory, backup["manifest"]))
    return paths


def public_view(backup):
    """JSON-friendly summary for module results."""
    return {
        "database": backup["database"],
        "stamp": backup["stamp"],
        "created": backup["created"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "manifest": backup["manifest"],
        "dump": backup["dump"],
        "sha256": backup["sha256"],
        "size": backup["size"],
        "files": backup["files"],
        "complete": backup.get("complete", True),
        "reason": backup.get("reason"),
        "server_version": backup.get("data", {}).get("server_version"),
        "owner": backup.get("data", {}).get("owner"),
    }
