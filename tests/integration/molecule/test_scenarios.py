"""The Molecule suite's shared configuration, checked without containers.

- Plain `molecule check` (the real molecule from the venv, the repository's config.yml and shared
  callback) FAILS when check mode on a "converged" host reports a change, and passes when it does
  not; the callback leaves every other playbook run alone (tests run --check on fresh hosts on
  purpose). The probe scenario lives in a temporary copy and connects locally.
- Every scenario takes its container options and its SSH connection from the shared playbooks:
  its platforms name only name, image, groups, capabilities and ssh_user, and nothing in a
  scenario selects the podman connection.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
MOLECULE_DIR = REPO / "extensions" / "molecule"
VENV_BIN = Path(sys.executable).parent
SCENARIOS = sorted(p.parent.name for p in MOLECULE_DIR.glob("*/molecule.yml"))
PLATFORM_KEYS = {"name", "image", "groups", "capabilities", "ssh_user"}

CONVERGE = """---
- name: Converge the probe
  hosts: all
  gather_facts: false
  tasks:
    - name: Write the probe file
      ansible.builtin.copy:
        dest: "{{ lookup('ansible.builtin.env', 'PROBE_FILE') }}"
        content: "converged\\n"
        mode: "0644"
"""


def _binary(name: str) -> str:
    local = VENV_BIN / name
    return str(local) if local.exists() else name


@pytest.fixture()
def probe_project(tmp_path):
    """A collection with the repository's Molecule config and shared files and one local scenario."""
    project = tmp_path / "probe-project"
    molecule = project / "extensions" / "molecule"
    molecule.mkdir(parents=True)
    (project / "galaxy.yml").write_text(
        "---\nnamespace: probe\nname: probe\nversion: 1.0.0\nreadme: README.md\nauthors: [probe]\n")
    (project / "README.md").write_text("probe\n")
    shutil.copy(MOLECULE_DIR / "config.yml", molecule / "config.yml")
    shutil.copytree(MOLECULE_DIR / "shared", molecule / "shared")
    scenario = molecule / "probe"
    scenario.mkdir()
    (scenario / "molecule.yml").write_text(
        "---\nplatforms:\n  - name: probe-host\nprovisioner:\n  name: ansible\n  inventory:\n    host_vars:\n"
        f"      probe-host:\n        ansible_connection: local\n        ansible_python_interpreter: {sys.executable}\n")
    (scenario / "converge.yml").write_text(CONVERGE)
    (scenario / "other.yml").write_text(CONVERGE)
    env = dict(os.environ, MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path / "ephemeral"), PROBE_FILE=str(tmp_path / "probe.txt"),
               PY_COLORS="0", NO_COLOR="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("MOLECULE_PROJECT_DIRECTORY", None)
    env.pop("MOLECULE_SCENARIO_DIRECTORY", None)
    return {"project": project, "scenario": scenario, "env": env, "probe": tmp_path / "probe.txt"}


def _molecule_check(probe) -> subprocess.CompletedProcess:
    return subprocess.run([_binary("molecule"), "check", "-s", "probe"], cwd=probe["project"], env=probe["env"],
                          capture_output=True, text=True, timeout=300, check=False)


def test_plain_molecule_check_fails_when_check_mode_reports_changes(probe_project):
    result = _molecule_check(probe_project)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert "check mode on the converged hosts reported changes (probe-host changed=1)" in out, out[-3000:]
    assert "probe-host: Write the probe file" in out, out[-3000:]
    assert not probe_project["probe"].exists(), "check mode wrote the file"


def test_plain_molecule_check_passes_on_a_converged_host(probe_project):
    probe_project["probe"].write_text("converged\n")
    probe_project["probe"].chmod(0o644)
    result = _molecule_check(probe_project)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "check mode on the converged hosts: no changes" in out


def test_other_check_mode_runs_are_left_alone(probe_project):
    """A --check run of any playbook but the scenario's converge.yml reports its changes and passes."""
    cfg = yaml.safe_load((MOLECULE_DIR / "config.yml").read_text())
    env = dict(probe_project["env"],
               MOLECULE_SCENARIO_DIRECTORY=str(probe_project["scenario"]),
               ANSIBLE_CALLBACKS_ENABLED=cfg["provisioner"]["config_options"]["defaults"]["callbacks_enabled"],
               ANSIBLE_CALLBACK_PLUGINS=str(MOLECULE_DIR / "shared" / "callback_plugins"))
    cmd = [_binary("ansible-playbook"), "-i", "probe-host,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
           "--check"]
    other = subprocess.run([*cmd, str(probe_project["scenario"] / "other.yml")], env=env, capture_output=True, text=True,
                           timeout=120, check=False)
    assert other.returncode == 0, other.stdout[-3000:]
    assert "changed=1" in other.stdout
    converge = subprocess.run([*cmd, str(probe_project["scenario"] / "converge.yml")], env=env, capture_output=True,
                              text=True, timeout=120, check=False)
    assert converge.returncode == 2, converge.stdout[-3000:]


