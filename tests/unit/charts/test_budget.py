"""The resource budget of the whole platform on the spec's VPS, and the tables docs/platform.md shows.

Requests of every pod the platform runs must fit the smallest VPS the prod inventory's preflight
accepts (2 vCPU, 7680 MiB: what an "8 GB" VPS reports) with at least 25 % left for the node itself
(kernel, sshd, auditd, journald, the page cache). docs/platform.md carries the generated tables
verbatim; after a change of values run `PP_UPDATE_DOCS=1 pytest tests/unit/charts/test_budget.py`
to rewrite them (and review the diff).
"""
from __future__ import annotations

import os
import re

import pytest

from . import conftest, tables

DOC = conftest.REPO_ROOT / "docs" / "platform.md"
BLOCKS = {"budget": tables.budget_table, "images": tables.image_table}


def _block(name: str) -> re.Pattern:
    return re.compile(r"(<!-- generated:%s:begin[^>]*-->\n)(.*?)(\n<!-- generated:%s:end -->)" % (name, name), re.S)


def test_requests_fit_the_vps_with_headroom():
    rows, totals = tables.budget()
    assert totals["cpu_req"] <= totals["cpu_budget"], "CPU requests %dm exceed 75 %% of %dm" % (totals["cpu_req"], totals["cpu_cap"])
    assert totals["mem_req"] <= totals["mem_budget"], "memory requests %dMi exceed 75 %% of %dMi" % (totals["mem_req"], totals["mem_cap"])
    # Every counted pod carries requests (the K3s components document theirs, possibly none).
    unbudgeted = [r.pod for r in rows if r.source.startswith(("chart", "overlays", "roles")) and not (r.cpu_req and r.mem_req)]
    assert unbudgeted == []


def test_the_budget_covers_every_part_of_the_platform():
    rows = tables.budget()[0]
    namespaces = {r.namespace for r in rows}
    assert {"host", "kube-system", "argocd", "cnpg-system", "kyverno", "monitoring", "parametric-portal"} <= namespaces
    pods = " ".join(r.pod for r in rows)
    for needle in ("k3s server", "coredns", "Deployment/traefik", "argocd-application-controller", "sealed-secrets",
                   "cnpg-controller-manager", "PostgreSQL", "kyverno-admission-controller", "lgtm-grafana", "mimir-ingester",
                   "loki-ingester", "tempo-ingester", "Deployment/api", "Deployment/icons"):
        assert needle in pods, needle


def test_the_budget_test_can_fail(monkeypatch):
    """Doubling the node's memory need beyond the budget is reported (a broken build must fail)."""
    monkeypatch.setattr(tables, "node_capacity", lambda: (1000.0, 2048.0))
    rows, totals = tables.budget()
    assert totals["cpu_req"] > totals["cpu_budget"] and totals["mem_req"] > totals["mem_budget"]


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_docs_show_the_generated_table(name):
    text = DOC.read_text()
    match = _block(name).search(text)
    assert match, "docs/platform.md lacks the generated:%s block" % name
    expected = BLOCKS[name]()
    if os.environ.get("PP_UPDATE_DOCS") == "1" and match.group(2) != expected:
        DOC.write_text(text[:match.start(2)] + expected + text[match.end(2):])
        text = DOC.read_text()
        match = _block(name).search(text)
    assert match.group(2) == expected, (
        "docs/platform.md %s table differs from the values; regenerate with PP_UPDATE_DOCS=1. Expected:\n%s" % (name, expected))
