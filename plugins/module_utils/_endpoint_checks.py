# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Post-deploy endpoint probes and their evaluation (PRIVATE to parametric_portal.infra).

Leading underscore: not a public API, may change without notice. Used by the
``endpoint_check`` module and the ``verify_*`` filters (playbooks/verify.yml).

Only the Python standard library is used (ssl, socket, http.client), so the probes run on any
controller. Every check returns a *row*: ``{"check", "target", "result", "detail"}`` where
``result`` is ``PASS``, ``FAIL`` or ``SKIP``. Evaluation functions are pure and take already
collected data (headers, ssh debug output, Kubernetes objects, nft JSON), so they are unit-tested
against recorded inputs; the probe functions only collect.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import http.client
import ipaddress
import re
import socket
import ssl
import warnings

from ansible_collections.parametric_portal.infra.plugins.module_utils._readiness import application_status

PASS = "PASS"
FAIL = "FAIL"
SKIP = "SKIP"

ALL_CHECKS = (
    "tls_versions",
    "sni_strict",
    "certificate",
    "http_redirect",
    "headers",
    "ssh_password",
    "closed_ports",
    "exposed_ports",
)

# TLS versions probed; names are what the table shows.
_TLS_VERSIONS = (
    ("TLS 1.0", "TLSv1", False),
    ("TLS 1.1", "TLSv1_1", False),
    ("TLS 1.2", "TLSv1_2", True),
    ("TLS 1.3", "TLSv1_3", True),
)

# OpenSSL reasons meaning "this client could not even offer the version" (not a server refusal).
_CLIENT_CANNOT_OFFER = ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "NO_SUITABLE_SIGNATURE_ALGORITHM")


def row(check, target, result, detail):
    """Build one table row."""
    return {"check": check, "target": target, "result": result, "detail": detail}


def _target(address, port, domain=None):
    where = "%s:%s" % (address, port)
    return "%s @ %s" % (domain, where) if domain else where


def _connect(address, port, timeout):
    return socket.create_connection((address, int(port)), timeout=timeout)


def _unverified_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _ssl_reason(exc):
    return getattr(exc, "reason", None) or type(exc).__name__


# --------------------------------------------------------------------------- TLS versions


def probe_tls_version(address, port, server_name, version_attr, timeout):
    """Try one handshake pinned to a single TLS version.

    Returns ``(state, detail)`` with state ``accepted``, ``refused``, ``untestable`` (this
    controller's OpenSSL cannot offer the version at all) or ``unreachable`` (no TCP connection).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        version = getattr(ssl.TLSVersion, version_attr, None)
        if version is None:
            return "untestable", "ssl module has no %s" % version_attr
        ctx = _unverified_context()
        try:
            ctx.minimum_version = version
            ctx.maximum_version = version
            # TLS 1.0/1.1 need SHA-1 signatures, forbidden at OpenSSL 3 security level >= 1: the
            # probe must be able to OFFER the old protocol to find out whether the server refuses it.
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError) as exc:
            return "untestable", "controller OpenSSL cannot offer %s: %s" % (version_attr, exc)
    try:
        sock = _connect(address, port, timeout)
    except OSError as exc:
        return "unreachable", "no TCP connection: %s" % exc
    try:
        with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
            return "accepted", "negotiated %s %s" % (tls.version(), tls.cipher()[0])
    except ssl.SSLError as exc:
        reason = _ssl_reason(exc)
        if reason in _CLIENT_CANNOT_OFFER:
            return "untestable", "controller OpenSSL cannot offer %s (%s)" % (version_attr, reason)
        return "refused", "handshake refused: %s" % reason
    except (OSError, socket.timeout) as exc:
        return "refused", "connection closed during handshake: %s" % exc
    finally:
        sock.close()


def check_tls_versions(address, port, domain, timeout):
    """TLS 1.0/1.1 must be refused, TLS 1.2/1.3 accepted (SNI = domain)."""
    rows = []
    target = _target(address, port, domain)
    for label, attr, must_accept in _TLS_VERSIONS:
        state, detail = probe_tls_version(address, port, domain, attr, timeout)
        check = "%s %s" % (label, "accepted" if must_accept else "refused")
        if state == "untestable":
            rows.append(row(check, target, SKIP, detail))
        elif state == "unreachable":
            rows.append(row(check, target, FAIL, detail))
        elif (state == "accepted") == must_accept:
            rows.append(row(check, target, PASS, detail))
        else:
            rows.append(row(check, target, FAIL, detail))
    return rows


# --------------------------------------------------------------------------- SNI strictness


def check_sni_strict(address, port, timeout):
    """"No connection without SNI": a ClientHello WITHOUT the server_name extension must be refused.

    This is what Traefik's ``sniStrict: true`` does (its certificate lookup fails and the
    handshake is aborted with an alert) and nginx's ``ssl_reject_handshake on`` in the default
    server. PASS: TCP connects and the TLS handshake fails. FAIL: the handshake completes (any
    certificate served, e.g. Traefik's self-signed default) or no TCP connection at all (nothing
    proven).
    """
    check = "No TLS handshake without SNI"
    target = _target(address, port)
    ctx = _unverified_context()
    try:
        sock = _connect(address, port, timeout)
    except OSError as exc:
        return row(check, target, FAIL, "no TCP connection: %s" % exc)
    try:
        with ctx.wrap_socket(sock, server_hostname=None) as tls:
            der = tls.getpeercert(binary_form=True)
            subject = _cert_subject_cn(der) if der else "no certificate"
            return row(check, target, FAIL, "handshake completed without SNI (%s, cert CN=%s)" % (tls.version(), subject))
    except ssl.SSLError as exc:
        return row(check, target, PASS, "handshake refused without SNI: %s" % _ssl_reason(exc))
    except (OSError, socket.timeout) as exc:
        return row(check, target, PASS, "connection closed during handshake without SNI: %s" % exc)
    finally:
        sock.close()


# --------------------------------------------------------------------------- certificates


def _der_read(data, pos):
    """Read one DER TLV at ``pos``; return (tag, value_start, value_end)."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, pos, pos + length


