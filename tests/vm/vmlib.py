"""Boot and drive Ubuntu 24.04 virtual machines under QEMU for the `vm` test stage.

Each VM boots a copy-on-write overlay of the cached image that scripts/build-vm-image.sh built
(the base disk is never written), plus a small seed disk that its first-boot unit reads the way
cloud-init reads a NoCloud seed: host name, admin user and public key, SSH host keys, networkd
files. The controller reaches the VM over QEMU's user-mode network (NAT, which also gives the VM
the package archives) through two loopback port forwards with the same port number on both sides,
as if the VM had a public address: <boot_port>, where the seed makes the fresh image's sshd
listen, and <ssh_port>, where the inventory tells the hardening role to move sshd (so the role's
lock-out probes and its "follow the SSH port" step work exactly as against a VPS). Extra NICs join private networks
that exist only between the test's VMs (QEMU `-netdev dgram` endpoints joined by a hub in the
test process, see PrivateNet); nothing else is addressed.

Software emulation (TCG) by default: this build machine's /dev/kvm is a PVM (paravirtual nested)
hypervisor that runs only PVM-enabled guest kernels, not Ubuntu's. PP_VM_ACCEL=kvm uses KVM where
it works.
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR"]


class VmError(RuntimeError):
    """A VM could not be built, started or reached; the message carries the reason."""


def free_port() -> int:
    """A loopback port the kernel considers free now (QEMU binds it right after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_image() -> Path:
    """Build or reuse the cached VM image; returns its directory."""
    proc = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "build-vm-image.sh")],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise VmError(f"scripts/build-vm-image.sh failed (rc={proc.returncode}):\n{proc.stderr[-3000:]}")
    out = Path(proc.stdout.strip().splitlines()[-1])
    for name in ("disk.qcow2", "vmlinuz", "initrd.img"):
        if not (out / name).is_file():
            raise VmError(f"VM image {out} has no {name}")
    return out


class PrivateNet:
    """A private Ethernet segment between the test's VMs and nothing else: each VM's extra NIC is a
    QEMU `-netdev dgram` endpoint on a unix datagram socket, and this hub (a thread of the test)
    repeats every frame to the other endpoints. No host interface, address, bridge or tap exists
    on it, so only the VMs on the segment can reach each other there."""

    def __init__(self, directory: Path, subnet: str) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.subnet = subnet          # e.g. "10.77.0": a /24, VMs get .11, .12, ...
        self.hub_path = self.dir / "hub.sock"
        self.hub_path.unlink(missing_ok=True)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.hub_path))
        self._peers: list[str] = []
        self.frames = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"hub-{directory.name}", daemon=True)
        self._thread.start()

    def endpoint(self, nic_id: str, vm_name: str) -> list[str]:
        path = self.dir / f"{vm_name}.sock"
        path.unlink(missing_ok=True)
        if str(path) not in self._peers:
            self._peers.append(str(path))
        return ["-netdev", f"dgram,id={nic_id},local.type=unix,local.path={path},"
                           f"remote.type=unix,remote.path={self.hub_path}"]

    def _serve(self) -> None:
        self._sock.settimeout(0.5)
        while not self._stop.is_set():
            try:
                frame, sender = self._sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.frames += 1
            for peer in self._peers:
                if peer != sender:
                    try:
                        self._sock.sendto(frame, peer)
                    except OSError:   # that VM is not running (yet, or any more)
                        pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


def apt_lists(workdir: Path, max_age: float = 1800) -> Path:
    """Fresh apt lists for the VMs' seed disks: `apt-get update` run natively in the Ubuntu test
    image (seconds) instead of in the emulated guest (minutes), as cloud-init's package_update
    would have run it at first boot. Refreshed when older than max_age."""
    out = workdir / "apt-lists.tar.zst"
    if out.exists() and time.time() - out.stat().st_mtime < max_age:
        return out
    lists = workdir / "apt-lists"
    _run(["rm", "-rf", str(lists)])
    lists.mkdir(parents=True)
    _run(["podman", "run", "--rm", "-v", f"{lists}:/var/lib/apt/lists", "localhost/pp-ubuntu2404:latest",
          "apt-get", "update", "-qq"])
    tmp = out.with_suffix(".tmp")
    _run(["tar", "--zstd", "-C", str(lists), "--exclude=./lock", "--exclude=./partial", "-cf", str(tmp), "."])
    tmp.rename(out)
    _run(["rm", "-rf", str(lists)])
    return out


