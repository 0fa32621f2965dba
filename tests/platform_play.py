"""Run the platform roles (playbooks/platform.yml's roles) with ansible-playbook against localhost,
writing into a temporary "manifests directory" instead of K3s's.

Shared by tests/unit/platform and tests/controlplane (on sys.path through tests/conftest.py, like
gitops_inputs.py); each passes its own inventory-like variables and role list.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

REPO = Path(__file__).resolve().parents[1]

PLAY = """---
- name: %s
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
%s
"""


def ansible_env(**extra: str) -> Dict[str, str]:
    """This process' environment for ansible-playbook runs of this working tree's collection (the link
    tests/conftest.py keeps), plain output, with `extra` over it."""
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / "build" / "pytest-collections"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    })
    env.update(extra)
    return env


def run_playbook(playbook: Path, env: Dict[str, str], *args: str, cwd: Optional[Path] = None,
                 timeout: int = 900) -> subprocess.CompletedProcess:
    exe = str(Path(sys.executable).parent / "ansible-playbook")
    return subprocess.run([exe, str(playbook), *args], cwd=str(cwd or REPO), env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def run_platform_roles(tmp: Path, env: Dict[str, str], base_vars: Dict[str, Any], manifest_roles: List[str],
                       overrides: Optional[Dict[str, Any]] = None, roles: Optional[List[str]] = None, drop: Iterable[str] = (),
                       extra_args: Iterable[str] = (), name: str = "Render the platform roles into a directory",
                       timeout: int = 900) -> subprocess.CompletedProcess:
    """Run `roles` (default: manifest_roles) against localhost with base_vars, every manifest_roles'
    manifests dir pointed at tmp/manifests, then overrides, without the variables in drop."""
    manifests = tmp / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    variables = dict(base_vars)
    for role in manifest_roles:
        variables["%s_manifests_dir" % role] = str(manifests)
    variables.update(overrides or {})
    for var in drop:
        variables.pop(var, None)
    (tmp / "vars.json").write_text(json.dumps(variables))
    play = tmp / "render.yml"
    play.write_text(PLAY % (name, "\n".join("    - role: parametric_portal.infra.%s" % r for r in (roles or manifest_roles))))
    (tmp / "ansible.cfg").write_text("[defaults]\nretry_files_enabled = false\n")
    run_env = dict(env, ANSIBLE_CONFIG=str(tmp / "ansible.cfg"))  # not the repository's (its inventory, callbacks)
    return run_playbook(play, run_env, "-i", "localhost,", "-e", "@%s" % (tmp / "vars.json"), *extra_args,
                        cwd=tmp, timeout=timeout)
