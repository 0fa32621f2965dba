#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: seal_secret
short_description: Seal a Kubernetes Secret into a SealedSecret, compatible with the sealed-secrets controller
version_added: 0.1.0
description:
  - Encrypts Secret items for the Bitnami sealed-secrets controller exactly like C(kubeseal) does
    (RSA-OAEP SHA-256 with the scope label, a fresh AES-256-GCM key per item), without the kubeseal binary.
  - Returns the C(bitnami.com/v1alpha1) C(SealedSecret) object and, with O(dest), writes it as YAML
    (atomically, mode C(0644)), merging into an existing file.
  - Ciphertext is random, so idempotence is decided on the plaintext side. Each sealed item gets a keyed
    fingerprint (HMAC-SHA256 under O(fingerprint_key) over scope, namespace, name, item key and value)
    stored in the SealedSecret's top-level annotation C(infra.parametric-portal.com/fingerprints). An item
    whose fingerprint still matches keeps its ciphertext, so the same input gives C(changed=false) and a
    byte-identical file. The fingerprints reveal nothing about the plaintext without the key, and the same
    value in two SealedSecrets gives unrelated fingerprints; keep the key in a vault variable.
  - Fingerprints written by earlier versions (prefix C(hmac-sha256:), not bound to the name) are never
    trusted. Such an item is resealed once with a current fingerprint and listed in RV(keys.migrated).
  - Without O(fingerprint_key) nothing can be compared, so every given item is resealed and the task
    reports C(changed) whenever O(dest) exists (a warning says so).
  - The plaintext never appears in results, errors, diffs or files.
author:
  - parametric_portal maintainers (@parametric-portal)
extends_documentation_fragment:
  - parametric_portal.infra.sealing
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description: Seals and reports what would change, writes nothing.
  diff_mode:
    support: full
    description: The diff lists item keys with added/changed/removed, never values or ciphertext.
  safe_file_operations:
    support: full
    description: O(dest) is replaced atomically (temporary file in the same folder, then rename).
  idempotent:
    support: full
    description: Requires O(fingerprint_key); see the description.