def _der_time(tag, raw):
    text = raw.decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ
        year = int(text[0:2])
        text = ("19" if year >= 50 else "20") + text
    return datetime.datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


def cert_validity(der):
    """Return (not_before, not_after) of a DER certificate (RFC 5280 TBSCertificate walk)."""
    _tag, start, _end = _der_read(der, 0)  # Certificate
    _tag, pos, _end = _der_read(der, start)  # TBSCertificate
    tag, _s, end = _der_read(der, pos)
    if tag == 0xA0:  # [0] version
        pos = end
    for _skip in range(3):  # serialNumber, signature, issuer
        _tag, _s, pos = _der_read(der, pos)
    _tag, vstart, _vend = _der_read(der, pos)  # validity
    tag1, s1, e1 = _der_read(der, vstart)
    tag2, s2, e2 = _der_read(der, e1)
    return _der_time(tag1, der[s1:e1]), _der_time(tag2, der[s2:e2])


def _cert_subject_cn(der):
    """Best effort subject CN of a DER certificate (for details only; the subject follows the issuer)."""
    matches = list(re.finditer(rb"\x06\x03\x55\x04\x03[\x0c\x13\x16](.)", der, re.S))
    if not matches:
        return "?"
    match = matches[-1]
    length = match.group(1)[0]
    start = match.end()
    return der[start:start + length].decode("utf-8", "replace")


