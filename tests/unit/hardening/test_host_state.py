"""host_state core: parsers on captured command output, readers on real files, stale_paths."""
from __future__ import annotations

import base64
import os
import struct
import subprocess

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.parametric_portal.infra.plugins.filter.stale_paths import stale_paths as stale_paths_filter
from ansible_collections.parametric_portal.infra.plugins.module_utils import _host_state as hs

# dpkg-query -W -f '${Package}\t${db:Status-Status}\t${Version}\n' on an Ubuntu 24.04 container
DPKG_OUT = (
    "nftables\tinstalled\t1.0.9-1build1\n"
    "fail2ban\tconfig-files\t1.0.2-3ubuntu0.1\n"
    "libc6\tinstalled\t2.39-0ubuntu8.6\n"
    "libc6\tnot-installed\t\n"
)


def test_parse_dpkg_query_only_installed_counts():
    found = hs.parse_dpkg_query(DPKG_OUT)
    assert found == {"nftables": "1.0.9-1build1", "fail2ban": None, "libc6": "2.39-0ubuntu8.6"}


def test_read_packages_unknown_names_are_not_installed():
    calls = []

    def run(argv):
        calls.append(argv)
        return 1, DPKG_OUT, "dpkg-query: no packages found matching telnetd\n"

    got = hs.read_packages(["telnetd", "nftables", "fail2ban", "nftables"], run)
    assert got == {"fail2ban": None, "nftables": "1.0.9-1build1", "telnetd": None}
    assert len(calls) == 1 and calls[0][:2] == ["dpkg-query", "-W"] and calls[0][-3:] == ["fail2ban", "nftables", "telnetd"]


def test_read_packages_real_errors_raise():
    with pytest.raises(RuntimeError, match="rc 2"):
        hs.read_packages(["x"], lambda argv: (2, "", "boom"))
    assert hs.read_packages([], lambda argv: pytest.fail("no call for no names")) == {}


SYSTEMCTL_OUT = """Id=fail2ban.service
LoadState=loaded
UnitFileState=enabled
ActiveState=active

Id=auditd.service
LoadState=not-found
UnitFileState=
ActiveState=inactive

Id=ssh.socket
LoadState=masked
UnitFileState=masked
ActiveState=inactive
"""


def test_read_units_maps_blocks_to_names_in_order():
    got = hs.read_units(["fail2ban.service", "auditd", "ssh.socket"], lambda argv: (0, SYSTEMCTL_OUT, ""))
    assert got["auditd"] == {"load": "not-found", "enabled": "", "active": "inactive"}
    assert got["ssh.socket"]["load"] == "masked"
    assert got["fail2ban.service"] == {"load": "loaded", "enabled": "enabled", "active": "active"}


def test_read_units_count_mismatch_raises():
    with pytest.raises(RuntimeError, match="2 units for 1 names"):
        hs.read_units(["a"], lambda argv: (0, "Id=a\n\nId=b\n", ""))


def test_read_sysctl_normalises_whitespace_and_absent_keys(tmp_path):
    (tmp_path / "net" / "ipv4").mkdir(parents=True)
    (tmp_path / "net" / "ipv4" / "ip_forward").write_text("1\n")
    (tmp_path / "net" / "ipv4" / "tcp_rmem").write_text("4096\t131072\t6291456\n")
    got = hs.read_sysctl(["net.ipv4.ip_forward", "net.ipv4.tcp_rmem", "kernel.nope"], proc_root=str(tmp_path))
    assert got == {"net.ipv4.ip_forward": "1", "net.ipv4.tcp_rmem": "4096 131072 6291456", "kernel.nope": None}


def test_path_state_file_dir_link_and_missing(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"hello\n")
    f.chmod(0o640)
    (tmp_path / "l").symlink_to(f)
    st = hs.path_state(str(f))
    assert st["type"] == "file" and st["mode"] == "0640" and st["exists"]
    assert st["checksum"] == "f572d396fae9206628714fb2ce00f72e94f2258f"  # sha1("hello\n")
    assert hs.path_state(str(tmp_path))["type"] == "directory"
    assert hs.path_state(str(tmp_path / "l"))["type"] == "link"
    assert hs.path_state(str(tmp_path / "missing")) == {"exists": False}
    assert hs.path_state(str(f / "below-a-file")) == {"exists": False}
    assert "checksum" not in hs.path_state(str(f), checksum=False)


def test_parse_shadow_line_never_returns_the_hash():
    got = hs.parse_shadow_line("deploy:$y$j9T$abc$def:20000:7:60:7:::\n")
    assert got == {"password_locked": False, "password_set": True, "last_change_days": 20000, "password_max_days": 60}
    assert "$y$" not in repr(got)
    locked = hs.parse_shadow_line("ppadmin:!:20000:0:::::")
    assert locked["password_locked"] and not locked["password_set"] and locked["password_max_days"] is None


