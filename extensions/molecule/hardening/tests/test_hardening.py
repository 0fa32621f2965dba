"""Live-system checks of parametric_portal.infra.hardening on each converged container.

Every test reads the real system (sshd -T, nft, sysctl, systemctl, files). Items that cannot
exist in a container (auditd running, AppArmor loaded, the clock daemon running, kernel modules
loaded) are checked as far as a container allows and say so in their names.
"""
from __future__ import annotations

import re

import pytest

ADMIN = "ppadmin"
SSH_PORT = 2222
TABLE = "parametric_portal_filter"


def active_lines(text: str) -> str:
    """The lines of a config file that are not comments."""
    return "\n".join(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", "//")))


def sshd_t(host, user=ADMIN):
    out = host.check_output(f"sshd -T -C user={user},host=verify,addr=127.0.0.1")
    conf = {}
    for line in out.splitlines():
        key, unused, value = line.partition(" ")
        conf.setdefault(key, []).append(value)
    return conf


def one(conf, key):
    return conf[key][0]


# --- SSH -------------------------------------------------------------------------------------


def test_sshd_effective_settings(host):
    c = sshd_t(host)
    assert one(c, "port") == str(SSH_PORT)
    assert one(c, "permitrootlogin") == "no"
    assert one(c, "passwordauthentication") == "no"
    assert one(c, "kbdinteractiveauthentication") == "no"
    assert one(c, "permitemptypasswords") == "no"
    assert one(c, "pubkeyauthentication") == "yes"
    assert one(c, "authenticationmethods") == "publickey"
    assert int(one(c, "maxauthtries")) <= 4
    assert int(one(c, "logingracetime")) <= 60
    assert one(c, "clientaliveinterval") == "300"
    assert one(c, "clientalivecountmax") == "3"
    assert int(one(c, "maxsessions")) <= 10
    assert one(c, "maxstartups") == "10:30:60"
    for key in ("x11forwarding", "allowagentforwarding", "permittunnel", "allowtcpforwarding",
                "gatewayports", "permituserenvironment", "hostbasedauthentication"):
        assert one(c, key) == "no", key
    assert one(c, "ignorerhosts") == "yes"
    assert one(c, "loglevel") == "VERBOSE"
    assert one(c, "usepam") == "yes"
    assert ADMIN in c["allowusers"]


def test_sshd_crypto(host):
    c = sshd_t(host)
    kex = one(c, "kexalgorithms").split(",")
    ciphers = one(c, "ciphers").split(",")
    macs = one(c, "macs").split(",")
    assert not [k for k in kex if "sha1" in k]
    assert not [x for x in ciphers if "cbc" in x or "3des" in x or "arcfour" in x]
    assert all(m.endswith("-etm@openssh.com") or m.startswith("hmac-sha2-") for m in macs)


def test_sshd_config_file(host):
    f = host.file("/etc/ssh/sshd_config")
    assert (f.user, f.group, f.mode) == ("root", "root", 0o600)
    assert not re.search(r"(?mi)^\s*Include\b", f.content_string)


def test_weakening_dropin_neutralised_operator_dropin_kept(host):
    d = "/etc/ssh/sshd_config.d"
    assert not host.file(f"{d}/50-cloud-init.conf").exists
    assert host.file(f"{d}/50-cloud-init.conf.disabled-by-hardening").contains("PasswordAuthentication yes")
    assert host.file(f"{d}/10-operator.conf").content_string == "# operator note\n"


def test_ssh_socket_masked_service_listening(host):
    assert host.run("systemctl is-enabled ssh.socket").stdout.strip() == "masked"
    svc = host.service("ssh")
    assert svc.is_enabled and svc.is_running
    assert host.socket(f"tcp://0.0.0.0:{SSH_PORT}").is_listening
    assert not host.socket("tcp://0.0.0.0:22").is_listening


def test_admin_user(host):
    u = host.user(ADMIN)
    assert "sudo" in u.groups
    assert host.run(f"passwd -S {ADMIN}").stdout.split()[1] == "L"
    keys = host.file(f"/home/{ADMIN}/.ssh/authorized_keys")
    assert (keys.user, keys.mode) == (ADMIN, 0o600)
    assert keys.content_string.count("ssh-ed25519 ") == 1
    sudoers = host.file("/etc/sudoers.d/parametric-portal-admin")
    assert sudoers.mode == 0o440
    assert host.run(f"visudo -cf {sudoers.path}").rc == 0
    # The role's rule, exactly once (the initial user's cloud-init rule is "(ALL) NOPASSWD: ALL").
    assert host.run(f"sudo -l -U {ADMIN}").stdout.count("(ALL : ALL) NOPASSWD: ALL") == 1


# --- Firewall ---------------------------------------------------------------------------------


def test_nftables_ruleset(host):
    rs = host.check_output("nft list table inet %s", TABLE)
    assert re.search(r"chain input \{\s*type filter hook input priority filter; policy drop;", rs)
    assert re.search(r"chain forward \{\s*type filter hook forward priority filter; policy drop;", rs)
    assert "ct state established,related accept" in rs
    assert f"tcp dport {SSH_PORT} ip saddr @ssh_v4 accept" in rs
    assert re.search(r"tcp dport \{ 80, 443 \} accept", rs)
    assert "tcp dport 6443 ip saddr @k3s_api_v4 accept" in rs
    assert "udp dport 8472 ip saddr @cluster_nodes_v4 accept" in rs
    api = host.check_output("nft list set inet %s k3s_api_v4", TABLE)
    assert "203.0.113.0/24" in api
    assert "2001:db8::/32" in host.check_output("nft list set inet %s k3s_api_v6", TABLE)
    pods = host.check_output("nft list set inet %s k3s_cidrs_v4", TABLE)
    assert "10.42.0.0/16" in pods and "10.43.0.0/16" in pods
    nodes = host.check_output("nft list set inet %s cluster_nodes_v4", TABLE)
    assert re.search(r"10\.88\.\d+\.\d+", nodes)
    # 6443 / 10250 are not open to everyone
    assert not re.search(r"tcp dport \{[^}]*\b(6443|10250)\b[^}]*\} accept\n", rs.replace("ip saddr", "X"))


def test_nftables_never_flushes_foreign_tables(host):
    conf = host.file("/etc/nftables.conf")
    assert conf.mode == 0o600
    assert "flush ruleset" not in active_lines(conf.content_string)
    assert 'include "/etc/nftables.d/*.nft"' in conf.content_string
    # operator rules kept and loaded
    assert host.file("/etc/nftables.d/operator.nft").contains("operator_rules")
    assert "table inet operator_rules" in host.check_output("nft list tables")
    unit = host.check_output("systemctl cat nftables")
    assert f"ExecStop=-/usr/sbin/nft delete table inet {TABLE}" in unit
    assert host.service("nftables").is_enabled


# --- Kernel -------------------------------------------------------------------------------------


def test_sysctl_files(host):
    checklist = host.file("/etc/sysctl.d/60-parametric-portal-hardening.conf").content_string
    for line in ("net.ipv4.conf.all.rp_filter = 1", "net.ipv4.tcp_syncookies = 1", "kernel.kptr_restrict = 2",
                 "kernel.yama.ptrace_scope = 2", "fs.suid_dumpable = 0", "kernel.randomize_va_space = 2",
                 "net.ipv4.conf.all.accept_source_route = 0", "net.ipv4.conf.all.log_martians = 1"):
        assert line in checklist
    assert "ip_forward" not in active_lines(checklist)
    kubelet = host.file("/etc/sysctl.d/90-kubelet.conf").content_string
    for line in ("vm.panic_on_oom = 0", "vm.overcommit_memory = 1", "kernel.panic = 10", "kernel.panic_on_oops = 1"):
        assert line in kubelet
    fwd = host.file("/etc/sysctl.d/99-zz-k3s-forwarding.conf").content_string
    assert "net.ipv4.ip_forward = 1" in fwd and "net.ipv6.conf.all.forwarding = 1" in fwd


@pytest.mark.parametrize("key", ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"])
def test_forwarding_wins_at_boot_over_a_file_that_turns_it_off(host, key):
    """What happens at boot, for the forwarding keys only: systemd-sysctl applies every sysctl.d file in
    its own order and the last value wins. prepare.yml wrote 99-cis-router.conf (forwarding = 0, as a CIS
    tool would); the role's file must sort after it. --prefix limits systemd-sysctl to this one
    namespaced key, so nothing else of the test machine's kernel settings is touched."""
    assert host.file("/etc/sysctl.d/99-cis-router.conf").contains(f"^{key} = 0")
    host.run_test("sysctl -q -w %s=0", key)
    assert host.sysctl(key) == 0
    prefix = "/" + key.replace(".", "/")
    sysctl_bin = host.run("command -v systemd-sysctl || echo /usr/lib/systemd/systemd-sysctl").stdout.strip()
    host.run_test("%s --prefix=%s", sysctl_bin, prefix)
    assert host.sysctl(key) == 1, host.check_output("%s --cat-config | grep -E '^(#|%s)'", sysctl_bin, key)


@pytest.mark.parametrize("key,value", [
    ("net.ipv4.ip_forward", 1),
    ("net.ipv6.conf.all.forwarding", 1),
    ("net.ipv4.conf.all.rp_filter", 1),
    ("net.ipv4.conf.default.rp_filter", 1),
    ("net.ipv4.conf.all.accept_redirects", 0),
    ("net.ipv6.conf.all.accept_redirects", 0),
    ("net.ipv4.conf.all.send_redirects", 0),
    ("net.ipv4.conf.all.accept_source_route", 0),
    ("net.ipv4.tcp_syncookies", 1),
    ("net.ipv4.icmp_echo_ignore_broadcasts", 1),
    ("net.ipv4.conf.all.log_martians", 1),
])
def test_live_namespaced_sysctls(host, key, value):
    assert host.sysctl(key) == value


def test_modules_and_modprobe(host):
    load = host.file("/etc/modules-load.d/k3s.conf").content_string.split()
    assert "br_netfilter" in load and "overlay" in load
    conf = host.file("/etc/modprobe.d/parametric-portal-hardening.conf").content_string
    for mod in ("cramfs", "freevxfs", "jffs2", "hfs", "hfsplus", "udf", "usb-storage", "dccp", "rds", "tipc",
                "firewire-core", "firewire-ohci", "firewire-sbp2"):
        assert f"install {mod} /bin/false" in conf and f"blacklist {mod}" in conf
    assert "overlay" not in active_lines(conf) and "squashfs" not in active_lines(conf)
    # modprobe resolves the install rule (the module itself need not exist in a container)
    assert "install /bin/false" in host.run("modprobe -n -v cramfs").stdout


def test_no_core_dumps_from_login_shells(host):
    # limits.d covers PAM sessions; the profile.d ulimit covers login shells outside them too.
    assert host.file("/etc/profile.d/parametric-portal-coredumps.sh").contains("^ulimit -c 0$")
    out = host.run("env -i PATH=/usr/bin:/bin bash -lc 'ulimit -Hc; ulimit -Sc'")
    assert out.rc == 0 and out.stdout.split() == ["0", "0"], out.stdout + out.stderr


def test_dev_shm(host):
    assert re.search(r"(?m)^tmpfs\s+/dev/shm\s+tmpfs\s+defaults,nodev,nosuid,noexec\s", host.file("/etc/fstab").content_string)
    opts = host.check_output("findmnt -no OPTIONS /dev/shm").split(",")
    assert {"nodev", "nosuid", "noexec"} <= set(opts)


# --- Services and logging -------------------------------------------------------------------------


def test_fail2ban_sshd_jail(host):
    assert host.service("fail2ban").is_running
    jail = host.file("/etc/fail2ban/jail.local").content_string
    assert "backend = systemd" in jail and f"port = {SSH_PORT}" in jail
    assert "Currently banned" in host.check_output("fail2ban-client status sshd")


def test_unattended_upgrades(host):
    dump = host.check_output("apt-config dump")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    assert 'APT::Periodic::Update-Package-Lists "1";' in dump
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in dump
    assert host.package("unattended-upgrades").is_installed
    assert host.service("apt-daily-upgrade.timer").is_enabled


def test_auditd_config_container_not_running(host):
    conf = host.file("/etc/audit/auditd.conf").content_string
    for line in ("max_log_file_action = keep_logs", "space_left_action = SYSLOG", "admin_space_left_action = SUSPEND",
                 "disk_full_action = SUSPEND", "disk_error_action = SUSPEND", "log_file = /var/log/audit/audit.log"):
        assert line in conf
    rules = host.file("/etc/audit/rules.d/50-parametric-portal.rules").content_string
    assert "-w /etc/sudoers -p wa -k scope" in rules and "-k identity" in rules
    assert "-e 2" not in rules  # immutable is opt-in
    assert host.service("auditd").is_enabled
    # In a container the audit subsystem is the host's: the unit is skipped, not failed.
    assert "ConditionVirtualization=!container" in host.check_output("systemctl cat auditd")
    assert host.run("systemctl is-failed auditd").stdout.strip() != "failed"


def test_journald_persistent_capped(host):
    conf = host.file("/etc/systemd/journald.conf.d/50-parametric-portal.conf").content_string
    assert "Storage=persistent" in conf and "SystemMaxUse=1G" in conf
    assert host.file("/var/log/journal").is_directory


def test_exactly_one_time_daemon(host):
    assert host.package("systemd-timesyncd").is_installed
    for other in ("chrony", "ntp", "ntpsec", "openntpd"):
        assert not host.package(other).is_installed
    assert host.service("systemd-timesyncd").is_enabled


def test_apparmor_enabled(host):
    assert host.package("apparmor").is_installed
    assert host.service("apparmor").is_enabled


def test_login_defs_and_faillock(host):
    defs = host.file("/etc/login.defs").content_string
    for key, value in (("UMASK", "027"), ("PASS_MAX_DAYS", "60"), ("PASS_MIN_DAYS", "7"), ("PASS_WARN_AGE", "7"),
                       ("LOGIN_RETRIES", "5"), ("ENCRYPT_METHOD", "YESCRYPT")):
        assert re.search(rf"(?m)^{key}\s+{value}$", defs), key
    fl = host.file("/etc/security/faillock.conf").content_string
    deny = int(re.search(r"(?m)^deny = (\d+)$", fl).group(1))
    unlock = int(re.search(r"(?m)^unlock_time = (\d+)$", fl).group(1))
    assert deny <= 5 and unlock >= 900
    auth = host.file("/etc/pam.d/common-auth").content_string
    assert re.search(r"(?m)^auth\s+requisite\s+pam_faillock\.so preauth", auth)
    assert re.search(r"(?m)^auth\s+\[default=die\]\s+pam_faillock\.so authfail", auth)
    assert "pam_faillock.so" in host.file("/etc/pam.d/common-account").content_string


def test_file_permissions(host):
    shadow = host.file("/etc/shadow")
    assert (shadow.user, shadow.group, shadow.mode) == ("root", "shadow", 0o640)
    assert host.file("/etc/gshadow").mode == 0o640
    assert host.file("/etc/passwd").mode == 0o644
    if host.file("/etc/crontab").exists:
        assert host.file("/etc/crontab").mode == 0o600
    for d in ("hourly", "daily", "weekly", "monthly", "d"):
        f = host.file(f"/etc/cron.{d}")
        if f.exists:
            assert (f.user, f.mode) == ("root", 0o700), d


def test_debsums_weekly_check_runs_and_names_a_changed_package_file(host):
    timer = host.service("parametric-portal-debsums.timer")
    assert timer.is_enabled and timer.is_running
    unit = "parametric-portal-debsums.service"
    clean = host.run(f"systemctl start {unit}")
    assert clean.rc == 0, host.run(f"journalctl -u {unit} -n 30 --no-pager").stdout
    # A file of the debsums package itself (not a configuration file), changed behind dpkg's back:
    # the unit must fail and its log must name the file. The file is put back afterwards.
    md5sums = host.file("/var/lib/dpkg/info/debsums.md5sums").content_string.split("\n")
    path = next("/" + line.split(None, 1)[1] for line in md5sums
                if line.strip() and "/bin/" not in line and host.file("/" + line.split(None, 1)[1]).is_file)
    assert host.run(f"cp -p {path} /run/pp-test-debsums-orig && echo changed >> {path}").rc == 0
    try:
        changed = host.run(f"systemctl start {unit}")
        log = host.run(f"journalctl -u {unit} -n 30 --no-pager").stdout
    finally:
        host.run(f"cp -p /run/pp-test-debsums-orig {path} && rm -f /run/pp-test-debsums-orig")
        restored = host.run(f"systemctl start {unit}")  # leaves no failed unit behind for later tests
    assert changed.rc != 0 and path in log, log
    assert restored.rc == 0


def _installed_before_converge(host):
    return host.file("/var/lib/pp-test/installed-before-converge").content_string.split()


def test_legacy_packages_that_were_installed_are_removed(host):
    """prepare.yml installed telnet and an rsh client (and recorded it); the converge removed them."""
    before = _installed_before_converge(host)
    expected = {"telnet"} if host.backend.get_hostname() == "pp-hardening-debian13" else {"telnet", "rsh-redone-client"}
    assert expected <= set(before), f"prepare did not install the legacy packages: {before}"
    for pkg in ("telnet", "inetutils-telnet", "rsh-redone-client", "telnetd", "rsh-server", "ypserv", "tftpd-hpa",
                "xinetd", "openbsd-inetd", "inetutils-inetd", "prelink", "apport", "nis", "rsh-client"):
        assert not host.package(pkg).is_installed, pkg
    assert "remove telnet:" in host.file("/var/log/dpkg.log").content_string


def test_competing_time_daemon_that_was_installed_is_removed(host):
    before = _installed_before_converge(host)
    if host.backend.get_hostname() == "pp-hardening-debian13":
        pytest.skip("prepare installs chrony on the Ubuntu and Debian 12 hosts only")
    assert "chrony" in before, f"prepare did not install chrony: {before}"
    assert not host.package("chrony").is_installed
    assert host.package("systemd-timesyncd").is_installed
    assert "remove chrony:" in host.file("/var/log/dpkg.log").content_string


def test_host_without_cron_converged_without_cron_paths(host):
    """prepare.yml removed cron from the Debian 13 host: the role converged there and created no cron paths."""
    if host.backend.get_hostname() != "pp-hardening-debian13":
        assert host.package("cron").is_installed
        return
    assert not host.package("cron").is_installed
    assert not host.file("/etc/crontab").exists
    assert not host.file("/etc/cron.d").exists or host.file("/etc/cron.d").mode == 0o700
