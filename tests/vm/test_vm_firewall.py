"""The K3s inbound-rules table proven with real packets between Ubuntu 24.04 VMs (HA topology).

Two servers and an agent, each a VM with a second NIC on a private Ethernet segment that exists
only between the test's VMs (vmlib.PrivateNet), plus a fourth VM that is no node ("outsider") and
holds two addresses on that segment: one inside hardening_k3s_api_allowed_cidrs (class "admin")
and one outside everything (class "world"). The table is engineer hostsec's
tests/integration/hardening_firewall/k3s_inbound_rules.yml (written independently of the role),
its "ha-servers" expectations per node role; the probe helper is netprobe.py from the same
directory, run inside the VMs.

1. Listeners on every probed port of every node (netprobe `listen`; sshd itself for the SSH row),
   and every row probed from every class BEFORE the firewall: all open, so a closed result later
   can only come from the ruleset.
2. playbooks/hardening.yml with the HA inventory (servers group of 2 + agents group), as an
   operator runs it.
3. Every row probed again from an address of each class; each must be open exactly for the
   classes the table lists. Self-probes over loopback prove each listener still runs.
"""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import Playbook, make_inventory, measure, report
from vmlib import REPO_ROOT, PrivateNet, Vm, VmError

FW_DIR = REPO_ROOT / "tests" / "integration" / "hardening_firewall"
TABLE_FILE = FW_DIR / "k3s_inbound_rules.yml"
NETPROBE = FW_DIR / "netprobe.py"
TOPOLOGY = "ha-servers"
SUBNET = "10.77.0"
NODES = {  # name: (role, address on the private segment)
    "pp-vm-srv1": ("server", f"{SUBNET}.11"),
    "pp-vm-srv2": ("server", f"{SUBNET}.12"),
    "pp-vm-agt1": ("agent", f"{SUBNET}.21"),
}
OUTSIDER = "pp-vm-outsider"
ADMIN_ADDRESS, ADMIN_CIDR = f"{SUBNET}.50", f"{SUBNET}.48/29"
WORLD_ADDRESS = f"{SUBNET}.99"
BOOT_TIMEOUT = float(os.environ.get("PP_VM_BOOT_TIMEOUT", "900"))
PROBE_TIMEOUT = float(os.environ.get("PP_VM_PROBE_TIMEOUT", "4"))
# What the HA nodes run: the hardening playbook as an operator runs it. PP_VM_HA_TAGS limits it to
# concerns (e.g. "ssh,firewall"); the default is the whole host layer.
HA_TAGS = os.environ.get("PP_VM_HA_TAGS", "")
STATE: dict[str, object] = {}


def _table() -> dict:
    if not TABLE_FILE.is_file() or not NETPROBE.is_file():
        pytest.fail(f"{TABLE_FILE.relative_to(REPO_ROOT)} / netprobe.py not found: the inbound-rules table is "
                    "the reference this test probes")
    return yaml.safe_load(TABLE_FILE.read_text())


def _need(step: str) -> None:
    if not STATE.get(step):
        pytest.fail(f"not run: the earlier step '{step}' did not complete")


@pytest.fixture(scope="module")
def cluster(vm_image, workdir, fresh_apt_lists):
    run_dir = workdir / "ha"
    net = PrivateNet(run_dir / "net", SUBNET)
    vms: dict[str, Vm] = {}
    try:
        for i, (name, (_role, address)) in enumerate(NODES.items()):
            vms[name] = Vm(name, vm_image, run_dir, memory_mib=1024, cpus=1, private=[(net, address)],
                           apt_lists=fresh_apt_lists)
        vms[OUTSIDER] = Vm(OUTSIDER, vm_image, run_dir, memory_mib=512, cpus=1,
                           private=[(net, [ADMIN_ADDRESS, WORLD_ADDRESS])])
        for i, machine in enumerate(vms.values()):
            machine.start(index=20 + i)
        yield vms, net
    finally:
        for machine in vms.values():
            machine.stop()
        net.close()


