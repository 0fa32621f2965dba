# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private core: how the db_backup modules reach PostgreSQL (not a public API).

THE SEAM. Every PostgreSQL client command (psql, pg_dump, pg_restore) is run as
``exec_prefix + ["sh", "-c", WRAPPER, "sh", <command...>]`` on the controller, where
``exec_prefix`` is the only thing that differs between production and tests:

* production: ``kubectl --kubeconfig K exec -i -n NS <primary pod> -c postgres --``
* tests:      ``podman exec -i -u postgres <container>``

The client tools therefore always run next to the server (same major version) and their
stdout/stdin are streamed to/from files on the controller. The optional password travels
as the first line of stdin (read by WRAPPER into PGPASSWORD), never on a command line.
"""
from __future__ import annotations

import copy
import hashlib
import os
import signal
import subprocess
import threading

WRAPPER = (
    'IFS= read -r PGPASSWORD || true; '
    'if [ -n "$PGPASSWORD" ]; then export PGPASSWORD; else unset PGPASSWORD; fi; '
    'exec "$@"'
)
CHUNK = 1024 * 1024
# The signals on which a module stops, removes what it made and reports the interruption.
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_AUTH_MARKERS = (
    "password authentication failed",
    "peer authentication failed",
    "no password supplied",
    "no pg_hba.conf entry",
    "role \"",
    "authentication failed",
)
_CONNECT_MARKERS = ("could not connect", "connection to server", "could not translate host name")


# The connection options every db_backup_* module that runs a client takes (documented once in the
# doc fragment parametric_portal.infra.db_backup).
CONNECTION_ARG_SPEC = dict(
    exec_prefix=dict(type="list", elements="str", required=True),
    user=dict(type="str", default=""),
    host=dict(type="str", default=""),
    port=dict(type="int"),
    password=dict(type="str", default="", no_log=True),
)


def argument_spec(**options):
    """CONNECTION_ARG_SPEC plus a module's own ``options``."""
    spec = copy.deepcopy(CONNECTION_ARG_SPEC)
    spec.update(options)
    return spec


def runner_and_conn(params):
    """(Runner, connection flags with -w) from a module's params."""
    return Runner(params["exec_prefix"], params["password"]), ["-w"] + conn_args(params["user"], params["host"], params["port"])


class DbExecError(Exception):
    """A command run through the exec prefix failed."""

    def __init__(self, msg, kind="command", rc=None, stderr=""):
        super().__init__(msg)
        self.kind = kind
        self.rc = rc
        self.stderr = stderr


def conn_args(user=None, host=None, port=None):
    """libpq connection flags for psql/pg_dump/pg_restore."""
    args = []
    if host:
        args += ["-h", host]
    if port:
        args += ["-p", str(int(port))]
    if user:
        args += ["-U", user]
    return args


class Interrupted(Exception):
    """The module was stopped by one of SIGNALS (see raise_on_signals)."""


def ignore_signals():
    """Ignore SIGNALS from now on: done on the first one and before a module's cleanup.

    The first signal decides. A second one must not cut the cleanup short, and it does come: on Ctrl-C or
    a SIGTERM to ansible-playbook, the controller passes the signal on to the worker's process group, and
    the worker then sends it to that same group again before it exits; the module is in that group.
    """
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _interrupt(signum, _frame):
    ignore_signals()
    raise Interrupted("interrupted by signal %d" % signum)


def raise_on_signals():
    """From now on the first of SIGNALS raises Interrupted in the main thread; later ones are ignored."""
    for sig in SIGNALS:
        signal.signal(sig, _interrupt)


def build_argv(prefix, command):
    """The full argv: prefix, the password-reading wrapper, then the client command."""
    if not prefix or not all(isinstance(p, str) and p for p in prefix):
        raise ValueError("exec prefix must be a non-empty list of non-empty strings")
    return list(prefix) + ["sh", "-c", WRAPPER, "sh"] + list(command)


def classify(stderr):
    """'auth', 'connect' or 'command' from a client's stderr."""
    low = (stderr or "").lower()
    if any(m in low for m in _AUTH_MARKERS):
        return "auth"
    if any(m in low for m in _CONNECT_MARKERS):
        return "connect"
    return "command"


def _password_line(password):
    return ((password or "") + "\n").encode("utf-8")


def _drain(stream, sink):
    for block in iter(lambda: stream.read(65536), b""):
        sink.append(block)


