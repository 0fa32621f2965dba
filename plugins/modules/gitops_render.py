#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gitops_render
short_description: Render the GitOps tree (infrastructure/) from the apps model and environment tables
version_added: 0.1.0
description:
  - Generates every file of the GitOps tree (C(base/), C(apps/<name>/), C(overlays/<env>/),
    C(platform/kyverno/), C(platform/monitoring/), C(argocd/)) from the apps model (O(apps), the inventory's
    C(infra_apps)) and one environment table per overlay (O(environments), each inventory's C(infra_env)).
  - Writes only files whose content changes and reports C(changed) only then; output is deterministic
    (sorted keys, stable order), so a second run with the same input changes nothing.
  - Every generated file starts with a header line; stale files are removed only when they carry that header.
  - C(overlays/<env>/secrets/) belongs to the sealing workflow. The module creates its
    C(kustomization.yaml) (with an empty resource list) once when absent and never changes or deletes anything inside it.
  - Bad input (duplicate app names, bad domain, port out of range, min > max replicas, bad image tag for the
    environment's tag policy) fails before anything is written, with a message naming the field.
author:
  - parametric_portal maintainers (@parametric-portal)
options:
  apps:
    description:
      - The apps model, a list of apps (keys C(name), C(kind) (C(node-api) or C(spa)), C(domain), C(port), C(image),
        optional C(rate_limit), C(connect_src), C(www_redirect), C(health_path), C(run_as_user), C(requests), C(env)).
    type: list
    elements: dict
    required: true
  environments:
    description:
      - Environment name (overlay folder) to environment table (one column of the spec's environment table), that is
        the inventory's C(infra_environments).
    type: dict
    required: true
  platform:
    description:
      - What the roles that own part of the tree publish through their C(gitops) entry points; every key is required
        (the module has no defaults of its own) and checked, errors name the key (C(platform.kyverno.chart_version)).
      - C(domain) (the platform's domain), C(namespace) (of base/ and apps/), C(traefik) (C(cert_resolver)),
        C(argocd) (C(namespace), C(project), C(repo_url), C(revision)), C(cnpg) (C(cluster_name),
        C(operator_namespace)), C(kyverno) (C(namespace), C(chart_repo_url), C(chart), C(chart_version), C(release),
        C(chart_values), C(policies), C(exceptions)) and C(monitoring) (the same chart keys plus C(grafana_domain),
        C(grafana_service), C(grafana_port), C(grafana_allowed_cidrs), C(dashboards)).
      - The role P(parametric_portal.infra.gitops#role) assembles it; see its C(main) entry point.
    type: dict
    required: true
  dest:
    description: Root of the tree (the repository's C(infrastructure) folder). Created when missing.
    type: path
    required: true
  remove_stale:
    description: Remove generated files (with the header) that the current input no longer produces.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Computes and reports what would change, writes nothing.
  diff_mode:
    support: full
    description: One diff entry per created, updated or removed file.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
notes:
  - Runs on the controller (use it in a play on localhost).
seealso:
  - module: parametric_portal.infra.k8s_validate
"""

EXAMPLES = r"""
- name: Render the GitOps tree (what the gitops role does after collecting the owning roles' facts)
  parametric_portal.infra.gitops_render:
    apps: "{{ infra_apps }}"
    environments: "{{ infra_environments }}"
    platform:
      domain: "{{ infra_domain }}"
      namespace: parametric-portal
      traefik: "{{ traefik_gitops }}"
      argocd: "{{ argocd_gitops }}"
      cnpg: "{{ cnpg_gitops }}"
      kyverno: "{{ kyverno_gitops }}"
      monitoring: "{{ monitoring_gitops }}"
    dest: "{{ infra_repo_dir }}/infrastructure"
"""

RETURN = r"""
created:
  description: Files created (relative to O(dest)).
  type: list
  elements: str
  returned: always
  sample: [overlays/prod/hpa-api.yaml]
updated:
  description: Files whose content changed.
  type: list
  elements: str
  returned: always
removed:
  description: Stale generated files removed.
  type: list
  elements: str
  returned: always
unchanged:
  description: Number of generated files already up to date.
  type: int
  returned: always
files:
  description: Every file the input generates (relative to O(dest)), sorted.
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import dump
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.checks import ManifestError
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.plan import apply_plan, plan_tree
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.tree import render_tree


def main():
    module = AnsibleModule(
        argument_spec=dict(
            apps=dict(type="list", elements="dict", required=True),
            environments=dict(type="dict", required=True),
            platform=dict(type="dict", required=True),
            dest=dict(type="path", required=True),
            remove_stale=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    if not dump.HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=dump.YAML_IMPORT_ERROR)
    dest = module.params["dest"]
    try:
        rendered = render_tree(module.params["apps"], module.params["environments"], module.params["platform"])
        plan = plan_tree(dest, rendered, module.params["environments"], module.params["remove_stale"])
    except ManifestError as exc:
        module.fail_json(msg="gitops_render: bad input: %s" % exc)
    changed = bool(plan["create"] or plan["update"] or plan["remove"])
    result = dict(
        changed=changed,
        created=sorted(plan["create"]),
        updated=sorted(plan["update"]),
        removed=sorted(plan["remove"]),
        unchanged=len(plan["unchanged"]),
        files=sorted(rendered),
    )
    if module._diff:
        diff = []
        for rel, text in sorted(plan["create"].items()):
            diff.append(dict(before="", after=text, before_header="%s (absent)" % rel, after_header=rel))
        for rel, (old, new) in sorted(plan["update"].items()):
            diff.append(dict(before=old, after=new, before_header=rel, after_header=rel))
        for rel, old in sorted(plan["remove"].items()):
            diff.append(dict(before=old, after="", before_header=rel, after_header="%s (removed)" % rel))
        result["diff"] = diff
    if changed and not module.check_mode:
        try:
            apply_plan(dest, plan, module.atomic_move)
        except OSError as exc:
            module.fail_json(msg="gitops_render: cannot write %s: %s" % (dest, exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
