"""TEST DOUBLE of the Kubernetes API server, for the one thing seal_secret asks it: the controller's
certificate through the service proxy (what `kubeseal --fetch-cert` reads). No API server can run in
these unit tests (engineer "cp" builds the real kube-apiserver harness under tests/controlplane, which
will run the same module options against the real server); everything on the client side is real:
kubernetes.core's client built from the module's standard auth options, a kubeconfig file, TLS with
a private CA, client-certificate or bearer-token authentication.

Served paths: the discovery documents kubernetes.core's client reads when it is created (/version,
/api, /apis) and /api/v1/namespaces/<ns>/services/http:<name>:http/proxy/v1/cert.pem for one
controller. Every request is recorded with the client certificate's CN and the Authorization header.
"""
from __future__ import annotations

import base64
import datetime
import http.server
import ipaddress
import json
import ssl
import threading
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_PATH = "/api/v1/namespaces/{ns}/services/http:{name}:http/proxy/v1/cert.pem"


def _b64(data):
    return base64.b64encode(data).decode("ascii")


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _issue(cn, issuer_key=None, issuer_name=None, ca=False, server=False):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        builder = (builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False))
    elif not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return key, cert


class Pki:
    """A private CA with a server certificate for 127.0.0.1 and a client certificate."""

    def __init__(self, directory, client_cn="sealing-test-user"):
        self.dir = Path(directory)
        self.ca_key, self.ca = _issue("test-cluster-ca", ca=True)
        self.server_key, self.server = _issue("kube-apiserver", self.ca_key, self.ca.subject, server=True)
        self.client_key, self.client = _issue(client_cn, self.ca_key, self.ca.subject)
        self.ca_pem = self.ca.public_bytes(serialization.Encoding.PEM)
        self.client_pem = self.client.public_bytes(serialization.Encoding.PEM)
        self.client_key_pem = _pem_key(self.client_key)
        self.ca_file = self._write("ca.crt", self.ca_pem)
        self.server_file = self._write("server.crt", self.server.public_bytes(serialization.Encoding.PEM))
        self.server_key_file = self._write("server.key", _pem_key(self.server_key))
        self.client_file = self._write("client.crt", self.client_pem)
        self.client_key_file = self._write("client.key", self.client_key_pem)

    def _write(self, name, data):
        path = self.dir / name
        path.write_bytes(data)
        path.chmod(0o600)
        return str(path)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802  (http.server's naming)
        server = self.server
        peer = self.connection.getpeercert() or {}
        cn = dict(x[0] for x in peer.get("subject", ())).get("commonName")
        server.seen.append({"path": self.path, "cn": cn, "authorization": self.headers.get("Authorization"),
                            "accept": self.headers.get("Accept")})
        if server.token and self.headers.get("Authorization") != "Bearer " + server.token and cn is None:
            return self._send(401, b'{"kind":"Status","code":401}', "application/json")
        if self.path.rstrip("/") == "/version":
            return self._send(200, json.dumps({"major": "1", "minor": "32", "gitVersion": "v1.32.11"}).encode())
        if self.path == "/api":
            return self._send(200, json.dumps({"kind": "APIVersions", "versions": ["v1"]}).encode())
        if self.path == "/apis":
            return self._send(200, json.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}).encode())
        if self.path == CERT_PATH.format(ns=server.controller[0], name=server.controller[1]):
            return self._send(200, server.cert_pem, "application/x-pem-file")
        return self._send(404, b'{"kind":"Status","code":404}', "application/json")

    def _send(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class ApiServerDouble:
    """HTTPS on 127.0.0.1:<kernel-chosen port>; client certificates are verified against the CA
    (optional, so bearer tokens work too). Use as a context manager."""

    def __init__(self, pki, cert_pem, controller=("kube-system", "sealed-secrets-controller"), token=None):
        self.pki = pki
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.server_file, pki.server_key_file)
        context.load_verify_locations(cadata=pki.ca_pem.decode())
        context.verify_mode = ssl.CERT_OPTIONAL
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.seen = []
        self.httpd.cert_pem = cert_pem
        self.httpd.controller = controller
        self.httpd.token = token
        self.url = "https://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def seen(self):
        return self.httpd.seen

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def kubeconfig(self, path, context="sealing-test", ca_pem=None, other_context=True):
        """A kubeconfig with embedded CA and client certificate. Its current-context is a decoy that
        points at a host that does not resolve, so only an honoured O(context) reaches this server."""
        doc = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "test", "cluster": {"server": self.url,
                                                      "certificate-authority-data": _b64(ca_pem or self.pki.ca_pem)}}],
            "users": [{"name": "test-user", "user": {"client-certificate-data": _b64(self.pki.client_pem),
                                                     "client-key-data": _b64(self.pki.client_key_pem)}}],
            "contexts": [{"name": context, "context": {"cluster": "test", "user": "test-user"}}],
            "current-context": context,
        }
        if other_context:
            doc["clusters"].append({"name": "decoy", "cluster": {"server": "https://decoy.invalid:6443",
                                                                 "insecure-skip-tls-verify": True}})
            doc["contexts"].append({"name": "decoy", "context": {"cluster": "decoy", "user": "test-user"}})
            doc["current-context"] = "decoy"
        Path(path).write_text(yaml.safe_dump(doc))
        return str(path)