def _rsa_line(bits):
    n = (1 << (bits - 1)) | 1

    def s(b):
        return struct.pack(">I", len(b)) + b
    nbytes = n.to_bytes((n.bit_length() + 8) // 8, "big")  # mpint: leading zero byte
    blob = s(b"ssh-rsa") + s(b"\x01\x00\x01") + s(nbytes)
    return "ssh-rsa " + base64.b64encode(blob).decode() + " root@host\n"


@pytest.mark.parametrize("bits", [2048, 3072, 4096])
def test_public_key_info_rsa_bits(bits):
    assert hs.public_key_info(_rsa_line(bits)) == {"type": "ssh-rsa", "bits": bits}


def test_public_key_info_real_keys(tmp_path):
    """Keys made by the real ssh-keygen, as on a host."""
    for kind, size, expect in (("rsa", "3072", 3072), ("rsa", "4096", 4096), ("ed25519", None, 256)):
        key = tmp_path / f"k_{kind}_{size}"
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(key)] + (["-b", size] if size else []), check=True)
        st = hs.ssh_public_key_state(str(key) + ".pub")
        assert st["exists"] and st["bits"] == expect, st
    assert hs.ssh_public_key_state(str(tmp_path / "none.pub")) == {"exists": False}


def test_public_key_info_rejects_mismatched_type():
    line = _rsa_line(2048).replace("ssh-rsa ", "ssh-ed25519 ", 1)
    with pytest.raises(ValueError, match="does not match"):
        hs.public_key_info(line)


def test_user_state_of_the_current_user():
    import pwd
    me = pwd.getpwuid(os.getuid()).pw_name
    st = hs.user_state(me)
    assert st["exists"] and st["uid"] == os.getuid() and isinstance(st["groups"], list)
    assert hs.user_state("no-such-user-pp") == {"exists": False}


OBSERVED = {
    "/etc/a": {"exists": True, "type": "file", "mode": "0644", "owner": "root", "group": "root", "checksum": "aa"},
    "/etc/d": {"exists": True, "type": "directory", "mode": "0755", "owner": "root", "group": "root"},
    "/etc/gone": {"exists": False},
}


@pytest.mark.parametrize("want,stale", [
    ({"path": "/etc/a", "checksum": "aa", "mode": "0644", "owner": "root", "group": "root"}, False),
    ({"path": "/etc/a", "checksum": "bb"}, True),
    ({"path": "/etc/a", "mode": "0600"}, True),
    ({"path": "/etc/a", "mode": "644"}, False),
    ({"path": "/etc/a", "mode": 0o644}, False),
    ({"path": "/etc/a", "owner": "deploy"}, True),
    ({"path": "/etc/a", "group": "shadow"}, True),
    ({"path": "/etc/a", "type": "directory"}, True),
    ({"path": "/etc/d", "type": "directory", "mode": "0755"}, False),
    ({"path": "/etc/d"}, True),                       # wanted a file, found a directory
    ({"path": "/etc/gone"}, True),
    ({"path": "/etc/never-read"}, True),
])
def test_stale_paths(want, stale):
    assert hs.stale_paths([want], OBSERVED) == ([want["path"]] if stale else [])


def test_stale_paths_filter_errors_are_clear():
    with pytest.raises(AnsibleFilterError, match="list of wanted paths"):
        stale_paths_filter({"path": "/x"}, {})
    with pytest.raises(AnsibleFilterError, match="needs a 'path'"):
        stale_paths_filter([{"mode": "0644"}], {})
    with pytest.raises(AnsibleFilterError, match="octal"):
        stale_paths_filter([{"path": "/etc/a", "mode": "rw-"}], OBSERVED)


# apt-get -s upgrade on an Ubuntu 24.04 and a Debian 12 container (trimmed)
APT_SIM = """NOTE: This is only a simulation!
Reading package lists...
The following packages will be upgraded:
  libc6 tzdata
Inst libc6 [2.39-0ubuntu8] (2.39-0ubuntu8.6 Ubuntu:24.04/noble-updates, Ubuntu:24.04/noble-security [amd64])
Inst tzdata [2024a-2ubuntu1] (2025b-0ubuntu0.24.04.1 Ubuntu:24.04/noble-updates [all])
Inst libssl3 [3.0.15-1~deb12u1] (3.0.17-1~deb12u2 Debian-Security:12/stable-security [amd64])
Inst nftables (1.0.9-1build1 Ubuntu:24.04/noble [amd64])
Conf libc6 (2.39-0ubuntu8.6 Ubuntu:24.04/noble-updates, Ubuntu:24.04/noble-security [amd64])
"""


def test_parse_apt_simulation():
    got = {p["name"]: p for p in hs.parse_apt_simulation(APT_SIM)}
    assert set(got) == {"libc6", "tzdata", "libssl3", "nftables"}
    assert got["libc6"]["security"] and got["libc6"]["current"] == "2.39-0ubuntu8"
    assert got["libc6"]["origins"] == ["Ubuntu:24.04/noble-updates", "Ubuntu:24.04/noble-security"]
    assert not got["tzdata"]["security"]
    assert got["libssl3"]["security"] and got["libssl3"]["candidate"] == "3.0.17-1~deb12u2"
    assert got["nftables"]["current"] is None and not got["nftables"]["security"]


def test_read_apt_upgrades_takes_no_lock():
    seen = []

    def run(argv):
        seen.append(argv)
        return 0, APT_SIM, ""

    assert len(hs.read_apt_upgrades(run)) == 4
    assert seen == [["apt-get", "-s", "-o", "Debug::NoLocking=true", "-o", "Dir::Cache::pkgcache=",
                     "-o", "Dir::Cache::srcpkgcache=", "upgrade"]]
    with pytest.raises(RuntimeError, match="apt-get -s upgrade failed"):
        hs.read_apt_upgrades(lambda argv: (100, "", "E: lock"))
