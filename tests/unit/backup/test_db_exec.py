"""Unit tests for the seam core (plugins/module_utils/_db_exec.py).

The prefix here is `env` on this machine, so the real WRAPPER runs in a real /bin/sh: what is
tested is the password-on-stdin handling, streaming and error classification. Runs against
PostgreSQL itself are in the Molecule scenario `backup`.
"""
from __future__ import annotations

import hashlib
import io
import os
import subprocess

import pytest

from ansible_collections.parametric_portal.infra.plugins.module_utils import _db_exec as dbx

LOCAL = ["env"]


def test_build_argv_and_conn_args():
    argv = dbx.build_argv(["kubectl", "exec", "-i", "pod", "--"], ["pg_dump", "-Fc"])
    assert argv[:5] == ["kubectl", "exec", "-i", "pod", "--"]
    assert argv[5:9] == ["sh", "-c", dbx.WRAPPER, "sh"] and argv[9:] == ["pg_dump", "-Fc"]
    assert dbx.conn_args("app", "127.0.0.1", 5432) == ["-h", "127.0.0.1", "-p", "5432", "-U", "app"]
    assert dbx.conn_args("postgres", "", None) == ["-U", "postgres"]
    for bad in ([], [""], ["kubectl", None]):
        with pytest.raises(ValueError):
            dbx.build_argv(bad, ["psql"])


def test_password_reaches_the_command_by_stdin_only(monkeypatch):
    """The password is in the client's environment (PGPASSWORD, which libpq reads) and nowhere in any
    argv: neither in what the Runner hands to the exec prefix nor in the command line of the process
    that finally runs (read back from /proc by that process itself). The Molecule scenario `backup`
    logs in with a real password to a real PostgreSQL (test_password_login_over_tcp)."""
    seen = []
    real_popen = subprocess.Popen

    def recording_popen(argv, *args, **kwargs):
        seen.append(list(argv))
        return real_popen(argv, *args, **kwargs)

    monkeypatch.setattr(dbx.subprocess, "Popen", recording_popen)
    runner = dbx.Runner(LOCAL, "s3cret pass")
    out = runner.run(["sh", "-c", 'tr "\\0" " " < /proc/$$/cmdline; printf "\\n%s" "$PGPASSWORD"', "psql-stand-in"])
    cmdline, env_password = out.split("\n")
    assert env_password == "s3cret pass"
    assert "psql-stand-in" in cmdline and "s3cret" not in cmdline
    assert len(seen) == 1 and seen[0][:1] == LOCAL and not any("s3cret" in part for part in seen[0])
    # The same for the streaming paths.
    runner.stream_out(["sh", "-c", "exit 0"], io.BytesIO())
    assert len(seen) == 2 and not any("s3cret" in part for part in seen[1])
    # No password: PGPASSWORD is unset, not empty (libpq would otherwise try an empty password).
    assert dbx.Runner(LOCAL, "").run(["sh", "-c", 'echo "${PGPASSWORD-unset}"']).strip() == "unset"


def test_stream_out_hashes_what_it_writes():
    handle = io.BytesIO()
    size, digest = dbx.Runner(LOCAL).stream_out(["sh", "-c", "head -c 3000000 /dev/zero"], handle)
    assert size == 3000000 == len(handle.getvalue())
    assert digest == hashlib.sha256(b"\0" * 3000000).hexdigest()


def test_stream_out_failure_is_an_error():
    with pytest.raises(dbx.DbExecError) as info:
        dbx.Runner(LOCAL).stream_out(["sh", "-c", "printf partial; echo 'FATAL:  password authentication failed' >&2; exit 1"], io.BytesIO())
    assert info.value.kind == "auth" and info.value.rc == 1


def test_stream_in_passes_the_file_after_the_password_line(tmp_path):
    data = os.urandom(2 * dbx.CHUNK + 17)
    path = tmp_path / "in.bin"
    path.write_bytes(data)
    out = dbx.Runner(LOCAL, "pw").stream_in(["sh", "-c", 'echo "$PGPASSWORD"; sha256sum'], str(path))
    lines = out.splitlines()
    assert lines[0] == "pw" and lines[1].split()[0] == hashlib.sha256(data).hexdigest()


def test_stream_in_tolerates_a_reader_that_stops_early(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * (8 * dbx.CHUNK))
    assert dbx.Runner(LOCAL).stream_in(["head", "-c", "5"], str(path)) == "xxxxx"


