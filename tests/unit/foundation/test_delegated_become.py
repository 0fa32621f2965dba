"""Tasks delegated to the controller never become root there, whatever the inventory says.

inventories/dev and inventories/prod set `ansible_become: true` in group_vars/all. The implicit
localhost reads the `all` group's variables, and an inventory variable outranks the task keyword
`become: false`: a task delegated to the controller then ran `sudo` on the operator's machine
(measured: "sudo: not found" here; a password prompt, or a root-owned kubeconfig, on a laptop). The
first test shows that behaviour of Ansible on a real playbook run; the second holds every role and
playbook to the form that works, `vars: {ansible_become: false}` on the task or its block.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
CONTROLLER = ("localhost", "127.0.0.1")


def _run(tmp_path, task_extra):
    (tmp_path / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    dev = yaml.safe_load((ROOT / "inventories" / "dev" / "group_vars" / "all" / "main.yml").read_text())
    # The project's own value, another user (Ansible skips becoming the user it already is) and a
    # become program that can only fail: any become shows.
    (tmp_path / "group_vars" / "all" / "main.yml").write_text(yaml.safe_dump(
        {"ansible_become": dev["ansible_become"], "ansible_become_user": "nobody",
         "ansible_become_exe": "/bin/false"}))
    (tmp_path / "inventory.ini").write_text("[k3s_cluster]\nvps ansible_connection=local ansible_become=false\n")
    task = {"ansible.builtin.command": {"argv": ["id", "-un"]}, "delegate_to": "localhost",
            "become": False, "changed_when": False}
    task.update(task_extra)
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{"hosts": "vps", "gather_facts": False, "tasks": [task]}]))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_NOCOLOR="1")
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventory.ini", "play.yml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=False)


def test_the_inventorys_become_outranks_the_keyword_on_the_controller(tmp_path):
    keyword_only = _run(tmp_path, {})
    assert keyword_only.returncode != 0, keyword_only.stdout
    assert "become" in keyword_only.stdout.lower(), keyword_only.stdout
    with_var = _run(tmp_path, {"vars": {"ansible_become": False}})
    assert with_var.returncode == 0, with_var.stdout + with_var.stderr


def _tasks(items, inherited, delegate=None):
    for item in items or []:
        if not isinstance(item, dict):
            continue
        become = (item.get("vars") or {}).get("ansible_become", inherited)
        target = item.get("delegate_to", delegate)
        for key in ("block", "rescue", "always"):
            if key in item:
                yield from _tasks(item[key], become, target)
        if "block" not in item:
            yield item, target, become


def _task_files():
    for base in ("roles", "playbooks"):
        for path in sorted((ROOT / base).rglob("*.yml")):
            if "tasks" in path.parts or "handlers" in path.parts:
                yield path, yaml.safe_load(path.read_text())
            elif base == "playbooks":
                for play in yaml.safe_load(path.read_text()) or []:
                    if isinstance(play, dict):
                        for key in ("pre_tasks", "tasks", "post_tasks", "handlers"):
                            yield path, play.get(key)


def test_every_task_delegated_to_the_controller_sets_ansible_become_false():
    found = 0
    for path, items in _task_files():
        for task, target, become in _tasks(items, None):
            if target in CONTROLLER:
                found += 1
                assert become is False, (f"{path.relative_to(ROOT)}: '{task.get('name')}' is delegated to the "
                                         "controller without vars: {ansible_become: false} on it or its block")
    assert found >= 14, found  # hardening probes, k3s kubeconfig/airgap/drain, verify checks
