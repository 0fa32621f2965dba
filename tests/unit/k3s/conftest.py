"""Render the k3s and traefik role templates with ansible-core's own Templar (no hosts needed)."""
from __future__ import annotations

from typing import Any

import pytest
import yaml

import role_templates
from role_templates import cluster_vars, role_vars


def render(role: str, template: str, variables: dict[str, Any]) -> str:
    """The role's defaults and vars, ansible_managed, then these variables over them."""
    return role_templates.render(role, template, {**role_vars(role), "ansible_managed": "Ansible managed", **variables})


@pytest.fixture
def k3s_cluster_vars():
    return cluster_vars


@pytest.fixture
def render_template():
    return render


@pytest.fixture
def k3s_config():
    def _render(host: str, servers: list[str], agents: list[str], **extra: Any) -> dict[str, Any]:
        text = render("k3s", "config.yaml.j2", cluster_vars(host, servers, agents, **extra))
        return yaml.safe_load(text)

    return _render
