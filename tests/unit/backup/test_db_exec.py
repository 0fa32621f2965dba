"""Unit tests for the seam core (plugins/module_utils/_db_exec.py).

The prefix here is `env` on this machine, so the real WRAPPER runs in a real /bin/sh: what is
tested is the password-on-stdin handling, streaming and error classification. Runs against
PostgreSQL itself are in the Molecule scenario `backup`.
"""
from __future__ import annotations

import hashlib
import io
import os

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


def test_password_reaches_the_command_by_stdin_only():
    runner = dbx.Runner(LOCAL, "s3cret pass")
    assert runner.run(["sh", "-c", 'printf %s "$PGPASSWORD"']) == "s3cret pass"
    assert all("s3cret" not in part for part in dbx.build_argv(LOCAL, ["psql"]))
    # No password: PGPASSWORD is unset, not empty.
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
