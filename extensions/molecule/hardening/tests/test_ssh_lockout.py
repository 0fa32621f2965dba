"""The failure side of the lock-out protection (issue 14 items 2 and 7, issue 17 item 1).

Each test runs the real playbook (parametric_portal.infra.hardening) against the converged Ubuntu
container, provokes one kind of lock-out, and checks what an operator would need afterwards: the
play stopped, the previous sshd_config / keys / ruleset are in force, and the admin still logs in
over real SSH from this machine. Every test leaves the container as the converge left it (the
scenario's later tests and the idempotence of the scenario depend on that).

Some runs connect to the container over SSH (as an operator's play does), with the scenario's
group vars: a second inventory source redefines the host with an SSH connection.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT, container_ip

TARGET = "pp-hardening-ubuntu2404"
ADMIN = "ppadmin"
PORT = 2222
TABLE = "parametric_portal_filter"
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", "ControlMaster=no", "-o", "ControlPath=none"]
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def sh(script: str, check: bool = True) -> str:
    proc = subprocess.run(["podman", "exec", TARGET, "bash", "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script!r} failed: {proc.stdout}{proc.stderr}")
    return proc.stdout


def state() -> dict:
    """What decides who can log in, and whether sshd was restarted."""
    out = sh("sha256sum /etc/ssh/sshd_config /home/ppadmin/.ssh/authorized_keys /etc/nftables.conf | cut -d' ' -f1; "
             "systemctl show -P MainPID ssh; nft list table inet %s | sha256sum | cut -d' ' -f1" % TABLE).split()
    return {"sshd_config": out[0], "authorized_keys": out[1], "nftables.conf": out[2], "sshd_pid": out[3],
            "live_table": out[4]}


def admin_login(key: Path, port: int = PORT, timeout: int = 30) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", *SSH_OPTS, "-i", str(key), "-p", str(port), f"{ADMIN}@{container_ip(TARGET)}",
                           "sudo", "-n", "true"], capture_output=True, text=True, timeout=timeout, check=False)


def ssh_inventory(tmp_path: Path, key: Path, port: int) -> Path:
    """The scenario's host, reached over SSH as the admin.

    The connection variables go into a host_vars/ directory next to this second inventory source:
    Molecule's inventory keeps `ansible_port: 2222` in its own host_vars/ directory, which outranks
    host variables written inline in an inventory file, so an inline port was silently ignored
    (the play then reused a persisted connection on the old port). Between two host_vars/
    directories the later inventory source wins.
    """
    inv = tmp_path / f"ssh-{port}"
    (inv / "host_vars").mkdir(parents=True, exist_ok=True)
    (inv / "hosts.yml").write_text(json.dumps({"k3s_cluster": {"hosts": {TARGET: {}}}}))
    (inv / "host_vars" / f"{TARGET}.yml").write_text(json.dumps({
        "ansible_connection": "ssh", "ansible_host": container_ip(TARGET), "ansible_port": port,
        "ansible_user": ADMIN, "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"}))
    return inv / "hosts.yml"


def run_playbook(extra: dict, *args: str, inventory: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"]]
    if inventory is not None:
        cmd += ["-i", str(inventory)]
    # Only the concerns at stake (a whole run costs minutes on a loaded machine).
    tags = [] if "--tags" in args else ["--tags", "ssh,firewall"]
    cmd += ["-l", TARGET, "-e", json.dumps(extra), *tags, *args, str(REPO_ROOT / "playbooks" / "hardening.yml")]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_PIPELINING="true",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_HOST_KEY_CHECKING="false")
    # Output to files, not pipes, and its own session: an ssh ControlPersist master left by the play
    # (it detaches into a session of its own) would hold pipes open, and subprocess.run's timeout
    # then waits on them for ever. On a timeout the play's whole process group is killed.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        with subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env, cwd=REPO_ROOT,
                              start_new_session=True) as proc:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())
    if proc.returncode == -signal.SIGKILL:
        raise AssertionError(f"ansible-playbook ran over {timeout} s and was killed:\n{(result.stdout + result.stderr)[-4000:]}")
    return result


def task_changed(out: str, name: str) -> bool:
    """Did the task whose banner ends in `name` report `changed` for the target?"""
    for section in out.split("\nTASK [")[1:]:
        header, unused, body = section.partition("\n")
        if header.split("]")[0].endswith(name):
            return f"changed: [{TARGET}]" in body
    raise AssertionError(f"task {name!r} not in the output:\n{out[-3000:]}")


def changed(out: str) -> int:
    found = {m[0]: int(m[2]) for m in RECAP.findall(out)}
    assert TARGET in found, out[-3000:]
    return found[TARGET]


@pytest.fixture()
def other_key(tmp_path) -> str:
    """A valid ed25519 public key whose private half the controller does not use for the probe."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "not-the-admin", "-f", str(tmp_path / "other")],
                   check=True)
    return (tmp_path / "other.pub").read_text().strip()


