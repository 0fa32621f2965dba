#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_validate
short_description: Validate Kubernetes manifests offline against core and CRD schemas
version_added: 0.1.0
description:
  - Validates every object of the given YAML files (or of every C(*.yaml)/C(*.yml) file under the given
    directories, or of a built multi-document file such as C(build/prod.yaml)) against the Kubernetes core
    schemas of O(k8s_version) (shipped by the C(kubernetes-validate) Python package) and against CRD schemas.
  - CRD schemas come from CustomResourceDefinition YAML files under O(crd_dirs) (O(crd_source=dir)) or are read
    from the live cluster's CustomResourceDefinitions (O(crd_source=cluster), needs the C(kubernetes) Python client
    and a kubeconfig).
  - With O(strict=true) unknown fields are errors (like C(kubectl --validate=strict)); an object whose
    apiVersion/kind has no schema is always an error.
  - Fails when there is any finding, with a readable report (file, object, path, message). Reads only, never changes
    anything.
author:
  - parametric_portal maintainers (@parametric-portal)
options:
  paths:
    description: Files and/or directories (searched recursively for C(*.yaml) and C(*.yml)) holding manifests.
    type: list
    elements: path
    required: true
  crd_dirs:
    description: Directories or files with CRD YAML, used when O(crd_source=dir).
    type: list
    elements: path
    default: []
  crd_source:
    description: Where CRD schemas come from.
    type: str
    choices: [dir, cluster]
    default: dir
  k8s_version:
    description: Kubernetes minor version of the core schemas (the newest shipped version not newer than this is used).
    type: str
    default: "1.32"
  strict:
    description: Reject unknown fields.
    type: bool
    default: true
  exclude:
    description:
      - Path fragments to skip while walking directories (e.g. C(/secrets/)); kustomization.yaml files are always skipped
        because they are Kustomize input, not Kubernetes objects.
    type: list
    elements: str
    default: []
  schema_cache:
    description:
      - Keep parsed CRD files as JSON in a cache folder on the controller (C($PP_SCHEMA_CACHE), else
        C(~/.cache/parametric_portal/crd-json)), keyed by each file's SHA-256, so later runs skip the slow YAML parse.
    type: bool
    default: true
  kubeconfig:
    description: Kubeconfig for O(crd_source=cluster); the client's default when omitted.
    type: path
  context:
    description: Kubeconfig context for O(crd_source=cluster).
    type: str
attributes:
  check_mode:
    support: full
    description: Read-only; behaves the same in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to diff.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
requirements:
  - PyYAML
  - jsonschema
  - kubernetes-validate
  - kubernetes (only for O(crd_source=cluster))
notes:
  - CEL rules (C(x-kubernetes-validations)) of CRDs are not evaluated.
seealso:
  - module: parametric_portal.infra.gitops_render
"""

EXAMPLES = r"""
- name: Validate the built prod overlay against Kubernetes 1.32 and the pinned CRDs
  parametric_portal.infra.k8s_validate:
    paths: [build/prod.yaml]
    crd_dirs: [../shared/crds/traefik/v3.3.5, ../shared/crds/kyverno]
    k8s_version: "1.32"

- name: Validate against the CRDs installed in the live cluster
  parametric_portal.infra.k8s_validate:
    paths: [infrastructure/argocd]
    crd_source: cluster
    kubeconfig: ~/.kube/config
"""

RETURN = r"""
findings:
  description: One entry per error.
  type: list
  elements: dict
  returned: always
  contains:
    source:
      description: File the object came from.
      type: str
    obj:
      description: C(Kind/namespace/name) (C(Kind/name) without namespace).
      type: str
    path:
      description: Dotted/indexed field path, e.g. C(spec.template.spec.containers[0].image).
      type: str
    message:
      description: What is wrong.
      type: str
report:
  description: The findings as text, one line per finding (file, object, path and message separated by colons), or C(no findings).
  type: str
  returned: always
objects:
  description: Number of objects validated.
  type: int
  returned: always
files:
  description: Files read.
  type: list
  elements: str
  returned: always
core_schemas:
  description: The kubernetes-validate schema set used, e.g. C(v1.32.0-local-strict).
  type: str
  returned: success
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.parametric_portal.infra.plugins.module_utils import _k8s_schema as ks

try:
    from kubernetes import client as k8s_client, config as k8s_config

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()


def manifest_files(paths, exclude):
    files = []
    for entry in paths:
        if os.path.isfile(entry):
            files.append(entry)
            continue
        if not os.path.isdir(entry):
            raise ks.SchemaError("%s does not exist" % entry)
        for root, dirs, names in os.walk(entry):
            dirs.sort()
            for name in sorted(names):
                path = os.path.join(root, name)
                if not name.endswith((".yaml", ".yml")) or name in ("kustomization.yaml", "kustomization.yml"):
                    continue
                if any(fragment in path for fragment in exclude):
                    continue
                files.append(path)
    return files


def cluster_crds(kubeconfig, context):
    k8s_config.load_kube_config(config_file=kubeconfig, context=context)
    api = k8s_client.ApiextensionsV1Api()
    return [api.api_client.sanitize_for_serialization(item) for item in api.list_custom_resource_definition().items]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="path", required=True),
            crd_dirs=dict(type="list", elements="path", default=[]),
            crd_source=dict(type="str", choices=["dir", "cluster"], default="dir"),
            k8s_version=dict(type="str", default="1.32"),
            strict=dict(type="bool", default=True),
            exclude=dict(type="list", elements="str", default=[]),
            schema_cache=dict(type="bool", default=True),
            kubeconfig=dict(type="path"),
            context=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    for name, error in ks.missing_libraries():
        module.fail_json(msg=missing_required_lib(name), exception=error)
    params = module.params
    crd_objects = None
    crd_dirs = params["crd_dirs"]
    if params["crd_source"] == "cluster":
        if not HAS_KUBERNETES:
            module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
        try:
            crd_objects = cluster_crds(params["kubeconfig"], params["context"])
        except Exception as exc:  # any client/config error: report it plainly
            module.fail_json(msg="k8s_validate: cannot read CRDs from the cluster: %s" % exc)
        crd_dirs = []
    result = dict(changed=False, findings=[], report="", objects=0, files=[])
    try:
        validator = ks.SchemaValidator(crd_dirs=crd_dirs, k8s_version=params["k8s_version"],
                                       strict=params["strict"], crd_objects=crd_objects,
                                       cache_dir="" if params["schema_cache"] else None)
        files = manifest_files(params["paths"], params["exclude"])
        findings = []
        for path in files:
            try:
                docs = ks.load_yaml_documents(path)
            except Exception as exc:  # YAML syntax errors and non-mapping documents are findings too
                findings.append(ks.Finding(path, "<file>", "", "cannot parse: %s" % exc))
                continue
            result["objects"] += len(docs)
            findings.extend(validator.validate_documents(docs, path))
    except ks.SchemaError as exc:
        module.fail_json(msg="k8s_validate: %s" % exc, **result)
    result.update(
        files=files,
        findings=[f._asdict() for f in findings],
        report=ks.format_report(findings),
        core_schemas=validator.core_schema_label,
    )
    if not files:
        module.fail_json(msg="k8s_validate: no manifest files found in %s" % ", ".join(params["paths"]), **result)
    if findings:
        module.fail_json(msg="k8s_validate: %d finding(s) in %d object(s):\n%s" % (len(findings), result["objects"], result["report"]),
                         **result)
    module.exit_json(msg="k8s_validate: %d object(s) in %d file(s) valid (%s)" % (result["objects"], len(files), validator.core_schema_label),
                     **result)


if __name__ == "__main__":
    main()
