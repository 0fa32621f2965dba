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

import hashlib
import os
import subprocess
import threading

WRAPPER = (
    'IFS= read -r PGPASSWORD || true; '
    'if [ -n "$PGPASSWORD" ]; then export PGPASSWORD; else unset PGPASSWORD; fi; '
    'exec "$@"'
)
CHUNK = 1024 * 1024

_AUTH_MARKERS = (
    "password authentication failed",
    "peer authentication failed",
    "no password supplied",
    "no pg_hba.conf entry",
    "role \"",
    "authentication failed",
)
_CONNECT_MARKERS = ("could not connect", "connection to server", "could not translate host name")


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

    def stream_in(self, command, path):
        """Feed the file at ``path`` to a command's stdin (after the password line).

        Returns its stdout text. A reader that stops early (``pg_restore --list`` only needs
        the table of contents) is not an error; its exit code decides.
        """
        child = self._popen(command, subprocess.PIPE)
        outs, errs = [], []
        readers = [
            threading.Thread(target=_drain, args=(child.stdout, outs), daemon=True),
            threading.Thread(target=_drain, args=(child.stderr, errs), daemon=True),
        ]
        for reader in readers:
            reader.start()
        try:
            child.stdin.write(_password_line(self.password))
            with open(path, "rb") as source:
                for block in iter(lambda: source.read(CHUNK), b""):
                    child.stdin.write(block)
            child.stdin.close()
        except BrokenPipeError:
            pass
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
