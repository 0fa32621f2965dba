"""playbooks/site.yml on a real Ubuntu 24.04 VM (kernel 6.8 under QEMU), over SSH as an operator.

The order is the story of a VPS: first boot (admin user and key from the seed disk, as cloud-init
does) -> the real-kernel checks FAIL on the fresh VM (each check can fail) -> site.yml -> the
checks pass on the live kernel -> a second site.yml changes nothing -> a real reboot -> the checks
pass again, now from what the boot itself applied -> Lynis inside the VM.

K3s is the TEST DOUBLE from tests/doubles (as in the site scenario): it proves install mechanics
only; no cluster runs and nothing here claims one did. Tests depend on the ones before them; a
later test fails (never skips) when an earlier step did not complete.
"""
from __future__ import annotations


import pytest

import checks
import lynis_report
from conftest import Playbook, make_inventory, measure, report
from vmlib import Vm, VmError

HOST = "pp-vm-site"
BOOT_TIMEOUT = float(__import__("os").environ.get("PP_VM_BOOT_TIMEOUT", "900"))
# The container scenario's floor (extensions/molecule/hardening/tests/test_lynis.py).
LYNIS_MIN = int(__import__("os").environ.get("PP_VM_LYNIS_MIN", "85"))
STATE: dict[str, object] = {}


def _need(step: str) -> None:
    if not STATE.get(step):
        pytest.fail(f"not run: the earlier step '{step}' did not complete")


@pytest.fixture(scope="module")
def vm(vm_image, workdir, sntp, fresh_apt_lists):
    run_dir = workdir / "site"
    machine = Vm(HOST, vm_image, run_dir, memory_mib=1536, cpus=2, apt_lists=fresh_apt_lists)
    try:
        machine.start(index=1)
        yield machine
    finally:
        machine.stop()


@pytest.fixture(scope="module")
def playbook(vm):
    inv = make_inventory(vm.workdir, {
        "k3s_servers": {HOST: {"ansible_port": vm.boot_port, "vm_test_ssh_port": vm.ssh_port,
                               "vm_test_dir": str(vm.dir)}},
        "k3s_agents": {},
    })
    return Playbook(inv, vm.workdir)


def _format(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"  {name}: {'; '.join(p)}" for name, p in problems.items() if p)


def test_first_boot_creates_the_admin_from_the_seed(vm):
    try:
        with measure("single VM: first boot to SSH login", vm):
            vm.wait_ssh(BOOT_TIMEOUT)
    except VmError as exc:
        pytest.fail(f"the VM did not come up: {exc}")
    out = vm.ssh("id -nG; sudo -n cat /var/lib/pp-firstboot/done; hostname; uname -r; systemd-detect-virt").stdout
    assert "sudo" in out.splitlines()[0], out
    assert HOST in out and "qemu" in out, out
    STATE["booted"] = True


def test_checks_fail_on_the_fresh_vm(vm):
    """The standing negative control: before hardening, every concern's check reports problems."""
    _need("booted")
    with measure("single VM: real-kernel checks on the fresh VM (negative control)", vm):
        results = checks.run_all(vm, vm.ssh_port, quick_timesync=True)
    passing = [name for name in checks.MUST_FAIL_WHEN_FRESH if not results[name]]
    assert not passing, f"these checks pass on a never-hardened VM, so they cannot prove anything: {passing}"


def test_site_converges(vm, playbook):
    _need("booted")
    with measure("single VM: site.yml converge", vm):
        result = playbook.run("playbooks/site.yml", "converge")
    assert result["rc"] == 0, f"site.yml failed (log {result['log']}):\n{result['tail']}"
    STATE["converged"] = True


def test_real_kernel_state_after_converge(vm):
    _need("converged")
    vm.port = vm.ssh_port   # sshd moved to the inventory's port during the converge
    problems = checks.run_all(vm, vm.ssh_port)
    assert not any(problems.values()), "not in force after site.yml:\n" + _format(problems)


def test_live_sysctl_change_is_detected(vm):
    """fs.* cannot be shown failing on a fresh VM (Ubuntu's defaults already match): switch one
    key off on the live kernel, the check must see it, then re-apply the files."""
    _need("converged")
    vm.root("sysctl -q -w fs.protected_regular=0")
    try:
        assert checks.check_sysctl_fs(vm), "check_sysctl_fs did not notice fs.protected_regular=0"
    finally:
        vm.root("sysctl -q --system")
    assert not checks.check_sysctl_fs(vm)


def test_second_converge_changes_nothing(vm, playbook):
    _need("converged")
    with measure("single VM: site.yml second run", vm):
        result = playbook.run("playbooks/site.yml", "idempotence")
    assert result["rc"] == 0, f"second site.yml failed (log {result['log']}):\n{result['tail']}"
    changed = {h: r["changed"] for h, r in result["recap"].items() if r["changed"]}
    assert not changed, "second run not idempotent: " + "\n".join(result["changed_tasks"])
    STATE["idempotent"] = True


def test_reboot_keeps_everything_in_force(vm):
    _need("converged")
    with measure("single VM: reboot to SSH login", vm):
        vm.reboot(BOOT_TIMEOUT)
    with measure("single VM: real-kernel checks after reboot", vm):
        problems = checks.run_all(vm, vm.ssh_port)
    problems["modules inserted at boot"] = checks.modules_loaded_at_boot(vm)
    failed = vm.ssh("systemctl --failed --no-legend --plain", check=False).stdout.strip()
    problems["failed units"] = [failed] if failed else []
    k3s = vm.ssh("systemctl is-active k3s", check=False).stdout.strip()
    problems["k3s unit (test double) back after reboot"] = [] if k3s == "active" else [f"k3s is {k3s}"]
    assert not any(problems.values()), "not in force after the reboot:\n" + _format(problems)
    STATE["rebooted"] = True


def test_lynis_inside_the_vm(vm):
    """Lynis (from the Ubuntu archive, in the image) audits the hardened VM. The container scenario
    (extensions/molecule/hardening, test_lynis.py) audits the same role in a container; the VM adds
    what only a real kernel shows (modules, kernel hardening, auditd, AppArmor)."""
    _need("converged")
    with measure("single VM: Lynis audit", vm):
        out = vm.root("lynis audit system --quick --no-colors >/dev/null 2>&1 || true; "
                      "dpkg-query -W -f '${Version}\\n' lynis; cat /var/log/lynis-report.dat", timeout=3600)
    version, _sep, dat = out.partition("\n")
    found = lynis_report.parse(dat)
    report("single VM: Lynis version", version.strip())
    report("single VM: Lynis hardening index", found["index"])
    report("single VM: Lynis warnings", found["warnings"])
    report("single VM: Lynis suggestions", lynis_report.test_ids(found["suggestions"]))
    assert found["index"] is not None, f"no hardening index in Lynis' report:\n{out[-2000:]}"
    assert not found["warnings"], f"Lynis warnings on the VM: {found['warnings']}"
    assert found["index"] >= LYNIS_MIN, f"Lynis hardening index {found['index']} < {LYNIS_MIN}"