def evaluate_expiry(not_after, min_days, now=None):
    """Pure: PASS when the certificate is valid for at least ``min_days`` more days."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    days_left = (not_after - now).total_seconds() / 86400.0
    detail = "expires %s (%.1f days left, minimum %d)" % (not_after.strftime("%Y-%m-%dT%H:%M:%SZ"), days_left, min_days)
    return (PASS if days_left >= min_days else FAIL), detail


def check_certificate(address, port, domain, ca_file, min_days, timeout, now=None):
    """Chain verifies against ``ca_file`` (system bundle when empty), hostname matches, expiry."""
    target = _target(address, port, domain)
    chain_check = "Certificate valid for domain"
    expiry_check = "Certificate expiry >= %d days" % min_days
    ctx = ssl.create_default_context(cafile=ca_file or None)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    rows = []
    der = None
    try:
        sock = _connect(address, port, timeout)
    except OSError as exc:
        detail = "no TCP connection: %s" % exc
        return [row(chain_check, target, FAIL, detail), row(expiry_check, target, FAIL, detail)]
    try:
        with ctx.wrap_socket(sock, server_hostname=domain) as tls:
            der = tls.getpeercert(binary_form=True)
            rows.append(row(chain_check, target, PASS, "chain and hostname verified (CA: %s)" % (ca_file or "system bundle")))
    except ssl.SSLCertVerificationError as exc:
        rows.append(row(chain_check, target, FAIL, "verification failed: %s" % (exc.verify_message or exc)))
    except (ssl.SSLError, OSError) as exc:
        rows.append(row(chain_check, target, FAIL, "TLS handshake failed: %s" % exc))
    finally:
        sock.close()
    if der is None:
        # Read the served certificate without verification just to report its expiry.
        try:
            with _unverified_context().wrap_socket(_connect(address, port, timeout), server_hostname=domain) as tls:
                der = tls.getpeercert(binary_form=True)
        except (ssl.SSLError, OSError) as exc:
            rows.append(row(expiry_check, target, FAIL, "could not read certificate: %s" % exc))
            return rows
    try:
        _not_before, not_after = cert_validity(der)
    except (IndexError, ValueError) as exc:
        rows.append(row(expiry_check, target, FAIL, "could not parse certificate validity: %s" % exc))
        return rows
    result, detail = evaluate_expiry(not_after, min_days, now)
    rows.append(row(expiry_check, target, result, detail))
    return rows


# --------------------------------------------------------------------------- HTTP


def _http_request(address, port, domain, timeout, use_tls):
    """GET / with Host = domain (and SNI = domain for TLS); no redirect following."""
    sock = _connect(address, port, timeout)
    try:
        if use_tls:
            sock = _unverified_context().wrap_socket(sock, server_hostname=domain)
            conn = http.client.HTTPSConnection(domain, int(port), timeout=timeout)
        else:
            conn = http.client.HTTPConnection(domain, int(port), timeout=timeout)
        conn.sock = sock  # already connected to the probed address, not to DNS(domain)
        conn.request("GET", "/", headers={"User-Agent": "parametric_portal.infra-verify", "Accept": "*/*"})
        resp = conn.getresponse()
        headers = {}
        for name, value in resp.getheaders():
            key = name.lower()
            headers[key] = value if key not in headers else headers[key] + ", " + value
        resp.read(65536)
        return resp.status, headers
    finally:
        sock.close()


def evaluate_redirect(status, location):
    """Pure: 301 or 308 to an https:// URL."""
    detail = "status %s, Location %s" % (status, location or "(none)")
    ok = status in (301, 308) and (location or "").lower().startswith("https://")
    return (PASS if ok else FAIL), detail


def check_http_redirect(address, port, domain, timeout):
    check = "HTTP redirects to HTTPS (301/308)"
    target = _target(address, port, domain)
    try:
        status, headers = _http_request(address, port, domain, timeout, use_tls=False)
    except (OSError, http.client.HTTPException) as exc:
        return row(check, target, FAIL, "HTTP request failed: %s" % exc)
    result, detail = evaluate_redirect(status, headers.get("location"))
    return row(check, target, result, detail)


def parse_hsts_max_age(value):
    """Pure: max-age of a Strict-Transport-Security value, or None."""
    match = re.search(r"(?i)(?:^|;)\s*max-age\s*=\s*\"?(\d+)\"?", value or "")
    return int(match.group(1)) if match else None


def evaluate_headers(headers, hsts_min_age, target, status=None):
    """Pure: security header rows from a lower-cased header dict."""
    rows = []
    suffix = "" if status is None else " (HTTP %s)" % status
    hsts = headers.get("strict-transport-security")
    age = parse_hsts_max_age(hsts)
    check = "HSTS max-age >= %d" % hsts_min_age
    if hsts is None:
        rows.append(row(check, target, FAIL, "Strict-Transport-Security missing" + suffix))
    elif age is None:
        rows.append(row(check, target, FAIL, "no max-age in %r" % hsts))
    else:
        rows.append(row(check, target, PASS if age >= hsts_min_age else FAIL, "%r" % hsts))
    xfo = headers.get("x-frame-options")
    rows.append(row("X-Frame-Options DENY/SAMEORIGIN", target,
                    PASS if (xfo or "").strip().upper() in ("DENY", "SAMEORIGIN") else FAIL,
                    ("%r" % xfo) if xfo is not None else "missing" + suffix))
    xcto = headers.get("x-content-type-options")
    rows.append(row("X-Content-Type-Options nosniff", target,
                    PASS if (xcto or "").strip().lower() == "nosniff" else FAIL,
                    ("%r" % xcto) if xcto is not None else "missing" + suffix))
    for name, label in (("content-security-policy", "Content-Security-Policy"), ("referrer-policy", "Referrer-Policy")):
        value = headers.get(name)
        rows.append(row("%s present" % label, target, PASS if (value or "").strip() else FAIL,
                        ("%r" % value) if value is not None else "missing" + suffix))
    return rows