def _boot_all(vms: dict[str, Vm]) -> dict[str, float]:
    times, errors = {}, {}

    def boot(machine: Vm) -> None:
        try:
            times[machine.name] = round(machine.wait_ssh(BOOT_TIMEOUT), 1)
        except VmError as exc:
            errors[machine.name] = str(exc)

    threads = [threading.Thread(target=boot, args=(m,)) for m in vms.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        pytest.fail("VMs did not come up:\n" + "\n".join(errors.values()))
    return times


def _rows(table: dict, role: str) -> dict[str, list[str]]:
    """The table's input-chain rows for a node role ({"tcp/6443": [classes]}). dnat-* rows (the
    forward chain, which needs pods) are proven by the namespace test next to the table."""
    return {row: classes for row, classes in table["expect"][TOPOLOGY][role].items()
            if row.split("/")[0] in ("tcp", "udp")}


def _listen_ports(table: dict) -> tuple[list[int], list[int]]:
    tcp, udp = set(), set()
    for role in ("server", "agent"):
        for row in _rows(table, role):
            proto, port = row.split("/")
            if row != "tcp/22":   # sshd answers for the SSH row
                (tcp if proto == "tcp" else udp).add(int(port))
    return sorted(tcp), sorted(udp)


def _sources(target: str) -> dict[str, tuple[str, str]]:
    """class -> (VM that sends, source address) for probes towards `target`."""
    role = NODES[target][0]
    out = {}
    for name, (other_role, address) in NODES.items():
        if name != target and other_role not in out:
            out[other_role] = (name, address)
    out["admin"] = (OUTSIDER, ADMIN_ADDRESS)
    out["world"] = (OUTSIDER, WORLD_ADDRESS)
    del role
    return out


def _probe_matrix(vms: dict[str, Vm], table: dict, ssh_ports: dict[str, int]) -> dict[tuple, str]:
    """{(target, row, class): "open"|"dropped"|"error: ..."} with real packets."""
    per_sender: dict[str, list[list]] = {}
    keys: dict[str, list[tuple]] = {}
    for target, (role, address) in NODES.items():
        for row in _rows(table, role):
            proto, port = row.split("/")
            port_n = ssh_ports[target] if row == "tcp/22" else int(port)
            for cls, (sender, src) in _sources(target).items():
                per_sender.setdefault(sender, []).append([proto, address, port_n, src])
                keys.setdefault(sender, []).append((target, row, cls))
            # Loopback self-probe: the listener is up (loopback is always accepted).
            per_sender.setdefault(target, []).append([proto, "127.0.0.1", port_n, "127.0.0.1"])
            keys.setdefault(target, []).append((target, row, "self"))
    results: dict[tuple, str] = {}
    for sender, rows in per_sender.items():
        r = vms[sender].ssh(f"python3 /tmp/netprobe.py probe {PROBE_TIMEOUT}", check=False, timeout=600,
                            stdin=json.dumps(rows))
        if r.returncode != 0:
            pytest.fail(f"probe from {sender} failed: {r.stderr.strip()[-800:]}")
        for key, res in zip(keys[sender], json.loads(r.stdout)):
            results[key] = res[-1]
    return results


def _format_table(table: dict, results: dict[tuple, str], expected: bool) -> str:
    lines = []
    for target, (role, _address) in NODES.items():
        for row, classes in _rows(table, role).items():
            cells = []
            for cls in ("server", "agent", "admin", "world"):
                got = results.get((target, row, cls))
                if got is None:
                    cells.append(f"{cls}:-")
                    continue
                mark = ""
                if expected and (got == "open") != (cls in classes):
                    mark = "(!)"
                cells.append(f"{cls}:{got}{mark}")
            lines.append(f"{target:12} {role:6} {row:10} " + "  ".join(cells))
    return "\n".join(lines)


def test_ha_vms_boot_on_a_private_network(cluster):
    vms, _net = cluster
    with measure("HA: parallel first boot of 4 VMs to SSH", *vms.values()):
        times = _boot_all(vms)
    report("HA: first boot to SSH per VM (s)", times)
    for name, machine in vms.items():
        out = machine.ssh("ip -4 -o addr show scope global | awk '{print $2, $4}'").stdout
        wanted = [NODES[name][1]] if name in NODES else [ADMIN_ADDRESS, WORLD_ADDRESS]
        for address in wanted:
            assert f"{address}/24" in out, f"{name} lacks {address} on the private NIC:\n{out}"
    STATE["booted"] = True


def test_listeners_and_everything_open_before_the_firewall(cluster):
    _need("booted")
    vms, _net = cluster
    table = _table()
    tcp, udp = _listen_ports(table)
    script = NETPROBE.read_text()
    for name, machine in vms.items():
        machine.ssh("cat > /tmp/netprobe.py", stdin=script)
        if name in NODES:
            machine.root("systemd-run --unit=pp-netprobe --collect python3 /tmp/netprobe.py listen "
                         f"{','.join(map(str, tcp))} {','.join(map(str, udp))}")
    deadline = time.monotonic() + 120
    for name in NODES:
        while True:
            listening = vms[name].ssh("ss -Hltn; ss -Hlun", check=False).stdout
            if all(f":{p} " in listening for p in tcp + udp):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"netprobe listeners did not come up on {name}:\n{listening}")
            time.sleep(2)
    results = _probe_matrix(vms, table, {name: 22 for name in NODES})
    closed = {k: v for k, v in results.items() if v != "open"}
    assert not closed, ("before any ruleset every probe must get through (else a closed port later proves "
                        f"nothing): {closed}\n" + _format_table(table, results, expected=False))
    STATE["listening"] = True