@pytest.mark.parametrize(
    "stderr, kind",
    [
        ('psql: error: FATAL:  password authentication failed for user "app"', "auth"),
        ('FATAL:  Peer authentication failed for user "app"', "auth"),
        ('FATAL:  role "nobody" does not exist', "auth"),
        ("psql: error: connection to server on socket \"/run/postgresql/.s.PGSQL.5432\" failed: No such file", "connect"),
        ('ERROR:  relation "x" does not exist', "command"),
    ],
)
def test_classify(stderr, kind):
    assert dbx.classify(stderr) == kind


def test_helpers(tmp_path):
    side = tmp_path / "a.dump.sha256"
    side.write_text("ABCDEF  a.dump\n")
    assert dbx.read_sha256_file(str(side)) == "abcdef"
    assert dbx.quote_ident("app-db") == '"app-db"'
    assert dbx.parse_rows("a\tb\n\nc\td\n") == [["a", "b"], ["c", "d"]]
    src, dst = tmp_path / "s", tmp_path / "d"
    src.write_text("1")
    dst.write_text("2")
    with pytest.raises(FileExistsError):
        dbx.atomic_rename(str(src), str(dst))
    assert dst.read_text() == "2"


# ---- streaming with a checksum, and the free-space check of restores ----------------------------

def test_stream_in_hashes_the_whole_file_also_after_an_early_stop(tmp_path):
    data = os.urandom(5 * dbx.CHUNK + 3)
    path = tmp_path / "archive.bin"
    path.write_bytes(data)
    digest = hashlib.sha256()
    out = dbx.Runner(LOCAL).stream_in(["sha256sum"], str(path), digest)
    assert out.split()[0] == digest.hexdigest() == hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    dbx.Runner(LOCAL).stream_in(["sh", "-c", "head -c 5 >/dev/null"], str(path), digest)  # stops reading early
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_evaluate_space():
    ok = dbx.evaluate_space("appdb", 30 * 10**9, 5 * 10**9, 5, 10, "/pgdata", 100 * 10**9, 45 * 10**9)
    assert ok["ok"] and ok["needed_bytes"] == 30 * 10**9 and ok["free_after_bytes"] == 15 * 10**9
    assert ok["needed_basis"] == "current size of database appdb"
    tight = dbx.evaluate_space("appdb", 30 * 10**9, 5 * 10**9, 5, 10, "/pgdata", 100 * 10**9, 39 * 10**9)
    assert not tight["ok"]  # it would fit, but leave less than 10 % free
    guess = dbx.evaluate_space("newdb", -1, 2 * 10**9, 5, 0, "/pgdata", 100 * 10**9, 9 * 10**9)
    assert not guess["ok"] and guess["needed_bytes"] == 10 * 10**9 and "5 x the archive size" in guess["needed_basis"]


