"""The SSH lock-out probes are decided in the host's context, not in the tasks delegated to the controller.

In a task with `delegate_to: localhost`, Ansible resolves connection variables for the controller:
with `ansible_connection` unset in the inventory (inventories/prod, Molecule's SSH inventories) it
reads `local`, so `hardening_ssh_login_probe` (whose default asks whether the play connects over
SSH) was false there and both probes were skipped without a word. The first test shows that
behaviour of Ansible itself on a real playbook run; the second holds the role to deciding the probe
before delegating.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "hardening"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
CONNECTION_VARS = ("ansible_connection", "hardening_ssh_login_probe", "ansible_check_mode")


def test_ansible_reads_the_controllers_connection_in_a_delegated_task(tmp_path):
    (tmp_path / "inventory.yml").write_text("all:\n  hosts:\n    vps:\n      ansible_host: 192.0.2.10\n")
    play = [{
        "hosts": "vps", "gather_facts": False,
        "vars": {"hardening_ssh_login_probe": DEFAULTS["hardening_ssh_login_probe"]},
        "tasks": [
            {"ansible.builtin.set_fact": {"host_context": "{{ hardening_ssh_login_probe | bool }}"}},
            {"ansible.builtin.set_fact": {"delegated": "{{ hardening_ssh_login_probe | bool }}"},
             "delegate_to": "localhost", "delegate_facts": False},
            {"ansible.builtin.debug": {"msg": "RESULT host={{ host_context }} delegated={{ delegated }}"}},
        ],
    }]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_NOCOLOR="1")
    out = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventory.yml", "play.yml"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=True).stdout
    assert "RESULT host=True delegated=False" in out, out


def test_no_delegated_task_decides_on_connection_variables():
    for path in sorted((ROLE / "tasks").glob("*.yml")):
        for task in yaml.safe_load(path.read_text()) or []:
            if task.get("delegate_to") not in ("localhost", "127.0.0.1"):
                continue
            when = task.get("when", [])
            text = " ".join(when) if isinstance(when, list) else str(when)
            for name in CONNECTION_VARS:
                assert name not in text, (f"{path.name}: '{task['name']}' decides on {name} on the controller; "
                                          "decide it with set_fact in the host's context first")
