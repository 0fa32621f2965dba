# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deterministic YAML of the GitOps generator (and of the k8s_yaml filter).

PRIVATE to parametric_portal.infra. Sorted keys, documents in the given order, literal blocks for
multi-line strings, block style, width 120, no anchors; builtin types only (see plain()).
"""

from __future__ import annotations

import traceback
from typing import Any, Dict, Iterable

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_YAML = True
    YAML_IMPORT_ERROR = None

_DUMPERS: Dict[bool, Any] = {}


def _str_representer(dumper: Any, value: str) -> Any:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _indented_sequences(self: Any, flow: bool = False, indentless: bool = False) -> Any:
    return yaml.SafeDumper.increase_indent(self, flow, False)


def _no_aliases(self: Any, data: Any) -> bool:
    # Shared sub-objects must be written out in full: no &id001 anchors / *id001 aliases.
    return True


def _yaml_dumper(indent_sequences: bool) -> Any:
    base = yaml.SafeDumper if indent_sequences else getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    attributes = {"ignore_aliases": _no_aliases}
    if indent_sequences:
        attributes["increase_indent"] = _indented_sequences
    dumper = type("Dumper", (base,), attributes)
    dumper.add_representer(str, _str_representer)
    return dumper


def plain(value: Any) -> Any:
    """Copy with builtin types only (Ansible passes str/dict/list subclasses that PyYAML's safe
    dumper refuses)."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def dump_documents(docs: Iterable[Any], indent_sequences: bool = True, explicit_start: bool = True,
                   sort_keys: bool = True) -> str:
    """Deterministic multi-document YAML: sorted keys, documents in the given order, literal blocks
    for multi-line strings, block style, width 120.

    ``indent_sequences=True`` (default) indents lists under their key, which yamllint's default
    ``indentation`` rule wants (pure-Python emitter). ``indent_sequences=False`` uses the libyaml C
    emitter when PyYAML was built with it (faster, kubectl-style indentless lists).
    """
    dumper = _DUMPERS.get(indent_sequences)
    if dumper is None:
        dumper = _DUMPERS[indent_sequences] = _yaml_dumper(indent_sequences)
    return yaml.dump_all([plain(d) for d in docs], Dumper=dumper, sort_keys=sort_keys, default_flow_style=False,
                         explicit_start=explicit_start, width=120, allow_unicode=True)
