"""Verify for the Molecule scenario `backup`: the real playbooks against a real PostgreSQL 17.

Each test runs playbooks/backup_db.yml or playbooks/restore_db.yml with ansible-playbook on this
machine. The only thing swapped compared with production is the seam `db_backup_exec_prefix`:
`podman exec -i -u postgres pp-backup-pg17` instead of `kubectl exec -i ... <primary pod> -c postgres --`
(so the Kubernetes Cluster lookup is skipped). pg_dump, pg_restore and psql are the server's own
PostgreSQL 17 binaries inside the container; the dumps are streamed to a directory on this machine.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
CONTAINER = "pp-backup-pg17"
PREFIX = ["podman", "exec", "-i", "-u", "postgres", CONTAINER]
ENV_NAME = "molecule"
CLUSTER = "api-db"
FORMAT = "parametric_portal.infra.db_backup/v1"


def _collections_path():
    """Use the working tree's collection (build/pytest-collections link, as tests/conftest.py does)."""
    link = REPO / "build" / "pytest-collections" / "ansible_collections" / "parametric_portal" / "infra"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(REPO, target_is_directory=True)
        except FileExistsError:
            pass
    rest = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
    return str(REPO / "build" / "pytest-collections") + (":" + rest if rest else "")


def _ansible_playbook():
    local = Path(sys.executable).with_name("ansible-playbook")
    return str(local) if local.exists() else "ansible-playbook"


def run_playbook(name, backup_dir, extra=None, args=(), popen=False):
    variables = {
        "db_backup_exec_prefix": PREFIX,  # THE SEAM
        "db_backup_dir": str(backup_dir),
        "infra_environment": ENV_NAME,
        "db_backup_exclude_databases": ["bigdb"],
    }
    variables.update(extra or {})
    cmd = [_ansible_playbook(), "-i", "localhost,", str(REPO / "playbooks" / name), "-e", json.dumps(variables)] + list(args)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=_collections_path(), ANSIBLE_NOCOLOR="1", PY_COLORS="0",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    if popen:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
    return subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False)


def psql(sql, database="postgres"):
    out = subprocess.run(PREFIX + ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True, timeout=120)
    return out.stdout.strip()


def databases():
    return set(psql("SELECT datname FROM pg_database").splitlines())


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(directory):
    return {p.name: sha256(p) for p in Path(directory).iterdir() if p.is_file()}


def stamp(days_ago):
    return (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days_ago)).strftime("%Y%m%dT%H%M%SZ")


def seed_backup(directory, database, st):
    """An earlier backup in this role's own format (its content is not a real dump: retention only reads manifests)."""
    base = "%s-%s" % (database, st)
    data = ("not a real dump " + base).encode()
    digest = hashlib.sha256(data).hexdigest()
    (directory / (base + ".dump")).write_bytes(data)
    (directory / (base + ".dump.sha256")).write_text("%s  %s.dump\n" % (digest, base))
    manifest = {"format": FORMAT, "database": database, "stamp": st, "owner": "app",
                "dump": {"file": base + ".dump", "size": len(data), "sha256": digest},
                "files": [base + ".dump", base + ".dump.sha256"]}
    (directory / (base + ".manifest.json")).write_text(json.dumps(manifest))
    return base


def files_of(directory, base):
    return sorted(p.name for p in Path(directory).iterdir() if p.name.startswith(base + "."))


def newest_manifest(directory, database):
    manifests = sorted(Path(directory).glob(database + "-*.manifest.json"))
    return json.loads(manifests[-1].read_text())


FOREIGN = {
    "notes.txt": "operator notes, not ours\n",
    "appdb-20200101T000000Z.dump": "a dump no manifest of ours names\n",
    "someone-else.manifest.json": json.dumps({"format": "other-tool/v1", "files": ["notes.txt"]}),
    "broken-20200101T000000Z.manifest.json": "{ not json",
}


@pytest.fixture(scope="module")
def backup_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("backups")


@pytest.fixture(scope="module")
def first_backup(backup_dir):
    """Seed earlier backups and foreign files, then run the backup playbook once (keep_last=1, keep_days=30)."""
    dest = backup_dir / ENV_NAME / CLUSTER
    dest.mkdir(parents=True)
    seeded = {
        "old": [seed_backup(dest, "appdb", stamp(d)) for d in (40, 50, 60)],
        "recent": [seed_backup(dest, "appdb", stamp(d)) for d in (1, 2)],
        "shop_old": [seed_backup(dest, "shopdb", stamp(90))],
        "gone_db": [seed_backup(dest, "archivedb", stamp(100))],  # database no longer exists: its only backup stays
    }
    for name, text in FOREIGN.items():
        (dest / name).write_text(text)
    users = psql("SELECT count(*) FROM users", "appdb")
    result = run_playbook("backup_db.yml", backup_dir, {"db_backup_keep_last": 1, "db_backup_keep_days": 30})
    return {"dest": dest, "seeded": seeded, "result": result, "users": int(users)}


def test_backup_playbook_succeeds(first_backup):
    result = first_backup["result"]
    assert result.returncode == 0, result.stdout[-4000:]
    assert "failed=0" in result.stdout


