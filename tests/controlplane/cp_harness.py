"""A real Kubernetes v1.32 control plane on loopback for the tests: etcd, kube-apiserver and
kube-controller-manager built from Go modules by scripts/build-go-tools.sh, started as host processes.

What is real: the API server of K3s v1.32.11's Kubernetes (v1.32.11, built from k8s.io/kubernetes),
started with the admission configuration, audit policy and `kube-apiserver-arg` entries that the k3s
role renders from its own templates and defaults (rendered here by ansible's Templar, not copied), a
secrets encryption configuration of the kind K3s writes for `secrets-encryption: true`, RBAC, bound
service-account tokens, and the controller-manager's controllers (namespace deletion, garbage
collection, service-account and root-CA publishing, Deployment -> ReplicaSet -> Pod objects).

What is not: no kubelet, scheduler or container runtime, so no pod ever runs; no K3s binary (its own
supervisor, kine/SQLite datastore, helm-controller, bundled Traefik). etcd v3.5.24 stands in for the
datastore (the etcd Kubernetes v1.32.11 runs its own tests on, and the one K3s embeds when there is more
than one server).

Every process runs in its own session with PR_SET_PDEATHSIG, so it dies with the test process even when
pytest is killed; stop() terminates it and waits.
"""
from __future__ import annotations

import base64
import contextlib
import ctypes
import datetime
import ipaddress
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-go-tools.sh"

# K3s defaults (pkg/daemons/config): service and cluster CIDRs, the API server's in-cluster address.
SERVICE_CIDR = "10.43.0.0/16"
CLUSTER_CIDR = "10.42.0.0/16"
KUBERNETES_SERVICE_IP = "10.43.0.1"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"

_PR_SET_PDEATHSIG = 1


class ControlPlaneError(RuntimeError):
    """A component failed to start; the message carries the end of its log."""


def tool_paths() -> Dict[str, str]:
    """Paths of the Go-built tools (from the build script, which owns the versions)."""
    out = subprocess.run(["bash", str(BUILD_SCRIPT), "--paths"], capture_output=True, text=True, check=True).stdout
    paths = dict(line.split("=", 1) for line in out.splitlines() if line.startswith("PP_"))
    for key, default in list(paths.items()):
        paths[key] = os.environ.get(key, default)
    return paths


def missing_tools(paths: Dict[str, str]) -> List[str]:
    return ["%s=%s" % (k, v) for k, v in sorted(paths.items()) if not os.access(v, os.X_OK)]


