#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: endpoint_check
short_description: Probe public TLS, HTTP, SSH and TCP endpoints and report PASS/FAIL/SKIP rows
version_added: 0.1.0
description:
  - Read-only post-deploy probes, run from the controller (use C(delegate_to=localhost)) against
    the real public address of a host.
  - For each domain, with SNI set to the domain - TLS 1.0 and 1.1 refused, TLS 1.2 and 1.3 accepted,
    certificate chain verifies against O(ca_file) and matches the domain, certificate not expiring
    within O(cert_min_days) days, plain HTTP answers 301 or 308 with an C(https://) Location, and
    the HTTPS response carries HSTS (max-age >= O(hsts_min_age)), X-Frame-Options DENY or SAMEORIGIN,
    X-Content-Type-Options nosniff, a Content-Security-Policy and a Referrer-Policy.
  - Once per address - a TLS ClientHello without the server_name extension must be refused
    (the handshake fails; this is what Traefik C(sniStrict) and nginx C(ssl_reject_handshake) do).
    A completed handshake, whatever certificate it serves, is a FAIL.
  - SSH - the server's offered authentication methods (from C(ssh -v) with only the C(none) method)
    must not include C(password) or C(keyboard-interactive). Needs the OpenSSH client on the controller.
  - Each port in O(closed_tcp_ports) must not accept a TCP connection from the controller. Only a
    refused connection or no answer within O(timeout) is C(PASS); any other error (the address does
    not resolve, no route, permission denied) is C(FAIL), because it proves nothing about the port.
  - The module never fails because a check failed; it returns the rows and counts so the caller
    can print a table first and fail afterwards.
  - The logic lives in the collection's private module_utils C(_endpoint_checks) (standard library
    only - ssl, socket, http.client).
author:
  - parametric_portal maintainers (@parametric-portal)
options:
  address:
    description: IP address or host name to connect to (the host's public address).
    type: str
    required: true
  domains:
    description: Public domains served at O(address); used as SNI, Host header and certificate name.
    type: list
    elements: str
    default: []
  https_port:
    description: HTTPS port.
    type: int
    default: 443
  http_port:
    description: Plain HTTP port (must redirect).
    type: int
    default: 80
  ca_file:
    description:
      - PEM bundle the certificate chain must verify against. Empty means the controller's
        default trust store.
    type: path
  cert_min_days:
    description: Minimum remaining certificate lifetime in days.
    type: int
    default: 14
  hsts_min_age:
    description: Minimum HSTS max-age in seconds (one year by default).
    type: int
    default: 31536000
  ssh_address:
    description: Address for the SSH check; defaults to O(address).
    type: str
  ssh_port:
    description: SSH port. The SSH check is skipped when unset.
    type: int
  ssh_user:
    description:
      - User name the probe presents. No credential is ever sent (only the C(none) method), but an
        existing user (the admin user) keeps C(Invalid user) lines, which fail2ban counts, out of the log.
    type: str
    default: verify-probe
  closed_tcp_ports:
    description: TCP ports that must not accept a connection from the controller.
    type: list
    elements: int
    default: []
  exposed_ports:
    description:
      - NodePorts and hostPorts the cluster publishes (see the C(verify_exposed_ports) filter). A TCP
        entry must not accept a connection from the controller, like O(closed_tcp_ports), with the
        Service or Pod named in the row; a UDP entry is a C(SKIP) row (it cannot be proven closed
        from outside).
    type: list
    elements: dict
    default: []
    suboptions:
      port:
        description: Port on the node.
        type: int
        required: true
      protocol:
        description: TCP or UDP.
        type: str
        default: TCP
      what:
        description: What publishes it, for the table.
        type: str
        default: ''
  checks:
    description: Which checks to run; all by default.
    type: list
    elements: str
    choices: [tls_versions, sni_strict, certificate, http_redirect, headers, ssh_password, closed_ports, exposed_ports]
  timeout:
    description: Connect/read timeout per probe, in seconds.
    type: float
    default: 5
attributes:
  check_mode:
    support: full
    description: The module only reads (connects and disconnects), so it runs unchanged in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to diff.
notes:
  - TLS 1.0/1.1 probes lower the client's OpenSSL security level to 0 so the old protocols can be
    offered. If the controller's OpenSSL cannot offer them at all the rows are SKIP, not PASS.
  - UDP ports (e.g. flannel 8472) cannot be proven closed by a probe from outside; see the
    C(verify_nft_rows) filter for the host-side ruleset check.
seealso:
  - name: Traefik TLS options (sniStrict, minVersion)
    description: The settings these checks verify.
    link: https://doc.traefik.io/traefik/https/tls/
"""

EXAMPLES = r"""
- name: Probe the public endpoints from the controller
  parametric_portal.infra.endpoint_check:
    address: 203.0.113.10
    domains: [parametric-portal.com, api.parametric-portal.com]
    ssh_port: 22
    closed_tcp_ports: [6443, 10250]
  delegate_to: localhost
  register: endpoint

- name: Fail when any check failed
  ansible.builtin.assert:
    that: endpoint.counts.FAIL == 0
    fail_msg: "{{ endpoint.rows | selectattr('result', 'equalto', 'FAIL') | list }}"
"""

RETURN = r"""
rows:
  description: One entry per check, in a stable order.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: What was checked.
      type: str
      sample: TLS 1.0 refused
    target:
      description: Where (domain @ address:port, or address:port).
      type: str
      sample: api.parametric-portal.com @ 203.0.113.10:443
    result:
      description: PASS, FAIL or SKIP.
      type: str
      sample: PASS
    detail:
      description: Evidence (negotiated version, header value, status code, ...).
      type: str
      sample: "handshake refused: TLSV1_ALERT_PROTOCOL_VERSION"
counts:
  description: Number of rows per result.
  returned: always
  type: dict
  sample: {PASS: 20, FAIL: 1, SKIP: 0}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.parametric_portal.infra.plugins.module_utils._endpoint_checks import (
    ALL_CHECKS,
    run_endpoint_checks,
    summarize,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            address=dict(type="str", required=True),
            domains=dict(type="list", elements="str", default=[]),
            https_port=dict(type="int", default=443),
            http_port=dict(type="int", default=80),
            ca_file=dict(type="path"),
            cert_min_days=dict(type="int", default=14),
            hsts_min_age=dict(type="int", default=31536000),
            ssh_address=dict(type="str"),
            ssh_port=dict(type="int"),
            ssh_user=dict(type="str", default="verify-probe"),
            closed_tcp_ports=dict(type="list", elements="int", default=[]),
            exposed_ports=dict(type="list", elements="dict", default=[], options=dict(
                port=dict(type="int", required=True),
                protocol=dict(type="str", default="TCP"),
                what=dict(type="str", default=""),
            )),
            checks=dict(type="list", elements="str", choices=list(ALL_CHECKS)),
            timeout=dict(type="float", default=5),
        ),
        supports_check_mode=True,
    )
    ssh_bin = module.get_bin_path("ssh") if "ssh_password" in (module.params["checks"] or ALL_CHECKS) else None
    rows = run_endpoint_checks(module.params, module.run_command, ssh_bin)
    module.exit_json(changed=False, rows=rows, counts=summarize(rows))


if __name__ == "__main__":
    main()
