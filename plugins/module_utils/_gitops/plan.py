# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing the rendered tree: plan (reads the destination, writes nothing) and apply (the only writer).

PRIVATE to parametric_portal.infra. The secrets folders overlays/<env>/secrets belong to the sealing
workflow: only their kustomization.yaml is created once; nothing in them is updated or removed. A file
without the generated-file header is never overwritten; a stale file is removed only when it has it.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, Iterable, List

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.checks import ManifestError
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.tree import HEADER_MARK, is_generated

SECRETS_KUSTOMIZATION = (
    "---\n# SealedSecrets of this overlay (playbooks/seal_secret.yml adds files here). Not generated:\n"
    "# the renderer creates this file once and never changes or deletes anything in this folder.\n"
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"
)


def secrets_dirs(environments: Iterable[str]) -> List[str]:
    return ["overlays/%s/secrets" % name for name in sorted(environments)]


def _is_secrets_path(rel: str) -> bool:
    parts = rel.replace("\\", "/").split("/")
    return len(parts) >= 3 and parts[0] == "overlays" and parts[2] == "secrets"


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _stale(dest: str, wanted: Dict[str, str]) -> Dict[str, str]:
    out = {}
    for root, dirs, files in os.walk(dest):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, dest).replace(os.sep, "/")
            if rel in wanted or _is_secrets_path(rel) or not name.endswith((".yaml", ".yml")):
                continue
            try:
                old = _read(path)
            except (OSError, UnicodeDecodeError):
                continue
            if is_generated(old):
                out[rel] = old
    return out


def plan_tree(dest: str, rendered: Dict[str, str], environments: Iterable[str], remove_stale: bool = True) -> Dict[str, Any]:
    """Compare the rendered tree with what is under ``dest``.

    Returns ``{"create": {rel: text}, "update": {rel: (old, new)}, "remove": {rel: old},
    "unchanged": [rel]}``. Secrets folders (``overlays/<env>/secrets``) are never updated or removed;
    only their kustomization.yaml is created when absent. Stale files are removed only when they
    carry the generated-file header.
    """
    plan: Dict[str, Any] = {"create": {}, "update": {}, "remove": {}, "unchanged": []}
    for sdir in secrets_dirs(environments):
        rel = sdir + "/kustomization.yaml"
        if not os.path.exists(os.path.join(dest, rel)):
            plan["create"][rel] = SECRETS_KUSTOMIZATION
    for rel, text in sorted(rendered.items()):
        path = os.path.join(dest, rel)
        if not os.path.exists(path):
            plan["create"][rel] = text
            continue
        old = _read(path)
        if old == text:
            plan["unchanged"].append(rel)
        elif not is_generated(old):
            raise ManifestError("%s: exists and was not generated (no '%s' header); move it away or add it to the "
                                "apps model instead of editing the tree" % (rel, HEADER_MARK))
        else:
            plan["update"][rel] = (old, text)
    if remove_stale and os.path.isdir(dest):
        plan["remove"] = _stale(dest, rendered)
    return plan


def _write(path: str, text: str, atomic_move: Any) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".gitops_render.", dir=os.path.dirname(path))
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    if atomic_move is not None:
        atomic_move(tmp, path)
    else:
        os.replace(tmp, path)


def apply_plan(dest: str, plan: Dict[str, Any], atomic_move: Any = None) -> None:
    """Write creates/updates (via a temporary file + rename) and delete stale generated files."""
    for rel, text in list(plan["create"].items()) + [(r, new) for r, (_old, new) in plan["update"].items()]:
        _write(os.path.join(dest, rel), text, atomic_move)
    for rel in plan["remove"]:
        path = os.path.join(dest, rel)
        os.remove(path)
        parent = os.path.dirname(path)
        while os.path.abspath(parent) != os.path.abspath(dest) and not os.listdir(parent):
            os.rmdir(parent)
            parent = os.path.dirname(parent)
