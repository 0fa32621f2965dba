# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only host state in one pass: packages, paths, systemd units, sysctls, users, SSH keys.

PRIVATE to the parametric_portal.infra collection: not a public API, may change without notice.
The host_state module is a thin wrapper around read_state(); the stale_paths filter compares
what a role wants with what this returns.

Why: a role that asks the host one question per task pays one SSH round trip (and one Python
start on the host) per question. Reading everything a role decides on in one module run lets
the role skip every task whose target state is already there, and lets check mode on a fresh
host say exactly what would be installed, written and started.

Parsers are pure functions (unit tested with captured command output); the readers take a
``run`` callable (argv -> (rc, stdout, stderr)) so tests can feed them.
"""

from __future__ import annotations

import base64
import grp
import hashlib
import os
import pwd
import re
import stat
import struct
import time
from typing import Callable, Dict, Iterable, List, Optional, Tuple

Run = Callable[[List[str]], Tuple[int, str, str]]

# dpkg's status triple "want ok status": only "installed" counts as installed.
_INSTALLED = "installed"
_UNIT_PROPERTIES = ("Id", "LoadState", "UnitFileState", "ActiveState")


def parse_dpkg_query(text: str) -> Dict[str, Optional[str]]:
    """``dpkg-query -W -f '${Package}\\t${db:Status-Status}\\t${Version}\\n'`` -> {name: version or None}."""
    found: Dict[str, Optional[str]] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 3 or not fields[0]:
            continue
        name, status, version = fields
        # A package known for several architectures prints one line each; installed wins.
        if status == _INSTALLED:
            found[name] = version
        else:
            found.setdefault(name, None)
    return found


def read_packages(names: Iterable[str], run: Run) -> Dict[str, Optional[str]]:
    """Installed version of each package, None when it is not installed (or unknown to dpkg)."""
    names = sorted(set(names))
    if not names:
        return {}
    rc, out, err = run(["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Status}\t${Version}\n", "--"] + names)
    # rc 1 = some names are unknown to dpkg (never installed): that is an answer, not an error.
    if rc not in (0, 1):
        raise RuntimeError("dpkg-query failed (rc %d): %s" % (rc, err.strip()))
    found = parse_dpkg_query(out)
    return {name: found.get(name) for name in names}


def _mode(st: os.stat_result) -> str:
    return "%04o" % stat.S_IMODE(st.st_mode)


def _name(lookup: Callable[[int], object], ident: int) -> str:
    try:
        return lookup(ident)[0]  # type: ignore[index]
    except KeyError:
        return str(ident)


def path_state(path: str, checksum: bool = True) -> Dict[str, object]:
    """Type, mode, owner, group (and sha1 of a regular file) of a path, without following a link."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {"exists": False}
    except NotADirectoryError:
        return {"exists": False}
    if stat.S_ISLNK(st.st_mode):
        kind = "link"
    elif stat.S_ISDIR(st.st_mode):
        kind = "directory"
    elif stat.S_ISREG(st.st_mode):
        kind = "file"
    else:
        kind = "other"
    state: Dict[str, object] = {
        "exists": True,
        "type": kind,
        "mode": _mode(st),
        "owner": _name(pwd.getpwuid, st.st_uid),
        "group": _name(grp.getgrgid, st.st_gid),
        "mtime": int(st.st_mtime),
    }
    if kind == "file" and checksum:
        digest = hashlib.sha1()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(65536), b""):
                digest.update(block)
        state["checksum"] = digest.hexdigest()
    return state


def parse_systemctl_show(text: str) -> List[Dict[str, str]]:
    """``systemctl show -p Id,LoadState,UnitFileState,ActiveState A B`` -> one dict per unit, in order."""
    units: List[Dict[str, str]] = []
    current: Dict[str, str] = {}
    for line in text.splitlines() + [""]:
        if not line.strip():
            if current:
                units.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
    return units


def read_units(names: Iterable[str], run: Run) -> Dict[str, Dict[str, str]]:
    """Load, enablement and activity of each unit: {name: {load, enabled, active}}."""
    names = list(dict.fromkeys(names))
    if not names:
        return {}
    rc, out, err = run(["systemctl", "show", "--property=" + ",".join(_UNIT_PROPERTIES), "--"] + names)
    if rc != 0:
        raise RuntimeError("systemctl show failed (rc %d): %s" % (rc, err.strip()))
    blocks = parse_systemctl_show(out)
    if len(blocks) != len(names):
        raise RuntimeError("systemctl show returned %d units for %d names" % (len(blocks), len(names)))
    return {
        name: {
            "load": block.get("LoadState", ""),
            "enabled": block.get("UnitFileState", ""),
            "active": block.get("ActiveState", ""),
        }
        for name, block in zip(names, blocks)
    }


