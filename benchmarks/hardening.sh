#!/usr/bin/env bash
# Host hardening side by side, in one run, on the same kind of container over the same SSH
# connection settings (ssh as the initial admin with its key, sudo, pipelining, one control socket
# per side):
#   bash benchmarks/hardening.sh [PEER_COLLECTION_DIR]
# Prints, for this collection (playbooks/hardening.yml: preflight + hardening) and, when a peer
# collection checkout is given (a devsec.hardening checkout; never vendored here), the peer
# (os_hardening + ssh_hardening, playbook written below): first converge, idempotent re-run, changed count of
# the re-run, the re-run ratio ours/peer, and the Lynis hardening index (Lynis from the host's own
# archive) beside a fresh host's. Prints numbers; asserts nothing. Exits non-zero if a run fails.
#
# Fair ground: every container (fresh, ours, peer) starts from the same test image and gets the
# same additions first - filled package lists and rsyslog - because a stock Ubuntu server has both
# (the debootstrap minbase image has neither; devsec needs the syslog group and resolvable packages).
# Needs: the test images (scripts/build-test-images.sh), the venv on PATH, podman.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
peer_dir=${1:-}
image=${PP_BENCH_IMAGE:-localhost/pp-ubuntu2404:latest}
work=$repo/build/bench-hardening
prefix=pp-bench-hardening
export PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 NO_COLOR=1
export ANSIBLE_STDOUT_CALLBACK=ansible.builtin.default ANSIBLE_HOST_KEY_CHECKING=false
export ANSIBLE_PIPELINING=true

if [ -n "$peer_dir" ]; then
  peer_dir=$(cd "$peer_dir" && pwd)
  [ -f "$peer_dir/galaxy.yml" ] || { echo "not a collection checkout (no galaxy.yml): $peer_dir" >&2; exit 2; }
  peer_ns=$(awk -F': *' '$1 == "namespace" {print $2}' "$peer_dir/galaxy.yml" | tr -d "\"'")
  peer_name=$(awk -F': *' '$1 == "name" {print $2}' "$peer_dir/galaxy.yml" | tr -d "\"'")
  [ "$peer_ns.$peer_name" = devsec.hardening ] || { echo "no peer playbook for $peer_ns.$peer_name (only devsec.hardening)" >&2; exit 2; }
fi
podman image exists "$image" || { echo "missing $image: run scripts/build-test-images.sh" >&2; exit 2; }
[ -d build/collections/ansible_collections/parametric_portal/infra ] || bash scripts/install-collection.sh >/dev/null

sides=(fresh ours)
[ -z "$peer_dir" ] || sides+=(peer)
cleanup() { [ "${KEEP:-0}" = 1 ] || for s in "${sides[@]}"; do podman rm -f "$prefix-$s" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
rm -rf "$work" && mkdir -p "$work"
# The repository's ansible.cfg without its timing callback (profile_tasks adds output and time to
# every task; both sides run without it). An empty ANSIBLE_CALLBACKS_ENABLED is an error in
# ansible-core 2.19 ("A non-empty plugin name is required"), so the setting is left out instead.
grep -v '^callbacks_enabled' ansible.cfg > "$work/ansible.cfg"
export ANSIBLE_CONFIG=$work/ansible.cfg
ssh-keygen -q -t ed25519 -N '' -C bench-admin -f "$work/id_ed25519"
mask=$(bash scripts/container-sysctl-masks.sh)

start() {  # $1 = side: a fresh container with the initial admin "deploy", as a cloud image boots
  local name=$prefix-$1 state=""
  podman rm -f "$name" >/dev/null 2>&1 || true
  podman run -d --name "$name" --hostname "$name" --systemd=always \
    --cap-add SYS_ADMIN,NET_ADMIN,SYS_RESOURCE,AUDIT_CONTROL,AUDIT_WRITE \
    --security-opt unmask=/proc/sys --security-opt "mask=$mask" "$image" /sbin/init >/dev/null
  for _ in $(seq 90); do
    state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
    case $state in running|degraded) break ;; esac
    sleep 1
  done
  podman exec -i "$name" bash -s "$(cat "$work/id_ed25519.pub")" >/dev/null <<'PREP'
set -e
useradd -m -s /bin/bash -G sudo deploy
install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh
echo "$1" > /home/deploy/.ssh/authorized_keys
chown deploy:deploy /home/deploy/.ssh/authorized_keys && chmod 0600 /home/deploy/.ssh/authorized_keys
echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-cloud-init-users && chmod 0440 /etc/sudoers.d/90-cloud-init-users
systemctl start ssh.socket 2>/dev/null || systemctl start ssh
# auditd cannot run in a container (the audit subsystem is host-global): its unit is skipped here on
# every side alike, as our role's own drop-in does, so that the peer's auditd restart does not fail.
mkdir -p /etc/systemd/system/auditd.service.d
printf '[Unit]\nConditionVirtualization=!container\n' > /etc/systemd/system/auditd.service.d/00-bench-container.conf
systemctl daemon-reload
export DEBIAN_FRONTEND=noninteractive
apt-get -q update && apt-get install -y -q --no-install-recommends rsyslog
PREP
  podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name" > "$work/$1.ip"
}

