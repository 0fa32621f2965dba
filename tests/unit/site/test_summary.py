"""The end-of-site summary (playbooks/templates/site_summary.j2): stable format, every item the
operator needs, certificate states read from what the server really serves, and no secret.

The template is plain Jinja over one `summary` dict (playbooks/summary.yml builds it from the
inventory, the nodes and community.crypto.get_certificate), so it is rendered here with jinja2
alone. The site scenario checks the same summary at the end of a real site.yml run.
"""
from __future__ import annotations

from pathlib import Path

import jinja2
import yaml

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "playbooks" / "templates" / "site_summary.j2"
KC = "/home/op/.kube/parametric-portal-prod.yaml"
KUBECTL = f"kubectl --kubeconfig {KC} --context prod"


def render(**overrides) -> list[str]:
    summary = {
        "environment": "prod",
        "nodes": [
            {"name": "vps1", "role": "server", "address": "203.0.113.10", "os": "Ubuntu 24.04",
             "k3s": "k3s version v1.32.11+k3s1 (0f0a4b6e)"},
            {"name": "vps2", "role": "agent", "address": "203.0.113.11", "os": "Debian 12",
             "k3s": "K3s is not installed"},
        ],
        "kubeconfig": KC,
        "kubeconfig_present": True,
        "context": "prod",
        "argocd_namespace": "argocd",
        "grafana_domain": "grafana.example.com",
        "grafana_namespace": "monitoring",
        "grafana_secret": "grafana-admin",
        "grafana_user": "admin",
        "certificates": [
            {"item": "example.com", "cert": "PEM", "issuer": {"C": "US", "O": "Let's Encrypt", "CN": "R11"},
             "subject": {"CN": "example.com"}, "not_after": "20270301120000Z"},
            {"item": "api.example.com", "cert": "PEM", "issuer": {"CN": "TRAEFIK DEFAULT CERT"},
             "subject": {"CN": "TRAEFIK DEFAULT CERT"}, "not_after": "20271201000000Z"},
            {"item": "www.example.com", "cert": "PEM", "issuer": {"O": "(STAGING) Let's Encrypt", "CN": "(STAGING) Ersatz Edamame E1"},
             "subject": {"CN": "www.example.com"}, "not_after": "20270301120000Z"},
            {"item": "grafana.example.com", "msg": "Failed to get cert from 203.0.113.10:443, error: [Errno 111] Connection refused"},
        ],
        "inventory": "/srv/infra/inventories/prod",
        "collection": "parametric_portal.infra",
    }
    summary.update(overrides)
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=False, keep_trailing_newline=True)
    return env.from_string(TEMPLATE.read_text()).render(summary=summary).strip().split("\n")


def test_stable_format_line_by_line():
    assert render() == [
        "SITE SUMMARY: parametric_portal.infra, environment prod",
        "Nodes:",
        "  vps1: server, 203.0.113.10, Ubuntu 24.04, k3s version v1.32.11+k3s1 (0f0a4b6e)",
        "  vps2: agent, 203.0.113.11, Debian 12, K3s is not installed",
        f"Kubeconfig: {KC} (context prod)",
        f"  try: {KUBECTL} get nodes",
        f"Argo CD: {KUBECTL} -n argocd port-forward svc/argocd-server 8080:443, then https://localhost:8080 (user admin)",
        "  initial admin password: Secret argocd-initial-admin-secret, key password, namespace argocd: "
        f"{KUBECTL} -n argocd get secret argocd-initial-admin-secret -o jsonpath='{{.data.password}}' | base64 -d",
        "Grafana: https://grafana.example.com/ (user admin; password: vault_monitoring_grafana_admin_password, "
        "also in Secret grafana-admin, namespace monitoring)",
        "Domains (certificate served by the first server for each name):",
        "  example.com: issued by Let's Encrypt, expires 20270301120000Z",
        "  api.example.com: not issued yet (Traefik serves its default certificate)",
        "  www.example.com: issued by (STAGING) Let's Encrypt, expires 20270301120000Z "
        "(staging: browsers do not trust it; traefik_acme_staging: false for real ones)",
        "  grafana.example.com: not served yet (Failed to get cert from 203.0.113.10:443, error: [Errno 111] Connection refused)",
        "Next:",
        f"  verify: ansible-playbook -i /srv/infra/inventories/prod parametric_portal.infra.verify -e verify_kubeconfig={KC}",
        "  seal a secret: ansible-playbook -i /srv/infra/inventories/prod parametric_portal.infra.seal_secret "
        "-e app=<app> -e secret_name=<name> (mise run seal-secret)",
        "  back up the database: ansible-playbook -i /srv/infra/inventories/prod parametric_portal.infra.backup_db "
        "(mise run backup-db)",
    ]


def test_missing_kubeconfig_is_said():
    assert f"Kubeconfig: {KC} (context prod) - not written yet: K3s has not written one" in render(kubeconfig_present=False)


def test_long_field_names_from_get_certificate_are_understood():
    lines = render(certificates=[{"item": "a.example.com", "cert": "PEM", "issuer": {"organizationName": "Let's Encrypt"},
                                  "subject": {"commonName": "a.example.com"}, "not_after": "20270101000000Z"}])
    assert "  a.example.com: issued by Let's Encrypt, expires 20270101000000Z" in lines


def test_the_playbook_renders_it_once_at_the_end_of_site_and_reads_no_secret():
    site = yaml.safe_load((REPO / "playbooks" / "site.yml").read_text())
    assert site[-1] == {"name": site[-1]["name"], "ansible.builtin.import_playbook": "summary.yml"}
    assert sum(1 for play in site if play.get("ansible.builtin.import_playbook") == "summary.yml") == 1
    text = (REPO / "playbooks" / "summary.yml").read_text() + TEMPLATE.read_text()
    for secret in ("monitoring_grafana_admin_password }}", "vault_", "cnpg_app_password", "argocd_repo_password",
                   "sealing_fingerprint_key", "k3s_token", "cluster-token"):
        assert secret not in text.replace("password: vault_monitoring_grafana_admin_password,", ""), secret
