"""State after converge on pp-k3s-server1/server2 (servers) and pp-k3s-agent1 (agent).

The installed K3s is the TEST DOUBLE (tests/doubles/k3s): these tests prove files, modes, the unit
and the rendered configuration. They never claim that Kubernetes ran.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import testinfra
import yaml

VERSION = "v1.32.11+k3s1"
SERVERS = ["pp-k3s-server1", "pp-k3s-server2"]
AGENT = "pp-k3s-agent1"


def _name(host):
    return host.backend.get_hostname()


def _is_server(host):
    return _name(host) in SERVERS


def _mode(host, path, mode, owner="root"):
    f = host.file(path)
    assert f.exists, path
    assert f.user == owner and f.group == owner, path
    assert f.mode == mode, f"{path}: {oct(f.mode)} != {oct(mode)}"


def test_binary_is_the_pinned_test_double(host):
    _mode(host, "/usr/local/bin/k3s", 0o755)
    out = host.check_output("/usr/local/bin/k3s --version")
    assert out.splitlines()[0] == f"k3s version {VERSION} (test-double)"
    assert not host.file("/usr/local/bin/.k3s.staged").exists


def test_config_and_token_files_are_private(host):
    _mode(host, "/etc/rancher/k3s", 0o700)
    _mode(host, "/etc/rancher/k3s/config.yaml", 0o600)
    # Servers hold the server token and the agent token, agents only the agent token (issue 14 item 5).
    tokens = ["/etc/rancher/k3s/agent-token"]
    if _is_server(host):
        tokens.insert(0, "/etc/rancher/k3s/cluster-token")
    config = host.file("/etc/rancher/k3s/config.yaml").content_string
    for path in tokens:
        _mode(host, path, 0o600)
        token = host.file(path).content_string.strip()
        assert len(token) == 64 and token.isalnum(), path
        assert token not in config, path


def test_server_admission_audit_and_manifest_files(host):
    server_files = [
        "/var/lib/rancher/k3s/server/psa.yaml",
        "/var/lib/rancher/k3s/server/audit.yaml",
        "/var/lib/rancher/k3s/server/manifests/traefik-config.yaml",
    ]
    if not _is_server(host):
        for path in server_files:
            assert not host.file(path).exists, path
        return
    for path in server_files:
        _mode(host, path, 0o600)
    _mode(host, "/var/lib/rancher/k3s/server", 0o700)
    _mode(host, "/var/lib/rancher/k3s/server/logs", 0o700)
    psa = yaml.safe_load(host.file(server_files[0]).content_string)
    plugins = {p["name"]: p["configuration"] for p in psa["plugins"]}
    assert plugins["PodSecurity"]["defaults"]["enforce"] == "restricted"
    assert plugins["PodSecurity"]["exemptions"]["namespaces"] == ["kube-system"]
    assert "EventRateLimit" in plugins
    hcc = yaml.safe_load(host.file(server_files[2]).content_string)
    assert hcc["kind"] == "HelmChartConfig" and hcc["metadata"]["name"] == "traefik"
    values = yaml.safe_load(hcc["spec"]["valuesContent"])
    assert "image" not in values  # the Traefik K3s bundles; an image pin is opt-in (traefik_image_*)
    assert values["certificatesResolvers"]["letsencrypt"]["acme"]["tlsChallenge"] is True


def test_rendered_config_for_two_servers_and_one_agent(host):
    cfg = yaml.safe_load(host.file("/etc/rancher/k3s/config.yaml").content_string)
    name = _name(host)
    if _is_server(host):
        assert cfg["token-file"] == "/etc/rancher/k3s/cluster-token"
        assert cfg["agent-token-file"] == "/etc/rancher/k3s/agent-token"
    else:
        assert cfg["token-file"] == "/etc/rancher/k3s/agent-token" and "agent-token-file" not in cfg
    assert cfg["protect-kernel-defaults"] is True
    if name == "pp-k3s-server1":
        assert cfg["cluster-init"] is True
        assert "server" not in cfg
    else:
        # Others join the first server at its ansible_host: the address Molecule's SSH inventory uses.
        first = subprocess.run(["podman", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                                SERVERS[0]], capture_output=True, text=True, check=True).stdout.strip()
        assert cfg["server"] == f"https://{first}:6443"
        assert "cluster-init" not in cfg
    if _is_server(host):
        assert cfg["secrets-encryption"] is True
        assert cfg["write-kubeconfig-mode"] == "0600"
        assert cfg["tls-san"] == ["203.0.113.10"]
        assert "service-account-extend-token-expiration=false" in cfg["kube-apiserver-arg"]
        assert cfg["etcd-snapshot-retention"] == 5
    else:
        assert "secrets-encryption" not in cfg and "etcd-snapshot-retention" not in cfg


def _token_hash(name: str, path: str) -> str:
    inventory = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
    host = testinfra.get_host(f"ansible://{name}?ansible_inventory={inventory}", sudo=True)
    if not host.file(path).exists:
        return "absent"
    _mode(host, path, 0o600)
    return host.check_output(f"sha256sum {path}").split()[0]


def test_servers_hold_both_tokens_and_the_agent_only_the_agent_token():
    """Issue 14 item 5: the server token stays on servers; agents join with a separate agent token."""
    server_token = {name: _token_hash(name, "/etc/rancher/k3s/cluster-token") for name in [*SERVERS, AGENT]}
    agent_token = {name: _token_hash(name, "/etc/rancher/k3s/agent-token") for name in [*SERVERS, AGENT]}
    assert server_token[AGENT] == "absent", "the agent holds the server token"
    assert len({server_token[s] for s in SERVERS}) == 1 and server_token[SERVERS[0]] != "absent", server_token
    assert len(set(agent_token.values())) == 1 and "absent" not in agent_token.values(), agent_token
    assert agent_token[AGENT] != server_token[SERVERS[0]], "the agent token is the server token"


def test_unit_enabled_and_running(host):
    unit = "k3s" if _is_server(host) else "k3s-agent"
    _mode(host, f"/etc/systemd/system/{unit}.service", 0o644)
    service = host.service(unit)
    assert service.is_enabled
    assert service.is_running
    mode = "server" if _is_server(host) else "agent"
    assert f"ExecStart=/usr/local/bin/k3s {mode}" in host.file(f"/etc/systemd/system/{unit}.service").content_string


def test_kubeconfig_on_controller_points_at_public_address():
    path = Path(os.environ["PP_K3S_ARTIFACT_ROOT"]) / "kubeconfig-dev.yaml"
    assert path.stat().st_mode & 0o777 == 0o600
    kc = yaml.safe_load(path.read_text())
    assert kc["current-context"] == "dev"
    assert kc["contexts"] == [{"name": "dev", "context": {"cluster": "dev", "user": "dev"}}]
    assert kc["clusters"][0]["cluster"]["server"] == "https://203.0.113.10:6443"