def test_test_sequence_fails_on_changes_in_both_second_runs():
    cfg = yaml.safe_load((MOLECULE_DIR / "config.yml").read_text())
    sequence = cfg["scenario"]["test_sequence"]
    assert sequence.index("converge") < sequence.index("idempotence") < sequence.index("check") < sequence.index("verify")
    assert sequence[0] == "dependency" and sequence[-1] == "destroy"
    assert "check_mode_changes" in cfg["provisioner"]["config_options"]["defaults"]["callbacks_enabled"]
    assert "${MOLECULE_PROJECT_DIRECTORY}/build/pytest-collections" == cfg["provisioner"]["env"]["ANSIBLE_COLLECTIONS_PATH"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_takes_container_options_and_ssh_from_the_shared_create(scenario):
    cfg = yaml.safe_load((MOLECULE_DIR / scenario / "molecule.yml").read_text())
    assert "driver" not in cfg, "the driver (shared create/destroy) comes from ../config.yml"
    assert cfg.get("platforms"), "no platforms"
    for platform in cfg["platforms"]:
        extra = set(platform) - PLATFORM_KEYS
        assert not extra, f"{platform['name']}: container options belong in ../shared/create.yml, not {sorted(extra)}"
    verifier = cfg.get("verifier", {}).get("options", {})
    assert "connection" not in verifier and "hosts" not in verifier, "testinfra must use Molecule's SSH inventory"
    texts = [p.read_text() for p in (MOLECULE_DIR / scenario).rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml")]
    assert not any("containers.podman.podman" in t for t in texts), "a scenario file selects the podman connection"


def _containers_module():
    spec = importlib.util.spec_from_file_location("pp_molecule_containers", MOLECULE_DIR / "shared" / "containers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shared_create_masks_host_sysctls_and_writes_an_ssh_inventory(tmp_path):
    cfg = yaml.safe_load((MOLECULE_DIR / "config.yml").read_text())
    assert cfg["driver"] == {"name": "default", "options": {"managed": True, "ansible_connection_options": {
        "ansible_ssh_common_args": "-o ControlPath=/tmp/pp-molecule-cp/${MOLECULE_SCENARIO_NAME}/%C"}}}
    assert cfg["provisioner"]["playbooks"] == {"create": "../shared/create.yml", "destroy": "../shared/destroy.yml"}
    assert cfg["provisioner"]["config_options"]["ssh_connection"]["pipelining"] is True
    containers = _containers_module()
    assert str(containers.CONTROL_ROOT) == "/tmp/pp-molecule-cp"
    argv = containers.podman_run_argv({"name": "pp-x", "image": "localhost/img:latest", "capabilities": ["SYS_ADMIN", "NET_ADMIN"]},
                                      "/proc/sys/kernel/panic:/proc/sys/vm/swappiness")
    assert argv[:2] == ["podman", "run"] and argv[-2:] == ["localhost/img:latest", "/sbin/init"]
    joined = " ".join(argv)
    for option in ("--systemd=always", "--hostname pp-x", "--security-opt unmask=/proc/sys",
                   "--security-opt mask=/proc/sys/kernel/panic:/proc/sys/vm/swappiness", "--cap-add SYS_ADMIN --cap-add NET_ADMIN"):
        assert option in joined
    assert "--privileged" not in joined
    default = containers.podman_run_argv({"name": "pp-y", "image": "i"}, "m")
    assert default.count("--cap-add") == 1 and "SYS_ADMIN" in default
    key = tmp_path / "admin_ed25519"
    assert containers.instance_config({"name": "pp-x"}, "10.88.0.9", key) == {
        "instance": "pp-x", "address": "10.88.0.9", "port": 22, "user": "deploy", "identity_file": str(key)}
    assert containers.instance_config({"name": "pp-x", "ssh_user": "ppadmin"}, "a", key)["user"] == "ppadmin"


def test_the_sysctl_mask_names_only_host_global_files():
    mask = subprocess.run(["bash", str(REPO / "scripts" / "container-sysctl-masks.sh")], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip().split(":")
    assert "/proc/sys/kernel/panic_on_oops" in mask and "/proc/sys/vm/overcommit_memory" in mask
    assert not [p for p in mask if p.startswith("/proc/sys/net/")], "net.* must stay writable in the container"
    assert "/proc/sys/kernel/hostname" not in mask