def test_dump_files_checksum_and_manifest(first_backup):
    dest = first_backup["dest"]
    assert oct(dest.stat().st_mode & 0o777) == "0o700"
    for database in ("appdb", "shopdb"):
        manifest = newest_manifest(dest, database)
        base = "%s-%s" % (database, manifest["stamp"])
        assert files_of(dest, base) == [base + ".dump", base + ".dump.sha256", base + ".manifest.json"]
        dump = dest / (base + ".dump")
        assert dump.read_bytes()[:5] == b"PGDMP"  # custom-format archive
        assert manifest["format"] == FORMAT and manifest["database"] == database and manifest["owner"] == "app"
        assert manifest["environment"] == ENV_NAME and manifest["cluster"] == CLUSTER
        assert manifest["dump"]["size"] == dump.stat().st_size > 0
        assert manifest["dump"]["sha256"] == sha256(dump)
        assert (dest / (base + ".dump.sha256")).read_text() == "%s  %s\n" % (sha256(dump), dump.name)
        assert manifest["server_version"].startswith("17.")
        assert manifest["tool_version"].startswith("pg_dump (PostgreSQL) 17.")
        assert manifest["verified"]["command"] == "pg_restore --list" and manifest["verified"]["toc_entries"] > 3
        created = datetime.datetime.strptime(manifest["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        assert abs((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()) < 1800
        assert manifest["files"] == [base + ".dump", base + ".dump.sha256"]
        for name in files_of(dest, base):
            assert oct((dest / name).stat().st_mode & 0o777) == "0o600", name
    # Templates, the maintenance database and the excluded one are not dumped; no temporary file is left.
    names = [p.name for p in dest.iterdir()]
    assert not any(n.startswith(("postgres-", "template0-", "template1-", "bigdb-")) for n in names)
    assert not any(n.endswith(".partial") for n in names)


def test_pg_restore_list_reads_the_archive(first_backup):
    dest = first_backup["dest"]
    manifest = newest_manifest(dest, "appdb")
    dump = dest / manifest["dump"]["file"]
    with open(dump, "rb") as handle:
        out = subprocess.run(PREFIX + ["pg_restore", "--list"], stdin=handle, stdout=subprocess.PIPE, text=True, timeout=120, check=False)
    assert out.returncode == 0
    assert "TABLE DATA public users app" in out.stdout
    assert "TABLE DATA audit events app" in out.stdout


def test_retention_deletes_only_expired_backups_of_its_own(first_backup):
    dest, seeded = first_backup["dest"], first_backup["seeded"]
    names = set(p.name for p in dest.iterdir())
    for base in seeded["old"] + seeded["shop_old"]:
        assert not files_of(dest, base), "expired backup %s was kept" % base
    for base in seeded["recent"] + seeded["gone_db"]:
        assert len(files_of(dest, base)) == 3, "backup %s should be kept" % base
    for name, text in FOREIGN.items():
        assert name in names and (dest / name).read_text() == text, "foreign file %s was touched" % name
    deleted = [line for line in first_backup["result"].stdout.splitlines() if "deleted" in line]
    assert deleted, "the retention report is missing"


def test_check_mode_writes_nothing(first_backup, backup_dir):
    before = snapshot(first_backup["dest"])
    result = run_playbook("backup_db.yml", backup_dir, {"db_backup_keep_last": 1, "db_backup_keep_days": 0}, args=["--check"])
    assert result.returncode == 0, result.stdout[-3000:]
    assert snapshot(first_backup["dest"]) == before


def test_wrong_credentials_fail_clearly_and_write_nothing(first_backup, backup_dir):
    before = snapshot(first_backup["dest"])
    result = run_playbook("backup_db.yml", backup_dir, {
        "db_backup_pg_host": "127.0.0.1", "db_backup_pg_user": "app", "db_backup_pg_password": "not-the-password"})
    assert result.returncode != 0
    assert "PostgreSQL rejected the credentials of user 'app'" in result.stdout
    assert 'password authentication failed for user "app"' in result.stdout
    assert "not-the-password" not in result.stdout
    assert snapshot(first_backup["dest"]) == before


def _wait_for_partial(dest, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        partial = [p for p in dest.glob(".bigdb-*.dump.partial") if p.stat().st_size > 0]
        if partial:
            return partial[0]
        if proc.poll() is not None:
            pytest.fail("the playbook ended before a partial dump was seen:\n" + proc.stdout.read()[-3000:])
        time.sleep(0.02)
    pytest.fail("no partial dump appeared within %d s" % timeout)


def _exec_client_pids():
    """PIDs of this machine's `podman exec ... pg_dump -Fc` client processes (the stream from the 'pod')."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"podman") and b"pg_dump" in argv and b"-Fc" in argv and CONTAINER.encode() in argv:
            pids.append(int(entry.name))
    return pids


@pytest.mark.parametrize("how", ["stream-broken", "playbook-terminated"])
def test_interrupted_dump_leaves_no_partial_file(first_backup, backup_dir, how):
    dest = first_backup["dest"]
    before = snapshot(dest)
    proc = run_playbook("backup_db.yml", backup_dir, {"db_backup_databases": ["bigdb"], "db_backup_exclude_databases": [],
                                                      "db_backup_retention_enabled": False}, popen=True)
    try:
        partial = _wait_for_partial(dest, proc)
        if how == "stream-broken":
            # The connection to the pod dies mid-way (kubectl exec lost): kill the exec client.
            pids = _exec_client_pids()
            assert pids, "no podman exec client for pg_dump found"
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
        else:
            # The operator presses Ctrl-C / CI cancels the job: SIGTERM to the whole playbook process group.
            os.killpg(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=300)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    if how == "stream-broken":
        assert "backup of database bigdb failed, no file kept" in out, out[-3000:]
    assert not partial.exists()
    names = [p.name for p in dest.iterdir()]
    assert not any(n.endswith(".partial") for n in names), names
    assert not any(n.startswith("bigdb-") for n in names), names
    assert snapshot(dest) == before, "earlier backups changed"


def test_restore_without_confirmation_changes_nothing(first_backup, backup_dir):
    before_dbs = databases()
    before_rows = psql("SELECT count(*) FROM users", "appdb")
    result = run_playbook("restore_db.yml", backup_dir, args=["-e", "restore_database=appdb"])
    assert result.returncode != 0
    assert "Nothing was changed. Confirm by repeating its name: -e restore_confirm=appdb" in result.stdout
    result = run_playbook("restore_db.yml", backup_dir, args=["-e", "restore_database=appdb", "-e", "restore_confirm=shopdb"])
    assert result.returncode != 0 and "Nothing was changed" in result.stdout
    assert databases() == before_dbs
    assert psql("SELECT count(*) FROM users", "appdb") == before_rows


def test_restore_refuses_a_wrong_checksum(first_backup, backup_dir, tmp_path):
    manifest = newest_manifest(first_backup["dest"], "appdb")
    base = "appdb-%s" % manifest["stamp"]
    corrupt = tmp_path / "corrupt" / CLUSTER
    corrupt.mkdir(parents=True)
    for name in files_of(first_backup["dest"], base):
        (corrupt / name).write_bytes((first_backup["dest"] / name).read_bytes())
    dump = corrupt / (base + ".dump")
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    before_dbs = databases()
    result = run_playbook("restore_db.yml", tmp_path, {"infra_environment": "corrupt"},
                          args=["-e", "restore_database=appdb", "-e", "restore_confirm=appdb"])
    assert result.returncode != 0
    assert "checksum mismatch" in result.stdout and "refusing to restore" in result.stdout
    assert databases() == before_dbs


def test_restore_with_confirmation_replaces_the_database(first_backup, backup_dir):
    at_backup = first_backup["users"]
    psql("INSERT INTO users (name) VALUES ('written after the backup')", "appdb")
    assert psql("SELECT count(*) FROM users", "appdb") == str(at_backup + 1)
    before_dbs = databases()
    result = run_playbook("restore_db.yml", backup_dir, args=["-e", "restore_database=appdb", "-e", "restore_confirm=appdb"])
    assert result.returncode == 0, result.stdout[-4000:]
    assert psql("SELECT count(*) FROM users", "appdb") == str(at_backup)
    assert psql("SELECT count(*) FROM audit.events", "appdb") == "2500"
    assert psql("SELECT count(*) FROM measurements", "appdb") == "300"
    assert psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'appdb'") == "app"
    kept = databases() - before_dbs
    assert len(kept) == 1 and next(iter(kept)).startswith("appdb_pre_restore_")
    previous = next(iter(kept))
    assert psql("SELECT datallowconn FROM pg_database WHERE datname = '%s'" % previous) == "f"
    assert "The previous database is kept as %s" % previous in result.stdout
    # Test cleanup of the copy this test made the playbook keep.
    psql('DROP DATABASE "%s"' % previous)


def test_drill_compares_row_counts_and_drops_the_scratch_database(first_backup, backup_dir):
    before_dbs = databases()
    result = run_playbook("restore_db.yml", backup_dir, args=["-e", "restore_database=appdb", "-e", "restore_mode=drill"])
    assert result.returncode == 0, result.stdout[-4000:]
    assert "tables whose counts differ: []" in result.stdout
    rows = first_backup["users"] + 2500 + 300 + 300  # users, audit.events, measurements (parent and its 3 partitions)
    assert "6 tables / %d rows restored, source has 6 / %d" % (rows, rows) in result.stdout
    assert databases() == before_dbs


def test_drill_reports_differing_row_counts(first_backup, backup_dir):
    psql("INSERT INTO orders (total) VALUES (1.00)", "shopdb")
    try:
        before_dbs = databases()
        result = run_playbook("restore_db.yml", backup_dir, args=["-e", "restore_database=shopdb", "-e", "restore_mode=drill"])
        assert result.returncode != 0
        assert "Row counts differ" in result.stdout and "public.orders" in result.stdout
        assert databases() == before_dbs
    finally:
        psql("DELETE FROM orders WHERE id > 300", "shopdb")
