"""End-to-end checks of playbooks/site.yml on the converged Ubuntu 24.04 container.

Runs after Molecule's converge, idempotence and check steps. Besides the live state, it proves
the failure cases of the issue: a run killed in the middle recovers, a container restart keeps
everything in force, and a table of bad inventory inputs is rejected before anything on a fresh
host changes. The K3s binary in the container is the TEST DOUBLE from tests/doubles/k3s: these
tests look at files, units and processes, never at a cluster.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import testinfra

HERE = Path(__file__).resolve().parent
SCENARIO = HERE.parent
REPO = SCENARIO.parents[2]
SCENARIO_INVENTORY = SCENARIO / "inventory"
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
# Molecule's inventory: the scenario's hosts and group_vars plus each container's SSH connection
# (address, the initial admin user's key, the scenario's control-master directory).
INVENTORY = EPHEMERAL / "inventory"
ADMIN_KEY = EPHEMERAL / "admin_ed25519"
CONTAINER = "pp-site-ubuntu2404"
FRESH = "pp-site-fresh"
WORKDIR = Path(os.environ.get("PP_SITE_WORKDIR", REPO / "build" / "molecule-site"))
_RUNS: dict[str, str] = {}  # output of runs one test makes and a later one reads
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PP_SITE_WORKDIR=str(WORKDIR),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_PIPELINING="true",
        ANSIBLE_HOST_KEY_CHECKING="false",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
    )
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / "build" / "collections"))
    return env


def _playbook(inventory: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = ["ansible-playbook", "-i", str(inventory), str(REPO / "playbooks" / "site.yml"), *args]
    return subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout, check=False)


def _recap(output: str) -> dict[str, tuple[int, int, int, int]]:
    return {m[0]: tuple(int(x) for x in m[1:]) for m in RECAP.findall(output)}


def _changed_tasks(output: str) -> list[str]:
    """Names of the tasks that reported a change, for failure messages."""
    names, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line[6:line.rfind("]")]
        elif line.startswith("changed:"):
            names.append(task)
    return names


def _podman(*args: str, check: bool = True, timeout: int = 120) -> str:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def _wait_running(name: str) -> str:
    state = ""
    for unused in range(90):
        state = subprocess.run(["podman", "exec", name, "systemctl", "is-system-running"],
                               capture_output=True, text=True, check=False).stdout.strip()
        if state in ("running", "degraded"):
            return state
        time.sleep(1)
    return state


# --- live state -------------------------------------------------------------------------------

def _assert_site_in_force(host) -> None:
    sshd = host.check_output("sshd -T -C user=deploy,host=localhost,addr=127.0.0.1 2>/dev/null").lower()
    for line in ("permitrootlogin no", "passwordauthentication no", "kbdinteractiveauthentication no",
                 "pubkeyauthentication yes", "x11forwarding no", "allowagentforwarding no", "permittunnel no"):
        assert line in sshd.splitlines(), f"sshd -T lacks {line!r}"
    assert host.service("ssh").is_running

    # The hardening table itself (not "some chain somewhere") drops by default, on input and forward.
    table = host.check_output("nft list table inet parametric_portal_filter")
    assert re.search(r"chain input \{\s*type filter hook input priority filter; policy drop;", table), table
    assert re.search(r"chain forward \{\s*type filter hook forward priority filter; policy drop;", table), table
    # 6443 only from named address sets, and those sets hold the inventory's admin CIDR (and the node),
    # never every address.
    api_rules = [line.strip() for line in table.splitlines() if re.search(r"\bdport\b.*\b6443\b", line)]
    assert api_rules and all(re.search(r"\bip6? saddr @\w+ accept\b", r) for r in api_rules), api_rules
    sets = set(re.findall(r"saddr @(\w+)", "\n".join(api_rules)))
    assert sets == {"k3s_api_v4", "k3s_api_v6", "cluster_nodes_v4", "cluster_nodes_v6"}, sets
    for name in sets:
        elements = host.check_output(f"nft list set inet parametric_portal_filter {name}")
        assert "0.0.0.0/0" not in elements and "::/0" not in elements, elements
    assert "10.88.0.0/16" in host.check_output("nft list set inet parametric_portal_filter k3s_api_v4")
    # One server: no etcd port; kubelet and VXLAN only from the cluster nodes.
    assert not re.search(r"\b2379\b", table), table
    for port in ("10250", "8472"):
        rules = [line.strip() for line in table.splitlines() if re.search(rf"\bdport {port}\b", line)]
        assert rules and all("saddr @cluster_nodes_v" in r for r in rules), rules
    # Forwarded traffic to pods from outside only through a DNAT from the public ports.
    assert re.search(r"ct status dnat .*ct original proto-dst \{[^}]+\} accept", table), table
    lines = [line.strip() for line in table.splitlines()]
    assert "ip daddr @k3s_cidrs_v4 accept" not in lines and "ip6 daddr @k3s_cidrs_v6 accept" not in lines, (
        "anything to the pod CIDR is accepted")

    sysctl_files = host.check_output("cat /etc/sysctl.d/*.conf")
    for key in ("net.ipv4.conf.all.rp_filter", "net.ipv4.tcp_syncookies", "net.ipv4.ip_forward",
                "vm.overcommit_memory", "kernel.panic_on_oops"):
        assert key in sysctl_files, f"{key} not written to /etc/sysctl.d"
    assert host.sysctl("net.ipv4.conf.all.accept_redirects") == 0
    assert host.sysctl("net.ipv4.ip_forward") == 1, "K3s needs forwarding (documented deviation)"

    # auditd cannot run in a container (no kernel audit); the hardening role enables it with
    # ConditionVirtualization=!container, so here it must be enabled, configured and not failed.
    assert host.service("auditd").is_enabled
    assert "max_log_file_action = keep_logs" in host.file("/etc/audit/auditd.conf").content_string.lower()
    assert host.run("systemctl is-failed auditd").stdout.strip() != "failed"
    k3s = host.service("k3s")
    assert k3s.is_enabled and k3s.is_running, "k3s unit (test double) not running"
    config = host.file("/etc/rancher/k3s/config.yaml")
    assert config.exists and config.mode == 0o600 and config.user == "root"
    assert "secrets-encryption: true" in config.content_string
    manifests = host.file("/var/lib/rancher/k3s/server/manifests")
    assert manifests.is_directory
    listing = host.check_output("ls /var/lib/rancher/k3s/server/manifests")
    assert "traefik-config.yaml" in listing


def test_site_converged_state(host):
    _assert_site_in_force(host)


def test_admin_key_login_over_ssh():
    """The operator can still log in: key login as the admin user over the real sshd."""
    ip = _podman("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", CONTAINER).strip()
    proc = subprocess.run(
        ["ssh", "-i", str(ADMIN_KEY), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", f"deploy@{ip}", "sudo -n true && echo ok"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr


# --- failure cases -----------------------------------------------------------------------------

KILL_AFTER = "parametric_portal.infra.k3s : Move the verified binary into place"


def _k3s_main_pid(host) -> str:
    return host.check_output("systemctl show -p MainPID --value k3s")


def test_killed_run_recovers_and_is_idempotent(host):
    """A run killed right after the new K3s binary was moved in place (its restart handler never
    ran) is completed by the next run: K3s is restarted onto the new binary, then nothing changes.

    The kill point is exact, not timed: the kill_after_task callback (../../shared/callback_plugins)
    SIGKILLs ansible-playbook's process group when that task has finished.
    """
    host.run("rm -f /usr/local/bin/k3s")
    pid_before = _k3s_main_pid(host)
    assert pid_before != "0", "k3s (test double) is not running before the killed run"
    log = WORKDIR / "killed-run.log"
    env = _env()
    env.update(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks,kill_after_task", PP_KILL_AFTER_TASK=KILL_AFTER,
               ANSIBLE_CALLBACK_PLUGINS=str(REPO / "extensions" / "molecule" / "shared" / "callback_plugins"))
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["ansible-playbook", "-i", str(INVENTORY), str(REPO / "playbooks" / "site.yml")],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        rc = proc.wait(timeout=900)
    text = log.read_text()
    assert rc == -signal.SIGKILL and f"KILLED by kill_after_task after {KILL_AFTER!r}" in text, (
        f"the run was not killed after {KILL_AFTER!r} (rc {rc}):\n{text[-3000:]}")
    assert "RUNNING HANDLER [parametric_portal.infra.k3s : Restart k3s]" not in text
    assert host.file("/usr/local/bin/k3s").exists, "the kill came before the binary was in place"
    assert _k3s_main_pid(host) == pid_before, "K3s restarted before the kill"

    again = _playbook(INVENTORY)
    assert again.returncode == 0, f"re-run after the kill failed:\n{again.stdout[-4000:]}"
    pid_after = _k3s_main_pid(host)
    assert pid_after not in ("0", pid_before), (
        "the re-run left K3s running the process started before its binary was replaced "
        f"(MainPID {pid_before}): the restart the killed run owed was lost")

    third = _playbook(INVENTORY)
    _RUNS["idempotent"] = third.stdout
    assert third.returncode == 0, third.stdout[-4000:]
    changed = {h: r[1] for h, r in _recap(third.stdout).items()}
    assert changed and all(c == 0 for c in changed.values()), (
        f"not idempotent after recovery: {changed}; changed tasks: {_changed_tasks(third.stdout)}")
    assert _k3s_main_pid(host) == pid_after, "an idempotent run restarted K3s"


SUMMARY_TASK = "TASK [Summary | What you have now]"


def _summary_lines(output: str) -> list[str]:
    """The lines the summary printed (the debug task's msg list, JSON in the default callback)."""
    assert output.count(SUMMARY_TASK) == 1, f"the summary is not shown exactly once:\n{output[-3000:]}"
    after = output[output.index(SUMMARY_TASK):]
    assert "\nTASK [" not in after and "\nPLAY [" not in after, "the summary is not the end of the run"
    body = after[after.index("ok: [localhost] => ") + len("ok: [localhost] => "):after.index("\nPLAY RECAP")]
    return json.loads(body)["msg"]


def test_site_run_ends_with_the_summary(host):
    """The end of site.yml tells the operator what they now have, once, in the fixed format, with
    no secret. Uses the idempotent run of the killed-run test when it ran, else runs site.yml."""
    output = _RUNS.get("idempotent") or _playbook(INVENTORY).stdout
    lines = _summary_lines(output)
    ip = _podman("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", CONTAINER).strip()
    kubeconfig = WORKDIR / "kubeconfig-dev.yaml"
    kubectl = f"kubectl --kubeconfig {kubeconfig} --context dev"
    assert lines[0] == "SITE SUMMARY: parametric_portal.infra, environment dev"
    assert lines[1:3] == ["Nodes:", f"  {CONTAINER}: server, {ip}, Ubuntu 24.04, k3s version v1.32.11+k3s1 (test-double)"]
    assert lines[3] == f"Kubeconfig: {kubeconfig} (context dev)", "the fetched kubeconfig is not reported as present"
    assert f"Argo CD: {kubectl} -n argocd port-forward svc/argocd-server 8080:443, then https://localhost:8080 (user admin)" in lines
    assert any(line.startswith("  initial admin password: Secret argocd-initial-admin-secret") for line in lines)
    assert any(line.startswith("Grafana: https://grafana.parametric-portal.com/ (user admin;") for line in lines)
    domains = lines[lines.index("Domains (certificate served by the first server for each name):") + 1:lines.index("Next:")]
    # Nothing listens on 443 in the container (no K3s, no Traefik): each name is reported as not served.
    assert [d.split(":")[0].strip() for d in domains] == [
        "api.parametric-portal.com", "parametric-portal.com", "www.parametric-portal.com", "grafana.parametric-portal.com"]
    assert all(d.split(": ", 1)[1].startswith(f"not served yet (Failed to get cert from {ip}:443") for d in domains), domains
    nxt = lines[lines.index("Next:") + 1:]
    assert [n.split(":")[0].strip() for n in nxt] == ["verify", "seal a secret", "back up the database"]
    vault = (SCENARIO_INVENTORY / "group_vars" / "all" / "vault.yml").read_text()
    secrets = [line.split(":", 1)[1].strip() for line in vault.splitlines() if line.startswith("vault_")]
    assert secrets and not [v for v in secrets if v in "\n".join(lines)], "a secret is in the summary"


def _address(name: str) -> str:
    return _podman("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name).strip()


def _host_at(address: str, inventory_vars: dict):
    """The same admin login and key as Molecule's inventory, at the address the container has now.

    A restarted container gets a new address on podman's network (a VPS keeps its address; the
    inventory Molecule wrote keeps the old one), so the host is reached again where it is, over SSH
    as the operator would, through the hardened firewall.
    """
    user = inventory_vars.get("ansible_user", "deploy")
    port = inventory_vars.get("ansible_port", 22)
    key = inventory_vars.get("ansible_ssh_private_key_file") or inventory_vars.get("ansible_private_key_file")
    return testinfra.get_host(
        f"ssh://{user}@{address}:{port}", ssh_identity_file=str(key or ADMIN_KEY), sudo=True,
        ssh_extra_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20")


def test_restart_keeps_everything_in_force(host):
    inventory_vars = host.backend.get_variables()
    _podman("restart", "-t", "20", CONTAINER, timeout=180)
    state = _wait_running(CONTAINER)
    assert state in ("running", "degraded"), f"systemd did not come back: {state}"
    failed = subprocess.run(["podman", "exec", CONTAINER, "systemctl", "--failed", "--no-legend"],
                            capture_output=True, text=True, check=False).stdout
    _assert_site_in_force(_host_at(_address(CONTAINER), inventory_vars))
    assert not failed.strip(), f"units failed after restart:\n{failed}"


# --- bad inputs: rejected before anything on a fresh host changes -----------------------------

BAD_INPUTS = [
    # (case id, extra vars, the variable the message must name)
    ("unknown-environment", {"infra_environment": "staging"}, "infra_environment"),
    ("environment-wrong-type", {"infra_environment": ["dev"]}, "infra_environment"),
    ("k3s-version-malformed", {"k3s_version": "1.32.11"}, "k3s_version"),
    ("k3s-version-wrong-type", {"k3s_version": ["v1.32.11+k3s1"]}, "k3s_version"),
    ("ssh-port-out-of-range", {"hardening_ssh_port": 70000}, "hardening_ssh_port"),
    ("ssh-port-wrong-type", {"hardening_ssh_port": "twenty-two"}, "hardening_ssh_port"),
    ("no-admin-keys", {"hardening_admin_authorized_keys": []}, "hardening_admin_authorized_keys"),
    ("malformed-admin-key", {"hardening_admin_authorized_keys": ["ssh-rsa not-base64!!"]}, "hardening_admin_authorized_keys"),
    ("keys-not-a-list", {"hardening_admin_authorized_keys": {"a": 1}}, "hardening_admin_authorized_keys"),
    ("admin-user-invalid", {"hardening_admin_user": "Bad User"}, "hardening_admin_user"),
    ("api-cidr-invalid", {"hardening_k3s_api_allowed_cidrs": ["10.0.0.0/33"]}, "hardening_k3s_api_allowed_cidrs"),
    ("api-cidr-garbage", {"hardening_k3s_api_allowed_cidrs": ["not-a-cidr"]}, "hardening_k3s_api_allowed_cidrs"),
    ("domain-malformed", {"infra_domain": "bad_domain!"}, "infra_domain"),
    ("acme-email-malformed", {"infra_acme_email": "not-an-email"}, "infra_acme_email"),
    ("acme-staging-wrong-type", {"traefik_acme_staging": "maybe"}, "traefik_acme_staging"),
    ("image-tag-latest", {"infra_env": {"namespace": "parametric-portal-dev", "image_tag": "latest",
                                        "log_level": "DEBUG", "apps": {}}}, "infra_env.image_tag"),
    ("replicas-zero", {"infra_env": {"namespace": "parametric-portal-dev", "image_tag": "dev", "log_level": "DEBUG",
                                     "app_defaults": {"limits": {"memory": "256Mi", "cpu": "250m"}},
                                     "apps": {"api": {"replicas": 0}}}}, "infra_env.apps.api.replicas"),
    ("hpa-min-above-max", {"infra_env": {"namespace": "parametric-portal-dev", "image_tag": "dev", "log_level": "DEBUG",
                                         "app_defaults": {"limits": {"memory": "256Mi", "cpu": "250m"}},
                                         "apps": {"api": {"hpa": {"min": 5, "max": 2}}}}}, "infra_env.apps.api.hpa.min"),
    ("app-port-out-of-range", {"infra_apps": [{"name": "api", "kind": "node-api", "domain": "api.example.com",
                                               "port": 70000, "image": "ghcr.io/x/api"}]}, "infra_apps[0] (api).port"),
    ("app-duplicate-names", {"infra_apps": [
        {"name": "api", "kind": "node-api", "domain": "a.example.com", "port": 4000, "image": "ghcr.io/x/api"},
        {"name": "api", "kind": "spa", "domain": "b.example.com", "port": 8080, "image": "ghcr.io/x/web"}]},
     "infra_apps[1] (api).name"),
    ("app-domain-malformed", {"infra_apps": [{"name": "api", "kind": "node-api", "domain": "-bad-",
                                              "port": 4000, "image": "ghcr.io/x/api"}]}, "infra_apps[0] (api).domain"),
    ("missing-vault-values", {"__site_drop_vault": True}, "vault_cnpg_app_password"),
    # Issue 14 item 3: a copied vault.yml.example, and weak values, are refused naming the variable.
    ("example-vault-copied", {"__site_example_vault": True}, "cnpg_app_password is an example or placeholder value"),
    ("fingerprint-key-passphrase", {"vault_sealing_fingerprint_key": "a-long-but-not-random-passphrase-for-hmac"},
     "sealing_fingerprint_key must be at least 32 random bytes"),
    ("grafana-password-short", {"vault_monitoring_grafana_admin_password": "grafana123"},
     "monitoring_grafana_admin_password is too short"),
    ("min-vcpus-wrong-type", {"preflight_min_vcpus": "lots"}, "preflight_min_vcpus"),
]


def _fingerprint(name: str) -> str:
    """What a run could change on the host: config, units, binaries, packages, users, K3s state."""
    script = (
        "set -o pipefail; "
        "find /etc /usr/local/bin /var/lib/rancher /var/lib/dpkg/status /root/.ssh /home "
        "-xdev \\( -type f -o -type l \\) -not -path '/etc/machine-id' -print0 2>/dev/null "
        "| sort -z | xargs -0 sha256sum 2>/dev/null | sha256sum; "
        "systemctl list-unit-files --no-legend --state=enabled,masked | sort | sha256sum"
    )
    return _podman("exec", name, "bash", "-c", script)


@pytest.fixture(scope="module")
def fresh_host(tmp_path_factory):
    """A fresh container from the same image, with its own inventory (same group_vars)."""
    _podman("rm", "-f", FRESH, check=False)
    mask = os.environ.get("PP_SYSCTL_MASK") or subprocess.run(
        ["bash", str(REPO / "scripts" / "container-sysctl-masks.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    _podman("run", "-d", "--name", FRESH, "--systemd=always", "--cap-add", "SYS_ADMIN,NET_ADMIN,SYS_RESOURCE",
            "--security-opt", "unmask=/proc/sys", "--security-opt", f"mask={mask}",
            "localhost/pp-ubuntu2404:latest", "/sbin/init")
    _wait_running(FRESH)
    # First boot as a cloud image does it (the same as prepare.yml): the initial admin user with
    # the operator's key and passwordless sudo, then the address for the SSH inventory.
    pub = (EPHEMERAL / "admin_ed25519.pub").read_text().strip()
    _podman("exec", FRESH, "bash", "-c",
            "useradd -m -s /bin/bash -G sudo deploy && install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh && "
            f"echo '{pub}' > /home/deploy/.ssh/authorized_keys && chown deploy:deploy /home/deploy/.ssh/authorized_keys && "
            "chmod 0600 /home/deploy/.ssh/authorized_keys && "
            "echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-cloud-init-users && chmod 0440 /etc/sudoers.d/90-cloud-init-users && "
            "systemctl start ssh.socket")
    ip = _podman("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", FRESH).strip()
    inv = tmp_path_factory.mktemp("fresh-inventory")
    # The same SSH connection Molecule's inventory gives the scenario's container (user and become
    # come from the dev inventory's group_vars).
    common = ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes "
              "-o ControlMaster=auto -o ControlPersist=60s -o ControlPath=/tmp/pp-molecule-cp/site/%C")
    (inv / "hosts.yml").write_text(
        "---\nk3s_cluster:\n  vars:\n"
        "    ansible_python_interpreter: /usr/bin/python3\n  children:\n    k3s_servers:\n"
        f"      hosts:\n        {FRESH}:\n          ansible_host: {ip}\n"
        f"          ansible_ssh_private_key_file: {ADMIN_KEY}\n"
        f"          ansible_ssh_common_args: {json.dumps(common)}\n"
        "    k3s_agents:\n      hosts: {}\n"
    )
    (inv / "group_vars").symlink_to(SCENARIO_INVENTORY / "group_vars", target_is_directory=True)
    novault = tmp_path_factory.mktemp("fresh-inventory-novault")
    (novault / "hosts.yml").write_text((inv / "hosts.yml").read_text())
    (novault / "group_vars" / "all").mkdir(parents=True)
    for f in (SCENARIO_INVENTORY / "group_vars" / "all").iterdir():
        if f.name != "vault.yml":
            (novault / "group_vars" / "all" / f.name).symlink_to(f.resolve())
    example = tmp_path_factory.mktemp("fresh-inventory-example-vault")
    (example / "hosts.yml").write_text((inv / "hosts.yml").read_text())
    (example / "group_vars" / "all").mkdir(parents=True)
    for f in (SCENARIO_INVENTORY / "group_vars" / "all").iterdir():
        if f.name != "vault.yml":
            (example / "group_vars" / "all" / f.name).symlink_to(f.resolve())
    (example / "group_vars" / "all" / "vault.yml").symlink_to(
        REPO / "inventories" / "dev" / "group_vars" / "all" / "vault.yml.example")
    yield {"inventory": inv, "novault": novault, "example": example}
    _podman("rm", "-f", FRESH, check=False)


def _run_bad_case(case, fresh_host):
    case_id, extra, var = case
    if extra.get("__site_drop_vault"):
        proc = _playbook(fresh_host["novault"], timeout=300)
    elif extra.get("__site_example_vault"):
        proc = _playbook(fresh_host["example"], timeout=300)
    else:
        proc = _playbook(fresh_host["inventory"], "-e", json.dumps(extra), timeout=300)
    return case_id, var, proc


def test_bad_inputs_rejected_before_any_change(fresh_host):
    """One run per case, one after the other: no run competes with another for the 2 cores or the
    fresh host, so a slow case cannot turn into a timeout that depends on the others' timing."""
    assert len(BAD_INPUTS) >= 20
    before = _fingerprint(FRESH)
    results = [_run_bad_case(case, fresh_host) for case in BAD_INPUTS]
    problems = []
    for case_id, var, proc in results:
        out = proc.stdout + proc.stderr
        if proc.returncode == 0:
            problems.append(f"{case_id}: accepted (rc 0)")
        elif var not in out:
            problems.append(f"{case_id}: rejected, but the message does not name {var!r}:\n{out[-1500:]}")
        elif re.search(r"^\S+\s*:\s*ok=\d+\s+changed=[1-9]", out, re.M):
            problems.append(f"{case_id}: reported changes before failing")
    after = _fingerprint(FRESH)
    assert not problems, "\n".join(problems)
    assert before == after, "a rejected run changed the fresh host"


# --- check mode on a never-converged host (issue 16 item 2) ------------------------------------

# Everything a run could change, including what check mode is most tempted to touch: apt's lists
# and caches (an `apt update` would rewrite them) and the set of running units.
def _check_fingerprint(tag: str) -> str:
    """Hashes of what check mode must not change; the full lists stay in the container's /tmp
    (outside every listed path) so a difference can be named."""
    return (
        "set -o pipefail; "
        "find /etc /usr/local/bin /usr/sbin /var/lib/rancher /var/lib/dpkg/status /root/.ssh /home /var/lib/aide "
        "-xdev \\( -type f -o -type l \\) -not -path '/etc/machine-id' -print0 2>/dev/null | sort -z "
        f"| xargs -0 sha256sum 2>/dev/null > /tmp/fp-{tag}.files; sha256sum < /tmp/fp-{tag}.files; "
        f"find /var/lib/apt /var/cache/apt -xdev -printf '%p %s %T@\\n' 2>/dev/null | sort > /tmp/fp-{tag}.apt; "
        f"sha256sum < /tmp/fp-{tag}.apt; "
        f"systemctl list-unit-files --no-legend --state=enabled,masked | sort > /tmp/fp-{tag}.enabled; "
        f"sha256sum < /tmp/fp-{tag}.enabled; "
        # the login's own units (user manager, runtime dir, session scopes) come and go with the SSH
        # session's lifetime, not with anything the play does
        "systemctl list-units --no-legend --state=active --plain | awk '{print $1}' "
        f"| grep -Ev '^(session-|user@|user-runtime-dir@)' | sort > /tmp/fp-{tag}.active; "
        f"sha256sum < /tmp/fp-{tag}.active; "
        "getent passwd | sha256sum"
    )


def test_site_check_diff_on_a_never_converged_host(fresh_host):
    """`ansible-playbook playbooks/site.yml --check --diff` against the fresh container (the first
    thing a careful operator runs): exit 0, no failed task, it says what it would change - the apt
    plan, the units and files, the host key, the K3s install - and the host is exactly as before:
    configuration, binaries, dpkg status, apt's lists and caches, units, users."""
    # The first SSH login and sudo of the admin write their own traces (ssh.service started by
    # ssh.socket, ~/.cache, ~/.sudo_as_admin_successful); an operator's check run logs in too. Log in
    # once the same way before the first fingerprint, so that only what the play does is compared.
    ip = _podman("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", FRESH).strip()
    login = subprocess.run(
        ["ssh", "-i", str(ADMIN_KEY), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", f"deploy@{ip}", "sudo -n true"],
        capture_output=True, text=True, timeout=60, check=False)
    assert login.returncode == 0, f"the admin's first login on the fresh host failed: {login.stderr}"
    before = _podman("exec", FRESH, "bash", "-c", _check_fingerprint("before"), timeout=600)
    proc = _playbook(fresh_host["inventory"], "--check", "--diff", timeout=1800)
    out = proc.stdout + proc.stderr
    (WORKDIR / "check-fresh.log").write_text(out)
    recap = {m[0]: tuple(int(x) for x in m[1:]) for m in RECAP.findall(out)}
    assert proc.returncode == 0 and FRESH in recap and recap[FRESH][3] == 0, (
        f"check mode failed on a fresh host (rc {proc.returncode}):\n{out[-5000:]}")
    assert recap[FRESH][1] > 0, "check mode on a fresh host reported no change at all"
    plan = re.search(r"apt would install \d+ package\(s\)[^\n]*", out)
    assert plan and all(p in plan.group(0) for p in ("nftables", "fail2ban", "auditd")), "no apt plan naming the packages"
    assert re.search(r"would enable \(and start where it can run\), once installed: .*fail2ban\.service", out)
    assert re.search(r"would write, once the package or directory exists: .*/etc/fail2ban/jail\.local", out)
    assert re.search(r"\+\+\+ after.*sshd_config", out), "no sshd_config diff"
    assert re.search(r"\+\+\+ after.*(nftables\.conf|60-parametric-portal-hardening\.conf)", out), "no diffs of the written files"
    assert re.search(r"would generate the .*rsa.* host key", out), "the RSA host key replacement is not announced"
    assert re.search(r"TASK \[parametric_portal\.infra\.k3s :", out), "the K3s role did not run in check mode"
    assert "K3s is not installed on" in out and "would write the HelmChart" in out, "the platform play did not say what follows K3s"
    after = _podman("exec", FRESH, "bash", "-c", _check_fingerprint("after"), timeout=600)
    if before != after:
        diff = _podman("exec", FRESH, "bash", "-c",
                       "for k in files apt enabled active; do diff /tmp/fp-before.$k /tmp/fp-after.$k; done | head -60",
                       check=False)
        raise AssertionError(f"check mode changed the fresh host:\n{diff}")