@dataclass
class Vm:
    name: str
    image: Path
    workdir: Path
    memory_mib: int = 1536
    cpus: int = 2
    private: list[tuple[PrivateNet, str | list[str]]] = field(default_factory=list)  # (net, address(es))
    admin_user: str = "deploy"
    kernel_args: str = ""
    cpu_model: str = ""
    apt_lists: Path | None = None

    def __post_init__(self) -> None:
        self.dir = self.workdir / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = self.dir / "id_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.console = self.dir / "console.log"
        self.boot_port = 0
        self.ssh_port = 0
        self.port = 0       # the port sshd answers on now (boot_port until hardened)
        self.proc: subprocess.Popen | None = None
        self.index = 0

    # ---- disks ---------------------------------------------------------------------------------
    def _make_disks(self) -> None:
        overlay = self.dir / "disk.qcow2"
        overlay.unlink(missing_ok=True)
        _run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(self.image / "disk.qcow2"),
              "-F", "qcow2", str(overlay)])
        seed = self.dir / "seed"
        _run(["rm", "-rf", str(seed)])
        (seed / "network").mkdir(parents=True)
        if not self.key.exists():
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{self.name}-admin", "-f", str(self.key)])
        (seed / "hostname").write_text(self.name + "\n")
        (seed / "admin_user").write_text(self.admin_user + "\n")
        (seed / "ssh_port").write_text(f"{self.boot_port}\n")
        (seed / "authorized_keys").write_text(self.key.with_suffix(".pub").read_text())
        # Host keys made here (fast) instead of in the emulated CPU (RSA takes minutes under TCG),
        # handed over like cloud-init's `ssh_keys`; known_hosts is pinned to them.
        for kind, extra in (("ed25519", []), ("ecdsa", ["-b", "256"]), ("rsa", ["-b", "3072"])):
            _run(["ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-C", "",
                  "-f", str(seed / f"ssh_host_{kind}_key")])
        for i, (_net, addresses) in enumerate(self.private):
            addresses = [addresses] if isinstance(addresses, str) else addresses
            (seed / "network" / f"10-private{i}.network").write_text(
                f"[Match]\nMACAddress={self._mac(i + 1)}\n\n[Network]\n"
                + "".join(f"Address={a}/24\n" for a in addresses)
                + "LinkLocalAddressing=no\nIPv6AcceptRA=no\n")
        size = "2M"
        if self.apt_lists:
            _run(["cp", str(self.apt_lists), str(seed / "apt-lists.tar.zst")])
            size = f"{self.apt_lists.stat().st_size * 5 // 4 // 1048576 + 16}M"
        img = self.dir / "seed.img"
        img.unlink(missing_ok=True)
        _run(["mkfs.ext4", "-q", "-L", "ppseed", "-d", str(seed), str(img), size])
        self._seed_host_keys = {kind: (seed / f"ssh_host_{kind}_key.pub").read_text().split()[:2]
                                for kind in ("ed25519", "ecdsa", "rsa")}

    def _mac(self, nic: int) -> str:
        return f"52:54:00:{self.index & 0xff:02x}:{nic:02x}:{(zlib.crc32(self.name.encode()) & 0xff):02x}"

    def _write_known_hosts(self) -> None:
        lines = []
        for port in (self.boot_port, self.ssh_port):
            for kind, (ktype, blob) in self._seed_host_keys.items():
                lines.append(f"[127.0.0.1]:{port} {ktype} {blob}")
        self.known_hosts.write_text("\n".join(lines) + "\n")

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self, index: int = 0) -> None:
        self.index = index
        accel = os.environ.get("PP_VM_ACCEL", "tcg")
        accel_arg = "tcg,thread=multi" if accel == "tcg" else accel
        for attempt in range(3):
            self.boot_port, self.ssh_port = free_port(), free_port()
            if self.boot_port == self.ssh_port:
                continue
            self._make_disks()
            self._write_known_hosts()
            self.console.unlink(missing_ok=True)
            argv = [
                "qemu-system-x86_64", "-name", self.name, "-accel", accel_arg,
                "-m", str(self.memory_mib), "-smp", str(self.cpus),
                *(["-cpu", self.cpu_model] if self.cpu_model else []),
                "-kernel", str(self.image / "vmlinuz"), "-initrd", str(self.image / "initrd.img"),
                "-append", f"root=LABEL=cloudimg-rootfs ro console=ttyS0 {self.kernel_args}".strip(),
                "-drive", f"file={self.dir / 'disk.qcow2'},format=qcow2,if=virtio,discard=unmap",
                "-drive", f"file={self.dir / 'seed.img'},format=raw,if=virtio,readonly=on",
                "-netdev", (f"user,id=nat,hostfwd=tcp:127.0.0.1:{self.boot_port}-:{self.boot_port},"
                            f"hostfwd=tcp:127.0.0.1:{self.ssh_port}-:{self.ssh_port}"),
                "-device", f"virtio-net-pci,netdev=nat,mac={self._mac(0)}",
                "-device", "virtio-rng-pci",
                "-display", "none", "-monitor", "none", "-serial", f"file:{self.console}",
                "-pidfile", str(self.dir / "qemu.pid"),
            ]
            for i, (net, _address) in enumerate(self.private):
                argv += net.endpoint(f"priv{i}", self.name)
                argv += ["-device", f"virtio-net-pci,netdev=priv{i},mac={self._mac(i + 1)}"]
            (self.dir / "qemu.argv").write_text(shlex.join(argv) + "\n")
            log = open(self.dir / "qemu.log", "w")  # noqa: SIM115 - kept open for the process
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            time.sleep(1.5)
            if self.proc.poll() is None:
                self.port = self.boot_port
                return
            err = (self.dir / "qemu.log").read_text()
            if "Could not set up host forwarding" not in err:
                raise VmError(f"{self.name}: qemu-system-x86_64 exited at once: {err.strip()[-2000:]}")
        raise VmError(f"{self.name}: no free loopback ports for the SSH forwards after 3 attempts")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cpu_seconds(self) -> float:
        """CPU time QEMU has used so far (user + system): the load-independent cost of a step. On
        an idle machine a step's wall time approaches its CPU time (divided by the vCPUs busy)."""
        if not self.proc:
            return 0.0
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def console_tail(self, lines: int = 25) -> str:
        try:
            text = self.console.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no console output)"
        return "\n".join(text[-lines:])

    def wait_ssh(self, timeout: float, port: int | None = None) -> float:
        """Wait until the admin can log in; returns the seconds it took. Fails with the console."""
        start = time.monotonic()
        port = port or self.port
        last = ""
        while time.monotonic() - start < timeout:
            if self.proc and self.proc.poll() is not None:
                raise VmError(f"{self.name}: QEMU exited (rc={self.proc.returncode}) before SSH answered.\n"
                              f"qemu: {(self.dir / 'qemu.log').read_text()[-1500:]}\nconsole:\n{self.console_tail()}")
            r = self.ssh("true", port=port, check=False, timeout=30)
            if r.returncode == 0:
                self.port = port
                return time.monotonic() - start
            last = r.stderr.strip()
            time.sleep(3)
        raise VmError(f"{self.name}: no SSH login on 127.0.0.1:{port} after {timeout:.0f} s (last: {last}).\n"
                      f"console:\n{self.console_tail()}")

    # ---- commands ------------------------------------------------------------------------------
    def ssh_argv(self, port: int | None = None) -> list[str]:
        # One SSH connection per port, reused (a key exchange costs seconds under emulation).
        return ["ssh", *SSH_OPTS, "-o", f"UserKnownHostsFile={self.known_hosts}", "-i", str(self.key),
                "-o", "ControlMaster=auto", "-o", f"ControlPath={self.dir}/ssh-%p.sock", "-o", "ControlPersist=600",
                "-p", str(port or self.port), f"{self.admin_user}@127.0.0.1"]

    def ssh(self, command: str, *, port: int | None = None, check: bool = True, timeout: float = 300,
            sudo: bool = False, stdin: str | None = None) -> subprocess.CompletedProcess:
        cmd = f"sudo -n sh -c {shlex.quote(command)}" if sudo else command
        try:
            r = subprocess.run([*self.ssh_argv(port), cmd], capture_output=True, text=True, input=stdin,
                               stdin=None if stdin is not None else subprocess.DEVNULL,
                               timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            r = subprocess.CompletedProcess(exc.cmd, 255, "", f"timed out after {timeout} s")
        if check and r.returncode != 0:
            raise VmError(f"{self.name}: `{command}` failed (rc={r.returncode}): {r.stderr.strip()[-1500:]}")
        return r

    def root(self, command: str, **kw) -> str:
        return self.ssh(command, sudo=True, **kw).stdout

    def boot_id(self) -> str:
        return self.ssh("cat /proc/sys/kernel/random/boot_id").stdout.strip()

    def reboot(self, timeout: float) -> float:
        """A real reboot (systemctl reboot: the guest kernel restarts, QEMU resets the machine);
        returns the seconds until SSH answered again with a new boot id."""
        before = self.boot_id()
        start = time.monotonic()
        self.ssh("sudo -n systemctl reboot", check=False, timeout=30)
        time.sleep(5)
        while time.monotonic() - start < timeout:
            r = self.ssh("cat /proc/sys/kernel/random/boot_id", check=False, timeout=30)
            if r.returncode == 0 and r.stdout.strip() not in ("", before):
                return time.monotonic() - start
            if self.proc and self.proc.poll() is not None:
                raise VmError(f"{self.name}: QEMU exited during the reboot.\nconsole:\n{self.console_tail()}")
            time.sleep(3)
        raise VmError(f"{self.name}: not back after reboot within {timeout:.0f} s.\nconsole:\n{self.console_tail()}")


def _run(argv: list[str]) -> None:
    r = subprocess.run(argv, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise VmError(f"`{shlex.join(argv)}` failed: {r.stderr.strip()}")
