"""A repeated signal must not cut an interrupted module's cleanup short.

On Ctrl-C or a SIGTERM to ansible-playbook, the controller passes the signal on to the worker's
process group, and the worker sends it to that same group again before it exits, so the module sees
it twice. Measured in `make test` (stop 22): with the two lanes loading the machine, the backup
scenario's test_interrupted_dump_leaves_no_partial_file[playbook-terminated] found the
`.bigdb-*.dump.partial` file still there: the second SIGTERM raised inside the dump module's
`finally`, before the partial files were removed.

Here the modules' handler (dbx.raise_on_signals, which both modules install) is installed in this process and the exec seam is a test double
(FakeRunner) that delivers the two signals itself, deterministically: the first one while the dump
or restore streams, the second one when the module starts cleaning up (kill_child is its first step).
"""
from __future__ import annotations

import os
import signal

import pytest

from ansible_collections.parametric_portal.infra.plugins.module_utils import _db_exec as dbx
from ansible_collections.parametric_portal.infra.plugins.modules import db_backup_dump, db_backup_load


@pytest.fixture(autouse=True)
def restore_signal_handlers():
    saved = {sig: signal.getsignal(sig) for sig in dbx.SIGNALS}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


class FakeRunner:
    """Test double for dbx.Runner: no client runs; the signals come from here."""

    def __init__(self):
        self.calls = []

    def run(self, command):
        self.calls.append(command)
        return "pg_dump (PostgreSQL) 17.0" if command[0] == "pg_dump" else ""

    def stream_out(self, command, handle):
        handle.write(b"PGDMP" + b"\0" * 4096)
        handle.flush()
        os.kill(os.getpid(), signal.SIGTERM)  # the operator's Ctrl-C / CI's SIGTERM, mid-stream
        raise AssertionError("the first signal did not interrupt the stream")

    def stream_in(self, command, path, digest=None):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("the first signal did not interrupt the restore")

    def kill_child(self):
        self.calls.append("kill_child")
        os.kill(os.getpid(), signal.SIGTERM)  # the worker's repeat of the same signal


def test_dump_removes_its_partial_files_when_the_signal_comes_twice(tmp_path):
    dbx.raise_on_signals()
    params = {"database": "appdb", "stamp": "20261207T120000Z", "dest": str(tmp_path), "create_levels": 1,
              "user": "", "host": "", "port": None, "server_version": "17.0", "owner": "app",
              "environment": "test", "cluster": "c"}
    runner = FakeRunner()
    with pytest.raises(dbx.Interrupted, match="signal %d" % signal.SIGTERM):
        db_backup_dump.run_dump(params, runner, False)
    assert "kill_child" in runner.calls, "the cleanup did not run"
    assert not list(tmp_path.iterdir()), "files left after the interrupted dump: %s" % list(tmp_path.iterdir())


def test_restore_drops_its_database_when_the_signal_comes_twice(tmp_path):
    dbx.raise_on_signals()
    archive = tmp_path / "appdb.dump"
    archive.write_bytes(b"PGDMP")
    params = {"database": "restored", "backup": str(archive), "owner": "", "space_check": False}
    runner = FakeRunner()
    with pytest.raises(dbx.Interrupted, match="dropped again"):
        db_backup_load.restore(params, runner, ["-w"], "0" * 64)
    drops = [c for c in runner.calls if isinstance(c, list) and any("DROP DATABASE" in part for part in c)]
    assert drops, "the restored database was not dropped: %s" % runner.calls