def test_wrong_admin_key_stops_before_any_change(admin_key, other_key, tmp_path):
    """Issue 17 item 1: the keys do not match the key the controller logs in with."""
    before = state()
    # Over SSH, like an operator; the config would change too (MaxAuthTries), so both are at stake.
    r = run_playbook({"hardening_admin_authorized_keys": [other_key], "hardening_ssh_max_auth_tries": 2},
                     inventory=ssh_inventory(tmp_path, admin_key, PORT))
    out = r.stdout + r.stderr
    assert r.returncode != 0, out[-3000:]
    assert "Lock-out protection" in out and "Nothing was installed and sshd was NOT restarted" in out, out[-3000:]
    after = state()
    assert after["sshd_config"] == before["sshd_config"], "sshd_config was replaced"
    assert after["authorized_keys"] == before["authorized_keys"], "the admin's authorized_keys were replaced"
    assert after["sshd_pid"] == before["sshd_pid"], "sshd was restarted"
    login = admin_login(admin_key)
    assert login.returncode == 0, login.stderr


def test_listen_address_lockout_restores_the_previous_config(admin_key):
    """Issue 14 item 2: a config the staged sshd accepts but the network cannot reach (loopback only)."""
    before = state()
    r = run_playbook({"hardening_ssh_listen_addresses": ["127.0.0.1"]})
    out = r.stdout + r.stderr
    try:
        assert r.returncode != 0, out[-3000:]
        assert "previous sshd_config and authorized_keys were restored and sshd restarted" in out, out[-3000:]
        after = state()
        assert after["sshd_config"] == before["sshd_config"], "the previous sshd_config is not in force"
        assert after["sshd_pid"] != before["sshd_pid"], "sshd was not restarted with the restored config"
        assert re.search(rf"0\.0\.0\.0:{PORT}\s", sh("ss -Hltn")), "sshd does not listen on all addresses again"
        login = admin_login(admin_key)
        assert login.returncode == 0, login.stderr
    finally:
        if admin_login(admin_key).returncode != 0:  # leave the container usable for the other tests
            run_playbook({})


def test_restart_when_the_running_sshd_did_not_load_the_file(admin_key):
    """Issue 14 item 2 / 17 item 1: a run stopped between installing sshd_config and the restart.

    Simulated exactly: sshd runs a permissive config (passwords on) while the hardened file is on
    disk. A re-run must restart sshd (and say so); the next run must report no change.
    """
    sh("cp -p /etc/ssh/sshd_config /root/sshd_config.hardened && "
       "sed -i -e 's/^PasswordAuthentication no/PasswordAuthentication yes/' "
       "-e 's/^AuthenticationMethods publickey/AuthenticationMethods any/' /etc/ssh/sshd_config && "
       "systemctl restart ssh && cp -p /root/sshd_config.hardened /etc/ssh/sshd_config")
    ip = container_ip(TARGET)
    password_login = ["sshpass", "-p", "pptest-Passw0rd!", "ssh", "-o", "StrictHostKeyChecking=no", "-o",
                      "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "PubkeyAuthentication=no",
                      "-o", "PreferredAuthentications=password", "-p", str(PORT), f"pptest@{ip}", "true"]
    try:
        permissive = subprocess.run(password_login, capture_output=True, text=True, timeout=60, check=False)
        assert permissive.returncode == 0, "setup: the permissive daemon should accept the password: " + permissive.stderr
        r = run_playbook({})
        out = r.stdout + r.stderr
        assert r.returncode == 0, out[-3000:]
        assert task_changed(out, "SSH | Restart sshd"), out[-4000:]
        after = subprocess.run(password_login, capture_output=True, text=True, timeout=60, check=False)
        assert after.returncode != 0, "the permissive daemon is still running"
        again = run_playbook({})
        assert again.returncode == 0 and changed(again.stdout) == 0, again.stdout[-3000:]
    finally:
        sh("cp -p /root/sshd_config.hardened /etc/ssh/sshd_config && rm -f /root/sshd_config.hardened", check=False)
        if "LOADED" not in sh("cmp -s <(cut -d' ' -f1 /run/parametric-portal-sshd-loaded.sha256) "
                              "<(sha256sum /etc/ssh/sshd_config | cut -d' ' -f1) && echo LOADED", check=False):
            sh("systemctl restart ssh")


