# -*- coding: utf-8 -*-
# Copyright: parametric_portal.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that lets preflight refuse example and weak secrets before anything changes."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.parametric_portal.infra.plugins.module_utils import _secret_checks

# Documentation: the sidecar file secret_input_errors.yml.


def secret_input_errors(values):
    """Errors for the given {variable: value} secrets, each naming the variable, never the value."""
    if not isinstance(values, dict):
        raise AnsibleFilterError("secret_input_errors expects a mapping of variable names to values")
    return _secret_checks.secret_errors(values)


class FilterModule(object):
    """Secret input validation filter."""

    def filters(self):
        return {"secret_input_errors": secret_input_errors}
