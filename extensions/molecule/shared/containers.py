"""Create and destroy the test hosts of a Molecule scenario (run by ../shared/create.yml and destroy.yml).

Container options live here once, for every scenario:
  - systemd as PID 1 (/sbin/init, --systemd=always), hostname = platform name;
  - every writable host-global /proc/sys file of THIS machine masked (bind-mounted from /dev/null,
    list from scripts/container-sysctl-masks.sh), so nothing a role applies can change the test
    machine's kernel settings, while net.* stays writable in the container's network namespace;
  - capabilities per platform (least privilege per scenario; default SYS_ADMIN for systemd).
Each host is then made reachable as a fresh VPS is: a cloud image's first boot creates the initial
sudo user (platform key ssh_user, default deploy) with the operator's key; Molecule builds its SSH
inventory from the instance config written here (address, port 22, user, key).

    python3 containers.py create PROJECT_DIR EPHEMERAL_DIR INSTANCE_CONFIG PLATFORMS_JSON
    python3 containers.py destroy PROJECT_DIR EPHEMERAL_DIR INSTANCE_CONFIG PLATFORMS_JSON

One process instead of a dozen Ansible tasks: on a loaded 2-core machine each local task costs seconds.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_USER = "deploy"
DEFAULT_CAPABILITIES = ["SYS_ADMIN"]
KEY_NAME = "admin_ed25519"
# SSH control masters of a scenario (../config.yml: ControlPath=/tmp/pp-molecule-cp/<scenario>/%C).
# Short on purpose: a socket path must fit 108 bytes, and ephemeral directories can be long. One
# directory per scenario is unique enough: a scenario runs under its lock (fixed container names).
CONTROL_ROOT = Path("/tmp/pp-molecule-cp")
BOOT_TIMEOUT = 120
SSH_TIMEOUT = 60

FIRST_BOOT = """
timeout {boot} systemctl is-system-running --wait >/dev/null 2>&1 || true  # running or degraded
id -u "$PP_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash -G sudo "$PP_USER"
install -d -m 0700 -o "$PP_USER" -g "$PP_USER" "/home/$PP_USER/.ssh"
printf '%s\\n' "$PP_KEY" > "/home/$PP_USER/.ssh/authorized_keys"
chown "$PP_USER:$PP_USER" "/home/$PP_USER/.ssh/authorized_keys"
chmod 0600 "/home/$PP_USER/.ssh/authorized_keys"
printf '%s ALL=(ALL) NOPASSWD:ALL\\n' "$PP_USER" > /etc/sudoers.d/90-cloud-init-users
chmod 0440 /etc/sudoers.d/90-cloud-init-users
""".format(boot=BOOT_TIMEOUT)


def _run(argv: list[str], **kwargs) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        raise SystemExit("%s failed (rc %d): %s" % (" ".join(argv[:3]), proc.returncode, proc.stderr.strip()))
    return proc.stdout


def podman_run_argv(platform: dict, mask: str) -> list[str]:
    """The one `podman run` every test host of every scenario is started with."""
    argv = ["podman", "run", "--detach", "--name", platform["name"], "--hostname", platform["name"],
            "--systemd=always", "--security-opt", "unmask=/proc/sys", "--security-opt", "mask=" + mask]
    for cap in platform.get("capabilities", DEFAULT_CAPABILITIES):
        argv += ["--cap-add", cap]
    return argv + [platform["image"], "/sbin/init"]


def instance_config(platform: dict, address: str, key: Path) -> dict:
    """Molecule's instance record: it becomes ansible_host/port/user/private_key_file."""
    return {"instance": platform["name"], "address": address, "port": 22,
            "user": platform.get("ssh_user", DEFAULT_USER), "identity_file": str(key)}


def control_dir() -> Path:
    return CONTROL_ROOT / os.environ.get("MOLECULE_SCENARIO_NAME", "scenario").replace("/", "--")


def close_control_masters(directory: Path) -> None:
    """A master left alive would carry the next run's sessions to a host that no longer exists
    (container addresses are reused)."""
    if not directory.is_dir():
        return
    for sock in sorted(directory.iterdir()):
        if sock.is_socket():
            subprocess.run(["ssh", "-o", "ControlPath=" + str(sock), "-O", "exit", "placeholder"],
                           capture_output=True, timeout=30, check=False)
            sock.unlink(missing_ok=True)


def wait_for_ssh(address: str, name: str) -> None:
    deadline = time.monotonic() + SSH_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, 22), timeout=5) as conn:
                if conn.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("%s: no SSH banner on %s:22 within %d s" % (name, address, SSH_TIMEOUT))


def create(project: Path, ephemeral: Path, config: Path, platforms: list[dict]) -> None:
    mask = _run(["bash", str(project / "scripts" / "container-sysctl-masks.sh")]).strip()
    key = ephemeral / KEY_NAME
    if not key.exists():
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "molecule-" + os.environ.get("MOLECULE_SCENARIO_NAME", "scenario"), "-f", str(key)])
    public_key = key.with_suffix(".pub").read_text().strip()
    control = control_dir()
    close_control_masters(control)
    control.mkdir(mode=0o700, parents=True, exist_ok=True)
    for platform in platforms:  # start them all first: they boot in parallel
        subprocess.run(["podman", "rm", "--force", "--time", "5", platform["name"]], capture_output=True, check=False)
        _run(podman_run_argv(platform, mask))
    records = []
    for platform in platforms:
        user = platform.get("ssh_user", DEFAULT_USER)
        _run(["podman", "exec", "--env", "PP_USER=" + user, "--env", "PP_KEY=" + public_key, platform["name"],
              "sh", "-euc", FIRST_BOOT], timeout=BOOT_TIMEOUT + 60)
        address = _run(["podman", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                        platform["name"]]).strip()
        wait_for_ssh(address, platform["name"])
        records.append(instance_config(platform, address, key))
        caps = ",".join(platform.get("capabilities", DEFAULT_CAPABILITIES))
        print("%s: %s, ssh %s@%s:22, capabilities %s" % (platform["name"], platform["image"], user, address, caps))
    config.write_text(json.dumps(records, indent=2) + "\n")
    config.chmod(0o600)


def destroy(config: Path, platforms: list[dict]) -> None:
    close_control_masters(control_dir())
    names = [p["name"] for p in platforms]
    if names:
        _run(["podman", "rm", "--force", "--ignore", "--time", "5", *names])
    config.write_text("[]\n")
    config.chmod(0o600)
    print("removed: " + ", ".join(names))


def main(argv: list[str]) -> int:
    if len(argv) != 6 or argv[1] not in ("create", "destroy"):
        sys.stderr.write(__doc__)
        return 2
    project, ephemeral, config = Path(argv[2]), Path(argv[3]), Path(argv[4])
    platforms = json.loads(argv[5])
    if argv[1] == "create":
        create(project, ephemeral, config, platforms)
    else:
        destroy(config, platforms)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
