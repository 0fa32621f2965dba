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
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
# The scenario's container; PP_BACKUP_CONTAINER points the tests at another container prepared with this
# scenario's prepare.yml and converge.yml (a quicker loop while developing).
CONTAINER = os.environ.get("PP_BACKUP_CONTAINER", "pp-backup-pg17")
PREFIX = ["podman", "exec", "-i", "-u", "postgres", CONTAINER]
ENV_NAME = "molecule"
CLUSTER = "api-db"
FORMAT = "parametric_portal.infra.db_backup/v1"
APP_PASSWORD = "backup-test-app-password"  # converge.yml's backup_test_password


def _collections_path():
    """Use the working tree's collection (build/pytest-collections link, as tests/conftest.py does).

    scripts/link-collection.sh re-creates the link when it points at another tree (a copied
    checkout that carries the other tree's build/), so these runs never import another tree's code.
    """
    subprocess.run(["bash", str(REPO / "scripts" / "link-collection.sh")], check=True, stdout=subprocess.DEVNULL,
                   timeout=60)
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
    dest_mode = stat.S_IMODE(dest.stat().st_mode)
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
    return {"dest": dest, "seeded": seeded, "result": result, "users": int(users), "dest_mode": dest_mode}


def test_backup_playbook_succeeds(first_backup):
    result = first_backup["result"]
    assert result.returncode == 0, result.stdout[-4000:]
    assert "failed=0" in result.stdout


def test_dump_files_checksum_and_manifest(first_backup):
    dest = first_backup["dest"]
    # The fixture made dest to seed earlier backups: the dump leaves an existing directory as it is
    # (test_a_shared_backup_dir_keeps_its_mode checks the 0700 of directories the dump creates).
    assert oct(dest.stat().st_mode & 0o777) == oct(first_backup["dest_mode"])
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


# A held exec link (test tool, not a double of anything we ship): the exec prefix of the interrupted-dump
# tests. Other commands go straight to `podman exec`; for pg_dump it passes GATE_BYTES of the archive and
# then holds the rest back, so the dump cannot finish before the test interrupts it (however fast the
# machine), and writes its PID to a file when it starts holding.
GATE_BYTES = 3 * 2 ** 20  # three of the module's 1 MiB read blocks
GATE = r"""
import os, subprocess, sys, time
container, limit, holding = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cmd = ["podman", "exec", "-i", "-u", "postgres", container] + sys.argv[4:]
if "pg_dump" not in sys.argv[4:] or "-Fc" not in sys.argv[4:]:
    os.execvp("podman", cmd)
child = subprocess.Popen(cmd, stdout=subprocess.PIPE)
sent = 0
while sent < limit:
    block = child.stdout.read(min(65536, limit - sent))
    if not block:
        sys.exit("the dump ended after %d bytes, before the gate" % sent)
    sys.stdout.buffer.write(block)
    sent += len(block)
sys.stdout.buffer.flush()
with open(holding + ".tmp", "w") as handle:
    handle.write(str(os.getpid()))
os.rename(holding + ".tmp", holding)
while True:
    time.sleep(3600)
"""