inventory() {  # $1 = side: one host reached like a VPS (same settings for every side)
  local dir=$work/inv-$1
  mkdir -p "$dir"
  cat > "$dir/hosts.yml" <<EOF
---
all:
  vars:
    ansible_connection: ssh
    ansible_host: $(cat "$work/$1.ip")
    ansible_user: deploy
    ansible_become: true
    ansible_python_interpreter: /usr/bin/python3
    ansible_ssh_private_key_file: $work/id_ed25519
    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ControlMaster=auto -o ControlPersist=300s -o LogLevel=ERROR
    ansible_ssh_pipelining: true
    ansible_control_path_dir: $work/cp-$1
  children:
    k3s_cluster:      # the groups the collection's playbooks use
      children:
        k3s_servers:
          hosts:
            $prefix-$1: {}
    bench:            # the group the peer playbook uses
      hosts:
        $prefix-$1: {}
EOF
}

echo "preparing containers (${sides[*]}) from $image ..."
for s in "${sides[@]}"; do start "$s" & done
wait
inventory ours
mkdir -p "$work/inv-ours/group_vars"
cat > "$work/inv-ours/group_vars/all.yml" <<EOF
---
infra_domain: parametric-portal.test
infra_acme_email: ops@parametric-portal.test
infra_public_address: "{{ ansible_host }}"
preflight_min_vcpus: 1
preflight_min_memory_mib: 512
preflight_min_disk_gb: 1
preflight_check_site_inputs: false
hardening_admin_user: deploy
hardening_admin_authorized_keys: ["$(cat "$work/id_ed25519.pub")"]
hardening_admin_private_key_file: $work/id_ed25519
hardening_ssh_probe_options: ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
hardening_k3s_api_allowed_cidrs: ["203.0.113.0/24"]
EOF
[ -z "$peer_dir" ] || {
  # The peer's playbook is written here, not kept as a file in the repository: ansible-lint would
  # have to resolve roles of a collection that is never installed here.
  peer_play=$work/hardening-peer-devsec.yml
  cat > "$peer_play" <<'EOF'
---
# devsec.hardening's os_hardening and ssh_hardening, set up for the same job as ours on the same
# kind of host: a K3s node reached over SSH as the admin (forwarding on, only the admin may log in,
# keys only).
- name: Peer | devsec.hardening os_hardening + ssh_hardening
  hosts: bench
  gather_facts: true
  become: true
  vars:
    sysctl_overwrite:           # K3s needs forwarding (the same deviation our role writes down)
      net.ipv4.ip_forward: 1
      net.ipv6.conf.all.forwarding: 1
    ssh_allow_users: "{{ ansible_user }}"
    ssh_server_password_login: false
    ssh_permit_root_login: "no"
  roles:
    - role: devsec.hardening.os_hardening
    - role: devsec.hardening.ssh_hardening
EOF
  inventory peer
  mkdir -p "$work/peer-collections/ansible_collections/$peer_ns"
  ln -sfn "$peer_dir" "$work/peer-collections/ansible_collections/$peer_ns/$peer_name"
}