def read_sysctl(keys: Iterable[str], proc_root: str = "/proc/sys") -> Dict[str, Optional[str]]:
    """Live value of each key (whitespace-normalised, as `sysctl -n` prints it); None if absent/unreadable."""
    values: Dict[str, Optional[str]] = {}
    for key in keys:
        path = os.path.join(proc_root, *key.split("."))
        try:
            with open(path, "r") as handle:
                values[key] = " ".join(handle.read().split())
        except OSError:
            values[key] = None
    return values


def parse_shadow_line(line: str) -> Dict[str, object]:
    """Lock state and password ageing of one /etc/shadow line (never the hash itself)."""
    fields = line.rstrip("\n").split(":")
    fields += [""] * (9 - len(fields))
    pwfield = fields[1]

    def _int(value: str) -> Optional[int]:
        return int(value) if value.strip().lstrip("-").isdigit() else None

    return {
        # "!", "!*", "*" or empty hash after "!" = no password login possible.
        "password_locked": pwfield.startswith("!") or pwfield.startswith("*"),
        "password_set": bool(pwfield.lstrip("!*")),
        "last_change_days": _int(fields[2]),
        "password_max_days": _int(fields[4]),
    }


def user_state(name: str, shadow_file: str = "/etc/shadow") -> Dict[str, object]:
    """Account facts of one user: uid, home, shell, supplementary groups, password lock and ageing."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return {"exists": False}
    groups = sorted(g.gr_name for g in grp.getgrall() if name in g.gr_mem)
    state: Dict[str, object] = {
        "exists": True,
        "uid": entry.pw_uid,
        "gid": entry.pw_gid,
        "home": entry.pw_dir,
        "home_exists": os.path.isdir(entry.pw_dir),
        "shell": entry.pw_shell,
        "groups": groups,
        # What sshd reads by default (AuthorizedKeysFile .ssh/authorized_keys).
        "ssh_dir": path_state(os.path.join(entry.pw_dir, ".ssh"), checksum=False),
        "authorized_keys": path_state(os.path.join(entry.pw_dir, ".ssh", "authorized_keys")),
    }
    try:
        with open(shadow_file, "r") as handle:
            for line in handle:
                if line.split(":", 1)[0] == name:
                    state.update(parse_shadow_line(line))
                    break
    except OSError:
        pass
    return state


def _ssh_string(blob: bytes, offset: int) -> Tuple[bytes, int]:
    if offset + 4 > len(blob):
        raise ValueError("truncated key blob")
    (length,) = struct.unpack(">I", blob[offset:offset + 4])
    start = offset + 4
    if start + length > len(blob):
        raise ValueError("truncated key blob")
    return blob[start:start + length], start + length


def public_key_info(text: str) -> Dict[str, object]:
    """Type and size in bits of an OpenSSH public key line ("ssh-rsa AAAA... comment")."""
    fields = text.split()
    if len(fields) < 2:
        raise ValueError("not an OpenSSH public key line")
    blob = base64.b64decode(fields[1], validate=True)
    kind, offset = _ssh_string(blob, 0)
    key_type = kind.decode("ascii")
    if key_type != fields[0]:
        raise ValueError("key type %s does not match its blob (%s)" % (fields[0], key_type))
    if key_type == "ssh-rsa":
        unused_e, offset = _ssh_string(blob, offset)
        modulus, offset = _ssh_string(blob, offset)
        bits = int.from_bytes(modulus, "big").bit_length()
    elif key_type == "ssh-ed25519":
        bits = 256
    elif key_type.startswith("ecdsa-sha2-nistp"):
        bits = int(key_type[len("ecdsa-sha2-nistp"):])
    else:
        bits = 0
    return {"type": key_type, "bits": bits}


def ssh_public_key_state(path: str) -> Dict[str, object]:
    try:
        with open(path, "r") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {"exists": False}
    try:
        info = public_key_info(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return {"exists": True, "type": "", "bits": 0, "error": str(exc)}
    info["exists"] = True
    return info


def read_state(run: Run, packages: Iterable[str] = (), paths: Iterable[str] = (), checksum: bool = True,
               units: Iterable[str] = (), sysctl: Iterable[str] = (), users: Iterable[str] = (),
               ssh_public_keys: Iterable[str] = (), apt_upgrades: bool = False) -> Dict[str, object]:
    """Everything asked for, in one dict; read-only."""
    return {
        "time": int(time.time()),
        "packages": read_packages(packages, run),
        "paths": {p: path_state(p, checksum) for p in dict.fromkeys(paths)},
        "units": read_units(units, run),
        "sysctl": read_sysctl(sysctl),
        "users": {u: user_state(u) for u in dict.fromkeys(users)},
        "ssh_public_keys": {p: ssh_public_key_state(p) for p in dict.fromkeys(ssh_public_keys)},
        "apt_upgrades": read_apt_upgrades(run) if apt_upgrades else [],
    }


# "Inst libc6 [2.39-0ubuntu8] (2.39-0ubuntu8.6 Ubuntu:24.04/noble-updates, Ubuntu:24.04/noble-security [amd64])"
_INST = re.compile(r"^Inst (?P<name>\S+)(?: \[(?P<current>[^\]]*)\])? \((?P<candidate>\S+) (?P<origins>[^\[)]*?)(?: \[[^\]]*\])?\)")


def parse_apt_simulation(text: str) -> List[Dict[str, object]]:
    """The ``Inst`` lines of ``apt-get -s install|upgrade``: name, current and candidate version,
    origins, and whether an origin is a security pocket (``*-security``, as Lynis PKGS-7392 counts)."""
    found: List[Dict[str, object]] = []
    for line in text.splitlines():
        m = _INST.match(line)
        if not m:
            continue
        origins = [o.strip() for o in m.group("origins").split(",") if o.strip()]
        found.append({
            "name": m.group("name"),
            "current": m.group("current"),
            "candidate": m.group("candidate"),
            "origins": origins,
            "security": any("-security" in o for o in origins),
        })
    return found


APT_UPGRADES_ARGV = ["apt-get", "-s", "-o", "Debug::NoLocking=true", "-o", "Dir::Cache::pkgcache=",
                     "-o", "Dir::Cache::srcpkgcache=", "upgrade"]


def read_apt_upgrades(run: Run) -> List[Dict[str, object]]:
    """Pending upgrades as ``apt-get -s upgrade`` sees them with the current package lists: no lock
    taken, and no binary cache written (apt-get would otherwise (re)build /var/cache/apt/*.bin on a
    host whose caches are missing or stale, a change check mode must not make)."""
    rc, out, err = run(APT_UPGRADES_ARGV)
    if rc != 0:
        raise RuntimeError("apt-get -s upgrade failed (rc %d): %s" % (rc, err.strip()))
    return parse_apt_simulation(out)


def _norm_mode(mode: object) -> str:
    if isinstance(mode, int):
        return "%04o" % mode
    text = str(mode).strip()
    if not text or any(c not in "01234567" for c in text):
        raise ValueError("mode must be octal digits, got %r" % (mode,))
    return "%04o" % int(text, 8)


def stale_paths(expected: Iterable[Dict[str, object]], observed: Dict[str, Dict[str, object]]) -> List[str]:
    """Paths whose observed state (host_state's ``paths``) differs from the wanted one.

    Each wanted entry has ``path`` and optionally ``type`` (file or directory, default file),
    ``checksum`` (SHA-1 of the wanted content), ``mode``, ``owner`` and ``group``; what is not
    given is not compared. A path missing from ``observed`` counts as stale (never read = unknown).
    """
    stale: List[str] = []
    for want in expected:
        if not isinstance(want, dict) or not want.get("path"):
            raise ValueError("every wanted entry needs a 'path', got %r" % (want,))
        path = str(want["path"])
        have = observed.get(path) or {}
        differs = (
            not have.get("exists")
            or have.get("type") != want.get("type", "file")
            or ("checksum" in want and have.get("checksum") != want["checksum"])
            or ("mode" in want and have.get("mode") != _norm_mode(want["mode"]))
            or ("owner" in want and have.get("owner") != want["owner"])
            or ("group" in want and have.get("group") != want["group"])
        )
        if differs:
            stale.append(path)
    return stale
