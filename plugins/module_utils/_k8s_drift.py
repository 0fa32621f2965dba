# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which objects of a build really differ from the cluster, from kubernetes.core.k8s check-mode results.

kubernetes.core.k8s (apply, check mode, diff) reads the live object and then dry-runs the apply; it
reports a change whenever the two differ, status included. A controller that writes status between
the two reads (the HPA controller every 15 s) makes an unchanged object look drifted. Drift here is
a difference outside ``status`` and outside the metadata the API server and controllers keep
(``resourceVersion``, ``managedFields``, ``generation``).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

VOLATILE_TOP = frozenset(["status"])
VOLATILE_METADATA = frozenset(["resourceVersion", "managedFields", "generation"])


def _meaningful(diff):
    """True when a k8s diff (before/after holding only what differs) touches more than volatile fields."""
    if not isinstance(diff, dict) or not diff:
        return True  # no diff to judge by: keep the module's verdict
    sides = [diff.get("before"), diff.get("after")]
    if not all(isinstance(side, dict) for side in sides):
        return True
    for side in sides:
        for key, value in side.items():
            if key in VOLATILE_TOP:
                continue
            if key == "metadata" and isinstance(value, dict):
                if set(value) - VOLATILE_METADATA:
                    return True
                continue
            return True
    return False


def drifted(objects, results):
    """Pairs (object, result) of a multi-document apply whose result is changed by more than volatile fields.

    ``objects`` are the build's documents in order, ``results`` the module's per-document results in the
    same order (one result for a single document)."""
    if len(objects) != len(results):
        raise ValueError("%d objects but %d results: they must come from the same build file" % (len(objects), len(results)))
    out = []
    for obj, result in zip(objects, results):
        if not isinstance(result, dict):
            raise ValueError("a result is a %s, not a dict" % type(result).__name__)
        if result.get("changed") and _meaningful(result.get("diff")):
            out.append([obj, result])
    return out