declare -A first rerun changed
run() {  # $1 = side, $2 = label, $3 = collections path, $4 = playbook; prints elapsed ms, keeps the log
  local t0 t1 log=$work/$1-$2.log rc=0
  t0=$(date +%s%N)
  ANSIBLE_COLLECTIONS_PATH=$3 ansible-playbook -i "$work/inv-$1/hosts.yml" "$4" >"$log" 2>&1 || rc=$?
  t1=$(date +%s%N)
  if [ "$rc" != 0 ]; then echo "$1 $2 failed (rc $rc): see $log" >&2; tail -25 "$log" >&2; exit 1; fi
  echo $(( (t1 - t0) / 1000000 ))
}
recap_changed() { grep -Eo "^$prefix-$1 +: ok=[0-9]+ +changed=[0-9]+" "$work/$1-$2.log" | grep -Eo '[0-9]+$'; }

ours_paths=$repo/build/collections
for side in "${sides[@]}"; do
  [ "$side" != fresh ] || continue
  if [ "$side" = ours ]; then cp=$ours_paths pb=$repo/benchmarks/hardening-ours.yml
  else cp=$work/peer-collections:$ours_paths pb=$peer_play; fi
  echo "$side: first converge ..."
  first[$side]=$(run "$side" first "$cp" "$pb")
  echo "$side: idempotent re-run ..."
  rerun[$side]=$(run "$side" rerun "$cp" "$pb")
  changed[$side]=$(recap_changed "$side" rerun)
done

echo "Lynis (from each host's own archive) on ${sides[*]} ..."
lynis() {  # $1 = side: prints "index warnings"
  podman exec "$prefix-$1" sh -c 'export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends lynis >/dev/null 2>&1
    lynis audit system --quick --no-colors >/dev/null 2>&1 || true
    awk -F= "/^hardening_index=/ {i=\$2} /^warning\\[\\]=/ {w++} END {print i, w+0}" /var/log/lynis-report.dat' \
    > "$work/$1.lynis" 2>&1
}
for s in "${sides[@]}"; do lynis "$s" & done
wait

sec() { printf '%d.%01d s' $(( $1 / 1000 )) $(( ($1 % 1000) / 100 )); }
printf '\n%-34s %16s %16s %9s %14s\n' "host hardening ($(podman exec $prefix-fresh lynis --version 2>/dev/null | head -1 | sed 's/^/Lynis /'))" \
  "first converge" "idempotent re-run" "changed" "Lynis (warn.)"
for s in "${sides[@]}"; do
  read -r idx warn < "$work/$s.lynis" || true
  case $s in
    fresh) label="fresh host (same preparation)"; f=-; r=-; c=- ;;
    ours) label="parametric_portal.infra"; f=$(sec "${first[ours]}"); r=$(sec "${rerun[ours]}"); c=${changed[ours]} ;;
    peer) label="$peer_ns.$peer_name"; f=$(sec "${first[peer]}"); r=$(sec "${rerun[peer]}"); c=${changed[peer]} ;;
  esac
  printf '%-34s %16s %16s %9s %14s\n' "$label" "$f" "$r" "$c" "${idx:-?} (${warn:-?})"
done
if [ -n "$peer_dir" ]; then
  awk -v o="${rerun[ours]}" -v p="${rerun[peer]}" \
    'BEGIN {printf "\nidempotent re-run ratio ours/peer: %.2f (target <= 0.25)\n", o / p}'
fi
printf 'machine: %s cores, load average %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
