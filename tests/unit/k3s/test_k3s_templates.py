"""k3s role templates: config.yaml for 2 servers + 1 agent and single-server, admission, audit, unit."""
from __future__ import annotations

import yaml


SERVERS = ["srv-1", "srv-2"]
AGENTS = ["agt-1"]
CIS_APISERVER = [
    "enable-admission-plugins=NodeRestriction,EventRateLimit",
    "admission-control-config-file=/var/lib/rancher/k3s/server/psa.yaml",
    "audit-policy-file=/var/lib/rancher/k3s/server/audit.yaml",
    "audit-log-path=/var/lib/rancher/k3s/server/logs/audit.log",
    "audit-log-maxage=30",
    "audit-log-maxbackup=10",
    "audit-log-maxsize=100",
    "service-account-extend-token-expiration=false",
]
STRICT_CIPHERS = (
    "tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"
)


def _assert_cis_server(cfg):
    assert cfg["secrets-encryption"] is True
    assert cfg["protect-kernel-defaults"] is True
    assert cfg["write-kubeconfig-mode"] == "0600"
    assert "203.0.113.10" in cfg["tls-san"]
    assert cfg["kube-apiserver-arg"][: len(CIS_APISERVER)] == CIS_APISERVER
    assert cfg["kube-controller-manager-arg"] == ["terminated-pod-gc-threshold=100"]
    assert cfg["kubelet-arg"][:2] == ["streaming-connection-idle-timeout=5m", STRICT_CIPHERS]
    assert cfg["token-file"] == "/etc/rancher/k3s/cluster-token"
    assert cfg["agent-token-file"] == "/etc/rancher/k3s/agent-token"
    assert "token" not in cfg and "agent-token" not in cfg


def test_first_of_two_servers_initialises_etcd(k3s_config):
    cfg = k3s_config("srv-1", SERVERS, AGENTS)
    _assert_cis_server(cfg)
    assert cfg["cluster-init"] is True
    assert "server" not in cfg
    assert cfg["etcd-snapshot-schedule-cron"] == "0 */12 * * *"
    assert cfg["etcd-snapshot-retention"] == 5
    assert not any(key.startswith("etcd-s3") for key in cfg)


def test_second_server_joins_the_first(k3s_config):
    cfg = k3s_config("srv-2", SERVERS, AGENTS)
    _assert_cis_server(cfg)
    assert cfg["server"] == "https://srv-1:6443"
    assert "cluster-init" not in cfg
    assert cfg["etcd-snapshot-retention"] == 5


def test_agent_joins_with_the_agent_token_only_and_no_server_settings(k3s_config):
    """Issue 14 item 5: an agent holds the agent token, never the server token."""
    cfg = k3s_config("agt-1", SERVERS, AGENTS)
    assert cfg["server"] == "https://srv-1:6443"
    assert cfg["token-file"] == "/etc/rancher/k3s/agent-token"
    assert "agent-token-file" not in cfg and "token" not in cfg
    assert cfg["protect-kernel-defaults"] is True
    assert cfg["kubelet-arg"][:2] == ["streaming-connection-idle-timeout=5m", STRICT_CIPHERS]
    for server_only in ("secrets-encryption", "kube-apiserver-arg", "cluster-init", "tls-san", "etcd-snapshot-retention"):
        assert server_only not in cfg


def test_join_address_follows_ansible_host_or_override(k3s_config, k3s_cluster_vars):
    variables = k3s_cluster_vars("agt-1", SERVERS, AGENTS)
    variables["hostvars"]["srv-1"] = {"ansible_host": "192.0.2.10"}
    cfg = k3s_config("agt-1", SERVERS, AGENTS, hostvars=variables["hostvars"])
    assert cfg["server"] == "https://192.0.2.10:6443"
    cfg = k3s_config("agt-1", SERVERS, AGENTS, k3s_join_address="k3s.internal", k3s_api_port=7443)
    assert cfg["server"] == "https://k3s.internal:7443"


def test_single_server_uses_sqlite_without_etcd_settings(k3s_config):
    cfg = k3s_config("srv-1", ["srv-1"], [])
    _assert_cis_server(cfg)
    assert "cluster-init" not in cfg
    assert not any(key.startswith("etcd-") for key in cfg)


