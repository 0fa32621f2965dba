# -*- coding: utf-8 -*-
# Copyright: parametric_portal.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that let preflight and the host roles validate inputs and read host state in Python, not Jinja.

The parsers live in the private module_utils _host_inputs (networks with ipaddress, OpenSSH public keys,
sysctl output) and _gitops (apps model, environment tables); these filters are thin wrappers.
"""

from __future__ import annotations

import copy

from ansible.errors import AnsibleFilterError
from ansible_collections.parametric_portal.infra.plugins.module_utils import _host_inputs
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.checks import ManifestError
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.model import validate_apps, validate_environment

# Documentation: the sidecar files <filter name>.yml.


def _relax(options):
    out = {}
    for name, spec in (options or {}).items():
        spec = dict(spec or {})
        # Only the values the inventory sets are checked: a missing option is not an error here,
        # and a spec default (often an unrendered template) must not be validated in its place.
        spec.pop("required", None)
        spec.pop("default", None)
        if isinstance(spec.get("options"), dict):
            spec["options"] = _relax(spec["options"])
        out[name] = spec
    return out


def inventory_argument_spec(data, entry_point="main"):
    """Options of ``entry_point`` with ``required`` removed (see DOCUMENTATION)."""
    if not isinstance(data, dict) or "argument_specs" not in data:
        raise AnsibleFilterError("inventory_argument_spec expects the parsed content of a meta/argument_specs.yml")
    specs = data["argument_specs"]
    if entry_point not in specs:
        raise AnsibleFilterError("argument spec has no entry point %r (has: %s)" % (entry_point, ", ".join(sorted(specs))))
    return _relax(copy.deepcopy(specs[entry_point].get("options") or {}))


def site_input_errors(apps, environment, env):
    """Errors in the apps model and the environment table, each naming the field; [] when valid."""
    try:
        checked = validate_apps(apps, "infra_apps")
        validate_environment(environment, env, checked, "infra_env")
    except ManifestError as exc:
        return [str(exc)]
    return []


def network_errors(named, allow_any=True):
    """``name: reason`` for every entry of the named lists that is not an address or network (see DOCUMENTATION)."""
    if not isinstance(named, dict):
        raise AnsibleFilterError("network_errors expects a mapping variable name -> list of addresses or networks")
    return _host_inputs.network_errors(named, bool(allow_any))


def ssh_public_key_errors(keys):
    """``key: reason`` for every entry that is not an OpenSSH public key line (see DOCUMENTATION)."""
    return _host_inputs.ssh_public_key_errors(keys)


def sysctl_drift(lines, wanted):
    """Keys of ``wanted`` whose live value in the ``sysctl`` output lines differs (see DOCUMENTATION)."""
    if not isinstance(wanted, dict):
        raise AnsibleFilterError("sysctl_drift expects a mapping key -> wanted value")
    if isinstance(lines, str):
        lines = lines.splitlines()
    return _host_inputs.sysctl_drift(wanted, lines or [])


class FilterModule(object):
    """Site input validation filters."""

    def filters(self):
        return {
            "inventory_argument_spec": inventory_argument_spec,
            "site_input_errors": site_input_errors,
            "network_errors": network_errors,
            "ssh_public_key_errors": ssh_public_key_errors,
            "sysctl_drift": sysctl_drift,
        }
