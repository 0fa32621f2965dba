# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: stale_paths
short_description: Paths whose state on the host differs from the wanted one
version_added: 0.1.0
description:
  - Compares wanted files and directories with the C(paths) that M(parametric_portal.infra.host_state)
    read, and returns the paths that are missing or differ in type, content (SHA-1), mode, owner or group.
  - Lets a role run a template or file task only for paths that need it, instead of one remote
    check per path on every run.
author:
  - parametric_portal maintainers (@parametric-portal)
options:
  _input:
    description:
      - Wanted paths. Each entry has C(path) and optionally C(type) (V(file) or V(directory), default
        V(file)), C(checksum) (SHA-1 of the wanted content), C(mode) (octal string), C(owner) and C(group).
        What is not given is not compared.
    type: list
    elements: dict
    required: true
  observed:
    description: The C(paths) result of M(parametric_portal.infra.host_state). A path not in it counts as stale.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write login.defs only when it differs
  ansible.builtin.template:
    src: etc/login.defs.j2
    dest: /etc/login.defs
    mode: "0644"
  when: >-
    '/etc/login.defs' in [{'path': '/etc/login.defs', 'mode': '0644',
                           'checksum': lookup('ansible.builtin.template', 'etc/login.defs.j2') | hash('sha1')}]
                         | parametric_portal.infra.stale_paths(state.paths)
"""

RETURN = r"""
_value:
  description: The stale paths, in input order.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.parametric_portal.infra.plugins.module_utils._host_state import stale_paths as _stale_paths


def stale_paths(expected, observed):
    """Paths of ``expected`` whose state in ``observed`` (host_state ``paths``) differs."""
    if not isinstance(expected, list):
        raise AnsibleFilterError("stale_paths: input must be a list of wanted paths, got %s" % type(expected).__name__)
    if not isinstance(observed, dict):
        raise AnsibleFilterError("stale_paths: observed must be the 'paths' dict of host_state, got %s" % type(observed).__name__)
    try:
        return _stale_paths(expected, observed)
    except ValueError as exc:
        raise AnsibleFilterError("stale_paths: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"stale_paths": stale_paths}
