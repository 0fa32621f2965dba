# -*- coding: utf-8 -*-
# Copyright (c) parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    """Where the sealing certificate comes from: a file/PEM or the live controller."""

    DOCUMENTATION = r"""
options:
  cert:
    description:
      - The controller's sealing certificate, as a path to a PEM file or as PEM text.
      - Only the first certificate is used. It must hold an RSA key and must not be expired
        (NotAfter is checked, like kubeseal). A bare C(PUBLIC KEY) is refused.
      - When omitted, the certificate is fetched from the controller through the API server's service
        proxy (C(/api/v1/namespaces/<controller_namespace>/services/http:<controller_name>:http/proxy/v1/cert.pem)),
        which needs the C(kubernetes) Python library and the connection options below.
    type: path
  controller_name:
    description: Name of the sealed-secrets controller Service (chart C(fullnameOverride)).
    type: str
    default: sealed-secrets-controller
  controller_namespace:
    description: Namespace of the sealed-secrets controller.
    type: str
    default: kube-system
  kubeconfig:
    description:
      - Path to a kubeconfig file used to fetch the certificate. Defaults to C(~/.kube/config) or
        E(K8S_AUTH_KUBECONFIG).
    type: path
  context:
    description: The kubeconfig context to use (E(K8S_AUTH_CONTEXT)).
    type: str
  host:
    description: URL of the API server; with O(api_key) this replaces the kubeconfig (E(K8S_AUTH_HOST)).
    type: str
  api_key:
    description: Bearer token for O(host) (E(K8S_AUTH_API_KEY)).
    type: str
  validate_certs:
    description: Verify the API server's TLS certificate (E(K8S_AUTH_VERIFY_SSL)).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description: CA bundle to verify the API server with (E(K8S_AUTH_SSL_CA_CERT)).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description: Client certificate for the API server (E(K8S_AUTH_CERT_FILE)).
    type: path
    aliases: [cert_file]
  client_key:
    description: Client key for the API server (E(K8S_AUTH_KEY_FILE)).
    type: path
    aliases: [key_file]
requirements:
  - cryptography
  - PyYAML
  - kubernetes (only to fetch the certificate from the controller)
"""