options:
  name:
    description:
      - Name of the Secret (and the SealedSecret). Overrides the name in O(secret).
      - Required, except with O(raw) in namespace-wide or cluster-wide scope.
    type: str
  namespace:
    description:
      - Namespace of the Secret. Required for the strict and namespace-wide scopes.
      - Must match the namespace in O(secret) when both are given.
    type: str
  scope:
    description:
      - The sealing scope. V(strict) binds the items to namespace and name, V(namespace-wide) to the namespace,
        V(cluster-wide) to nothing.
      - Non-strict scopes are written as the upstream annotations (value C("true")) in the top-level metadata
        and in the template metadata.
      - When omitted, the scope comes from the scope annotations of O(secret), otherwise V(strict).
    type: str
    choices: [strict, namespace-wide, cluster-wide]
  data:
    description:
      - Secret items as base64 strings, like a Secret's C(data); each is sealed as its decoded bytes.
    type: dict
  string_data:
    description:
      - Secret items as text, like a Secret's C(stringData); sealed as UTF-8. Wins over O(data) on the same key.
    type: dict
  secret:
    description:
      - A whole Secret manifest (C(apiVersion v1), C(kind Secret)). Its data, stringData, type, immutable, labels,
        annotations and scope annotations are used; last-applied-configuration annotations, ownerReferences
        and server-set fields are dropped.
      - Ansible masks every value of this option in the task output, so names shown in results may be masked.
    type: dict
  type:
    description: Type of the Secret (C(template.type)), for example C(kubernetes.io/basic-auth).
    type: str
  labels:
    description: Labels for the Secret (template metadata). Merged over existing ones.
    type: dict
  annotations:
    description: Annotations for the Secret (template metadata). Merged over existing ones.
    type: dict
  immutable:
    description: Make the Secret immutable.
    type: bool
  raw:
    description:
      - Seal a single value like C(kubeseal --raw) and return it as RV(value). Exactly one item must be given
        in O(data) or O(string_data); its key is only a name. The caller must put the matching scope
        annotation on the SealedSecret it is pasted into.
    type: bool
    default: false
  dest:
    description:
      - Write the SealedSecret to this file (YAML, mode C(0644), atomic replace).
      - An existing file is merged into. Items not given are kept, given items are resealed only when
        their plaintext changed. Its name, namespace and scope must equal the requested ones.
    type: path
  remove_keys:
    description: Item keys to remove from the existing O(dest).
    type: list
    elements: str
    default: []
  force:
    description: Reseal every given item even when its fingerprint matches (for example after the controller's key was replaced).
    type: bool
    default: false
  fingerprint_key:
    description:
      - Secret key for the plaintext fingerprints that make the module idempotent. Take it from a vault variable.
      - Changing it reseals every given item once.
    type: str
"""

EXAMPLES = r"""
- name: Seal database credentials into the GitOps tree
  parametric_portal.infra.seal_secret:
    cert: files/sealed-secrets.pem
    name: api-db
    namespace: parametric-portal-prod
    string_data:
      username: api
      password: "{{ vault_api_db_password }}"
    fingerprint_key: "{{ sealing_fingerprint_key }}"
    dest: infrastructure/overlays/prod/secrets/api-api-db.yaml
  delegate_to: localhost

- name: Seal a whole Secret manifest, certificate fetched from the live controller
  parametric_portal.infra.seal_secret:
    kubeconfig: ~/.kube/config
    context: parametric-portal-prod
    secret: "{{ lookup('ansible.builtin.file', 'secret.yaml') | from_yaml }}"
    fingerprint_key: "{{ sealing_fingerprint_key }}"
    dest: sealed.yaml

- name: Seal one value for a namespace-wide SealedSecret (kubeseal --raw)
  parametric_portal.infra.seal_secret:
    cert: files/sealed-secrets.pem
    raw: true
    scope: namespace-wide
    namespace: parametric-portal-dev
    string_data:
      token: "{{ vault_token }}"
  register: sealed_token
"""

RETURN = r"""
sealed_secret:
  description: The SealedSecret object (also what was written to O(dest)). Not returned with O(raw).
  returned: success and not raw
  type: dict
  sample:
    apiVersion: bitnami.com/v1alpha1
    kind: SealedSecret
    metadata:
      name: api-db
      namespace: parametric-portal-prod
      creationTimestamp: null
      annotations:
        infra.parametric-portal.com/fingerprints: '{"password":"hmac-sha256:..."}'
    spec:
      encryptedData:
        password: AgB3...
      template:
        metadata: {name: api-db, namespace: parametric-portal-prod, creationTimestamp: null}
value:
  description: The sealed value (one line of base64, no newline), with O(raw).
  returned: raw
  type: str
  sample: AgBy8hCi...
keys:
  description: Item keys by what happened to them.
  returned: success and not raw
  type: dict
  contains:
    added: {description: Keys that were not in O(dest) before., type: list, elements: str}
    changed: {description: Keys resealed because their plaintext (or O(fingerprint_key)) changed., type: list, elements: str}
    unchanged: {description: Given keys whose fingerprint matched; ciphertext kept., type: list, elements: str}
    kept: {description: Keys of O(dest) that were not given; kept as they are., type: list, elements: str}
    removed: {description: Keys removed through O(remove_keys)., type: list, elements: str}
    migrated:
      description:
        - Given keys whose stored fingerprint had the old format (before name and scope were bound into it);
          they were resealed and now carry a current fingerprint. Also listed in RV(keys.changed).
      type: list
      elements: str
cert_fingerprint_sha256:
  description: SHA-256 fingerprint of the certificate used.
  returned: success
  type: str
dest:
  description: The file written or checked.
  returned: when dest is given
  type: str
"""

import copy
import os
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.parametric_portal.infra.plugins.module_utils import _sealing

try:
    from kubernetes.client import ApiClient  # kubernetes.core's client below imports it only optionally
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None

CERT_PROXY_PATH = "/api/v1/namespaces/{namespace}/services/http:{name}:http/proxy/v1/cert.pem"


def argument_spec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)  # kubernetes.core's connection options, unchanged
    spec.update(
        cert=dict(type="path"),  # PEM text passes the path conversion unchanged (no "$" or leading "~")
        controller_name=dict(type="str", default="sealed-secrets-controller"),
        controller_namespace=dict(type="str", default="kube-system"),
        name=dict(type="str"),
        namespace=dict(type="str"),
        scope=dict(type="str", choices=list(_sealing.SCOPES)),
        data=dict(type="dict", no_log=True),
        string_data=dict(type="dict", no_log=True),
        secret=dict(type="dict", no_log=True),
        type=dict(type="str"),
        labels=dict(type="dict"),
        annotations=dict(type="dict"),
        immutable=dict(type="bool"),
        raw=dict(type="bool", default=False),
        dest=dict(type="path"),
        remove_keys=dict(type="list", elements="str", default=[], no_log=False),
        force=dict(type="bool", default=False),
        fingerprint_key=dict(type="str", no_log=True),
    )
    return spec


def api_client(params):
    """The kubernetes ApiClient kubernetes.core builds from the standard auth options (and K8S_AUTH_*).

    THE SEAM for tests: they point the options at an API server (for now a TLS test double under
    tests/unit/sealing; later the real kube-apiserver harness) and nothing else is swapped."""
    auth = dict((key, params.get(key)) for key in AUTH_ARG_SPEC)
    api = get_api_client(**auth).client.client
    if not isinstance(api, ApiClient):
        raise RuntimeError("kubernetes.core returned no kubernetes ApiClient (got %s)" % type(api).__name__)
    return api


def fetch_certificate(params):
    """GET the controller's cert.pem through the API server's service proxy (like kubeseal --fetch-cert)."""
    api = api_client(params)
    path_params = {"namespace": params["controller_namespace"], "name": params["controller_name"]}
    headers = {"Accept": "application/x-pem-file, */*"}
    if hasattr(api, "param_serialize"):  # kubernetes >= 33
        method, url, headers, body, post = api.param_serialize(
            method="GET", resource_path=CERT_PROXY_PATH, path_params=path_params,
            header_params=headers, auth_settings=["BearerToken"])
        response = api.call_api(method, url, header_params=headers)
        response.read()
        if not 200 <= response.status < 300:
            raise RuntimeError("GET %s: HTTP %s %s" % (url, response.status, response.reason))
        return response.data
    response = api.call_api(CERT_PROXY_PATH, "GET", path_params, header_params=headers,
                            auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True)
    return response.data


def read_certificate(module):
    cert = module.params["cert"]
    if cert:
        if "-----BEGIN" in cert:
            return to_bytes(cert)
        path = cert
        if not os.path.isfile(path):
            module.fail_json(msg="cert %s: no such file (give a path to the PEM certificate or the PEM text)" % cert)
        with open(path, "rb") as handle:
            return handle.read()
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes") + " (needed to fetch the certificate; or give cert)",
                         exception=KUBERNETES_IMPORT_ERROR)
    try:
        return fetch_certificate(module.params)
    except Exception as exc:  # any client/HTTP/TLS/config error: report where we looked, briefly
        if getattr(exc, "status", None):  # kubernetes ApiException / DynamicApiError: no headers or body
            detail = "HTTP %s %s" % (exc.status, getattr(exc, "reason", "") or "")
        else:
            detail = to_native(exc)
        module.fail_json(msg="cannot fetch the certificate from controller %s/%s: %s"
                         % (module.params["controller_namespace"], module.params["controller_name"], detail.strip()))


def write_atomically(module, dest, content):
    directory = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(directory):
        module.fail_json(msg="dest directory %s does not exist" % directory)
    fd, tmp = tempfile.mkstemp(prefix=".seal_secret.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        module.atomic_move(tmp, os.path.abspath(dest))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def run(module):
    params = module.params
    if not _sealing.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=_sealing.CRYPTOGRAPHY_IMPORT_ERROR)
    if not _sealing.HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=_sealing.YAML_IMPORT_ERROR)
    try:
        request = _sealing.build_request(
            name=params["name"], namespace=params["namespace"], scope=params["scope"], data=params["data"],
            string_data=params["string_data"], secret_type=params["type"], labels=params["labels"],
            annotations=params["annotations"], immutable=params["immutable"], secret=params["secret"],
            raw=params["raw"])
    except _sealing.SealingError as exc:
        module.fail_json(msg=to_native(exc))
    if not request.items and not params["remove_keys"]:
        module.fail_json(msg="nothing to seal: give data, string_data or secret (or remove_keys with dest)")
    try:
        cert = _sealing.load_certificate(read_certificate(module))  # parsed once for every item
    except _sealing.SealingError as exc:
        module.fail_json(msg=to_native(exc))
    result = dict(changed=False, cert_fingerprint_sha256=cert.fingerprint_sha256)

    if params["raw"]:
        if params["dest"] or params["remove_keys"]:
            module.fail_json(msg="raw returns one sealed value; it cannot be combined with dest or remove_keys")
        if len(request.items) != 1:
            module.fail_json(msg="raw needs exactly one item in data or string_data (got %d)" % len(request.items))
        plaintext = list(request.items.values())[0]
        result["value"] = _sealing.seal_value(cert, plaintext, request.label)
        module.exit_json(**result)

    dest = params["dest"]
    existing_text = None
    existing = None
    if dest and os.path.exists(dest):
        try:
            with open(dest, "rb") as handle:
                existing_text = handle.read()
        except OSError as exc:  # a directory, no permission, ...
            module.fail_json(msg="dest %s cannot be read as a file: %s" % (dest, to_native(exc.strerror or exc)))
        try:
            existing = _sealing.load_sealed_secret(existing_text)
        except _sealing.SealingError as exc:
            module.fail_json(msg="dest %s: %s; nothing was written" % (dest, to_native(exc)))
    if existing and not params["fingerprint_key"] and request.items:
        module.warn("fingerprint_key not given: every given item is resealed, so the task always reports changed")
    try:
        sealed = _sealing.seal(cert, request, existing=existing, fingerprint_key=params["fingerprint_key"],
                               remove_keys=params["remove_keys"], force=params["force"])
    except _sealing.SealingError as exc:
        module.fail_json(msg=to_native(exc))
    result["sealed_secret"] = sealed.object
    result["keys"] = sealed.key_report()
    if sealed.migrated:
        module.warn("resealed %s: their stored fingerprints had the old format (not bound to the SealedSecret's "
                    "name and scope); they now carry current ones" % ", ".join(sorted(sealed.migrated)))
    if dest:
        result["dest"] = dest
        content = _sealing.dump_yaml(sealed.object).encode("utf-8")
        result["changed"] = content != existing_text
        if module._diff:
            statuses = dict((k, "added") for k in sealed.added)
            statuses.update((k, "changed") for k in sealed.changed)
            result["diff"] = dict(
                before=_sealing.describe_for_diff(existing),
                after=_sealing.describe_for_diff(sealed.object, statuses)
                + "".join("removed: %s\n" % k for k in sealed.removed),
                before_header=dest, after_header=dest)
        if result["changed"]:
            if not module.check_mode:
                write_atomically(module, dest, content)
        elif os.stat(dest).st_mode & 0o7777 != 0o644:
            result["changed"] = True
            if not module.check_mode:
                os.chmod(dest, 0o644)
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[("cert", "host"), ("cert", "kubeconfig")],
    )
    run(module)


if __name__ == "__main__":
    main()
