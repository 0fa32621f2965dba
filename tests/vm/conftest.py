"""Fixtures of the `vm` test stage: the cached VM image, the run directory, the SNTP responder,
ansible-playbook runs as an operator makes them, and a timing report printed at the end."""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sntp import SntpServer  # noqa: E402
from vmlib import REPO_ROOT, VmError, apt_lists, build_image  # noqa: E402

WORKDIR = Path(os.environ.get("PP_VM_WORKDIR", REPO_ROOT / "build" / "vm"))
K3S_VERSION = "v1.32.11+k3s1"
_REPORT: dict[str, object] = {}


def report(key: str, value: object) -> None:
    """Record a measured number (printed at the end of the run and written to report.json)."""
    _REPORT[key] = value
    WORKDIR.mkdir(parents=True, exist_ok=True)
    (WORKDIR / "report.json").write_text(json.dumps(_REPORT, indent=2, sort_keys=True) + "\n")


class measure:  # noqa: N801 - used as a context manager
    """Record a step's wall time and the CPU time the VMs' QEMU processes spent in it (the
    load-independent cost: on a busy machine wall time grows, CPU time does not)."""

    def __init__(self, key: str, *vms) -> None:
        self.key, self.vms = key, vms

    def __enter__(self):
        self.wall, self.cpu = time.monotonic(), sum(v.cpu_seconds() for v in self.vms)
        return self

    def __exit__(self, *exc):
        report(self.key, {"wall_s": round(time.monotonic() - self.wall, 1),
                          "qemu_cpu_s": round(sum(v.cpu_seconds() for v in self.vms) - self.cpu, 1),
                          "completed": exc[0] is None})
        return False


def pytest_terminal_summary(terminalreporter):
    if _REPORT:
        terminalreporter.section("VM stage measurements")
        for key, value in _REPORT.items():
            terminalreporter.write_line(f"{key}: {value}")


@pytest.fixture(scope="session")
def vm_image() -> Path:
    if os.geteuid() != 0:
        pytest.fail("the VM stage needs root (image build keeps file owners; qemu, mkfs)")
    for tool in ("qemu-system-x86_64", "qemu-img", "mkfs.ext4", "ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run scripts/bootstrap-host.sh (apt qemu-system-x86, qemu-utils)")
    start = time.monotonic()
    try:
        image = build_image()
    except VmError as exc:
        pytest.fail(f"cannot build the VM image: {exc}")
    report("image build or cache lookup (s)", round(time.monotonic() - start, 1))
    report("image", f"{image} (kernel {(image / 'kernel-version').read_text().strip()})")
    return image


@pytest.fixture(scope="session")
def workdir() -> Path:
    WORKDIR.mkdir(parents=True, exist_ok=True)
    artifacts = WORKDIR / "artifacts" / K3S_VERSION
    subprocess.run(["bash", str(REPO_ROOT / "tests" / "doubles" / "make-artifacts.sh"), str(artifacts), K3S_VERSION],
                   check=True, capture_output=True)
    return WORKDIR


@pytest.fixture(scope="session")
def fresh_apt_lists(workdir) -> Path:
    try:
        return apt_lists(workdir)
    except VmError as exc:
        pytest.fail(f"cannot fetch apt lists for the VMs: {exc}")


@pytest.fixture(scope="session")
def sntp():
    """The SNTP responder on 127.0.0.1:123 (QEMU NAT maps the guests' 10.0.2.2 to it)."""
    lock = open("/tmp/pp-lock-vm-ntp", "w")  # noqa: SIM115 - held for the session
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        server = SntpServer()
    except OSError as exc:
        pytest.fail(f"cannot serve SNTP on 127.0.0.1:123 for the VMs' time sync: {exc}")
    yield server
    server.close()
    lock.close()


class Playbook:
    """ansible-playbook from the repository root, as an operator runs it, logged to a file."""

    RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

    def __init__(self, inventory: Path, logdir: Path) -> None:
        self.inventory = inventory
        self.logdir = logdir

    def run(self, playbook: str, name: str, *args: str) -> dict:
        env = dict(os.environ)
        env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO_ROOT / "build" / "collections"))
        env.update({"ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", "PY_COLORS": "0",
                    # Python under software emulation needs more than the default 10 s for sudo.
                    "ANSIBLE_TIMEOUT": "120"})
        log = self.logdir / f"{name}.log"
        start = time.monotonic()
        with open(log, "w") as fh:
            rc = subprocess.run(["ansible-playbook", "-i", str(self.inventory), playbook, *args],
                                cwd=REPO_ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
        seconds = round(time.monotonic() - start, 1)
        text = log.read_text(errors="replace")
        recap = {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "unreachable": int(m.group(4)),
                              "failed": int(m.group(5))} for m in self.RECAP.finditer(text)}
        changed_tasks = []
        task = None
        for line in text.splitlines():
            if line.startswith("TASK ["):
                task = line[6:].split("]")[0]
            elif line.startswith("changed:") and task:
                changed_tasks.append(f"{task}: {line[:160]}")
        return {"rc": rc, "seconds": seconds, "recap": recap, "log": log, "changed_tasks": changed_tasks,
                "tail": "\n".join(text.splitlines()[-40:])}


def hosts_yaml(groups: dict[str, dict[str, dict]], common: dict) -> str:
    """A YAML inventory: {group: {host: hostvars}} under k3s_cluster."""
    import yaml

    children = {g: {"hosts": hosts or {}} for g, hosts in groups.items()}
    return yaml.safe_dump({"k3s_cluster": {"vars": common, "children": children}}, sort_keys=False)


def make_inventory(run_dir: Path, groups: dict[str, dict[str, dict]]) -> Path:
    """run_dir/inventory: the generated hosts.yml plus the committed group_vars of tests/vm."""
    inv = run_dir / "inventory"
    inv.mkdir(parents=True, exist_ok=True)
    link = inv / "group_vars"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path(__file__).resolve().parent / "inventory" / "group_vars", target_is_directory=True)
    (inv / "hosts.yml").write_text(hosts_yaml(groups, {
        "ansible_python_interpreter": "/usr/bin/python3",
        "vm_test_workdir": str(run_dir.parent),
    }))
    return inv