def check_headers(address, port, domain, hsts_min_age, timeout):
    target = _target(address, port, domain)
    try:
        status, headers = _http_request(address, port, domain, timeout, use_tls=True)
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        detail = "HTTPS request failed: %s" % exc
        names = ("HSTS max-age >= %d" % hsts_min_age, "X-Frame-Options DENY/SAMEORIGIN", "X-Content-Type-Options nosniff",
                 "Content-Security-Policy present", "Referrer-Policy present")
        return [row(name, target, FAIL, detail) for name in names]
    return evaluate_headers(headers, hsts_min_age, target, status)


# --------------------------------------------------------------------------- SSH


_AUTH_RE = re.compile(r"Authentications that can continue:\s*(\S*)")


def parse_ssh_auth_methods(ssh_debug_output):
    """Pure: the auth methods the server offered, from ``ssh -v`` output (None when not seen)."""
    found = _AUTH_RE.findall(ssh_debug_output or "")
    if not found:
        return None
    return sorted(set(m for m in found[0].split(",") if m))


def evaluate_ssh_methods(methods):
    if methods is None:
        return FAIL, "server never listed its authentication methods (no SSH, or connection failed)"
    weak = [m for m in methods if m in ("password", "keyboard-interactive")]
    detail = "offered: %s" % (",".join(methods) or "(none)")
    return (FAIL if weak else PASS), detail


def ssh_probe_command(ssh_bin, address, port, timeout, user="verify-probe"):
    """The client command: offer only the 'none' method so the server lists what it accepts."""
    return [
        ssh_bin, "-v", "-F", "/dev/null", "-p", str(port),
        "-o", "BatchMode=yes", "-o", "PreferredAuthentications=none",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=%d" % max(1, int(timeout)),
        "-o", "LogLevel=VERBOSE",
        "-l", user, address, "true",
    ]


def check_ssh_password(run_command, ssh_bin, address, port, timeout, user="verify-probe"):
    """``run_command(argv) -> (rc, stdout, stderr)`` is injected (AnsibleModule.run_command)."""
    target = _target(address, port)
    check = "SSH refuses password auth"
    if not ssh_bin:
        return row(check, target, SKIP, "no ssh client on the controller")
    _rc, out, err = run_command(ssh_probe_command(ssh_bin, address, port, timeout, user))
    result, detail = evaluate_ssh_methods(parse_ssh_auth_methods((err or "") + (out or "")))
    return row(check, target, result, detail)


# --------------------------------------------------------------------------- ports


def check_tcp_closed(address, port, timeout):
    """PASS only when the port demonstrably does not accept a connection from this controller.

    A refused connection (RST: nothing listens or a ``reject``) or no answer within ``timeout``
    (a ``drop`` rule) is PASS. Any other error - the name does not resolve, no route to the
    network or host, permission denied - proves nothing about the port and is FAIL, with the
    error as evidence.
    """
    check = "TCP %s closed to this controller" % port
    target = _target(address, port)
    try:
        sock = _connect(address, port, timeout)
    except ConnectionRefusedError:
        return row(check, target, PASS, "connection refused")
    except (socket.timeout, TimeoutError):
        return row(check, target, PASS, "no answer within %ss (filtered)" % timeout)
    except socket.gaierror as exc:
        return row(check, target, FAIL, "not tested: %s does not resolve (%s)" % (address, exc))
    except OSError as exc:
        return row(check, target, FAIL, "not tested: the connection attempt failed before reaching the port (%s)" % exc)
    sock.close()
    return row(check, target, FAIL, "TCP connection accepted")


