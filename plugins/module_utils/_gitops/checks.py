# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Field checks of the GitOps generator: ManifestError and typed validators that name the field.

PRIVATE to parametric_portal.infra. Every check raises ManifestError with a message that starts with
the offending field (``infra_apps[1] (icons).port: 70000 is out of range: expected 1024-65535``).
"""

from __future__ import annotations

import re
from typing import Any, Dict

NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
QUANTITY_CPU_RE = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")
QUANTITY_MEM_RE = re.compile(r"^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$")


class ManifestError(ValueError):
    """Bad apps model / environment / platform input; the message starts with the offending field."""


def fail(field: str, message: str) -> None:
    """Raise ManifestError for ``field``."""
    raise ManifestError("%s: %s" % (field, message))


def as_dict(value: Any) -> dict:
    """``value`` when it is a mapping, else an empty one (for reading optional nested keys)."""
    return value if isinstance(value, dict) else {}


def check_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        fail(field, "must be true or false, got %r" % (value,))
    return value


def check_str(value: Any, field: str, regex: Any = None, expected: str = "") -> str:
    if not isinstance(value, str) or not value:
        fail(field, "must be a non-empty string%s, got %r" % (" (" + expected + ")" if expected else "", value))
    if regex is not None and not regex.match(value):
        fail(field, "%r is not valid: expected %s" % (value, expected or regex.pattern))
    return value


def check_int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        fail(field, "must be an integer between %d and %d, got %r" % (low, high, value))
    if not low <= value <= high:
        fail(field, "%d is out of range: expected %d-%d" % (value, low, high))
    return value


def check_choice(value: Any, field: str, choices: tuple) -> Any:
    if value not in choices:
        fail(field, "must be one of %s, got %r" % (", ".join(choices), value))
    return value


def check_keys(value: dict, known: Any, field: str) -> None:
    """Fail on the first key of ``value`` that is not in ``known``."""
    unknown = sorted(set(value) - set(known))
    if unknown:
        fail("%s.%s" % (field, unknown[0]), "unknown key (known: %s)" % ", ".join(sorted(known)))


def check_resources(value: Any, field: str) -> Dict[str, str]:
    """A ``{cpu, memory}`` mapping (either or both) of Kubernetes quantities."""
    if not isinstance(value, dict) or set(value) - {"cpu", "memory"} or not value:
        fail(field, "must be a mapping with cpu and/or memory, got %r" % (value,))
    out = {}
    if "cpu" in value:
        out["cpu"] = check_str(str(value["cpu"]), field + ".cpu", QUANTITY_CPU_RE, "a CPU quantity like 500m or 1")
    if "memory" in value:
        out["memory"] = check_str(str(value["memory"]), field + ".memory", QUANTITY_MEM_RE, "a memory quantity like 512Mi")
    return out