def test_etcd_s3_only_with_etcd(k3s_config):
    s3 = {
        "k3s_etcd_s3_enabled": True,
        "k3s_etcd_s3_endpoint": "s3.example.test",
        "k3s_etcd_s3_bucket": "snapshots",
        "k3s_etcd_s3_access_key": "AKIAEXAMPLE",
        "k3s_etcd_s3_secret_key": "secret/with+chars",
    }
    cfg = k3s_config("srv-1", SERVERS, AGENTS, **s3)
    assert cfg["etcd-s3"] is True
    assert cfg["etcd-s3-bucket"] == "snapshots"
    assert cfg["etcd-s3-secret-key"] == "secret/with+chars"
    assert "etcd-s3-folder" not in cfg
    assert "etcd-s3" not in k3s_config("srv-1", ["srv-1"], [], **s3)


def test_extra_args_and_sans_are_appended(k3s_config):
    cfg = k3s_config(
        "srv-1", ["srv-1"], [],
        k3s_kubelet_extra_args=["pod-max-pids=4096"],
        k3s_kube_apiserver_extra_args=["request-timeout=60s"],
        k3s_tls_san=["k3s.example.test", "203.0.113.10"],
        k3s_node_labels=["tier=edge"],
    )
    assert cfg["kubelet-arg"][-1] == "pod-max-pids=4096"
    assert cfg["kube-apiserver-arg"][-1] == "request-timeout=60s"
    assert cfg["tls-san"] == ["203.0.113.10", "k3s.example.test"]
    assert cfg["node-label"] == ["tier=edge"]


def test_admission_configuration(render_template):
    doc = yaml.safe_load(render_template("k3s", "psa.yaml.j2", {}))
    assert doc["apiVersion"] == "apiserver.config.k8s.io/v1"
    assert doc["kind"] == "AdmissionConfiguration"
    plugins = {plugin["name"]: plugin["configuration"] for plugin in doc["plugins"]}
    assert set(plugins) == {"PodSecurity", "EventRateLimit"}
    psa = plugins["PodSecurity"]
    assert psa["apiVersion"] == "pod-security.admission.config.k8s.io/v1"
    assert psa["kind"] == "PodSecurityConfiguration"
    for mode in ("enforce", "audit", "warn"):
        assert psa["defaults"][mode] == "restricted"
        assert psa["defaults"][f"{mode}-version"] == "latest"
    assert psa["exemptions"] == {"usernames": [], "runtimeClasses": [], "namespaces": ["kube-system"]}
    erl = plugins["EventRateLimit"]
    assert erl["apiVersion"] == "eventratelimit.admission.k8s.io/v1alpha1"
    assert erl["kind"] == "Configuration"
    assert erl["limits"] == [{"type": "Server", "qps": 5000, "burst": 20000}]


def test_audit_policy(render_template):
    doc = yaml.safe_load(render_template("k3s", "audit.yaml.j2", {}))
    assert doc["apiVersion"] == "audit.k8s.io/v1"
    assert doc["kind"] == "Policy"
    levels = [rule["level"] for rule in doc["rules"]]
    assert set(levels) <= {"None", "Metadata"}  # never Request/RequestResponse: no secret bodies in the log
    assert doc["rules"][-1] == {"level": "Metadata"}  # everything else is audited
    secrets_rule = next(rule for rule in doc["rules"] if any("secrets" in r.get("resources", []) for r in rule.get("resources", [])))
    assert secrets_rule["level"] == "Metadata"


def test_systemd_unit(render_template, k3s_cluster_vars):
    server = render_template("k3s", "k3s.service.j2", k3s_cluster_vars("srv-1", SERVERS, AGENTS))
    agent = render_template("k3s", "k3s.service.j2", k3s_cluster_vars("agt-1", SERVERS, AGENTS))
    assert "ExecStart=/usr/local/bin/k3s server\n" in server
    assert "ExecStart=/usr/local/bin/k3s agent\n" in agent
    for unit in (server, agent):
        assert "Type=notify" in unit
        assert "Restart=always" in unit
        assert "KillMode=process" in unit