def free_port() -> int:
    """A port the kernel chose on 127.0.0.1. Released before use, so callers retry on a clash."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    # SIGKILL: this only fires when the test process died without stopping its children; a
    # kube-apiserver given SIGTERM after its etcd went away can take a long time to shut down.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


# --- PKI ------------------------------------------------------------------------------------------

def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _pem_cert(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _cert(subject, issuer_name, public_key, signing_key, *, ca=False, sans=None, client=False, server=False, days=2):
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
    else:
        usages = ([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH] if client else []) + ([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH] if server else [])
        builder = builder.add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if sans:
        names = []
        for san in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                names.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _name(cn: str, org: Optional[str] = None) -> x509.Name:
    attrs = ([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []) + [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    return x509.Name(attrs)


def make_pki(directory: Path) -> Dict[str, Path]:
    """CA, API serving certificate, client certificates, service-account signing key (like K3s' cred/ and tls/)."""
    directory.mkdir(parents=True, exist_ok=True)
    files: Dict[str, Path] = {}

    def write(name: str, data: bytes) -> Path:
        path = directory / name
        path.write_bytes(data)
        path.chmod(0o600)
        files[name] = path
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("parametric-portal-test-ca")
    ca_cert = _cert(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    write("ca.crt", _pem_cert(ca_cert))
    write("ca.key", _pem_key(ca_key))

    def leaf(stem, subject, *, client=False, server=False, sans=None):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(subject, ca_name, key.public_key(), ca_key, client=client, server=server, sans=sans)
        write(stem + ".crt", _pem_cert(cert))
        write(stem + ".key", _pem_key(key))

    leaf("serving-kube-apiserver", _name("kube-apiserver"), server=True, sans=[
        "127.0.0.1", KUBERNETES_SERVICE_IP, "localhost", "kubernetes", "kubernetes.default",
        "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"])
    leaf("client-admin", _name("system:admin", "system:masters"), client=True)
    leaf("client-controller", _name("system:kube-controller-manager"), client=True)
    leaf("client-kube-apiserver", _name("system:kube-apiserver", "system:masters"), client=True)
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write("service.key", sa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                              serialization.NoEncryption()))
    write("service.pub", sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return files


def kubeconfig(server: str, ca: Path, cert: Path, key: Path, user: str = "admin") -> Dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "cp-test",
        "clusters": [{"name": "cp-test", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": "cp-test", "context": {"cluster": "cp-test", "user": user}}],
    }


def encryption_config() -> Dict[str, Any]:
    """What K3s writes to server/cred/encryption-config.json for `secrets-encryption: true` (aescbc key
    named aescbckey first, identity to read what was stored before). K3s generates this file itself; the
    k3s role only sets the flag, so the test makes one of the same shape."""
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    return {
        "kind": "EncryptionConfiguration", "apiVersion": "apiserver.config.k8s.io/v1",
        "resources": [{"resources": ["secrets"], "providers": [
            {"aescbc": {"keys": [{"name": "aescbckey", "secret": key}]}}, {"identity": {}}]}],
    }


# --- the k3s role's own files ----------------------------------------------------------------------

def render_k3s_server_files(server_dir: Path, extra_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Render roles/k3s templates (config.yaml, psa.yaml, audit.yaml) with the role's defaults and vars,
    for a single-server inventory, with the server directory moved to server_dir. Returns the parsed
    config.yaml and the written paths."""
    from role_templates import cluster_vars, render, role_vars

    host = "cp-test-server"
    variables = role_vars("k3s")
    variables["ansible_managed"] = "Ansible managed"
    variables.update(cluster_vars(host, [host], [], infra_public_address="127.0.0.1", infra_environment="test"))
    variables["__k3s_server_dir"] = str(server_dir)
    variables.update(extra_vars or {})
    server_dir.mkdir(parents=True, exist_ok=True)
    (server_dir / "logs").mkdir(exist_ok=True)
    out: Dict[str, Any] = {}
    for template, dest in (("psa.yaml.j2", "psa.yaml"), ("audit.yaml.j2", "audit.yaml"), ("config.yaml.j2", "config.yaml")):
        text = render("k3s", template, variables)
        path = server_dir / dest
        path.write_text(text)
        path.chmod(0o600)
        out[dest] = path
    out["config"] = yaml.safe_load(out["config.yaml"].read_text())
    return out


def args_to_flags(entries: List[str]) -> Dict[str, str]:
    """K3s' `kube-apiserver-arg: ["key=value", ...]` -> {"--key": "value"} (K3s passes them the same way)."""
    flags = {}
    for entry in entries:
        key, _sep, value = entry.partition("=")
        flags["--" + key.lstrip("-")] = value
    return flags


# --- processes -------------------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    argv: List[str]
    log: Path
    env: Optional[Dict[str, str]] = None
    popen: Optional[subprocess.Popen] = None

    def start(self) -> "Proc":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.log, "ab")
        try:
            self.popen = subprocess.Popen(
                self.argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            handle.close()
        return self

    @property
    def pid(self) -> Optional[int]:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def reason(self) -> str:
        """The error a Kubernetes component logged last (its `err="..."`), else the last log line."""
        lines = self.tail(200).splitlines()
        for line in reversed(lines):
            if 'err="' in line:
                return line.split('err="', 1)[1].rstrip('"').replace('\\"', '"')
        return lines[-1] if lines else "(empty log)"

    def stop(self, timeout: float = 20) -> None:
        if not self.popen:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
        # Anything left in the process group (children of the component) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)


def _https_get(url: str, ca: Path, cert: Path, key: Path, timeout: float = 5) -> tuple:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.load_cert_chain(str(cert), str(key))
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def _wait(predicate, timeout: float, proc: Proc, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if not proc.alive():
            raise ControlPlaneError("%s exited with code %s while starting (%s): %s\nend of its log %s:\n%s"
                                    % (proc.name, proc.popen.returncode, what, proc.reason(), proc.log, proc.tail()))
        try:
            if predicate():
                return
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last error on timeout
            last = exc
        time.sleep(interval)
    raise ControlPlaneError("%s not %s after %.0f s (last error: %s); end of its log %s:\n%s"
                            % (proc.name, what, timeout, last, proc.log, proc.tail()))


@dataclass
class ControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) in `workdir`, on free loopback ports."""

    workdir: Path
    tools: Dict[str, str]
    controller_manager: bool = True
    k3s_vars: Optional[Dict[str, Any]] = None
    start_timeout: float = 180
    # Called with the rendered files before anything starts (negative tests break a file here).
    mutate_files: Optional[Any] = None
    procs: List[Proc] = field(default_factory=list)
    server: str = ""
    etcd_url: str = ""

    # ---- layout
    @property
    def server_dir(self) -> Path:
        return self.workdir / "server"

    @property
    def pki(self) -> Path:
        return self.workdir / "pki"

    @property
    def kubeconfig_path(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    @property
    def audit_log(self) -> Path:
        return self.server_dir / "logs" / "audit.log"

    def _proc(self, name: str) -> Optional[Proc]:
        return next((p for p in self.procs if p.name == name), None)

    # ---- lifecycle
    def start(self) -> "ControlPlane":
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self.files = make_pki(self.pki)
            self.rendered = render_k3s_server_files(self.server_dir, self.k3s_vars)
            if self.mutate_files:
                self.mutate_files(self.rendered)
            enc = self.workdir / "server" / "cred" / "encryption-config.json"
            enc.parent.mkdir(parents=True, exist_ok=True)
            enc.write_text(json.dumps(encryption_config()))
            enc.chmod(0o600)
            self.encryption_config_path = enc
            self._start_etcd()
            self._start_apiserver()
            if self.controller_manager:
                self._start_controller_manager()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def pids(self) -> List[int]:
        return [p.pid for p in self.procs if p.pid]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- components
    def _start_retrying_port_clash(self, start, ready, wait_timeout: float, what: str) -> "Proc":
        """start() picks free ports and starts a process; another process may take a port between the
        pick and the bind, so a start that fails with "address already in use" is tried again (3 times)."""
        for attempt in range(3):
            proc = start()
            self.procs.append(proc)
            try:
                _wait(ready, wait_timeout, proc, what)
                return proc
            except ControlPlaneError:
                if "address already in use" in proc.tail() and attempt < 2:
                    proc.stop()
                    self.procs.remove(proc)
                    continue
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _start_etcd(self) -> None:
        def start():
            client, peer = free_port(), free_port()
            self.etcd_url = "http://127.0.0.1:%d" % client
            return Proc("etcd", [
                self.tools["PP_ETCD_BIN"], "--name", "cp-test",
                "--data-dir", str(self.workdir / "etcd"),
                "--listen-client-urls", self.etcd_url, "--advertise-client-urls", self.etcd_url,
                "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
                "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
                "--initial-cluster", "cp-test=http://127.0.0.1:%d" % peer,
                "--log-level", "warn",
                # Test data on a shared disk: no fsync (nothing here must survive a power cut).
                "--unsafe-no-fsync",
            ], self.workdir / "logs" / "etcd.log").start()
        self._start_retrying_port_clash(
            start, lambda: urllib.request.urlopen(self.etcd_url + "/health", timeout=2).status == 200, 60, "healthy")

    def apiserver_flags(self, port: int) -> Dict[str, str]:
        f = self.files
        # What K3s itself passes (pkg/daemons/control/server.go), for the settings a test can see...
        flags = {
            "--advertise-address": "127.0.0.1",
            "--bind-address": "127.0.0.1",
            "--secure-port": str(port),
            "--etcd-servers": self.etcd_url,
            "--storage-backend": "etcd3",
            "--allow-privileged": "true",
            "--anonymous-auth": "false",
            "--api-audiences": "%s,k3s" % SA_ISSUER,
            "--authorization-mode": "Node,RBAC",
            "--enable-admission-plugins": "NodeRestriction",
            "--encryption-provider-config": str(self.encryption_config_path),
            "--encryption-provider-config-automatic-reload": "true",
            "--profiling": "false",
            "--service-account-issuer": SA_ISSUER,
            "--service-account-key-file": str(f["service.pub"]),
            "--service-account-signing-key-file": str(f["service.key"]),
            "--service-cluster-ip-range": SERVICE_CIDR,
            "--service-node-port-range": "30000-32767",
            "--tls-cert-file": str(f["serving-kube-apiserver.crt"]),
            "--tls-private-key-file": str(f["serving-kube-apiserver.key"]),
            "--client-ca-file": str(f["ca.crt"]),
            "--kubelet-client-certificate": str(f["client-kube-apiserver.crt"]),
            "--kubelet-client-key": str(f["client-kube-apiserver.key"]),
            "--cert-dir": str(self.workdir / "apiserver-cert"),
        }
        # ...then the role's kube-apiserver-arg entries, which win as they do in K3s.
        flags.update(args_to_flags(self.rendered["config"]["kube-apiserver-arg"]))
        return flags

    def _start_apiserver(self) -> None:
        f = self.files

        def start():
            port = free_port()
            self.server = "https://127.0.0.1:%d" % port
            argv = [self.tools["PP_KUBE_APISERVER_BIN"]] + ["%s=%s" % kv for kv in self.apiserver_flags(port).items()]
            return Proc("kube-apiserver", argv, self.workdir / "logs" / "kube-apiserver.log").start()
        self._start_retrying_port_clash(
            start,
            lambda: _https_get(self.server + "/readyz", f["ca.crt"], f["client-admin.crt"], f["client-admin.key"])[0] == 200,
            self.start_timeout, "ready (/readyz)")
        self.kubeconfig_path.write_text(yaml.safe_dump(kubeconfig(self.server, f["ca.crt"], f["client-admin.crt"], f["client-admin.key"])))
        self.kubeconfig_path.chmod(0o600)

    def _start_controller_manager(self) -> None:
        f = self.files
        kc = self.workdir / "controller-manager.kubeconfig"
        kc.write_text(yaml.safe_dump(kubeconfig(self.server, f["ca.crt"], f["client-controller.crt"], f["client-controller.key"],
                                                user="system:kube-controller-manager")))
        kc.chmod(0o600)
        flags = {
            "--kubeconfig": str(kc),
            "--authentication-kubeconfig": str(kc),
            "--authorization-kubeconfig": str(kc),
            "--bind-address": "127.0.0.1",
            "--secure-port": str(free_port()),
            "--leader-elect": "false",
            "--use-service-account-credentials": "true",
            "--service-account-private-key-file": str(f["service.key"]),
            "--root-ca-file": str(f["ca.crt"]),
            "--cluster-signing-cert-file": str(f["ca.crt"]),
            "--cluster-signing-key-file": str(f["ca.key"]),
            "--cluster-cidr": CLUSTER_CIDR,
            "--service-cluster-ip-range": SERVICE_CIDR,
            "--controllers": "*,tokencleaner",
            "--profiling": "false",
            "--cert-dir": str(self.workdir / "controller-manager-cert"),
        }
        flags.update(args_to_flags(self.rendered["config"].get("kube-controller-manager-arg", [])))
        argv = [self.tools["PP_KUBE_CONTROLLER_MANAGER_BIN"]] + ["%s=%s" % kv for kv in flags.items()]
        proc = Proc("kube-controller-manager", argv, self.workdir / "logs" / "kube-controller-manager.log").start()
        self.procs.append(proc)
        # Its controllers run when the root CA is published into the default namespace.
        _wait(lambda: self.get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt")[0] == 200,
              self.start_timeout, proc, "running its controllers (kube-root-ca.crt published)")

    # ---- small REST helpers (admin client certificate)
    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                query: str = "") -> tuple:
        f = self.files
        ctx = ssl.create_default_context(cafile=str(f["ca.crt"]))
        ctx.load_cert_chain(str(f["client-admin.crt"]), str(f["client-admin.key"]))
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path + (("?" + query) if query else ""), data=data, method=method,
                                     headers={"Content-Type": content_type, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode(errors="replace")), dict(resp.headers)
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw.decode(errors="replace")
            return err.code, payload, dict(err.headers)

    def get(self, path: str) -> tuple:
        status, body, _headers = self.request("GET", path)
        return status, body

    def etcd_raw(self, key: str) -> Optional[bytes]:
        """The raw value etcd stores under `key` (through etcd's own v3 JSON gateway)."""
        payload = json.dumps({"key": base64.b64encode(key.encode()).decode()}).encode()
        req = urllib.request.Request(self.etcd_url + "/v3/kv/range", data=payload, method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            kvs = json.loads(resp.read()).get("kvs") or []
        return base64.b64decode(kvs[0]["value"]) if kvs else None


# --- the sealed-secrets controller --------------------------------------------------------------------

# RBAC of the sealed-secrets chart 2.17.1 (templates cluster-role.yaml, role.yaml and their bindings, with
# the role's values: fullnameOverride sealed-secrets-controller, namespace kube-system, secretName
# sealed-secrets-key), so the real controller runs with the permissions it has in production.
def sealed_secrets_rbac(namespace: str = "kube-system", fullname: str = "sealed-secrets-controller",
                        key_prefix: str = "sealed-secrets-key") -> List[Dict[str, Any]]:
    sa = {"kind": "ServiceAccount", "name": fullname, "namespace": namespace}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": fullname, "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "secrets-unsealer"},
         "rules": [
             {"apiGroups": ["bitnami.com"], "resources": ["sealedsecrets"], "verbs": ["get", "list", "watch"]},
             {"apiGroups": ["bitnami.com"], "resources": ["sealedsecrets/status"], "verbs": ["update"]},
             {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "create", "update", "delete", "watch"]},
             {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": fullname},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "secrets-unsealer"},
         "subjects": [sa]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": fullname + "-key-admin", "namespace": namespace},
         "rules": [
             {"apiGroups": [""], "resourceNames": [key_prefix], "resources": ["secrets"], "verbs": ["get"]},
             {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": fullname + "-key-admin", "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": fullname + "-key-admin"}, "subjects": [sa]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": fullname + "-service-proxier", "namespace": namespace},
         "rules": [
             {"apiGroups": [""], "resourceNames": [fullname], "resources": ["services"], "verbs": ["get"]},
             {"apiGroups": [""], "resourceNames": ["http:%s:" % fullname, "http:%s:http" % fullname, fullname],
              "resources": ["services/proxy"], "verbs": ["create", "get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": fullname + "-service-proxier", "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": fullname + "-service-proxier"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]},
    ]


# A Node object with no kubelet behind it (see sealed_secrets_workload).
STAND_IN_NODE = "cp-test-stand-in-node"

# matchLabels of chart 2.17.1 for the release the K3s helm-controller names after the HelmChart (sealed-secrets).
SEALED_SECRETS_LABELS = {"app.kubernetes.io/name": "sealed-secrets", "app.kubernetes.io/instance": "sealed-secrets"}


def sealed_secrets_workload(port: int, namespace: str = "kube-system", fullname: str = "sealed-secrets-controller") -> List[Dict[str, Any]]:
    """The chart's Service and Deployment (the Deployment's pods never run here: no kubelet), and one
    Pod object that stands for the controller process this harness runs on the host. The test sets
    that Pod's status (IP, Ready) itself, so the real endpoints controller lists the host process
    behind the Service and the API server's service proxy reaches it, as it reaches the pod in K3s."""
    pod_spec = {"serviceAccountName": fullname, "containers": [{
        "name": "controller", "image": "docker.io/bitnami/sealed-secrets-controller:0.28.0",
        "ports": [{"name": "http", "containerPort": port}]}]}
    # The stand-in pod is bound to a Node object (the endpoints controller lists a pod's node, and the pod
    # garbage collector deletes pods of nodes that do not exist); no kubelet reports for that node, so
    # the pod tolerates the taints the node lifecycle controller puts on it.
    host_pod_spec = dict(pod_spec, nodeName=STAND_IN_NODE, tolerations=[{"operator": "Exists"}])
    return [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": STAND_IN_NODE, "labels": {"parametric-portal.test/stand-in": "true"}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": fullname, "namespace": namespace, "labels": dict(SEALED_SECRETS_LABELS)},
         "spec": {"type": "ClusterIP", "selector": dict(SEALED_SECRETS_LABELS),
                  "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": fullname, "namespace": namespace, "labels": dict(SEALED_SECRETS_LABELS)},
         "spec": {"replicas": 1, "selector": {"matchLabels": dict(SEALED_SECRETS_LABELS)},
                  "template": {"metadata": {"labels": dict(SEALED_SECRETS_LABELS, **{"parametric-portal.test/pod": "deployment"})},
                               "spec": pod_spec}}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": fullname + "-host-process", "namespace": namespace,
                      "labels": dict(SEALED_SECRETS_LABELS, **{"parametric-portal.test/pod": "host-process"})},
         "spec": host_pod_spec},
    ]


@dataclass
class SealedSecretsController:
    """The real sealed-secrets controller (built from Go modules) as a host process with in-cluster config:
    KUBERNETES_SERVICE_HOST/PORT in its environment and a bound service-account token, ca.crt and
    namespace bind-mounted at /var/run/secrets/kubernetes.io/serviceaccount inside its own mount
    namespace (unshare), where client-go's rest.InClusterConfig() reads them. Nothing is mounted on the host."""

    cp: ControlPlane
    binary: str
    workdir: Path
    namespace: str = "kube-system"
    fullname: str = "sealed-secrets-controller"
    key_renew_period: str = "720h"
    proc: Optional[Proc] = None
    address: str = ""
    port: int = 0

    def setup_objects(self, api) -> None:
        self.address = host_address()
        self.port = free_port_on(self.address)
        for obj in sealed_secrets_rbac(self.namespace, self.fullname) + sealed_secrets_workload(self.port, self.namespace, self.fullname):
            status, body, _warnings = api.apply(obj)
            assert status in (200, 201), (obj["kind"], status, body)
        pod = self.fullname + "-host-process"
        # The status a kubelet would report for the pod: this test sets it (no kubelet runs here).
        api.patch_status("v1", "Pod", pod, self.namespace, {
            "phase": "Running", "podIP": self.address, "podIPs": [{"ip": self.address}],
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}]})

    def service_account_files(self) -> Path:
        sa_dir = self.workdir / "serviceaccount"
        sa_dir.mkdir(parents=True, exist_ok=True)
        status, body, _headers = self.cp.request(
            "POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (self.namespace, self.fullname),
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 7200}})
        assert status == 201, (status, body)
        (sa_dir / "token").write_text(body["status"]["token"])
        (sa_dir / "ca.crt").write_bytes(self.cp.files["ca.crt"].read_bytes())
        (sa_dir / "namespace").write_text(self.namespace)
        for child in sa_dir.iterdir():
            child.chmod(0o600)
        return sa_dir

    def start(self, timeout: float = 120) -> "SealedSecretsController":
        sa_dir = self.service_account_files()
        port = self.cp.server.rsplit(":", 1)[1]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port}
        script = ('mount -t tmpfs -o size=1m,mode=0755 pp-cp-run /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount '
                  '&& mount --bind "$0" /run/secrets/kubernetes.io/serviceaccount && exec "$@"')
        argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, str(sa_dir),
                self.binary, "--update-status", "--key-renew-period", self.key_renew_period, "--key-prefix", "sealed-secrets-key",
                "--listen-addr", "%s:%d" % (self.address, self.port),
                "--listen-metrics-addr", "127.0.0.1:%d" % free_port()]
        self.proc = Proc("sealed-secrets-controller", argv, self.workdir / "sealed-secrets-controller.log", env=env).start()
        _wait(lambda: urllib.request.urlopen("http://%s:%d/healthz" % (self.address, self.port), timeout=2).status == 200,
              timeout, self.proc, "serving /healthz")
        return self

    def cert_pem(self) -> bytes:
        with urllib.request.urlopen("http://%s:%d/v1/cert.pem" % (self.address, self.port), timeout=10) as resp:
            return resp.read()

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()

    def restart(self, timeout: float = 120) -> "SealedSecretsController":
        """What a rollout would do to the pod: stop the process and start it again (it reads keys at start)."""
        self.stop()
        return self.start(timeout)


def free_port_on(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def host_address() -> str:
    """This machine's primary non-loopback IPv4 address (the source address of its default route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for a UDP connect
        return sock.getsockname()[0]


def processes_mentioning(text: str) -> List[int]:
    """PIDs whose command line contains `text` (to prove nothing was left behind)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def new_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("PP_CP_TMPDIR") or None))


if __name__ == "__main__":  # manual use: python tests/controlplane/cp_harness.py -> start, print kubeconfig, wait
    sys.path.insert(0, str(REPO / "tests"))  # role_templates, as tests/conftest.py makes it importable under pytest
    # A process started in the background by a non-interactive shell inherits SIGINT as ignored;
    # make Ctrl-C / SIGINT raise KeyboardInterrupt here in any case, so the control plane is stopped.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cp = ControlPlane(new_workdir("pp-cp-manual-"), tool_paths())
    with cp:
        print("KUBECONFIG=%s" % cp.kubeconfig_path, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    sys.exit(0)