def test_hardening_with_the_ha_topology(cluster):
    _need("listening")
    vms, _net = cluster
    table = _table()
    topo_vars = {**table["common_vars"], **table["topologies"][TOPOLOGY]["vars"]}
    firewall_vars = {k: v for k, v in topo_vars.items() if k.startswith("hardening_firewall_")
                     or k in ("hardening_k3s_cluster_cidrs", "hardening_k3s_flannel_backend",
                              "hardening_k3s_embedded_registry")}
    servers = [a for r, a in NODES.values() if r == "server"]
    common = {
        **firewall_vars,
        # The nodes' private addresses (ansible_host is the loopback port forward, so the role's
        # defaults, which read ansible_host, cannot be used here - as on a VPS behind NAT).
        "hardening_cluster_node_addresses": [a for _r, a in NODES.values()],
        "hardening_k3s_server_addresses": servers,
        "hardening_k3s_api_allowed_cidrs": [ADMIN_CIDR],
    }
    groups = {"k3s_servers": {}, "k3s_agents": {}}
    for name, (role, _address) in NODES.items():
        m = vms[name]
        groups["k3s_servers" if role == "server" else "k3s_agents"][name] = {
            "ansible_port": m.boot_port, "vm_test_ssh_port": m.ssh_port, "vm_test_dir": str(m.dir), **common}
    inv = make_inventory(vms[next(iter(NODES))].workdir, groups)
    args = ["--tags", HA_TAGS] if HA_TAGS else []
    with measure("HA: playbooks/hardening.yml on 3 VMs in parallel" + (f" --tags {HA_TAGS}" if HA_TAGS else ""),
                 *vms.values()):
        result = Playbook(inv, inv.parent).run("playbooks/hardening.yml", "ha-hardening", *args)
    assert result["rc"] == 0, f"hardening.yml (HA) failed (log {result['log']}):\n{result['tail']}"
    for name in NODES:
        vms[name].port = vms[name].ssh_port
    STATE["hardened"] = True


def test_k3s_inbound_rules_with_real_packets(cluster):
    _need("hardened")
    vms, net = cluster
    table = _table()
    with measure("HA: probe matrix after hardening", *vms.values()):
        results = _probe_matrix(vms, table, {name: vms[name].ssh_port for name in NODES})
    wrong = []
    for target, (role, _address) in NODES.items():
        for row, classes in _rows(table, role).items():
            if results[(target, row, "self")] != "open":
                wrong.append(f"{target} {row}: the listener does not answer on loopback")
            for cls in ("server", "agent", "admin", "world"):
                got = results.get((target, row, cls))
                if got is not None and (got == "open") != (cls in classes):
                    wrong.append(f"{target} ({role}) {row} from {cls}: {got}, table says "
                                 f"{'open' if cls in classes else 'closed'}")
    rendered = _format_table(table, results, expected=True)
    (vms[OUTSIDER].workdir / "port-table.txt").write_text(rendered + "\n")
    report("HA: probes (target, row, class) checked", sum(1 for k in results if k[2] != "self"))
    report("HA: frames through the private segment", net.frames)
    assert not wrong, "\n".join(wrong) + "\n\n" + rendered