def exposed_ports(services, pods, public_tcp=(), public_udp=()):
    """Pure: the NodePorts and hostPorts a cluster publishes on its nodes, from Kubernetes objects.

    ``services`` and ``pods`` are lists of objects (``kubernetes.core.k8s_info`` resources). Every
    ``spec.ports[].nodePort`` of a NodePort or LoadBalancer Service, and every
    ``containers[].ports[].hostPort`` of a Pod that is not one of the public ports (ServiceLB
    publishes Traefik's 80/443 as hostPorts on purpose), is returned once per (port, protocol) as
    ``{"port", "protocol", "what"}``, sorted. None of these may be reachable from the Internet.
    """
    public = {"TCP": set(int(p) for p in public_tcp or ()), "UDP": set(int(p) for p in public_udp or ())}
    found = {}
    for svc in services or []:
        spec = svc.get("spec") or {}
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            continue
        meta = svc.get("metadata") or {}
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                key = (int(port["nodePort"]), (port.get("protocol") or "TCP").upper())
                found.setdefault(key, []).append("NodePort of Service %s/%s" % (meta.get("namespace", "?"), meta.get("name", "?")))
    for pod in pods or []:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            for port in container.get("ports") or []:
                if not port.get("hostPort"):
                    continue
                key = (int(port["hostPort"]), (port.get("protocol") or "TCP").upper())
                if key[0] in public.get(key[1], set()):
                    continue
                found.setdefault(key, []).append("hostPort of Pod %s/%s" % (meta.get("namespace", "?"), meta.get("name", "?")))
    return [{"port": port, "protocol": proto, "what": ", ".join(sorted(set(whats)))}
            for (port, proto), whats in sorted(found.items())]


def check_exposed_ports(address, ports, timeout):
    """One row per NodePort/hostPort: TCP must not connect (refused or timeout); UDP cannot be probed."""
    rows = []
    for item in ports or []:
        port, proto, what = int(item["port"]), str(item.get("protocol", "TCP")).upper(), item.get("what", "")
        check = "%s %s/%s not reachable" % ("NodePort" if what.startswith("NodePort") else "hostPort", port, proto.lower())
        if proto != "TCP":
            rows.append(row(check, _target(address, port), SKIP,
                            "SKIPPED: %s cannot be proven closed by a probe from outside (%s); the host's forward chain "
                            "drops DNATed traffic to non-public ports" % (proto, what)))
            continue
        result = check_tcp_closed(address, port, timeout)
        rows.append(row(check, result["target"], result["result"], "%s (%s)" % (result["detail"], what)))
    return rows


# --------------------------------------------------------------------------- Kubernetes


def _condition(obj, cond_type):
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == cond_type:
            return cond
    return None


def evaluate_nodes(nodes, target="cluster"):
    """Pure: one row per Node (``kubernetes.core.k8s_info`` resources), PASS when Ready=True."""
    if not nodes:
        return [row("Nodes Ready", target, FAIL, "no Node objects returned")]
    rows = []
    for node in sorted(nodes, key=lambda n: (n.get("metadata") or {}).get("name", "")):
        name = (node.get("metadata") or {}).get("name", "?")
        cond = _condition(node, "Ready")
        if cond is None:
            rows.append(row("Node Ready", name, FAIL, "no Ready condition"))
            continue
        ok = cond.get("status") == "True"
        unschedulable = bool((node.get("spec") or {}).get("unschedulable"))
        detail = "Ready=%s (%s)%s" % (cond.get("status"), cond.get("reason", ""), ", cordoned" if unschedulable else "")
        rows.append(row("Node Ready", name, PASS if ok else FAIL, detail))
    return rows


def evaluate_argocd_apps(apps, target="argocd"):
    """Pure: one row per Argo CD Application, PASS when it is ready.

    The verdict and the detail come from the platform roles' readiness evaluator
    (_readiness.application_status: Synced and Healthy, with the reasons when not), so verify.yml and
    the roles' readiness waits can never disagree about an Application's health.
    """
    if not apps:
        return [row("Argo CD app Synced/Healthy", target, FAIL, "no Application objects returned")]
    rows = []
    for app in sorted(apps, key=lambda a: ((a.get("metadata") or {}).get("namespace", ""), (a.get("metadata") or {}).get("name", ""))):
        meta = app.get("metadata") or {}
        status = application_status(app, meta.get("name", "?"))
        rows.append(row("Argo CD app Synced/Healthy", "%s/%s" % (meta.get("namespace", "?"), meta.get("name", "?")),
                        PASS if status["ready"] else FAIL, status["message"]))
    return rows


# --------------------------------------------------------------------------- nftables (8472/udp)

# A verdict that ends the evaluation of a packet in this base chain.
_FINAL_VERDICTS = ("accept", "drop", "reject")
# Conntrack states that only match packets of connections something else already let in.
_REPLY_STATES = ("established", "related")
_MAX_JUMP_DEPTH = 8


