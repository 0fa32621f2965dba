# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: apt_simulation
short_description: Packages that an apt-get simulation would install or upgrade
version_added: 0.1.0
description:
  - Parses the C(Inst) lines of C(apt-get -s install ...) or C(apt-get -s upgrade) output.
  - Same parser as the C(apt_upgrades) result of M(parametric_portal.infra.host_state).
author:
  - parametric_portal maintainers (@parametric-portal)
options:
  _input:
    description: Output of C(apt-get -s ...).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Names of the packages a simulated install would bring in
  ansible.builtin.debug:
    msg: "{{ plan.stdout | parametric_portal.infra.apt_simulation | map(attribute='name') | list }}"
"""

RETURN = r"""
_value:
  description:
    - One entry per C(Inst) line - C(name), C(current) (installed version or null), C(candidate),
      C(origins) (list of archive/suite strings) and C(security) (an origin is a C(*-security) pocket).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.parametric_portal.infra.plugins.module_utils._host_state import parse_apt_simulation


def apt_simulation(text):
    """Packages of the Inst lines of an apt-get simulation."""
    if text is None:
        return []
    if not isinstance(text, str):
        raise AnsibleFilterError("apt_simulation: input must be the text output of apt-get -s, got %s" % type(text).__name__)
    return parse_apt_simulation(text)


class FilterModule(object):
    def filters(self):
        return {"apt_simulation": apt_simulation}
