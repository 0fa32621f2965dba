"""Real-kernel checks of a hardened Ubuntu 24.04 VM, one per concern of roles/hardening.

Every check returns a list of problems (empty = in force). The same checks run on the fresh VM
before the converge, where each concern listed in MUST_FAIL_WHEN_FRESH has to report problems:
that is the standing proof, on every run, that a check fails when its setting is absent.

Expected values come from the role's own defaults and vars (the sysctl keys, the modules, the
/dev/shm options) and from the rule files the role wrote on the VM (audit keys); the live values
come from the running kernel: /proc/sys, /sys/module, modprobe, auditctl, the AppArmor
securityfs, findmnt, nft, timedatectl.
"""
from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path

import yaml

from vmlib import Vm

ROLE = Path(__file__).resolve().parents[2] / "roles" / "hardening"
_DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
_VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())

EXPECTED_SYSCTL: dict[str, str] = {
    k: str(v) for k, v in {**_DEFAULTS["hardening_sysctl"], **_VARS["__hardening_kubelet_sysctl"],
                           **_VARS["__hardening_forwarding_sysctl"]}.items()
}
K3S_MODULES: list[str] = list(_DEFAULTS["hardening_k3s_modules"])
DISABLED_MODULES: list[str] = list(_DEFAULTS["hardening_disabled_kernel_modules"])
SHM_OPTIONS = [o for o in _DEFAULTS["hardening_shm_options"].split(",") if o != "defaults"]
FIREWALL_TABLE = _DEFAULTS["hardening_firewall_table"]
AUDIT_RULES_FILE = "/etc/audit/rules.d/50-parametric-portal.rules"


def _sysctl(vm: Vm, prefix: str) -> list[str]:
    keys = sorted(k for k in EXPECTED_SYSCTL if k.startswith(prefix))
    # Read straight from /proc/sys: one value per line, "MISSING" when the kernel lacks the key.
    script = "; ".join(
        f"v=$(cat /proc/sys/{k.replace('.', '/')} 2>/dev/null) && echo \"{k}=$v\" || echo \"{k}=MISSING\""
        for k in keys)
    out = vm.root(script)
    live = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    problems = []
    for k in keys:
        value = " ".join(live.get(k, "MISSING").split())
        if value != EXPECTED_SYSCTL[k]:
            problems.append(f"{k} is {value}, expected {EXPECTED_SYSCTL[k]}")
    return problems


def check_sysctl_kernel(vm: Vm) -> list[str]:
    return _sysctl(vm, "kernel.")


def check_sysctl_vm(vm: Vm) -> list[str]:
    return _sysctl(vm, "vm.")


def check_sysctl_fs(vm: Vm) -> list[str]:
    return _sysctl(vm, "fs.")


def check_sysctl_net(vm: Vm) -> list[str]:
    return _sysctl(vm, "net.")


def check_k3s_modules(vm: Vm) -> list[str]:
    """br_netfilter and overlay are loaded and listed in the role's modules-load.d file. After a
    reboot, modules_loaded_at_boot() adds that systemd-modules-load inserted them (the K3s unit's
    own `modprobe` would otherwise hide a missing file)."""
    problems = []
    out = vm.root("for m in %s; do [ -d /sys/module/$m ] && echo loaded:$m; done; "
                  "cat /etc/modules-load.d/k3s.conf 2>/dev/null | sed 's/^/conf:/'"
                  % " ".join(K3S_MODULES))
    loaded = {line[7:] for line in out.splitlines() if line.startswith("loaded:")}
    conf = {line[5:].strip() for line in out.splitlines() if line.startswith("conf:")}
    for m in K3S_MODULES:
        if m not in loaded:
            problems.append(f"module {m} is not loaded")
        if m not in conf:
            problems.append(f"module {m} is not in /etc/modules-load.d/k3s.conf")
    return problems


def modules_loaded_at_boot(vm: Vm) -> list[str]:
    """After a reboot: systemd-modules-load inserted the K3s modules (from the role's file)."""
    log = vm.root("journalctl -b -u systemd-modules-load --no-pager -o cat")
    return [f"systemd-modules-load did not insert {m} at boot" for m in K3S_MODULES
            if f"Inserted module '{m}'" not in log]