def _ip_intervals(element):
    """One set element (nft JSON) -> list of (version, first, last) integer intervals, or None."""
    if isinstance(element, dict) and "elem" in element:  # element with timeout/comment
        return _ip_intervals(element["elem"].get("val"))
    if isinstance(element, str):
        try:
            net = ipaddress.ip_network(element, strict=False)
        except ValueError:
            return None
        return [(net.version, int(net.network_address), int(net.broadcast_address))]
    if isinstance(element, dict) and "prefix" in element:
        prefix = element["prefix"]
        try:
            net = ipaddress.ip_network("%s/%s" % (prefix.get("addr"), prefix.get("len")), strict=False)
        except ValueError:
            return None
        return [(net.version, int(net.network_address), int(net.broadcast_address))]
    if isinstance(element, dict) and "range" in element:
        try:
            low, high = [ipaddress.ip_address(x) for x in element["range"]]
        except (TypeError, ValueError):
            return None
        return [(low.version, int(low), int(high))]
    if isinstance(element, dict) and "set" in element:
        out = []
        for item in element["set"]:
            part = _ip_intervals(item)
            if part is None:
                return None
            out.extend(part)
        return out
    return None


def _covers_everything(intervals, version):
    """Does the union of the intervals cover the whole IPv4 (or IPv6) address space?"""
    top = (1 << (32 if version == 4 else 128)) - 1
    nxt = 0
    for _v, low, high in sorted(i for i in intervals if i[0] == version):
        if low > nxt:
            return False
        nxt = max(nxt, high + 1)
        if nxt > top:
            return True
    return nxt > top


class _Ruleset(object):
    """Chains, rules and named sets of ``nft -j list ruleset``, indexed by (family, table, name)."""

    def __init__(self, ruleset):
        self.chains = {}
        self.rules = {}
        self.sets = {}
        for item in (ruleset or {}).get("nftables") or []:
            if "chain" in item:
                c = item["chain"]
                self.chains[(c.get("family"), c.get("table"), c.get("name"))] = c
            elif "rule" in item:
                r = item["rule"]
                self.rules.setdefault((r.get("family"), r.get("table"), r.get("chain")), []).append(r)
            elif "set" in item:
                st = item["set"]
                self.sets[(st.get("family"), st.get("table"), st.get("name"))] = st

    def resolve(self, right, family, table):
        """The elements a match compares against: a named set (@name) is replaced by its elements."""
        if isinstance(right, str) and right.startswith("@"):
            named = self.sets.get((family, table, right[1:]))
            if named is None:
                return None
            return {"set": list(named.get("elem") or [])}
        return right


def _saddr_state(match, ruleset, family, table, version):
    """'restricted' when the source match admits less than every address, else 'world'."""
    right = ruleset.resolve(match.get("right"), family, table)
    intervals = _ip_intervals(right) if right is not None else None
    if intervals is None:
        return "world", "source set %r could not be resolved" % (match.get("right"),)
    everything = _covers_everything(intervals, version)
    if match.get("op") == "!=":
        # Everything except some addresses: open to the Internet unless the exception is everything.
        return ("restricted", None) if everything else ("world", "source != %s" % match.get("right"))
    if everything:
        return "world", "source %s covers every IPv%d address" % (match.get("right"), version)
    return "restricted", None


def _ct_state_restricts(match):
    right = match.get("right")
    states = right if isinstance(right, list) else (right.get("set") if isinstance(right, dict) else [right])
    return match.get("op") in ("==", "in") and bool(states) and all(s in _REPLY_STATES for s in states)


