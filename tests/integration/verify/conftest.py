"""Real local endpoints for the verify tests: nginx (Debian package) and OpenSSH sshd.

Everything listens on loopback only (127.0.9.1 = GOOD set, 127.0.9.2 = BAD set). Ports are
allocated and HELD, never probed and bound later: each listening socket is bound to port 0 (the
kernel picks a free port) and handed to its server, so no other process can take a port between
allocation and use. nginx takes its sockets through its inherited-sockets mechanism (the NGINX
environment variable, as for its binary upgrade); sshd runs in inetd mode (`sshd -i`), one real
sshd per connection accepted on the held socket; the GOOD "closed" port is a socket bound but not
listening (connections are refused, and nothing else can listen there). Started by the session
fixture and stopped (by PID) at the end.

GOOD: TLS 1.2/1.3 only, a default_server with ``ssl_reject_handshake on`` (SNI-strict), a
certificate from a throw-away test CA valid 90 days for the test domains, every security header,
301 from HTTP; sshd with PasswordAuthentication/KbdInteractiveAuthentication no; nothing on
the "closed" port.
BAD: TLS 1.0/1.1/1.2 (no 1.3; ciphers at @SECLEVEL=0 so OpenSSL 3 can serve TLS 1.0), the
certificate served to everyone (no SNI strictness) is for the wrong name and expires in 5 days,
302 from HTTP, short HSTS and no other header; a second listener "bad_tls13" offers TLS 1.3 only
(so "TLS 1.2 accepted" can fail); sshd with PasswordAuthentication yes; a TCP listener on the
"closed" port.

Missing Debian packages (nginx-light or nginx, openssh-server, openssh-client, openssl, nftables)
are installed with apt-get only if absent.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from verify_nft_rulesets import BAD_NFT, GOOD_NFT  # noqa: F401  (written to files for the playbook tests)

GOOD_ADDR = "127.0.9.1"
BAD_ADDR = "127.0.9.2"
DOMAINS = ["a.verify.test", "b.verify.test"]
_NEEDED = {"nginx": "nginx-light", "sshd": "openssh-server", "ssh": "openssh-client", "openssl": "openssl", "nft": "nftables"}


def _which(binary):
    return shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin:/usr/bin")


def _ensure_packages():
    missing = sorted({pkg for binary, pkg in _NEEDED.items() if not _which(binary)})
    if not missing:
        return
    if os.geteuid() != 0:
        pytest.fail("missing %s and not root to install them" % missing)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
                   check=True, env=env, timeout=300, stdout=subprocess.DEVNULL)


def _held(addr, listen=True):
    """A socket bound to a kernel-chosen free port on addr, held until the session ends."""
    sock = socket.socket()  # no SO_REUSEADDR: nothing else may bind the port, listening or not
    sock.bind((addr, 0))
    if listen:
        sock.listen(64)
    return sock


class _SshdInetd:
    """Real sshd in inetd mode (`sshd -i -f CONF`) for each connection to a held listening socket."""

    def __init__(self, listener, conf):
        self.listener, self.conf = listener, conf
        self.children = []
        self.stop = threading.Event()
        self.listener.settimeout(0.2)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, unused = self.listener.accept()
            except OSError:  # timeout, or closed at teardown
                continue
            with conn:
                conn.setblocking(True)
                self.children.append(subprocess.Popen([_which("sshd"), "-i", "-e", "-f", str(self.conf)],
                                                      stdin=conn, stdout=conn, stderr=subprocess.DEVNULL))
            self.children = [c for c in self.children if c.poll() is None]

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=5)


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _make_pki(d: Path):
    """Test CA, GOOD leaf (both domains, 90 days), BAD leaf (wrong name, 5 days)."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", "/CN=verify test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    for name, sans, days in (("good", ",".join("DNS:%s" % x for x in DOMAINS), 90), ("bad", "DNS:wrong.verify.test", 5)):
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "%s.key" % name,
                 "-out", "%s.csr" % name, "-subj", "/CN=%s" % sans.split(",", maxsplit=1)[0][4:], cwd=d)
        (d / ("%s.ext" % name)).write_text(
            "subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n" % sans)
        _openssl("x509", "-req", "-in", "%s.csr" % name, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", str(days), "-extfile", "%s.ext" % name, "-out", "%s.crt" % name, cwd=d)


_NGINX_HEAD = """
worker_processes 1;
pid {d}/{name}.pid;
error_log {d}/{name}-error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/{name}-tmp/body;
  proxy_temp_path {d}/{name}-tmp/proxy;
  fastcgi_temp_path {d}/{name}-tmp/fastcgi;
  uwsgi_temp_path {d}/{name}-tmp/uwsgi;
  scgi_temp_path {d}/{name}-tmp/scgi;
  default_type text/plain;
  ssl_protocols {protocols};
"""

GOOD_NGINX = _NGINX_HEAD + """
  # SNI-strict: a ClientHello without (or with an unknown) server_name is refused.
  server {{
    listen {addr}:{https} ssl default_server;
    ssl_reject_handshake on;
  }}
  server {{
    listen {addr}:{https} ssl;
    server_name {domains};
    ssl_certificate {d}/good.crt;
    ssl_certificate_key {d}/good.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;
    add_header X-Frame-Options "DENY" always;
    add_header X-Content-Type-Options "nosniff" always;
    add_header Content-Security-Policy "default-src 'self'; frame-ancestors 'none'" always;
    add_header Referrer-Policy "strict-origin-when-cross-origin" always;
    return 200 "good\\n";
  }}
  server {{
    listen {addr}:{http} default_server;
    return 301 https://$host$request_uri;
  }}
}}
"""

BAD_NGINX = _NGINX_HEAD + """
  # Serves everyone (no SNI strictness), old protocols, wrong-name short-lived certificate.
  server {{
    listen {addr}:{https} ssl default_server;
    server_name {domains};
    ssl_certificate {d}/bad.crt;
    ssl_certificate_key {d}/bad.key;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2;
    ssl_ciphers "ALL:@SECLEVEL=0";
    add_header Strict-Transport-Security "max-age=300" always;
    return 200 "bad\\n";
  }}
  server {{
    listen {addr}:{https13} ssl default_server;
    ssl_certificate {d}/bad.crt;
    ssl_certificate_key {d}/bad.key;
    ssl_protocols TLSv1.3;
    return 200 "tls13 only\\n";
  }}
  server {{
    listen {addr}:{http} default_server;
    return 302 https://$host$request_uri;
  }}
}}
"""

SSHD_CONFIG = """
ListenAddress {addr}
Port {port}
HostKey {d}/ssh_host_ed25519_key
PidFile {d}/sshd-{name}.pid
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication {password}
KbdInteractiveAuthentication {password}
PermitRootLogin no
LogLevel ERROR
"""


def _wait_http(addr, port, procs, deadline=60.0):
    """Until nginx answers on its (held, hence always connectable) HTTP socket: it then serves all."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            err = dead[0].stderr.read().decode(errors="replace")
            raise RuntimeError("%s exited with %s: %s" % (dead[0].args[0], dead[0].returncode, err))
        try:
            with socket.create_connection((addr, port), timeout=2) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                if conn.recv(16).startswith(b"HTTP/"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("nginx on %s:%s did not answer within %ss" % (addr, port, deadline))


class Endpoints:
    """Ports and paths of the running GOOD/BAD sets; the sockets behind the ports stay held."""

    def __init__(self, d: Path):
        self.dir = d
        self.ca_file = str(d / "ca.crt")
        self.domains = list(DOMAINS)
        # GOOD's closed port: bound, not listening (refused, and reserved); BAD's: something listens.
        self.sockets = {
            "good": {"https_port": _held(GOOD_ADDR), "http_port": _held(GOOD_ADDR), "ssh_port": _held(GOOD_ADDR),
                     "closed_port": _held(GOOD_ADDR, listen=False)},
            "bad": {"https_port": _held(BAD_ADDR), "http_port": _held(BAD_ADDR), "ssh_port": _held(BAD_ADDR),
                    "closed_port": _held(BAD_ADDR), "https13_port": _held(BAD_ADDR)},
        }
        self.good = {"address": GOOD_ADDR, **{k: s.getsockname()[1] for k, s in self.sockets["good"].items()}}
        self.bad = {"address": BAD_ADDR, **{k: s.getsockname()[1] for k, s in self.sockets["bad"].items()}}
        self.good_nft = d / "good.nft"
        self.bad_nft = d / "bad.nft"

    def close(self):
        for group in self.sockets.values():
            for sock in group.values():
                sock.close()


@pytest.fixture(scope="session")
def endpoints():
    _ensure_packages()
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    d = Path(tempfile.mkdtemp(prefix="pp-verify-"))
    procs = []
    sshds = []
    ep = None
    try:
        _make_pki(d)
        ep = Endpoints(d)
        ep.good_nft.write_text(GOOD_NFT)
        ep.bad_nft.write_text(BAD_NFT)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "ssh_host_ed25519_key")],
                       check=True, timeout=30)
        for name, tpl, s in (("good", GOOD_NGINX, ep.good), ("bad", BAD_NGINX, ep.bad)):
            (d / ("%s-tmp" % name)).mkdir()
            conf = d / ("nginx-%s.conf" % name)
            conf.write_text(tpl.format(d=d, name=name, addr=s["address"], https=s["https_port"], http=s["http_port"],
                                       https13=s.get("https13_port"), domains=" ".join(DOMAINS),
                                       protocols="TLSv1.2 TLSv1.3" if name == "good" else "TLSv1 TLSv1.1 TLSv1.2"))
            # nginx takes the held sockets (NGINX="fd;fd;..."): it binds nothing itself.
            fds = [sock.fileno() for key, sock in ep.sockets[name].items() if key.startswith("http")]
            procs.append(subprocess.Popen([_which("nginx"), "-p", str(d), "-e", str(d / ("%s-startup.log" % name)),
                                           "-c", str(conf), "-g", "daemon off;"],
                                          env=dict(os.environ, NGINX="".join("%d;" % fd for fd in fds)), pass_fds=fds,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        for name, s, password in (("good", ep.good, "no"), ("bad", ep.bad, "yes")):
            conf = d / ("sshd-%s.conf" % name)
            conf.write_text(SSHD_CONFIG.format(d=d, name=name, addr=s["address"], port=s["ssh_port"], password=password))
            subprocess.run([_which("sshd"), "-t", "-f", str(conf)], check=True, capture_output=True, timeout=30)
            sshds.append(_SshdInetd(ep.sockets[name]["ssh_port"], conf))
        # BAD: something listens on the port that must be closed (the held listening socket itself).
        for s in (ep.good, ep.bad):
            _wait_http(s["address"], s["http_port"], procs)
        yield ep
    finally:
        for sshd in sshds:
            sshd.close()
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if ep is not None:
            ep.close()
        shutil.rmtree(d, ignore_errors=True)
