#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: host_state
short_description: Read, in one round trip, the host state a role decides on
version_added: 0.1.0
description:
  - Reads, without changing anything, the installed version of packages (C(dpkg-query)), the type,
    mode, owner, group and SHA-1 of paths, the load/enablement/activity of systemd units
    (C(systemctl show)), live sysctl values (C(/proc/sys)), user accounts (passwd, group and the
    lock state and password ageing from shadow, never a hash) and the type and size of OpenSSH
    public keys.
  - One module run replaces one task per question. Roles compare the result with what they want
    (for files, the P(parametric_portal.infra.stale_paths#filter) filter) and run only the tasks
    whose target state is not there yet; in check mode the result tells which packages, files and
    units a run would install, write or start.
author:
  - parametric_portal maintainers (@parametric-portal)
options:
  packages:
    description: Debian package names. Each is reported with its installed version, or null.
    type: list
    elements: str
    default: []
  paths:
    description: Paths to describe. Symbolic links are reported as links, not followed.
    type: list
    elements: str
    default: []
  checksum:
    description: Also compute the SHA-1 of every regular file in O(paths).
    type: bool
    default: true
  units:
    description: systemd unit names (C(ssh.service), C(apt-daily.timer), ...).
    type: list
    elements: str
    default: []
  sysctl:
    description: sysctl keys in dotted form (C(net.ipv4.ip_forward)).
    type: list
    elements: str
    default: []
  users:
    description: User names.
    type: list
    elements: str
    default: []
  ssh_public_keys:
    description: Paths of OpenSSH public key files (for example C(/etc/ssh/ssh_host_rsa_key.pub)).
    type: list
    elements: str
    default: []
  apt_upgrades:
    description:
      - Also list the pending upgrades as C(apt-get -s upgrade) computes them from the current package
        lists (a simulation; no lock is taken and nothing is downloaded).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads the same way in check mode; it never changes anything.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  platform:
    support: full
    platforms: [debian]
    description: Packages are read with C(dpkg-query); units with C(systemctl).
notes:
  - Always returns C(changed=false).
  - Reading C(/etc/shadow) needs root (C(become)); without it the lock and ageing keys are absent.
"""

EXAMPLES = r"""
- name: Read everything the role decides on
  parametric_portal.infra.host_state:
    packages: [nftables, fail2ban]
    paths: [/etc/login.defs, /etc/crontab]
    units: [fail2ban.service]
    sysctl: [net.ipv4.ip_forward]
    users: [deploy]
    ssh_public_keys: [/etc/ssh/ssh_host_rsa_key.pub]
  register: state

- name: Install what is missing (nothing to do, no apt run, when all are there)
  ansible.builtin.apt:
    name: "{{ state.packages | dict2items | selectattr('value', 'none') | map(attribute='key') | list }}"
  when: state.packages.values() | select('none') | list | length > 0
"""

RETURN = r"""
time:
  description: The host's clock when it was read (seconds since the epoch), to compare with C(mtime).
  returned: always
  type: int
  sample: 1796606741
packages:
  description: Installed version per package name; null when not installed or unknown to dpkg.
  returned: always
  type: dict
  sample: {"nftables": "1.0.9-1build1", "fail2ban": null}
paths:
  description:
    - Per path, C(exists); when it exists also C(type) (file, directory, link, other), C(mode)
      (four octal digits), C(owner), C(group), C(mtime) (seconds since the epoch) and, for regular files with O(checksum), C(checksum) (SHA-1).
  returned: always
  type: dict
  sample: {"/etc/login.defs": {"exists": true, "type": "file", "mode": "0644", "owner": "root",
           "group": "root", "checksum": "5b1c...e0"}, "/etc/crontab": {"exists": false}}
units:
  description: Per unit, C(load) (loaded, not-found, masked), C(enabled) (UnitFileState) and C(active) (ActiveState).
  returned: always
  type: dict
  sample: {"fail2ban.service": {"load": "loaded", "enabled": "enabled", "active": "active"}}
sysctl:
  description: Live value per key as C(sysctl -n) prints it (fields joined by one space); null when the key does not exist.
  returned: always
  type: dict
  sample: {"net.ipv4.ip_forward": "1"}
users:
  description:
    - Per user, C(exists); when it exists also C(uid), C(gid), C(home), C(home_exists), C(shell), C(groups)
      (supplementary group names), C(ssh_dir) and C(authorized_keys) (as in RV(paths), for
      C(~/.ssh) and C(~/.ssh/authorized_keys)), and from shadow C(password_locked), C(password_set),
      C(last_change_days) and C(password_max_days) (null when the field is empty).
  returned: always
  type: dict
  sample: {"deploy": {"exists": true, "uid": 1000, "home": "/home/deploy", "groups": ["sudo"],
           "password_locked": true, "password_max_days": null}}
ssh_public_keys:
  description: Per path, C(exists); when it exists also C(type) (as in the key line) and C(bits).
  returned: always
  type: dict
  sample: {"/etc/ssh/ssh_host_rsa_key.pub": {"exists": true, "type": "ssh-rsa", "bits": 3072}}
apt_upgrades:
  description:
    - With O(apt_upgrades), one entry per package C(apt-get -s upgrade) would upgrade - C(name), C(current) and
      C(candidate) version, C(origins) (archive/suite strings) and C(security) (an origin is a C(*-security) pocket).
    - Empty without O(apt_upgrades).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "libc6", "current": "2.39-0ubuntu8", "candidate": "2.39-0ubuntu8.6",
            "origins": ["Ubuntu:24.04/noble-updates", "Ubuntu:24.04/noble-security"], "security": true}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.parametric_portal.infra.plugins.module_utils._host_state import read_state


def main():
    module = AnsibleModule(
        argument_spec=dict(
            packages=dict(type="list", elements="str", default=[]),
            paths=dict(type="list", elements="str", default=[]),
            checksum=dict(type="bool", default=True),
            units=dict(type="list", elements="str", default=[]),
            sysctl=dict(type="list", elements="str", default=[]),
            users=dict(type="list", elements="str", default=[]),
            ssh_public_keys=dict(type="list", elements="str", default=[]),
            apt_upgrades=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params

    def run(argv):
        return module.run_command(argv, environ_update={"LC_ALL": "C", "SYSTEMD_PAGER": ""})

    try:
        state = read_state(
            run,
            packages=params["packages"],
            paths=params["paths"],
            checksum=params["checksum"],
            units=params["units"],
            sysctl=params["sysctl"],
            users=params["users"],
            ssh_public_keys=params["ssh_public_keys"],
            apt_upgrades=params["apt_upgrades"],
        )
    except (RuntimeError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **state)


if __name__ == "__main__":
    main()
