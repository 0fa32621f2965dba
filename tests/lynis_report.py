"""Lynis' report file (/var/log/lynis-report.dat), read the same way by the container scenario
(extensions/molecule/hardening/tests/test_lynis.py) and the VM stage (tests/vm/test_vm_site.py)."""
from __future__ import annotations


def parse(dat: str) -> dict:
    """hardening_index (int or None), warnings and suggestions as Lynis writes them (`ID|text|...`)."""
    found = {"index": None, "warnings": [], "suggestions": []}
    for line in dat.splitlines():
        key, unused, value = line.partition("=")
        if key == "hardening_index":
            found["index"] = int(value)
        elif key == "warning[]":
            found["warnings"].append(value)
        elif key == "suggestion[]":
            found["suggestions"].append(value)
    return found


def test_ids(entries: list) -> list:
    """The test ids of report entries, sorted and without repeats."""
    return sorted({entry.split("|", 1)[0] for entry in entries})
