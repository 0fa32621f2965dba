#!/usr/bin/env bash
# `make demo`: run the real playbooks/site.yml against a local Ubuntu 24.04 systemd container that
# stands in for the VPS, with a generated local inventory built on inventories/dev.
# This machine has no internet: where an artifact cannot be downloaded (the K3s binary), the run
# stops with a message saying what is missing and how to provide it:
#   K3S_ARTIFACT_DIR=/path/with/k3s+sha256sum-amd64.txt make demo
# Exit codes: 0 = site.yml completed, 3 = stopped at a missing artifact, 1 = any other failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NAME=pp-demo-vps
DEMO=$ROOT/build/demo
INV=$DEMO/inventory

bash scripts/bootstrap-host.sh
bash scripts/build-test-images.sh pp-ubuntu2404
export PATH="$ROOT/.venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$ROOT/build/collections"
bash scripts/install-collection.sh >/dev/null

echo "demo: starting $NAME (Ubuntu 24.04, systemd; host-global sysctls masked so the demo cannot change this machine)"
podman rm -f "$NAME" >/dev/null 2>&1 || true
podman run -d --name "$NAME" --hostname demo-vps --systemd=always \
  --cap-add SYS_ADMIN,NET_ADMIN,NET_RAW,AUDIT_CONTROL,AUDIT_WRITE \
  --security-opt unmask=/proc/sys --security-opt "mask=$(bash scripts/container-sysctl-masks.sh)" \
  localhost/pp-ubuntu2404:latest /sbin/init >/dev/null
for _ in $(seq 1 60); do
  state=$(podman exec "$NAME" systemctl is-system-running 2>/dev/null || true)
  case $state in running|degraded) break ;; esac; sleep 1
done
echo "demo: container systemd state: ${state:-unknown}"
ip=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$NAME")

rm -rf "$INV" && mkdir -p "$INV/group_vars/all"
[ -f "$DEMO/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C demo-admin -f "$DEMO/id_ed25519"
# First boot as a cloud image does it: the initial admin user with the operator's key and
# passwordless sudo. From here on Ansible reaches the "VPS" over SSH like an operator would.
podman exec -i "$NAME" bash -c "id deploy >/dev/null 2>&1 || useradd -m -s /bin/bash -G sudo deploy
  install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh
  cat > /home/deploy/.ssh/authorized_keys && chown deploy:deploy /home/deploy/.ssh/authorized_keys
  chmod 0600 /home/deploy/.ssh/authorized_keys
  echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-cloud-init-users && chmod 0440 /etc/sudoers.d/90-cloud-init-users
  systemctl start ssh.socket" < "$DEMO/id_ed25519.pub"
for f in main.yml environment.yml apps.yml; do ln -s "$ROOT/inventories/dev/group_vars/all/$f" "$INV/group_vars/all/$f"; done
cp inventories/dev/group_vars/all/vault.yml.example "$INV/group_vars/all/vault.yml"
cat > "$INV/hosts.yml" <<YAML
---
k3s_cluster:
  children:
    k3s_servers:
      hosts:
        demo-vps:
          ansible_host: $ip
    k3s_agents:
      hosts: {}
YAML
cat > "$INV/group_vars/all/zz-demo.yml" <<YAML
---
# Demo overrides (loaded after main.yml). The container shares this machine's disk, which may be
# smaller than the spec's VPS, so the disk threshold is lowered here - and only here.
ansible_user: deploy
ansible_become: true
ansible_ssh_private_key_file: "$DEMO/id_ed25519"
ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ControlMaster=auto -o ControlPersist=120s
ansible_ssh_pipelining: true
ansible_control_path_dir: "$DEMO/cp"
# Lock-out protection proves this key's login from the controller before sshd is restarted.
hardening_admin_private_key_file: "$DEMO/id_ed25519"
infra_public_address: "$ip"
preflight_min_disk_gb: 10
hardening_admin_authorized_keys:
  - "$(cat "$DEMO/id_ed25519.pub")"
hardening_k3s_api_allowed_cidrs:
  - "${ip%.*}.0/24"
YAML

extra=()
if [ -n "${K3S_ARTIFACT_DIR:-}" ]; then extra+=(-e "k3s_artifact_dir=$K3S_ARTIFACT_DIR"); fi
echo "demo: ansible-playbook playbooks/site.yml -i $INV ${extra[*]}"
set +e
ansible-playbook playbooks/site.yml -i "$INV" "${extra[@]}" 2>&1 | tee "$DEMO/site.log"
rc=${PIPESTATUS[0]}
set -e
echo
if [ "$rc" -eq 0 ]; then
  echo "demo: site.yml completed against $NAME ($ip). Log: $DEMO/site.log"
  exit 0
fi
last=$(grep -E '^TASK \[' "$DEMO/site.log" | tail -1)
echo "demo: site.yml STOPPED (rc=$rc) at: $last"
if grep -q 'k3s_artifact_dir' "$DEMO/site.log"; then
  echo "demo: what is missing: the K3s release artifacts (the binary and sha256sum-<arch>.txt)."
  echo "demo: this machine cannot download them. Put them in a directory and re-run:"
  echo "        K3S_ARTIFACT_DIR=/path/to/dir make demo"
  echo "demo: everything before that point (preflight, hardening) ran for real in $NAME;"
  echo "      inspect it with: podman exec -it $NAME bash   or   ssh -i $DEMO/id_ed25519 deploy@$ip"
  exit 3
fi
echo "demo: failed for another reason; see $DEMO/site.log"
exit 1
