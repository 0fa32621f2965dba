"""Render the k3s and traefik role templates with ansible-core's own Templar (no hosts needed)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLES = Path(__file__).resolve().parents[3] / "roles"


def _trust(obj: Any) -> Any:
    """Mark strings as templates, as ansible does for values read from role files."""
    if isinstance(obj, str):
        return trust_as_template(obj)
    if isinstance(obj, dict):
        return {key: _trust(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_trust(value) for value in obj]
    return obj


def role_vars(role: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in ("defaults", "vars"):
        path = ROLES / role / part / "main.yml"
        if path.is_file():
            merged.update(yaml.safe_load(path.read_text()) or {})
    return merged


def render(role: str, template: str, variables: dict[str, Any]) -> str:
    all_vars = _trust({**role_vars(role), "ansible_managed": "Ansible managed", **variables})
    templar = Templar(loader=DataLoader(), variables=all_vars)
    return templar.template(trust_as_template((ROLES / role / "templates" / template).read_text()))


def cluster_vars(host: str, servers: list[str], agents: list[str], **extra: Any) -> dict[str, Any]:
    """Variables of one host in an inventory with the given servers/agents (no ansible_host set)."""
    names = servers + agents
    return {
        "inventory_hostname": host,
        "groups": {"k3s_servers": servers, "k3s_agents": agents, "k3s_cluster": names, "all": names},
        "hostvars": {name: {} for name in names},
        "ansible_facts": {"architecture": "x86_64", "nodename": host},
        "infra_public_address": "203.0.113.10",
        "infra_environment": "dev",
        **extra,
    }


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