def check_disabled_modules(vm: Vm) -> list[str]:
    """Each disabled module resolves to `install /bin/false` in modprobe's configuration, and a
    module that this kernel ships is actually refused by `modprobe` and stays unloaded."""
    problems = []
    for m in DISABLED_MODULES:
        r = vm.ssh(f"sudo -n modprobe -n -v {shlex.quote(m)} 2>&1; "
                   f"echo shipped=$(modinfo -n {shlex.quote(m)} >/dev/null 2>&1 && echo yes || echo no)",
                   check=False)
        shipped = "shipped=yes" in r.stdout
        if "install /bin/false" not in r.stdout:
            problems.append(f"modprobe would load {m} (no `install {m} /bin/false`): {r.stdout.strip()[:200]}")
        if shipped:
            mod = m.replace("-", "_")
            t = vm.ssh(f"sudo -n modprobe {shlex.quote(m)}; echo rc=$?; [ -d /sys/module/{mod} ] && echo loaded",
                       check=False)
            if "rc=0" in t.stdout or "loaded" in t.stdout.split():
                problems.append(f"`modprobe {m}` succeeded or {m} is loaded")
    return problems


def check_auditd(vm: Vm) -> list[str]:
    """auditd runs, the kernel audit subsystem is enabled and every rule key of the role's rule
    file is among the rules loaded in the kernel (`auditctl -l`)."""
    problems = []
    r = vm.ssh("systemctl is-active auditd; sudo -n auditctl -s; echo ---; sudo -n auditctl -l; echo ---; "
               f"sudo -n cat {AUDIT_RULES_FILE}", check=False)
    parts = r.stdout.split("---\n")
    if not r.stdout.startswith("active"):
        problems.append(f"auditd is not active ({r.stdout.splitlines()[0] if r.stdout else r.stderr.strip()})")
    if not re.search(r"^enabled [12]$", parts[0], re.M):
        problems.append("the kernel audit subsystem is not enabled (auditctl -s)")
    loaded = parts[1] if len(parts) > 1 else ""
    wanted_file = parts[2] if len(parts) > 2 else ""
    keys = sorted(set(re.findall(r"-k (\S+)", wanted_file)))
    if not keys:
        problems.append(f"{AUDIT_RULES_FILE} is missing or has no keyed rules")
    loaded_keys = set(re.findall(r"-k (\S+)|key=(\S+)", loaded))
    loaded_keys = {a or b for a, b in loaded_keys}
    for k in keys:
        if k not in loaded_keys:
            problems.append(f"audit key {k} is not loaded in the kernel")
    wanted_rules = [ln for ln in wanted_file.splitlines() if ln.startswith(("-a ", "-w "))]
    loaded_rules = [ln for ln in loaded.splitlines() if ln.startswith(("-a ", "-w "))]
    if wanted_rules and len(loaded_rules) < len(wanted_rules):
        problems.append(f"only {len(loaded_rules)} audit rules loaded, the role's file has {len(wanted_rules)}")
    return problems


def check_apparmor(vm: Vm) -> list[str]:
    """AppArmor is enabled in the kernel and profiles are loaded in enforce mode."""
    problems = []
    r = vm.ssh("cat /sys/module/apparmor/parameters/enabled; systemctl is-active apparmor; "
               "sudo -n aa-status --json 2>/dev/null || echo NOJSON", check=False)
    lines = r.stdout.splitlines()
    if not lines or lines[0].strip() != "Y":
        problems.append("AppArmor is not enabled in the kernel")
    if len(lines) < 2 or lines[1].strip() != "active":
        problems.append("apparmor.service is not active")
    try:
        status = json.loads("\n".join(lines[2:]))
        enforcing = [p for p, mode in status.get("profiles", {}).items() if mode == "enforce"]
    except ValueError:
        enforcing = []
    if not enforcing:
        problems.append("no AppArmor profile is loaded in enforce mode (aa-status)")
    return problems


