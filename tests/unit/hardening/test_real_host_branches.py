"""The exact commands and states of the hardening role's real-host branches (issue 17 item 6).

Containers cannot run what these branches do (`sysctl --system`, `modprobe`, `augenrules --load`,
`service auditd restart`, `aa-status`, the /dev/shm remount, starting auditd/AppArmor/timesyncd), so
the Molecule scenarios take the container branch. The VM tests (tests/vm) run the real branch on a
real kernel; this test pins what that branch is: each expression is rendered by Ansible's own
templating with `__hardening_in_container` false and true, and compared with the exact argv or
state. A change of a real-host command, or a real-host branch that silently became the container
one, fails here.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

ROLE = Path(__file__).resolve().parents[3] / "roles" / "hardening"


def _tasks(relpath):
    return {task["name"]: task for task in yaml.safe_load((ROLE / relpath).read_text())}


def _render(expr, in_container, **extra):
    variables = {"__hardening_in_container": in_container,
                 "__hardening_apply_sysctl": {"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.rp_filter": 1}}
    variables.update(extra)
    templar = Templar(loader=DataLoader(), variables=variables)
    if isinstance(expr, str):
        try:
            from ansible.template import trust_as_template  # ansible-core >= 2.19
            expr = trust_as_template(expr)
        except ImportError:  # pragma: no cover - older ansible-core
            pass
    return templar.template(expr)


def _when(task, in_container):
    conditions = task.get("when", [])
    conditions = conditions if isinstance(conditions, list) else [conditions]
    gate = [c for c in conditions if "__hardening_in_container" in str(c)]
    return all(_render("{{ %s }}" % c, in_container) for c in gate)


HANDLERS = _tasks("handlers/main.yml")


def test_sysctl_handler_runs_the_whole_system_order_on_real_hosts():
    argv = HANDLERS["Apply sysctl settings"]["ansible.builtin.command"]["argv"]
    assert list(_render(argv, False)) == ["sysctl", "-q", "-e", "--system"]
    # the container branch writes only the namespaced keys it is given, one -w each
    assert list(_render(argv, True)) == ["sysctl", "-q", "-e", "-w", "net.ipv4.ip_forward=1",
                                         "net.ipv4.conf.all.rp_filter=1"]


@pytest.mark.parametrize(("name", "argv"), [
    ("Restart auditd", ["/usr/sbin/service", "auditd", "restart"]),
    ("Load audit rules", ["/usr/sbin/augenrules", "--load"]),
])
def test_audit_handlers_run_exactly_these_commands_on_real_hosts_only(name, argv):
    handler = HANDLERS[name]
    assert handler["ansible.builtin.command"]["argv"] == argv
    assert _when(handler, False) is True
    assert _when(handler, True) is False


def test_time_daemon_restart_is_real_host_only():
    handler = HANDLERS["Restart time daemon"]
    assert handler["ansible.builtin.systemd_service"]["state"] == "restarted"
    assert (_when(handler, False), _when(handler, True)) == (True, False)


def test_kernel_modules_are_loaded_with_modprobe_on_real_hosts_only():
    task = _tasks("tasks/kernel.yml")["Kernel | Load the K3s kernel modules now (real hosts only)"]
    assert task["community.general.modprobe"] == {"name": "{{ item }}", "state": "present"}
    assert task["loop"] == "{{ hardening_k3s_modules }}"
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert {"br_netfilter", "overlay"} <= set(defaults["hardening_k3s_modules"])
    assert _when(task, False) is True
    assert _when(task, True) is False


def test_apparmor_is_started_and_queried_on_real_hosts():
    tasks = _tasks("tasks/apparmor.yml")
    enable = tasks["AppArmor | Enable AppArmor (started on real hosts only)"]["ansible.builtin.systemd_service"]
    assert _render(enable["state"], False) == "started"
    check = tasks["AppArmor | Check that AppArmor is enabled in the kernel (real hosts)"]
    assert check["ansible.builtin.command"]["argv"] == ["aa-status", "--enabled"]
    assert _when(check, False) is True
    assert _when(check, True) is False


def test_dev_shm_is_remounted_on_real_hosts_and_only_written_to_fstab_in_containers():
    mount = _tasks("tasks/shm.yml")["Shm | Mount /dev/shm with nodev,nosuid,noexec"]["ansible.posix.mount"]
    assert _render(mount["state"], False) == "mounted"
    assert _render(mount["state"], True) == "present"
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert set(defaults["hardening_shm_options"].split(",")) >= {"nodev", "nosuid", "noexec"}


@pytest.mark.parametrize("relpath", ["tasks/auditd.yml", "tasks/timesync.yml"])
def test_audit_and_time_services_are_started_on_real_hosts(relpath):
    states = [task[module]["state"] for task in _tasks(relpath).values()
              for module in ("ansible.builtin.systemd_service",) if module in task and "state" in task[module]
              and "__hardening_in_container" in str(task[module]["state"])]
    assert states, f"{relpath}: no service task with a real-host branch"
    for state in states:
        assert _render(state, False) == "started"