def _rule_effect(rule, port, ruleset, version):
    """Classify one rule for ``port``/udp from an arbitrary Internet source (IPv``version``).

    Returns ``(kind, verdict, detail)``: kind ``skip`` (the rule cannot match such a packet, or only
    for restricted sources), ``match`` (it matches every source); verdict is the rule's final verdict
    or ``("jump", chain)`` / ``("goto", chain)``.
    """
    family, table = rule.get("family"), rule.get("table")
    notes = []
    verdict = None
    for expr in rule.get("expr", []):
        if not isinstance(expr, dict):
            continue
        if "match" in expr:
            match = expr["match"]
            left = match.get("left") or {}
            payload = left.get("payload") or {}
            meta = left.get("meta") or {}
            ct = left.get("ct") or {}
            field = payload.get("field") or meta.get("key") or ct.get("key")
            proto = payload.get("protocol")
            if proto in ("ip", "ip6") and proto != ("ip" if version == 4 else "ip6"):
                return "skip", None, None  # an IPv6 header match never matches an IPv4 packet
            if field == "nfproto":
                right = ruleset.resolve(match.get("right"), family, table)
                names = right.get("set") if isinstance(right, dict) else [right]
                if (("ipv%d" % version) in names) == (match.get("op") == "!="):
                    return "skip", None, None
            elif field == "saddr":
                state, note = _saddr_state(match, ruleset, family, table, version)
                if state == "restricted":
                    return "skip", None, None
                notes.append(note)
            elif field in ("iifname", "iif"):
                if match.get("op") != "!=" and match.get("right") not in ("*",):
                    return "skip", None, None
            elif field == "state" and ct:
                if _ct_state_restricts(match):
                    return "skip", None, None
            elif field == "dport":
                if payload.get("protocol") not in ("udp", "th"):
                    return "skip", None, None
                hit = _port_in(ruleset.resolve(match.get("right"), family, table), port)
                if hit == (match.get("op") == "!="):
                    return "skip", None, None
            elif field == "l4proto":
                right = ruleset.resolve(match.get("right"), family, table)
                protos = right.get("set") if isinstance(right, dict) else [right]
                if ("udp" in protos or 17 in protos) == (match.get("op") == "!="):
                    return "skip", None, None
            # Any other match (marks, daddr, fib ...) is not a source restriction: ignored.
        elif "vmap" in expr:
            vmap = expr["vmap"]
            key = (vmap.get("key") or {}).get("payload") or {}
            if key.get("field") != "dport" or key.get("protocol") not in ("udp", "th"):
                continue
            data = ruleset.resolve(vmap.get("data"), family, table)
            for entry in (data or {}).get("set", []) if isinstance(data, dict) else []:
                if isinstance(entry, list) and len(entry) == 2 and _port_in(entry[0], port):
                    verdict = _verdict_of(entry[1])
                    break
            else:
                return "skip", None, None
        else:
            found = _verdict_of(expr)
            if found is not None:
                verdict = found
    if verdict is None:
        return "skip", None, None
    return "match", verdict, "; ".join(n for n in notes if n)


def _verdict_of(expr):
    if not isinstance(expr, dict):
        return None
    for key in _FINAL_VERDICTS:
        if key in expr:
            return key
    for key in ("jump", "goto"):
        if key in expr and isinstance(expr[key], dict):
            return (key, expr[key].get("target"))
    return None


def _port_in(right, port):
    if isinstance(right, int):
        return right == port
    if isinstance(right, dict):
        if "set" in right:
            return any(_port_in(item, port) for item in right["set"])
        if "range" in right:
            low, high = right["range"]
            return isinstance(low, int) and isinstance(high, int) and low <= port <= high
        if "elem" in right:
            return _port_in(right["elem"].get("val"), port)
    if isinstance(right, list):
        return any(_port_in(item, port) for item in right)
    return False


def _chain_verdict(ruleset, key, port, version, depth=0):
    """Walk a chain in order for a UDP packet to ``port`` from an unrestricted source.

    Returns ``(verdict, detail)``: ``accept``/``drop``/``reject`` when a rule that matches every
    source decides, ``None`` when the chain ends without a decision (policy / return applies).
    Rules restricted by source address (named sets are resolved to their elements), input
    interface or conntrack state (established/related) never match such a packet.
    """
    if depth > _MAX_JUMP_DEPTH:
        return "accept", "jump depth > %d: assumed open" % _MAX_JUMP_DEPTH
    for rule in ruleset.rules.get(key, []):
        kind, verdict, detail = _rule_effect(rule, port, ruleset, version)
        if kind != "match":
            continue
        if isinstance(verdict, tuple):
            sub, sub_detail = _chain_verdict(ruleset, (key[0], key[1], verdict[1]), port, version, depth + 1)
            if sub is not None:
                return sub, sub_detail or detail
            if verdict[0] == "goto":
                return None, None
            continue
        return verdict, detail
    return None, None