def check_shm(vm: Vm) -> list[str]:
    opts = vm.ssh("findmnt -no OPTIONS /dev/shm").stdout.strip().split(",")
    return [f"/dev/shm is mounted without {o} ({','.join(opts)})" for o in SHM_OPTIONS if o not in opts]


def check_nftables(vm: Vm, ssh_port: int | None = None) -> list[str]:
    """The role's table is loaded in the kernel: input policy drop, SSH accepted on its port."""
    problems = []
    r = vm.ssh(f"sudo -n nft -j list table inet {FIREWALL_TABLE}", check=False)
    if r.returncode != 0:
        return [f"table inet {FIREWALL_TABLE} is not loaded: {r.stderr.strip()[:200]}"]
    data = json.loads(r.stdout)["nftables"]
    chains = {c["chain"]["name"]: c["chain"] for c in data if "chain" in c}
    for name in ("input", "forward"):
        if chains.get(name, {}).get("policy") != "drop":
            problems.append(f"chain {name} is missing or its policy is not drop")
    if ssh_port:
        text = vm.ssh(f"sudo -n nft list chain inet {FIREWALL_TABLE} input").stdout
        if not re.search(rf"tcp dport {ssh_port} ip saddr @ssh_v4 accept", text):
            problems.append(f"no SSH accept rule for port {ssh_port}")
    if vm.ssh("systemctl is-enabled nftables", check=False).stdout.strip() != "enabled":
        problems.append("nftables.service is not enabled (the ruleset would not come back at boot)")
    return problems


def check_timesync(vm: Vm, server: str = "10.0.2.2", wait: float = 90) -> list[str]:
    """systemd-timesyncd runs, is the only time daemon, and has synchronised with the server."""
    deadline = time.monotonic() + wait
    while True:
        r = vm.ssh("systemctl is-active systemd-timesyncd; timedatectl show -p NTPSynchronized --value; "
                   "timedatectl show-timesync -p ServerAddress --value; "
                   "systemctl is-active chrony ntp ntpsec openntpd 2>/dev/null | grep -c '^active' || true",
                   check=False)
        lines = r.stdout.splitlines() + ["", "", "", ""]
        problems = []
        if lines[0] != "active":
            problems.append("systemd-timesyncd is not active")
        if lines[1] != "yes":
            problems.append("the clock is not NTP-synchronised (timedatectl NTPSynchronized)")
        if lines[2] != server:
            problems.append(f"timesyncd's server is {lines[2] or 'none'}, expected {server}")
        if lines[3] not in ("0", ""):
            problems.append("another time daemon is active")
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(5)


CHECKS = {
    "sysctl kernel.*": check_sysctl_kernel,
    "sysctl vm.*": check_sysctl_vm,
    "sysctl fs.*": check_sysctl_fs,
    "sysctl net.*": check_sysctl_net,
    "k3s modules loaded": check_k3s_modules,
    "disabled modules refused": check_disabled_modules,
    "auditd and rules": check_auditd,
    "apparmor enforcing": check_apparmor,
    "/dev/shm options": check_shm,
    "nftables ruleset": check_nftables,
    "time sync": check_timesync,
}

# Concerns whose check must report problems on the fresh, never-hardened VM. Not listed:
# "sysctl fs.*": Ubuntu's own defaults (/usr/lib/sysctl.d/99-protect-links.conf ...) already
# match every fs.* value of the role, so a fresh VM cannot show that check failing; it is shown
# failing by the toggle-off run described in docs/testing.md.
MUST_FAIL_WHEN_FRESH = [name for name in CHECKS if name != "sysctl fs.*"]


def run_all(vm: Vm, ssh_port: int | None = None, quick_timesync: bool = False) -> dict[str, list[str]]:
    results = {}
    for name, fn in CHECKS.items():
        if fn is check_nftables:
            results[name] = fn(vm, ssh_port)
        elif fn is check_timesync:
            results[name] = fn(vm, wait=0 if quick_timesync else 90)
        else:
            results[name] = fn(vm)
    return results
