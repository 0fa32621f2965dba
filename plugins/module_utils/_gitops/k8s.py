# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small Kubernetes object helpers of the GitOps generator: metadata, labels, kustomizations.

PRIVATE to parametric_portal.infra. Every object the tree holds carries the part-of label PART_OF.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

PART_OF = "parametric-portal"
PART_OF_LABELS = {"app.kubernetes.io/part-of": PART_OF}


def labels(name: str, component: str = "") -> Dict[str, str]:
    """The labels of an app's objects (name, part-of and optionally component)."""
    out = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}
    if component:
        out["app.kubernetes.io/component"] = component
    return out


def meta(name: str, namespace: Optional[str] = None, object_labels: Optional[dict] = None,
         annotations: Optional[dict] = None) -> dict:
    """``metadata`` with only the parts that are set."""
    out: Dict[str, Any] = {"name": name}
    if namespace:
        out["namespace"] = namespace
    if object_labels:
        out["labels"] = object_labels
    if annotations:
        out["annotations"] = annotations
    return out


def kustomization(resources: List[str]) -> dict:
    """A plain Kustomization listing ``resources``."""
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}