class Runner:
    """Runs commands through the prefix; remembers the live child so a signal handler can stop it."""

    def __init__(self, prefix, password=None):
        self.prefix = list(prefix)
        self.password = password
        self.child = None

    def kill_child(self):
        child = self.child
        if child is not None and child.poll() is None:
            try:
                child.kill()
            except OSError:
                pass

    def _popen(self, command, stdout):
        self.child = subprocess.Popen(
            build_argv(self.prefix, command), stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.PIPE
        )
        return self.child

    def run(self, command):
        """Run a command, return (stdout text). Raise DbExecError on non-zero exit."""
        child = self._popen(command, subprocess.PIPE)
        out, err = child.communicate(_password_line(self.password))
        self.child = None
        err_text = err.decode("utf-8", "replace")
        if child.returncode != 0:
            raise DbExecError(
                "%s failed (rc=%s): %s" % (command[0], child.returncode, err_text.strip()),
                classify(err_text), child.returncode, err_text,
            )
        return out.decode("utf-8", "replace")

    def stream_out(self, command, handle):
        """Run a command and copy its stdout into ``handle``; return (size, sha256 hex)."""
        child = self._popen(command, subprocess.PIPE)
        errs = []
        reader = threading.Thread(target=_drain, args=(child.stderr, errs), daemon=True)
        reader.start()
        try:
            child.stdin.write(_password_line(self.password))
            child.stdin.close()
        except BrokenPipeError:
            pass
        digest, size = hashlib.sha256(), 0
        for block in iter(lambda: child.stdout.read(CHUNK), b""):
            handle.write(block)
            digest.update(block)
            size += len(block)
        child.wait()
        reader.join()
        self.child = None
        err_text = b"".join(errs).decode("utf-8", "replace")
        if child.returncode != 0:
            raise DbExecError(
                "%s failed (rc=%s): %s" % (command[0], child.returncode, err_text.strip() or "no error output (killed?)"),
                classify(err_text), child.returncode, err_text,
            )
        return size, digest.hexdigest()

    def stream_in(self, command, path, digest=None):
        """Feed the file at ``path`` to a command's stdin (after the password line).

        Returns its stdout text. A reader that stops early (``pg_restore --list`` only needs
        the table of contents) is not an error; its exit code decides. With ``digest`` (a hashlib
        object) every byte of the file is hashed on the way, also the bytes after an early stop,
        so the caller can verify the archive without reading it twice.
        """
        child = self._popen(command, subprocess.PIPE)
        outs, errs = [], []
        readers = [
            threading.Thread(target=_drain, args=(child.stdout, outs), daemon=True),
            threading.Thread(target=_drain, args=(child.stderr, errs), daemon=True),
        ]
        for reader in readers:
            reader.start()
        with open(path, "rb") as source:
            try:
                child.stdin.write(_password_line(self.password))
                for block in iter(lambda: source.read(CHUNK), b""):
                    if digest is not None:
                        digest.update(block)
                    child.stdin.write(block)
                child.stdin.close()
            except BrokenPipeError:
                try:
                    child.stdin.close()
                except BrokenPipeError:
                    pass
            if digest is not None:
                for block in iter(lambda: source.read(CHUNK), b""):
                    digest.update(block)
        child.wait()
        for reader in readers:
            reader.join()
        self.child = None
        err_text = b"".join(errs).decode("utf-8", "replace")
        if child.returncode != 0:
            raise DbExecError(
                "%s failed (rc=%s): %s" % (command[0], child.returncode, err_text.strip()),
                classify(err_text), child.returncode, err_text,
            )
        return b"".join(outs).decode("utf-8", "replace")


class SpaceError(Exception):
    """Not enough room for a restore; ``space`` holds the numbers."""

    def __init__(self, msg, space):
        super().__init__(msg)
        self.space = space


# Restores check the free space and create their database in ONE round trip through the exec prefix
# (in production a kubectl exec, the slow part of a small restore). The shell below, run next to the
# server, asks psql for the reference database's size and data_directory, measures that directory's file
# system with coreutils' stat, prints the numbers, and runs CREATE DATABASE only when the copy fits:
#   free - needed >= total * min_free_percent / 100       (evaluate_space() applies the same rule)
# Exit 97/98: psql/stat could not measure (nothing was created). Output: "space <size> <total> <free> <dir>",
# then "refused" or "created".
CREATE_SCRIPT = (
    'fallback=$1 pct=$2 size_sql=$3 create_sql=$4; shift 4; '
    'out=$(psql "$@" -c "$size_sql") || exit 97; tab=$(printf "\\t"); '
    'size=${out%%"$tab"*}; dir=${out#*"$tab"}; '
    'fs=$(stat -f -c "%S %b %a" -- "$dir") || exit 98; '
    'bsize=${fs%% *}; rest=${fs#* }; blocks=${rest%% *}; avail=${rest#* }; '
    'total=$((bsize * blocks)); free=$((bsize * avail)); need=$size; [ "$size" -lt 0 ] && need=$fallback; '
    'printf "space %s %s %s %s\\n" "$size" "$total" "$free" "$dir"; '
    'if [ $((free - need)) -lt $((total * pct / 100)) ]; then echo refused; exit 0; fi; '
    'psql "$@" -c "$create_sql" >/dev/null || exit $?; echo created'
)
MEASURE_FAILED = (97, 98)


