# -*- coding: utf-8 -*-
# Copyright (c) parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    """Where the sealing certificate comes from: a file/PEM or the live controller.

    The API server connection options are kubernetes.core's own (fragment
    C(kubernetes.core.k8s_auth_options), argument spec C(AUTH_ARG_SPEC)); this fragment only adds
    what is specific to the sealed-secrets controller."""

    DOCUMENTATION = r"""
options:
  cert:
    description:
      - The controller's sealing certificate, as a path to a PEM file or as PEM text.
      - Only the first certificate is used. It must hold an RSA key and must not be expired
        (NotAfter is checked, like kubeseal). A bare C(PUBLIC KEY) is refused.
      - When omitted, the certificate is fetched from the controller through the API server's service
        proxy (C(/api/v1/namespaces/<controller_namespace>/services/http:<controller_name>:http/proxy/v1/cert.pem)),
        like C(kubeseal --fetch-cert). The connection is made by kubernetes.core's client from the standard
        options O(kubeconfig), O(context), O(host), O(api_key), O(ca_cert), O(client_cert), ... and their
        E(K8S_AUTH_*) environment variables; without any, C(~/.kube/config) or the in-cluster service account.
    type: path
  controller_name:
    description: Name of the sealed-secrets controller Service (chart C(fullnameOverride)).
    type: str
    default: sealed-secrets-controller
  controller_namespace:
    description: Namespace of the sealed-secrets controller.
    type: str
    default: kube-system
requirements:
  - cryptography
  - PyYAML
  - kubernetes (only to fetch the certificate from the controller)
"""
