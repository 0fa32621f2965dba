#!/usr/bin/env bash
# Install what the test suite needs on a fresh Debian 12 machine (run as root):
# apt packages, podman settings that work on this kind of host, and the Python venv.
# Safe to re-run: every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# podman/runc/debootstrap: the systemd test hosts; qemu-system-x86/qemu-utils: the Ubuntu VMs of
# the vm stage (tests/vm, scripts/build-vm-image.sh); openssh-client/sshpass: SSH login tests;
# nginx-light/openssh-server/openssl/nftables: local endpoints for the verify.yml tests (started by
# the tests themselves on loopback addresses, never as system services). nix-bin: parses and evaluates
# flake.nix offline (tests/unit/devshell; the dev shell itself needs the network to build).
# python3-kubernetes: the platform roles install it on the server for their readiness checks, and
# tests/controlplane runs those roles against this machine (so their apt task finds it present).
APT_PACKAGES=(podman runc debootstrap uidmap fuse-overlayfs make curl ca-certificates git
              openssh-client sshpass postgresql-client nginx-light openssh-server openssl nftables nix-bin
              python3-kubernetes qemu-system-x86 qemu-utils e2fsprogs)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# crun fails on this cgroup v1 host and podman's default nofile exceeds the hard limit.
conf=/etc/containers/containers.conf.d/50-parametric-portal-tests.conf
if [ ! -f "$conf" ]; then
  mkdir -p "$(dirname "$conf")"
  cat > "$conf" <<'CONF'
# Written by parametric_portal.infra scripts/bootstrap-host.sh for the Molecule test hosts.
[engine]
runtime = "runc"
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
CONF
fi

# The venv, pinned by requirements.lock. Re-installed only when the lock changes.
if [ ! -x .venv/bin/python ] || ! cmp -s requirements.lock .venv/.requirements.lock; then
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -r requirements.lock
  cp requirements.lock .venv/.requirements.lock
fi

# The mise binary (npm package @jdxcode/mise) for the mise task test.
if [ ! -x .tools/node_modules/.bin/mise ]; then
  mkdir -p .tools
  npm install --silent --prefix .tools @jdxcode/mise >/dev/null 2>&1 || \
    echo "bootstrap: WARNING: npm install @jdxcode/mise failed; the mise test will fail" >&2
fi
# Upstream Kubernetes tools for the control-plane tests (kube-apiserver, kube-controller-manager, etcd,
# the sealed-secrets controller, kubeseal, kustomize), built from Go modules into a versioned cache
# outside the checkout; a warm cache costs only the check. kustomize v5.5 is linked into .tools/bin,
# where k8s_build.yml finds it (mise and scripts/test.sh put .tools/bin on PATH).
bash scripts/build-go-tools.sh
mkdir -p .tools/bin
ln -sfn "$(bash scripts/build-go-tools.sh --paths | sed -n 's/^PP_KUSTOMIZE_BIN=//p')" .tools/bin/kustomize
echo "bootstrap: host ready"