def _stand_ins(tmp_path, size_output, size_rc=0, create_rc=0, statfs=None):
    """TEST DOUBLES for psql (and optionally stat): no PostgreSQL runs in unit tests (the Molecule scenario
    `backup` runs the real thing). psql answers the size query with ``size_output`` and records every other
    statement in a log; the real shell script of the module runs, and the real stat(1) unless ``statfs``
    ("<bsize> <blocks> <avail>") replaces it."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "psql.log"
    (bindir / "psql").write_text(
        "#!/bin/sh\nfor a in \"$@\"; do sql=\"$a\"; done\n"
        "case \"$sql\" in *pg_database_size*) printf '%%s\\n' '%s'; exit %d;; esac\n"
        "printf '%%s\\n' \"$sql\" >> '%s'\nexit %d\n" % (size_output, size_rc, log, create_rc))
    (bindir / "psql").chmod(0o755)
    if statfs is not None:
        (bindir / "stat").write_text("#!/bin/sh\necho '%s'\n" % statfs)
        (bindir / "stat").chmod(0o755)
    return ["env", "PATH=%s:%s" % (bindir, os.environ["PATH"])], log


def _check(**changes):
    check = {"reference": "appdb", "archive_size": 10, "factor": 5, "min_free_percent": 0}
    check.update(changes)
    return check


def test_create_database_measures_the_data_directory_with_stat_then_creates(tmp_path):
    data_dir = tmp_path / "pg data"  # a space in the path on purpose
    data_dir.mkdir()
    prefix, log = _stand_ins(tmp_path, "1000\t%s" % data_dir)
    space = dbx.create_database(dbx.Runner(prefix), ["-w"], "appdb_drill_x", "app", _check())
    vfs = os.statvfs(str(data_dir))
    assert space["data_directory"] == str(data_dir) and space["needed_bytes"] == 1000 and space["ok"]
    assert space["volume_bytes"] == vfs.f_frsize * vfs.f_blocks
    assert abs(space["free_bytes"] - vfs.f_frsize * vfs.f_bavail) < 64 * 2**20  # other writers on this machine
    assert log.read_text() == 'CREATE DATABASE "appdb_drill_x" OWNER "app"\n'


def test_create_database_refuses_without_room_and_creates_nothing(tmp_path):
    prefix, log = _stand_ins(tmp_path, "1000\t/pgdata", statfs="4096 1000 500")  # 4.1 MB volume, 2 MB free
    with pytest.raises(dbx.SpaceError, match=r"not enough free space on the PostgreSQL data volume \(/pgdata\): "
                       r"0\.00 GB free of 0\.00 GB; .* \(current size of database appdb\) and 60 % of the volume must "
                       r"stay free; nothing was created") as info:
        dbx.create_database(dbx.Runner(prefix), ["-w"], "appdb_drill_x", "", _check(min_free_percent=60))
    assert info.value.space["ok"] is False and info.value.space["free_bytes"] == 4096 * 500
    assert not log.exists()


@pytest.mark.parametrize("free_after_minus_keep, created", [(0, True), (-1, False), (1, True)])
def test_the_shell_and_evaluate_space_apply_the_same_rule(tmp_path, free_after_minus_keep, created):
    bsize, blocks, pct = 1, 10_000_000, 10
    keep = bsize * blocks * pct // 100
    needed = 3_000_000
    avail = keep + needed + free_after_minus_keep
    prefix, log = _stand_ins(tmp_path, "%d\t/pgdata" % needed, statfs="%d %d %d" % (bsize, blocks, avail))
    check = _check(min_free_percent=pct)
    assert dbx.evaluate_space("appdb", needed, 10, 5, pct, "/pgdata", bsize * blocks, bsize * avail)["ok"] is created
    if created:
        assert dbx.create_database(dbx.Runner(prefix), ["-w"], "x", "", check)["ok"]
        assert log.exists()
    else:
        with pytest.raises(dbx.SpaceError):
            dbx.create_database(dbx.Runner(prefix), ["-w"], "x", "", check)
        assert not log.exists()


def test_create_database_estimates_from_the_archive_when_the_reference_does_not_exist(tmp_path):
    prefix, log = _stand_ins(tmp_path, "-1\t/pgdata", statfs="1 1000 100")
    with pytest.raises(dbx.SpaceError, match=r"5 x the archive size \(database newdb does not exist\)"):
        dbx.create_database(dbx.Runner(prefix), ["-w"], "newdb", "", _check(reference="newdb", archive_size=30))
    assert dbx.create_database(dbx.Runner(prefix), ["-w"], "newdb", "", _check(reference="newdb", archive_size=20))["ok"]


def test_create_database_fails_closed_when_it_cannot_measure(tmp_path):
    prefix, log = _stand_ins(tmp_path, "ERROR:  permission denied to examine data_directory", size_rc=1)
    with pytest.raises(dbx.SpaceError, match="cannot measure the free space.*nothing was created"):
        dbx.create_database(dbx.Runner(prefix), ["-w"], "appdb_drill_x", "", _check())
    assert not log.exists()


def test_create_database_failure_is_not_a_space_error(tmp_path):
    prefix, log = _stand_ins(tmp_path, "1\t/", create_rc=1)
    with pytest.raises(dbx.DbExecError) as info:
        dbx.create_database(dbx.Runner(prefix), ["-w"], "appdb", "", _check())
    assert not isinstance(info.value, dbx.SpaceError) and info.value.rc == 1
    plain = tmp_path / "no-check"
    plain.mkdir()
    prefix, log = _stand_ins(plain, "unused")
    assert dbx.create_database(dbx.Runner(prefix), ["-w"], "plain", "", None) is None
    assert log.read_text() == 'CREATE DATABASE "plain"\n'