def space_sql(reference):
    """The reference database's size (-1 when it does not exist) and data_directory, tab separated."""
    return ("SELECT COALESCE((SELECT pg_database_size(oid) FROM pg_database WHERE datname = '%s'), -1), "
            "current_setting('data_directory')" % reference.replace("'", "''"))


def create_sql(database, owner=""):
    """CREATE DATABASE for names already checked against DATABASE_RE."""
    return "CREATE DATABASE %s%s" % (quote_ident(database), (" OWNER " + quote_ident(owner)) if owner else "")


def evaluate_space(reference, reference_size, archive_size, factor, min_free_percent, data_directory, total, free):
    """The decision, as a dict; ``ok`` False when the copy does not fit with min_free_percent left free."""
    if reference_size >= 0:
        needed, basis = reference_size, "current size of database %s" % reference
    else:
        needed, basis = archive_size * factor, "%d x the archive size (database %s does not exist)" % (factor, reference)
    keep = total * min_free_percent // 100
    return {
        "data_directory": data_directory, "volume_bytes": total, "free_bytes": free, "needed_bytes": needed,
        "needed_basis": basis, "min_free_percent": min_free_percent, "free_after_bytes": free - needed,
        "ok": free - needed >= keep,
    }


def _gb(value):
    return "%.2f GB" % (value / 1e9)


def create_database(runner, conn, database, owner="", space_check=None):
    """CREATE DATABASE, after the free-space check when ``space_check`` is a dict with reference,
    archive_size, factor and min_free_percent. Returns the space evaluation (None without a check).

    Raises SpaceError (measurement failed or not enough room: nothing was created) or DbExecError (the
    CREATE failed, for example because the database exists: nothing was created either)."""
    base = psql_command("", "postgres", conn)[:-2]  # the psql flags and -d postgres, without -c
    if space_check is None:
        runner.run(base + ["-c", create_sql(database, owner)])
        return None
    sc = space_check
    command = ["sh", "-c", CREATE_SCRIPT, "sh", str(sc["archive_size"] * sc["factor"]), str(sc["min_free_percent"]),
               space_sql(sc["reference"]), create_sql(database, owner)] + base[1:]
    try:
        out = runner.run(command)
    except DbExecError as exc:
        if exc.rc in MEASURE_FAILED:
            raise SpaceError("cannot measure the free space of the PostgreSQL data volume (needs a role that may read "
                             "data_directory, and stat in the server's container): %s; nothing was created. Switch the "
                             "check off (space_check=false) only if you know the copy fits" % exc, None)
        raise
    lines = out.splitlines()
    fields = lines[0].split(" ", 4) if lines else []
    if len(lines) != 2 or len(fields) != 5 or fields[0] != "space" or lines[1] not in ("created", "refused"):
        raise DbExecError("unexpected output of the space check: %r; whether %s was created is unknown"
                          % (out[:300], database))
    size, total, free = int(fields[1]), int(fields[2]), int(fields[3])
    space = evaluate_space(sc["reference"], size, sc["archive_size"], sc["factor"], sc["min_free_percent"], fields[4],
                           total, free)
    if lines[1] == "refused":  # the shell decided (same rule as evaluate_space(), tested on the same numbers)
        numbers = (space["data_directory"], _gb(free), _gb(total), _gb(space["needed_bytes"]), space["needed_basis"],
                   sc["min_free_percent"])
        raise SpaceError(
            "not enough free space on the PostgreSQL data volume (%s): %s free of %s; the restored copy needs about %s "
            "(%s) and %d %% of the volume must stay free; nothing was created. Free space, restore on another server, "
            "or lower min_free_percent" % numbers, space)
    return space


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sha256_file(path):
    """The hex digest from a ``sha256sum``-format file."""
    with open(path, "r", encoding="utf-8") as handle:
        first = handle.readline().split()
    if not first:
        raise ValueError("%s is empty" % path)
    return first[0].lower()


def quote_ident(name):
    """Double-quote an identifier already checked against DATABASE_RE."""
    return '"' + name.replace('"', '""') + '"'


def psql_command(sql, database="postgres", conn=None):
    """psql argv: no psqlrc, unaligned, tuples only, tab separated, stop on error."""
    return ["psql", "-X", "-A", "-t", "-q", "-F", "\t", "-v", "ON_ERROR_STOP=1"] + list(conn or []) + ["-d", database, "-c", sql]


def parse_rows(text):
    return [line.split("\t") for line in text.splitlines() if line != ""]


def atomic_rename(src, dst):
    """rename(2) that refuses to replace an existing file."""
    if os.path.exists(dst):
        raise FileExistsError("%s already exists; refusing to overwrite an earlier backup" % dst)
    os.rename(src, dst)