def _wait_for(condition, proc, what, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail("the playbook ended before %s:\n%s" % (what, proc.stdout.read()[-3000:]))
        time.sleep(0.05)
    pytest.fail("%s did not happen within %d s" % (what, timeout))


@pytest.mark.parametrize("how", ["stream-broken", "playbook-terminated"])
def test_interrupted_dump_leaves_no_partial_file(first_backup, backup_dir, tmp_path, how):
    dest = first_backup["dest"]
    before = snapshot(dest)
    gate, holding = tmp_path / "gate.py", tmp_path / "holding"
    gate.write_text(GATE)
    proc = run_playbook("backup_db.yml", backup_dir, {
        "db_backup_exec_prefix": [sys.executable, str(gate), CONTAINER, str(GATE_BYTES), str(holding)],
        "db_backup_databases": ["bigdb"], "db_backup_exclude_databases": [], "db_backup_retention_enabled": False},
        popen=True)
    try:
        _wait_for(holding.exists, proc, "the gate held the dump")

        def partial_size():
            found = [p.stat().st_size for p in dest.glob(".bigdb-*.dump.partial")]
            return found[0] if found else None
        _wait_for(lambda: partial_size() == GATE_BYTES, proc, "a partial file of %d bytes" % GATE_BYTES)
        partial = next(dest.glob(".bigdb-*.dump.partial"))
        if how == "stream-broken":
            # The connection to the pod dies mid-way (kubectl exec lost): the exec link is killed.
            os.kill(int(holding.read_text()), signal.SIGKILL)
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


def _copy_backup(first_backup, tmp_path, env_name):
    manifest = newest_manifest(first_backup["dest"], "appdb")
    base = "appdb-%s" % manifest["stamp"]
    copy = tmp_path / env_name / CLUSTER
    copy.mkdir(parents=True)
    for name in files_of(first_backup["dest"], base):
        (copy / name).write_bytes((first_backup["dest"] / name).read_bytes())
    return copy, base


def test_restore_drops_what_it_restored_when_the_streamed_checksum_differs(first_backup, tmp_path):
    """The archive is hashed while it streams into pg_restore (no second read): a flipped byte is found at the
    end, and the new database is dropped again; the target is untouched."""
    copy, base = _copy_backup(first_backup, tmp_path, "corrupt")
    dump = copy / (base + ".dump")
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    before_dbs = databases()
    before_rows = psql("SELECT count(*) FROM users", "appdb")
    result = run_playbook("restore_db.yml", tmp_path, {"infra_environment": "corrupt"},
                          args=["-e", "restore_database=appdb", "-e", "restore_confirm=appdb"])
    assert result.returncode != 0
    assert "checksum mismatch for %s: the streamed archive has %s, the manifest says %s" % (
        dump, hashlib.sha256(bytes(data)).hexdigest(), sha256(first_backup["dest"] / (base + ".dump"))) in result.stdout
    assert "was dropped again, nothing else was changed" in result.stdout
    assert databases() == before_dbs and psql("SELECT count(*) FROM users", "appdb") == before_rows


def test_restore_refuses_before_anything_when_the_sha256_file_disagrees(first_backup, tmp_path):
    copy, base = _copy_backup(first_backup, tmp_path, "sidefile")
    (copy / (base + ".dump.sha256")).write_text("%s  %s.dump\n" % ("0" * 64, base))
    before_dbs = databases()
    result = run_playbook("restore_db.yml", tmp_path, {"infra_environment": "sidefile"},
                          args=["-e", "restore_database=appdb", "-e", "restore_mode=drill"])
    assert result.returncode != 0
    assert ".sha256 file says %s; refusing to restore" % ("0" * 64) in result.stdout
    assert databases() == before_dbs


def test_restore_refuses_without_room_on_the_data_volume(first_backup, backup_dir):
    """Both modes write a full copy on the server's volume (the production primary's): measured first."""
    before_dbs = databases()
    result = run_playbook("restore_db.yml", backup_dir, {"db_backup_restore_min_free_percent": 99},
                          args=["-e", "restore_database=appdb", "-e", "restore_mode=drill"])
    assert result.returncode != 0
    data_dir = psql("SHOW data_directory")
    assert "not enough free space on the PostgreSQL data volume (%s)" % data_dir in result.stdout, result.stdout[-3000:]
    assert "(current size of database appdb) and 99 % of the volume must stay free; nothing was created" in result.stdout
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


# ---- connection, directories, names ---------------------------------------------------------------

def test_password_login_over_tcp(first_backup, tmp_path):
    """A client command that really takes the password: pg_dump as role app over 127.0.0.1 (scram), the
    password sent on stdin through the exec prefix. The wrong-password case is the test above."""
    result = run_playbook("backup_db.yml", tmp_path, {
        "db_backup_pg_host": "127.0.0.1", "db_backup_pg_user": "app", "db_backup_pg_password": APP_PASSWORD,
        "db_backup_databases": ["appdb"], "db_backup_retention_enabled": False})
    assert result.returncode == 0, result.stdout[-4000:]
    assert APP_PASSWORD not in result.stdout
    manifest = newest_manifest(tmp_path / ENV_NAME / CLUSTER, "appdb")
    assert manifest["dump"]["size"] > 0 and manifest["verified"]["toc_entries"] > 3


def test_a_shared_backup_dir_keeps_its_mode(tmp_path):
    """db_backup_dir may be a shared directory like /tmp (1777): only what the dump creates becomes 0700."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    result = run_playbook("backup_db.yml", shared, {"db_backup_databases": ["shopdb"], "db_backup_retention_enabled": False})
    assert result.returncode == 0, result.stdout[-4000:]
    assert oct(stat.S_IMODE(shared.stat().st_mode)) == "0o1777"
    for created in (shared / ENV_NAME, shared / ENV_NAME / CLUSTER):
        assert oct(stat.S_IMODE(created.stat().st_mode)) == "0o700", created


LONG_DB = "orders_archive_" + "x" * 40 + "_2026_q4"  # 63 characters, PostgreSQL's limit


def test_restore_and_drill_of_a_database_with_a_63_character_name(tmp_path):
    assert len(LONG_DB) == 63
    psql('CREATE DATABASE "%s" OWNER app' % LONG_DB)
    try:
        psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 42); ALTER TABLE t OWNER TO app",
             LONG_DB)
        result = run_playbook("backup_db.yml", tmp_path, {"db_backup_databases": [LONG_DB], "db_backup_retention_enabled": False})
        assert result.returncode == 0, result.stdout[-4000:]
        result = run_playbook("restore_db.yml", tmp_path, args=["-e", "restore_database=" + LONG_DB, "-e", "restore_mode=drill"])
        assert result.returncode == 0, result.stdout[-4000:]
        assert "1 tables / 42 rows restored, source has 1 / 42" in result.stdout
        before = databases()
        result = run_playbook("restore_db.yml", tmp_path, args=["-e", "restore_database=" + LONG_DB, "-e", "restore_confirm=" + LONG_DB])
        assert result.returncode == 0, result.stdout[-4000:]
        kept = databases() - before
        assert len(kept) == 1 and len(next(iter(kept))) <= 63, kept
        previous = next(iter(kept))
        assert previous.startswith(LONG_DB[:34] + "_pre_restore_"), previous
        assert psql("SELECT count(*) FROM t", LONG_DB) == "42"
        assert "The previous database is kept as %s" % previous in result.stdout
    finally:
        for name in databases():
            if name.startswith(LONG_DB[:34]):
                psql('DROP DATABASE "%s" WITH (FORCE)' % name)


# ---- the production exec path: kubectl exec into the Cluster's primary ----------------------------
# No API server here yet: the Cluster object comes through the role's seam db_backup_seam_cluster
# (hand-written, tests/fixtures/backup/representative), and `kubectl` is a TEST DOUBLE that records its
# argv and runs the command in this scenario's PostgreSQL container. What is checked is the argv the role
# builds for kubectl; the backup itself runs for real.
KUBECTL = r"""#!%(python)s
import json, os, sys
with open(%(log)r, "a") as handle:
    handle.write(json.dumps(sys.argv[1:]) + "\n")
args = sys.argv[1:]
os.execvp("podman", ["podman", "exec", "-i", "-u", "postgres", %(container)r] + args[args.index("--") + 1:])
"""


def test_kubectl_exec_argv_for_the_clusters_primary(tmp_path):
    log = tmp_path / "kubectl-argv.jsonl"
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(KUBECTL % {"python": sys.executable, "log": str(log), "container": CONTAINER})
    kubectl.chmod(0o755)
    cluster = json.loads((REPO / "tests" / "fixtures" / "backup" / "representative" / "cluster-barman-object-store.json").read_text())
    result = run_playbook("backup_db.yml", tmp_path / "backups", {
        "db_backup_exec_prefix": [], "db_backup_kubectl": str(kubectl), "db_backup_seam_cluster": cluster,
        "db_backup_kubeconfig": "~/.kube/pp-test.yaml", "db_backup_kube_context": "pp-test",
        "db_backup_namespace": "parametric-portal", "db_backup_cluster": "api-db", "db_backup_method": "dump",
        "db_backup_databases": ["shopdb"], "db_backup_retention_enabled": False})
    assert result.returncode == 0, result.stdout[-4000:]
    assert "SEAM: db_backup_seam_cluster is set" in result.stdout
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    prefix = ["--kubeconfig", os.path.expanduser("~/.kube/pp-test.yaml"), "--context", "pp-test",
              "exec", "-i", "-n", "parametric-portal", "api-db-1", "-c", "postgres", "--", "sh", "-c"]
    assert calls and all(call[:len(prefix)] == prefix for call in calls), calls
    clients = [call[len(prefix) + 2] for call in calls]  # after the wrapper script and its $0
    assert clients == ["psql", "pg_dump", "pg_dump", "pg_restore"], clients  # probe, --version, dump, --list
    assert calls[2][len(prefix) + 2:] == ["pg_dump", "-w", "-Fc", "-U", "postgres", "-d", "shopdb"]
