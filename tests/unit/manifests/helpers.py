"""Shared inputs of the manifest tests (tests/gitops_inputs.py, on sys.path through tests/conftest.py)."""
from __future__ import annotations

from gitops_inputs import REPO, apps, environments, platform

__all__ = ["REPO", "apps", "environments", "platform"]
