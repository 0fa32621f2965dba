"""Render role templates with ansible-core's own Templar, as ansible does for a host (no host needed).

Shared by tests/unit/k3s, tests/unit/charts and tests/controlplane (on sys.path through
tests/conftest.py, like gitops_inputs.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLES = Path(__file__).resolve().parents[1] / "roles"


def trust(obj: Any) -> Any:
    """Mark strings as templates, as ansible does for values read from role files and inventories."""
    if isinstance(obj, str):
        return trust_as_template(obj)
    if isinstance(obj, dict):
        return {key: trust(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [trust(value) for value in obj]
    return obj


def role_vars(role: str) -> Dict[str, Any]:
    """The role's defaults/main.yml, then its vars/main.yml over them (either may be missing)."""
    merged: Dict[str, Any] = {}
    for part in ("defaults", "vars"):
        path = ROLES / role / part / "main.yml"
        if path.is_file():
            merged.update(yaml.safe_load(path.read_text()) or {})
    return merged


def templar(variables: Dict[str, Any]) -> Templar:
    return Templar(loader=DataLoader(), variables=trust(variables))


def render(role: str, template: str, variables: Dict[str, Any]) -> str:
    """roles/<role>/templates/<template> rendered with exactly these variables."""
    return templar(variables).template(trust_as_template((ROLES / role / "templates" / template).read_text()))


def cluster_vars(host: str, servers: List[str], agents: List[str], **extra: Any) -> Dict[str, Any]:
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
