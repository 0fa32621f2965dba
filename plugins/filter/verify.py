# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn collected post-deploy data into verify table rows (playbooks/verify.yml).

All evaluation lives in the private module_utils ``_endpoint_checks`` (shared with the
``endpoint_check`` module); these filters are deterministic wrappers.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.errors import AnsibleFilterError
from ansible_collections.parametric_portal.infra.plugins.module_utils._endpoint_checks import (
    FAIL,
    SKIP,
    evaluate_argocd_apps,
    evaluate_nft_udp_port,
    evaluate_nodes,
    exposed_ports,
    format_table,
    row,
)


NOT_QUERIED = "not queried: the API did not answer the Node query"


def _resources(value, name):
    if isinstance(value, dict) and "resources" in value:  # a registered k8s_info result
        value = value["resources"]
    if not isinstance(value, list):
        raise AnsibleFilterError("%s expects a list of Kubernetes objects or a k8s_info result, got %s" % (name, type(value).__name__))
    return value


def _unanswered(value, check, target):
    """The FAIL row of a registered k8s_info result that holds no objects (API error, or never queried)."""
    if not isinstance(value, dict) or "resources" in value:
        return None
    detail = NOT_QUERIED if value.get("skipped") else "API error: %s" % (value.get("msg") or "unknown")
    return [row(check, target, FAIL, detail)]


def verify_node_rows(value, target="cluster"):
    return _unanswered(value, "Nodes Ready", "cluster") or evaluate_nodes(_resources(value, "verify_node_rows"), target)


def verify_argocd_rows(value, target="argocd"):
    return (_unanswered(value, "Argo CD app Synced/Healthy", target)
            or evaluate_argocd_apps(_resources(value, "verify_argocd_rows"), target))


def verify_udp_rows(nft, ports, target="host", enabled=True):
    """One row per UDP port from the registered result of ``nft -j list ruleset`` on the host."""
    if not isinstance(ports, list):
        raise AnsibleFilterError("verify_udp_rows expects a list of UDP ports")
    checks = ["UDP %d not accepted from 0.0.0.0/0" % int(port) for port in ports]
    if not enabled:
        return [row(check, target, SKIP, "SKIPPED: not testable from outside by a TCP/UDP probe; host ruleset check "
                                         "disabled (verify_check_host_firewall)") for check in checks]
    if not isinstance(nft, dict) or nft.get("rc") != 0:
        reason = (nft.get("stderr") or nft.get("msg") or "") if isinstance(nft, dict) else ""
        return [row(check, target, FAIL, "could not read the host nft ruleset: " + str(reason).strip()) for check in checks]
    try:
        ruleset = json.loads(nft.get("stdout") or "")
    except ValueError as exc:
        return [row(check, target, FAIL, "could not parse the host nft ruleset: %s" % exc) for check in checks]
    return [evaluate_nft_udp_port(ruleset, int(port), target) for port in ports]


def verify_nft_rows(value, port=8472, target="host"):
    if not isinstance(value, dict):
        raise AnsibleFilterError("verify_nft_rows expects the parsed JSON of 'nft -j list ruleset' (a dict)")
    return [evaluate_nft_udp_port(value, int(port), target)]


def verify_exposed_ports(services, pods, public_tcp=None, public_udp=None):
    return exposed_ports(_resources(services, "verify_exposed_ports"), _resources(pods, "verify_exposed_ports"),
                         public_tcp or [], public_udp or [])


def verify_table(value):
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise AnsibleFilterError("verify_table expects a list of row dicts (check, target, result, detail)")
    return format_table(value)


class FilterModule(object):
    def filters(self):
        return {
            "verify_node_rows": verify_node_rows,
            "verify_argocd_rows": verify_argocd_rows,
            "verify_nft_rows": verify_nft_rows,
            "verify_udp_rows": verify_udp_rows,
            "verify_exposed_ports": verify_exposed_ports,
            "verify_table": verify_table,
        }
