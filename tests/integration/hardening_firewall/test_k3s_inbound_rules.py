"""The hardening role's nftables ruleset against the K3s inbound-rules table, with real packets.

For every topology of ``k3s_inbound_rules.yml`` (single server, server + agents, HA servers, HA with
flannel WireGuard and Spegel) the role's own template is rendered per host by ansible-playbook
(``render.yml``: the role's defaults, vars and input checks), and each node's ruleset is loaded
into a private network namespace that plays the node:

    peer netns (other nodes' addresses, an admin address, a world address)
        | veth
    node netns: the rendered ruleset, listeners on the probed ports, ip_forward on, and a nat
                table that DNATs 80, 30080 and 5432 to a pod the way kube-proxy (NodePort) and the
                portmap plugin (hostPort) do
        | veth "cni0"
    pod netns 10.42.0.5 (listener on 8080)

Every row is probed from each source class: TCP connect / UDP echo from a bound source address;
anything but silence means the firewall let the packet in. The host's own network and firewall
are never touched. Also: the verify role's 8472/udp evaluation must PASS on every ruleset the role
writes (issue 17 item 3).
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ansible_collections.parametric_portal.infra.plugins.module_utils._endpoint_checks import evaluate_nft_udp_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
TABLE = yaml.safe_load((HERE / "k3s_inbound_rules.yml").read_text())
PROBE_TIMEOUT = 0.6
_COUNTER = itertools.count()


def _run(*cmd, check=True, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=120, check=check, **kw)


def _ns(ns, *cmd, **kw):
    return _run("ip", "netns", "exec", ns, *cmd, **kw)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """{topology: {host: path of its rendered nftables.conf}}, rendered by ansible-playbook."""
    if os.geteuid() != 0:
        pytest.fail("needs root (network namespaces, nftables)")
    for tool in ("nft", "ip"):
        if not any(Path(d, tool).exists() for d in ("/usr/sbin", "/sbin", "/usr/bin")):
            pytest.fail("%s is missing (Debian packages nftables, iproute2)" % tool)
    base = tmp_path_factory.mktemp("k3s-fw")
    key = base / "admin_ed25519"
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "k3s-fw-test", "-f", str(key))
    include_dir = base / "nftables.d"
    include_dir.mkdir()
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               # the working tree, not an installed copy (tests/conftest.py links it there)
               ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "pytest-collections"))
    out = {}
    for name, topo in TABLE["topologies"].items():
        servers = {h: {"ansible_host": n["address"]} for h, n in topo["nodes"].items() if n["role"] == "server"}
        agents = {h: {"ansible_host": n["address"]} for h, n in topo["nodes"].items() if n["role"] == "agent"}
        group_vars = dict(TABLE["common_vars"], **topo["vars"])
        group_vars.update(ansible_connection="local", ansible_python_interpreter=sys.executable,
                          hardening_admin_authorized_keys=[(key.with_suffix(".pub")).read_text().strip()],
                          hardening_firewall_include_dir=str(include_dir))
        inventory = base / ("%s.yml" % name)
        inventory.write_text(yaml.safe_dump({"k3s_cluster": {"vars": group_vars, "children": {
            "k3s_servers": {"hosts": servers}, "k3s_agents": {"hosts": agents}}}}))
        render_dir = base / name
        render_dir.mkdir()
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory), str(HERE / "render.yml"),
             "-e", "render_dir=%s" % render_dir,
             "-e", "render_template=%s" % (REPO / "roles/hardening/templates/etc/nftables/nftables.conf.j2")],
            capture_output=True, text=True, timeout=300, env=env, cwd=REPO, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        out[name] = {h: render_dir / ("%s.nft" % h) for h in topo["nodes"]}
    return out


class NodeLab:
    """peer <-> node <-> pod network namespaces for one node of a topology."""

    def __init__(self, node_address):
        i = next(_COUNTER)
        tag = "%d-%d" % (os.getpid(), i)
        self.node, self.peer, self.pod = ("pp-hostsec-%s-%s" % (tag, r) for r in ("node", "peer", "pod"))
        self.node_address = node_address
        self.procs = []
        short = "phs%d%d" % (os.getpid() % 100000, i)
        for ns in (self.node, self.peer, self.pod):
            _run("ip", "netns", "add", ns)
        _run("ip", "link", "add", short + "a", "type", "veth", "peer", "name", short + "b")
        _run("ip", "link", "add", short + "c", "type", "veth", "peer", "name", short + "d")
        _run("ip", "link", "set", short + "a", "netns", self.node)
        _run("ip", "link", "set", short + "b", "netns", self.peer)
        _run("ip", "link", "set", short + "c", "netns", self.node)
        _run("ip", "link", "set", short + "d", "netns", self.pod)
        _ns(self.node, "ip", "link", "set", short + "a", "name", "eth0")
        _ns(self.node, "ip", "link", "set", short + "c", "name", "cni0")
        _ns(self.peer, "ip", "link", "set", short + "b", "name", "eth0")
        _ns(self.pod, "ip", "link", "set", short + "d", "name", "eth0")
        for ns in (self.node, self.peer, self.pod):
            _ns(ns, "ip", "link", "set", "lo", "up")
            _ns(ns, "ip", "link", "set", "eth0", "up")
        _ns(self.node, "ip", "link", "set", "cni0", "up")
        _ns(self.node, "ip", "addr", "add", node_address + "/24", "dev", "eth0")
        _ns(self.node, "ip", "route", "add", "default", "dev", "eth0")
        _ns(self.node, "ip", "addr", "add", "10.42.0.1/24", "dev", "cni0")
        _ns(self.node, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        _ns(self.pod, "ip", "addr", "add", TABLE["pod_address"] + "/24", "dev", "eth0")
        _ns(self.pod, "ip", "route", "add", "default", "via", "10.42.0.1")
        _ns(self.peer, "ip", "route", "add", node_address + "/32", "dev", "eth0")
        # kube-proxy (NodePort 30080) and portmap (hostPorts 80 and 5432) DNAT to the pod.
        _ns(self.node, "nft", "-f", "-", input=(
            "table ip k3s_sim {\n  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n"
            "    tcp dport { 80, 30080, 5432 } dnat to %s:8080\n  }\n}\n" % TABLE["pod_address"]))

    def add_sources(self, addresses):
        for address in addresses:
            _ns(self.peer, "ip", "addr", "add", address + "/32", "dev", "eth0")

    def load(self, ruleset_path):
        _ns(self.node, "nft", "-f", str(ruleset_path))

    def listen(self, ns, tcp, udp):
        proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(HERE / "netprobe.py"), "listen",
                                 ",".join(map(str, tcp)), ",".join(map(str, udp))],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        line = proc.stdout.readline().strip()
        assert line == "ready", proc.stderr.read()

    def probe(self, rows):
        proc = _ns(self.peer, sys.executable, str(HERE / "netprobe.py"), "probe", str(PROBE_TIMEOUT),
                   input=json.dumps(rows))
        return json.loads(proc.stdout)

    def ruleset_json(self):
        return json.loads(_ns(self.node, "nft", "-j", "list", "ruleset").stdout)

    def close(self):
        for proc in self.procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for ns in (self.node, self.peer, self.pod):
            _run("ip", "netns", "delete", ns, check=False)


CASES = [(topo, host) for topo, t in TABLE["topologies"].items() for host in t["nodes"]]


def _sources(topo, host):
    """One address per source class this node can be probed from (another node of each role)."""
    nodes = TABLE["topologies"][topo]["nodes"]
    out = {}
    for other, n in nodes.items():
        if other != host:
            out.setdefault(n["role"], n["address"])
    out["admin"] = TABLE["addresses"]["admin"]
    out["world"] = TABLE["addresses"]["world"]
    return out


@pytest.mark.parametrize("topo,host", CASES, ids=["%s-%s" % c for c in CASES])
def test_reachability_matches_the_k3s_table(rendered, topo, host):
    node = TABLE["topologies"][topo]["nodes"][host]
    expect = TABLE["expect"][topo][node["role"]]
    sources = _sources(topo, host)
    lab = NodeLab(node["address"])
    try:
        lab.add_sources(sources.values())
        lab.load(rendered[topo][host])
        tcp = sorted({int(k.split("/")[1]) for k in expect if k.startswith("tcp/")})
        udp = sorted({int(k.split("/")[1]) for k in expect if k.startswith("udp/")})
        lab.listen(lab.node, tcp, udp)
        lab.listen(lab.pod, [8080], [])
        rows, labels = [], []
        for key, allowed in sorted(expect.items()):
            kind, port = key.split("/")
            proto = "udp" if kind == "udp" else "tcp"
            for cls, address in sorted(sources.items()):
                rows.append([proto, node["address"], int(port), address])
                labels.append((key, cls, cls in allowed))
        started = time.monotonic()
        results = lab.probe(rows)
        wrong = []
        for (key, cls, should), result in zip(labels, results):
            if result[-1].startswith("error"):
                wrong.append("%s from %s: %s" % (key, cls, result[-1]))
            elif (result[-1] == "open") != should:
                expected = "open" if should else "dropped"
                wrong.append("%s from %s (%s): %s, expected %s" % (key, cls, sources[cls], result[-1], expected))
        assert not wrong, "%s %s (%s):\n%s\nruleset:\n%s" % (
            topo, host, node["role"], "\n".join(wrong), rendered[topo][host].read_text())
        assert time.monotonic() - started < 30
        # Issue 17 item 3: the verify role's UDP evaluation on the ruleset the role writes.
        nft = lab.ruleset_json()
        for port in (8472, 51820, 51821):
            verdict = evaluate_nft_udp_port(nft, port, host)
            assert verdict["result"] == "PASS", verdict
    finally:
        lab.close()


def test_every_source_class_and_topology_is_exercised():
    """The table covers the issue's topologies, and every class is probed somewhere (else a row is vacuous)."""
    assert {"single-server", "server-and-agents", "ha-servers"} <= set(TABLE["topologies"])
    seen = set()
    for topo, host in CASES:
        seen |= set(_sources(topo, host))
    assert seen == set(TABLE["classes"])
    for topo, roles in TABLE["expect"].items():
        assert set(roles) == {n["role"] for n in TABLE["topologies"][topo]["nodes"].values()}, topo
        for role, rows in roles.items():
            for key, allowed in rows.items():
                assert set(allowed) <= set(TABLE["classes"]), (topo, role, key)