def test_ssh_port_change_over_ssh(admin_key, tmp_path):
    """Issue 17 item 1: hardening_ssh_port changed by a play that itself connects over SSH, and back."""
    new = 2022
    try:
        r = run_playbook({"hardening_ssh_port": new}, "--tags", "ssh,firewall",
                         inventory=ssh_inventory(tmp_path, admin_key, PORT))
        out = r.stdout + r.stderr
        assert r.returncode == 0, out[-4000:]
        assert admin_login(admin_key, new).returncode == 0, "no admin login on the new port"
        assert admin_login(admin_key, PORT, timeout=20).returncode != 0, "the old port still answers"
        rules = sh(f"nft list chain inet {TABLE} input")
        assert f"tcp dport {new} ip saddr @ssh_v4 accept" in rules and f"tcp dport {PORT} " not in rules, rules
        assert re.search(rf":{new}\s", sh("ss -Hltn")) and not re.search(rf":{PORT}\s", sh("ss -Hltn"))
        back = run_playbook({"hardening_ssh_port": PORT}, "--tags", "ssh,firewall",
                            inventory=ssh_inventory(tmp_path, admin_key, new))
        assert back.returncode == 0, (back.stdout + back.stderr)[-4000:]
        assert admin_login(admin_key, PORT).returncode == 0, "no admin login after changing the port back"
    finally:
        if admin_login(admin_key, PORT).returncode != 0:  # still on the new port: move it back from there
            run_playbook({"hardening_ssh_port": PORT}, "--tags", "ssh,firewall",
                         inventory=ssh_inventory(tmp_path, admin_key, new))


def test_firewall_that_locks_ssh_out_is_rolled_back(admin_key):
    """Issue 14 item 7: the new ruleset drops SSH from this controller; the open connection hides it."""
    before = state()
    r = run_playbook({"hardening_firewall_ssh_allowed_cidrs": ["192.0.2.0/24"]})
    out = r.stdout + r.stderr
    try:
        assert r.returncode != 0, out[-3000:]
        assert "The new nftables ruleset was rolled back" in out, out[-3000:]
        after = state()
        assert after["live_table"] == before["live_table"], "the previous ruleset is not in force"
        assert after["nftables.conf"] == before["nftables.conf"], "/etc/nftables.conf was replaced"
        assert sh("systemctl is-active parametric-portal-nft-rollback.timer", check=False).strip() != "active"
        assert admin_login(admin_key).returncode == 0
    finally:
        if admin_login(admin_key).returncode != 0:
            run_playbook({})


def test_rollback_timer_fires_when_the_confirmation_does_not_come(admin_key):
    """Issue 14 item 7: the timer armed before the apply restores the table by itself.

    The fresh-login probe is made to hang (a ProxyCommand that sleeps) past a 5 s rollback timer;
    the journal of the timer's own unit must show that it restored the table before the play did.
    """
    before = state()
    since = sh("date +%s").strip()
    r = run_playbook({"hardening_firewall_allowed_tcp": [80, 443, 8443], "hardening_firewall_rollback_seconds": 5,
                      "hardening_ssh_probe_options": ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                                                      "-o", "ProxyCommand=sleep 12"]},
                     "--tags", "firewall")
    out = r.stdout + r.stderr
    try:
        assert r.returncode != 0, out[-3000:]
        sh("journalctl --sync", check=False)
        journal = sh(f"journalctl -u parametric-portal-nft-rollback.service --since @{since} -o cat", check=False)
        assert "previous table restored" in journal, journal
        after = state()
        assert after["live_table"] == before["live_table"]
        assert after["nftables.conf"] == before["nftables.conf"]
        assert admin_login(admin_key).returncode == 0
    finally:
        if state()["live_table"] != before["live_table"]:
            run_playbook({})


def test_prod_world_api_with_the_explicit_override_is_accepted():
    """Issue 14 item 7: refused without hardening_k3s_api_world_allowed (test_bad_inputs.py), accepted with it."""
    before = state()
    ok = run_playbook({"infra_environment": "prod", "hardening_k3s_api_allowed_cidrs": ["0.0.0.0/0"],
                       "hardening_k3s_api_world_allowed": True}, "--check", "--tags", "firewall")
    assert ok.returncode == 0, (ok.stdout + ok.stderr)[-3000:]
    assert state() == before