def evaluate_nft_udp_port(ruleset, port=8472, target="host"):
    """Pure: is ``port``/udp closed to the world according to ``nft -j list ruleset``?

    nftables semantics: a packet must survive EVERY input base chain of its family (``inet`` and
    ``ip`` for IPv4, ``inet`` and ``ip6`` for IPv6); a drop in one is final. So the port is closed
    to IPv4 if at least one such chain drops a UDP packet to that port from an arbitrary Internet
    address, and likewise for IPv6; both must hold. In a chain the first rule that matches every
    source decides (accept, drop or reject), else the chain's policy. Named and anonymous source
    sets are resolved to their elements: a set that covers every address (``0.0.0.0/0``, or
    ``0.0.0.0/1`` plus ``128.0.0.0/1``) and a negated set (``!= @x``) are no restriction. Jumps
    and gotos are followed. This evaluates rule expressions; it is not a packet simulator:
    matches other than address family, source address, input interface, conntrack state, UDP
    port and layer-4 protocol are treated as matching everything (the check errs towards FAIL).
    """
    check = "UDP %d not accepted from 0.0.0.0/0" % port
    source = "host nft ruleset (UDP cannot be proven closed by a probe from outside)"
    parsed = _Ruleset(ruleset)
    details = []
    closed = True
    for version, families in ((4, ("inet", "ip")), (6, ("inet", "ip6"))):
        guarding = []
        opened = []
        for key, chain in sorted(parsed.chains.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
            if chain.get("hook") != "input" or chain.get("family") not in families:
                continue
            verdict, detail = _chain_verdict(parsed, key, port, version)
            if verdict is None:
                verdict = chain.get("policy", "accept")
            name = "%s %s %s" % key
            if verdict in ("drop", "reject"):
                guarding.append(name)
            else:
                opened.append("%s (%s)" % (name, detail) if detail else name)
        if guarding:
            details.append("IPv%d dropped by %s" % (version, ", ".join(guarding)))
        else:
            closed = False
            details.append("IPv%d: no input base chain drops %d/udp from every source%s"
                           % (version, port, ("; accepted by: %s" % ", ".join(opened)) if opened else ""))
    return row(check, target, PASS if closed else FAIL, "%s: %s" % (source, "; ".join(details)))


def summarize(rows):
    """Counts per result."""
    counts = {PASS: 0, FAIL: 0, SKIP: 0}
    for r in rows:
        counts[r["result"]] = counts.get(r["result"], 0) + 1
    return counts


def run_endpoint_checks(params, run_command, ssh_bin):
    """Run the selected checks; ``params`` are the module options."""
    checks = params.get("checks") or list(ALL_CHECKS)
    address = params["address"]
    timeout = params.get("timeout") or 5
    https_port = params.get("https_port") or 443
    http_port = params.get("http_port") or 80
    rows = []
    if "sni_strict" in checks:
        rows.append(check_sni_strict(address, https_port, timeout))
    for domain in params.get("domains") or []:
        if "tls_versions" in checks:
            rows.extend(check_tls_versions(address, https_port, domain, timeout))
        if "certificate" in checks:
            rows.extend(check_certificate(address, https_port, domain, params.get("ca_file"),
                                          params.get("cert_min_days", 14), timeout))
        if "http_redirect" in checks:
            rows.append(check_http_redirect(address, http_port, domain, timeout))
        if "headers" in checks:
            rows.extend(check_headers(address, https_port, domain, params.get("hsts_min_age", 31536000), timeout))
    if "ssh_password" in checks and params.get("ssh_port"):
        rows.append(check_ssh_password(run_command, ssh_bin, params.get("ssh_address") or address, params["ssh_port"], timeout,
                                       params.get("ssh_user") or "verify-probe"))
    if "closed_ports" in checks:
        for port in params.get("closed_tcp_ports") or []:
            rows.append(check_tcp_closed(address, port, timeout))
    if "exposed_ports" in checks:
        rows.extend(check_exposed_ports(address, params.get("exposed_ports") or [], timeout))
    return rows


# --------------------------------------------------------------------------- report


def format_table(rows):
    """Pure: aligned text lines (header, rule, one line per row, summary) for a debug msg list."""
    headers = ("CHECK", "TARGET", "RESULT", "DETAIL")
    cells = [(str(r.get("check", "")), str(r.get("target", "")), str(r.get("result", "")), str(r.get("detail", "")))
             for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers[:3])]

    def line(values):
        return " | ".join([values[i].ljust(widths[i]) for i in range(3)] + [values[3]]).rstrip()

    lines = [line(headers), "-+-".join("-" * w for w in widths) + "-+-" + "-" * 6]
    lines.extend(line(c) for c in cells)
    counts = summarize(rows)
    lines.append("%d checks: %d PASS, %d FAIL, %d SKIP" % (len(rows), counts[PASS], counts[FAIL], counts[SKIP]))
    return lines
